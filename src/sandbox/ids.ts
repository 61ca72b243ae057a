// Opaque, Zoom-looking ids that the sandbox can decode back to where an item was generated (kind, day, index, sub),
// so a lookup by id never has to scan a month. A 4-round Feistel network keyed by the seed makes the encoding a
// bijection (ids are unique by construction); an 8-byte keyed tail lets decode reject ids that are not ours.
import { mix32 } from './random.js';

export enum Kind {
  Engagement = 1,
  Recording = 2,
  Message = 3,
  MediaFile = 4,
  Note = 5,
  Disposition = 6,
  Queue = 7,
  User = 8,
  Consumer = 9,
  Flow = 10,
  Inbox = 11,
  Survey = 12,
}

/** Day number used for items created by mutations; their index is a counter. */
export const OVERLAY_DAY = 0xffff;

export interface IdParts {
  kind: Kind;
  day: number;
  index: number;
  sub: number;
}

export class IdCodec {
  private readonly keys: number[];
  private readonly tailKeys: [number, number];

  constructor(seed: number) {
    this.keys = [1, 2, 3, 4].map((i) => mix32(seed ^ Math.imul(i, 0x9e3779b9)));
    this.tailKeys = [mix32(seed ^ 0x51ed270b), mix32(seed ^ 0x2545f491)];
  }

  private bytes(parts: IdParts): Buffer {
    if (parts.day < 0 || parts.day > 0xffff || parts.sub < 0 || parts.sub > 0xff || parts.index < 0 || parts.index > 0xffffffff) {
      throw new Error(`id parts out of range: ${JSON.stringify(parts)}`);
    }
    let l = ((parts.kind << 24) | (parts.day << 8) | parts.sub) >>> 0;
    let r = parts.index >>> 0;
    for (const k of this.keys) {
      const nr = (l ^ mix32(r ^ k)) >>> 0;
      l = r;
      r = nr;
    }
    const buf = Buffer.allocUnsafe(16);
    buf.writeUInt32BE(l, 0);
    buf.writeUInt32BE(r, 4);
    buf.writeUInt32BE(mix32(l ^ this.tailKeys[0]), 8);
    buf.writeUInt32BE(mix32(r ^ this.tailKeys[1] ^ l), 12);
    return buf;
  }

  private parse(buf: Buffer): IdParts | null {
    if (buf.length !== 16) return null;
    let l = buf.readUInt32BE(0);
    let r = buf.readUInt32BE(4);
    if (buf.readUInt32BE(8) !== mix32(l ^ this.tailKeys[0])) return null;
    if (buf.readUInt32BE(12) !== mix32(r ^ this.tailKeys[1] ^ l)) return null;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      const k = this.keys[i] ?? 0;
      const pl = (r ^ mix32(l ^ k)) >>> 0;
      r = l;
      l = pl;
    }
    return { kind: l >>> 24, day: (l >>> 8) & 0xffff, sub: l & 0xff, index: r };
  }

  /** 22-character base64url id, like `W_VATTk_Q5aW6z5rZtBxAQ`. */
  id(kind: Kind, day: number, index: number, sub = 0): string {
    return this.bytes({ kind, day, index, sub }).toString('base64url');
  }

  /** UUID-formatted id (recording file ids in download URLs look like this in Zoom). */
  uuid(kind: Kind, day: number, index: number, sub = 0): string {
    const h = this.bytes({ kind, day, index, sub }).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  decode(id: string, kind: Kind): IdParts | null {
    let buf: Buffer;
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
      buf = Buffer.from(id.replace(/-/g, ''), 'hex');
    } else if (/^[A-Za-z0-9_-]{22}$/.test(id)) {
      buf = Buffer.from(id, 'base64url');
      // base64url has several spellings of the last character: accept only the one we produce.
      if (buf.toString('base64url') !== id) return null;
    } else {
      return null;
    }
    const parts = this.parse(buf);
    return parts && parts.kind === kind ? parts : null;
  }
}
