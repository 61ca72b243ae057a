// A multipart upload's parts, copied into part-sized buffers that are reused from part to part and from upload to
// upload. A buffer allocated afresh for each part (as lib-storage's Upload does) lives outside the V8 heap until V8
// collects its wrapper, and a wrapper that outlived a few young-generation collections while its part was in flight
// waits for a full collection: moving 2 GB into S3 kept 30-50 MiB of spent parts resident.

export interface FilledPart {
  buffer: Buffer;
  /** Bytes of `buffer` that belong to the part (the last part may be short). */
  length: number;
}

/** Held buffers are dropped once none has come back for this long: a `listen` between uploads keeps no parts resident. */
const IDLE_RELEASE_MS = 60_000;

export class PartBuffers {
  private free: Buffer[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  /** Buffers allocated so far (tests read it). */
  allocated = 0;

  /**
   * `keep`: how many returned buffers are held for reuse; more are left to the collector. `idleReleaseMs` null: held
   * for as long as the pool is (a pool of one upload, dropped with it; a timer would keep it alive after).
   */
  constructor(
    readonly size: number,
    private readonly keep: number,
    private readonly idleReleaseMs: number | null = IDLE_RELEASE_MS,
  ) {}

  take(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused;
    this.allocated++;
    // Not from Node's shared pool: a part buffer is large and long-lived.
    return Buffer.allocUnsafeSlow(this.size);
  }

  /** Only for a buffer nothing reads any more (its request settled successfully). */
  give(buffer: Buffer): void {
    if (this.free.length < this.keep && buffer.length === this.size) this.free.push(buffer);
    this.releaseWhenIdle();
  }

  /** Buffers held for reuse right now (tests read it). */
  get held(): number {
    return this.free.length;
  }

  /** Each buffer given back restarts the idle period; an upload sending parts never sees its buffers dropped. */
  private releaseWhenIdle(): void {
    if (this.idleReleaseMs === null) return;
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      this.free = [];
    }, this.idleReleaseMs);
    this.idleTimer.unref();
  }
}

/**
 * Reads `body` into parts of exactly `parts.size` bytes (the last may be shorter; an empty body yields nothing), each
 * in a buffer taken from `parts`. The consumer gives each buffer back once its part is sent. Reading waits while the
 * consumer does, so at most one part is filled ahead of those in flight.
 */
export async function* fillParts(body: AsyncIterable<Buffer>, parts: PartBuffers): AsyncGenerator<FilledPart> {
  let buffer: Buffer | null = parts.take();
  let length = 0;
  try {
    for await (const chunk of body) {
      for (let offset = 0; offset < chunk.length; ) {
        buffer ??= parts.take();
        const copied = chunk.copy(buffer, length, offset);
        offset += copied;
        length += copied;
        if (length === parts.size) {
          const full: Buffer = buffer;
          buffer = null;
          length = 0;
          yield { buffer: full, length: parts.size };
        }
      }
    }
    if (buffer && length > 0) {
      const last: Buffer = buffer;
      buffer = null;
      yield { buffer: last, length };
    }
  } finally {
    // A buffer taken and never handed out is nobody's.
    if (buffer) parts.give(buffer);
  }
}
