// The body on its way into a remote destination: metered (size, sha256, the announced size enforced), stopped by
// the caller's signal, and read ahead by up to one part so a small body can go up in one request with its sha256.
import { createHash } from 'node:crypto';
import { addAbortSignal, pipeline, Readable, Transform, type TransformCallback } from 'node:stream';

/** Counts and hashes what passes; errors (so nothing gets committed) when the size differs from the announced one. */
export class MeteredBody extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  private digest: string | null = null;

  constructor(private readonly expectedSize: number | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.expectedSize !== undefined && this.size > this.expectedSize) {
      callback(new Error(`received more than the announced ${this.expectedSize} bytes`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expectedSize !== undefined && this.size !== this.expectedSize) {
      callback(new Error(`received ${this.size} bytes, expected ${this.expectedSize}`));
      return;
    }
    this.digest = this.hash.digest('hex');
    callback();
  }

  /** Hex sha256 of the whole body, known once it has ended. */
  get sha256(): string {
    if (this.digest === null) throw new Error('the body has not ended yet');
    return this.digest;
  }
}

/** `body` piped through a meter; an abort or an error on either side destroys both. */
export function meterBody(body: Readable, expectedSize: number | undefined, signal?: AbortSignal): MeteredBody {
  const meter = new MeteredBody(expectedSize);
  if (signal) addAbortSignal(signal, meter);
  pipeline(body, meter, () => {
    // Errors reach the reader of `meter`; pipeline is here for the destroy-both-ways wiring.
  });
  return meter;
}

export interface Head {
  chunks: Buffer[];
  bytes: number;
  /** True when the whole body fit within the limit. */
  ended: boolean;
  /** The body after the head (empty when ended). */
  rest: Readable;
}

/** The body of an ended head as one buffer: no copy when it was read into one. */
export function wholeBody(head: Head): Buffer {
  return head.chunks.length === 1 ? head.chunks[0]! : Buffer.concat(head.chunks, head.bytes);
}

/**
 * Reads until more than `limit` bytes arrived or the body ended; the rest stays unread. A body announced to fit
 * (`announcedSize` ≤ `limit`) is copied into one buffer of its size as it arrives: the chunks are garbage at once,
 * and the whole is not copied again (holding the chunks and then concatenating them held each body twice). A body
 * announced larger than `limit` is not read at all: its first `limit` bytes would only be held to be streamed on.
 */
export async function readHead(body: Readable, limit: number, announcedSize?: number): Promise<Head> {
  if (announcedSize !== undefined && announcedSize > limit) return { chunks: [], bytes: 0, ended: false, rest: body };
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  if (announcedSize !== undefined) return readAnnounced(iterator, announcedSize);
  const chunks: Buffer[] = [];
  let bytes = 0;
  while (bytes <= limit) {
    const next = await iterator.next();
    if (next.done) return { chunks, bytes, ended: true, rest: Readable.from([]) };
    chunks.push(next.value);
    bytes += next.value.length;
  }
  async function* remaining(): AsyncGenerator<Buffer> {
    yield* chunks;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  // Not objectMode: consumers count bytes, and a byte-sized buffer keeps at most one chunk read ahead.
  return { chunks, bytes, ended: false, rest: Readable.from(remaining(), { objectMode: false, highWaterMark: 64 * 1024 }) };
}

async function readAnnounced(iterator: AsyncIterator<Buffer>, announcedSize: number): Promise<Head> {
  const whole = Buffer.allocUnsafe(announcedSize);
  let bytes = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    if (bytes + next.value.length > announcedSize) {
      await iterator.return?.();
      throw new Error(`received more than the announced ${announcedSize} bytes`);
    }
    bytes += next.value.copy(whole, bytes);
  }
  return { chunks: [whole.subarray(0, bytes)], bytes, ended: true, rest: Readable.from([]) };
}

/**
 * A download stream once its answer's headers arrived: an error status or a refused connection rejects here (as
 * `explain` words it) rather than midway through the reader's loop; the stream is destroyed then. `check` may refuse
 * an answer got takes for success (an unfollowed redirect).
 */
export async function whenAnswered<T extends Readable>(
  stream: T,
  explain: (error: unknown) => Error,
  check: (response: { statusCode: number }) => void = () => undefined,
): Promise<T> {
  try {
    const response = await new Promise<{ statusCode: number }>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    check(response);
  } catch (error) {
    stream.destroy();
    throw explain(error);
  }
  return stream;
}
