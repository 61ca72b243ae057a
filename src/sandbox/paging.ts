// Stateless next_page_token: an HMAC-signed record of the query it belongs to, the offset of the next page, when it
// was issued (tokens expire after 15 minutes on the sandbox clock) and the "now" the first page resolved defaults at.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const PAGE_TOKEN_LIFETIME = 15 * 60;

export interface PageCursor {
  offset: number;
  issued: number;
  /** The now at which the first page resolved a default window; later pages keep it so the window stays put. */
  anchor: number;
}

export class PageTokens {
  // Per sandbox instance: a token from another sandbox (or an earlier run) is invalid here, as in Zoom.
  private readonly key = randomBytes(32);

  /** The query's identity: operation, path and every parameter except the token, order-insensitive. */
  static queryHash(path: string, params: Record<string, unknown>): Buffer {
    const canonical = Object.keys(params)
      .filter((k) => k !== 'next_page_token')
      .sort()
      .map((k) => `${k}=${JSON.stringify(params[k])}`)
      .join('&');
    return createHash('sha256').update(`${path}?${canonical}`).digest().subarray(0, 8);
  }

  issue(queryHash: Buffer, cursor: PageCursor): string {
    const body = Buffer.alloc(21);
    body.writeUInt8(1, 0);
    body.writeUInt32BE(cursor.offset, 1);
    body.writeUInt32BE(cursor.issued, 5);
    body.writeUInt32BE(cursor.anchor, 9);
    queryHash.copy(body, 13, 0, 8);
    const mac = createHmac('sha256', this.key).update(body).digest().subarray(0, 12);
    return Buffer.concat([body.subarray(0, 13), mac]).toString('base64url');
  }

  /** The cursor, or null when the token is not ours, belongs to another query, or has expired. */
  open(token: string, queryHash: Buffer, nowSec: number): PageCursor | null {
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(token)) return null;
    const raw = Buffer.from(token, 'base64url');
    if (raw.length !== 25 || raw.readUInt8(0) !== 1) return null;
    const body = Buffer.concat([raw.subarray(0, 13), queryHash]);
    const mac = createHmac('sha256', this.key).update(body).digest().subarray(0, 12);
    if (!timingSafeEqual(mac, raw.subarray(13))) return null;
    const cursor = { offset: raw.readUInt32BE(1), issued: raw.readUInt32BE(5), anchor: raw.readUInt32BE(9) };
    if (nowSec > cursor.issued + PAGE_TOKEN_LIFETIME || nowSec < cursor.issued - 60) return null;
    return cursor;
  }
}
