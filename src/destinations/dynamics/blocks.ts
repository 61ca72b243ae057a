// A file body cut into UploadBlock-sized pieces as it streams, and each piece's JSON request body written without
// megabyte-sized intermediate strings. Both buffers are reused from block to block, so a large upload allocates
// nothing per block but small strings: it holds one block and one request body, whatever the file's size.
import type { Readable } from 'node:stream';

/** Dataverse's UploadBlock takes blocks of at most 4 MB (MiB in Microsoft's own sample code). */
export const BLOCK_BYTES = 4 * 1024 * 1024;
/** Bytes base64-encoded at a time: a multiple of 3, so the pieces join without padding in between. */
const ENCODE_SLICE = 3 * 16 * 1024;

/**
 * Yields `body` in blocks of exactly `size` bytes (the last one shorter). The yielded buffer is reused: the consumer
 * must be done with a block before it asks for the next one (a `for await` body that awaits its upload is).
 */
export async function* blocksOf(body: Readable, size = BLOCK_BYTES): AsyncGenerator<Buffer> {
  const block = Buffer.allocUnsafe(size);
  let filled = 0;
  for await (const chunk of body) {
    const bytes = chunk as Buffer;
    for (let offset = 0; offset < bytes.length; ) {
      const taken = bytes.copy(block, filled, offset, Math.min(bytes.length, offset + size - filled));
      filled += taken;
      offset += taken;
      if (filled === size) {
        yield block;
        filled = 0;
      }
    }
  }
  if (filled > 0) yield block.subarray(0, filled);
}

/** Block ids must be base64 of equal length for one file: a zero-padded counter. */
export function blockIdOf(index: number): string {
  return Buffer.from(`zcc-block-${String(index).padStart(8, '0')}`, 'utf8').toString('base64');
}

/** Writes UploadBlock request bodies into one reused buffer; valid until the next `body()` call. */
export class UploadBlockBodies {
  private buffer = Buffer.alloc(0);

  constructor(private readonly continuationToken: string) {}

  body(blockId: string, block: Buffer): Buffer {
    const head = Buffer.from(`{"BlockId":${JSON.stringify(blockId)},"FileContinuationToken":${JSON.stringify(this.continuationToken)},"BlockData":"`, 'utf8');
    const encodedLength = 4 * Math.ceil(block.length / 3);
    const total = head.length + encodedLength + 2;
    if (this.buffer.length < total) this.buffer = Buffer.allocUnsafe(total);
    let position = head.copy(this.buffer);
    for (let offset = 0; offset < block.length; offset += ENCODE_SLICE) {
      position += this.buffer.write(block.subarray(offset, offset + ENCODE_SLICE).toString('base64'), position, 'latin1');
    }
    position += this.buffer.write('"}', position, 'latin1');
    return this.buffer.subarray(0, position);
  }
}
