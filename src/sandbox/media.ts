// File bodies generated on the fly: media is AES-128-CTR keystream (key from seed and id), so any byte range can be
// produced directly by seeking the counter, nothing is held in memory, and the same id always gives the same bytes.
import { createCipheriv, createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

const CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(CHUNK + 16);

export interface Payload {
  size: number;
  contentType: string;
  fileName: string;
  /** Bytes [start, end) in chunks. */
  chunks(start: number, end: number, chunkSize?: number): Iterable<Buffer>;
}

export function mediaPayload(seed: number, id: string, size: number, contentType: string, fileName: string): Payload {
  const key = createHash('sha256').update(`zcc-sandbox-media:${seed}:${id}`).digest().subarray(0, 16);
  return { size, contentType, fileName, chunks: (start, end, chunkSize = CHUNK) => keystream(key, start, end, chunkSize) };
}

export function textPayload(text: string, contentType: string, fileName: string): Payload {
  const bytes = Buffer.from(text, 'utf8');
  return {
    size: bytes.length,
    contentType,
    fileName,
    *chunks(start, end, chunkSize = CHUNK) {
      for (let pos = start; pos < end; pos += chunkSize) yield bytes.subarray(pos, Math.min(end, pos + chunkSize));
    },
  };
}

function* keystream(key: Buffer, start: number, end: number, chunkSize: number): Iterable<Buffer> {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(Math.floor(start / 16)), 8);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  let skip = start % 16;
  const size = Math.max(1, Math.min(chunkSize, CHUNK));
  for (let pos = start; pos < end; ) {
    const n = Math.min(size, end - pos);
    const out = cipher.update(ZEROS.subarray(0, n + skip));
    yield skip > 0 ? out.subarray(skip) : out;
    skip = 0;
    pos += n;
  }
}

export function sha256Of(payload: Payload): string {
  const h = createHash('sha256');
  for (const c of payload.chunks(0, payload.size)) h.update(c);
  return h.digest('hex');
}

/**
 * A byte budget refilled at `rate` bytes per second, shared by every stream that takes from it. It holds at most one
 * second's worth; `startEmpty` is for one stream's own limit: a new connection starts slow (TCP's slow start), so a
 * file smaller than one second's worth is not served at once.
 */
export class ByteRate {
  private tokens: number;
  private last = performance.now();
  constructor(readonly rate: number, startEmpty = false) {
    this.tokens = startEmpty ? 0 : rate;
  }
  /** A chunk size that keeps the flow smooth at this rate. */
  get chunkSize(): number {
    return Math.max(1, Math.min(CHUNK, Math.floor(this.rate / 10)));
  }
  async take(n: number): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      if (this.tokens >= n || (this.tokens >= this.rate && n > this.rate)) {
        this.tokens -= n;
        return;
      }
      await sleep(Math.max(1, ((n - this.tokens) / this.rate) * 1000));
    }
  }
}

/** Chunks of `source`, each waiting for its bytes from every limiter given. */
export async function* throttle(source: Iterable<Buffer>, limiters: ByteRate[]): AsyncIterable<Buffer> {
  for (const chunk of source) {
    for (const l of limiters) await l.take(chunk.length);
    yield chunk;
  }
}

/** Parse a single `bytes=a-b`, `bytes=a-` or `bytes=-n`; null = serve the whole file, 'unsatisfiable' = 416. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(a);
  const end = b === '' ? size : Math.min(size, Number(b) + 1);
  if (start >= size || end <= start) return 'unsatisfiable';
  return { start, end };
}
