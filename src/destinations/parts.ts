// Cuts a streamed body into parts (S3 multipart parts, Azure blocks) and uploads them with bounded concurrency.
// Parts are copied into a fixed pool of buffers that are reused, not allocated per part: memory stays at
// (concurrency + 1) × part size however large the body, and no part-sized garbage waits for the collector.
import type { Readable } from 'node:stream';

export interface PartOptions {
  partSize: number;
  /** Parts in flight at once (at least 1). */
  concurrency: number;
  /** Most parts allowed (S3: 10,000; Azure: 50,000). */
  maxParts: number;
}

/** Uploads one part; `bytes` is only valid until the returned promise settles (its buffer is then reused). */
export type UploadPart = (bytes: Buffer, partNumber: number) => Promise<void>;

/**
 * Reads `body` to its end, uploading each full part (and the last, shorter one) in order of part number from 1.
 * Returns how many parts were uploaded. On a failure it stops reading, lets the parts in flight settle, and
 * throws the first error, so the caller can then abort or abandon the upload knowing nothing is still running.
 */
export async function uploadParts(body: Readable, options: PartOptions, upload: UploadPart): Promise<number> {
  const free: Buffer[] = [];
  const inflight = new Set<Promise<void>>();
  // Set from the part callbacks; the cast keeps TypeScript from narrowing it to null for good.
  let failure = null as { error: unknown } | null;
  let parts = 0;

  // At most concurrency + 1 buffers exist: one filling, the rest in flight or free.
  const take = (): Buffer => free.pop() ?? Buffer.allocUnsafeSlow(options.partSize);
  const send = (buffer: Buffer, length: number): void => {
    parts += 1;
    if (parts > options.maxParts) throw new Error(`more than ${options.maxParts} parts of ${options.partSize} bytes`);
    const task: Promise<void> = upload(buffer.subarray(0, length), parts).then(
      () => {
        inflight.delete(task);
        free.push(buffer);
      },
      (error: unknown) => {
        inflight.delete(task);
        failure ??= { error };
        // Stops the read at once, even if the body is slow to send its next chunk.
        body.destroy();
      },
    );
    inflight.add(task);
  };
  const room = async (): Promise<void> => {
    while (inflight.size >= options.concurrency && !failure) await Promise.race(inflight);
    if (failure) throw failure.error;
  };

  try {
    let current = take();
    let filled = 0;
    for await (const data of body) {
      const chunk = data as Buffer;
      for (let offset = 0; offset < chunk.length; ) {
        const copied = chunk.copy(current, filled, offset, Math.min(chunk.length, offset + options.partSize - filled));
        filled += copied;
        offset += copied;
        if (filled === options.partSize) {
          send(current, filled);
          await room();
          current = take();
          filled = 0;
        }
      }
      if (failure) throw failure.error;
    }
    if (filled > 0 || parts === 0) send(current, filled);
    await Promise.all(inflight);
    if (failure) throw failure.error;
    return parts;
  } catch (error) {
    await Promise.allSettled(inflight);
    throw failure ? failure.error : error;
  }
}
