import { afterEach, describe, expect, it, vi } from 'vitest';
import { fillParts, PartBuffers } from '../../src/destinations/part-buffers.js';

/** `total` bytes of a pattern that differs at every offset within 251 bytes, cut into chunks of the given sizes (cycled). */
function body(total: number, chunkSizes: number[]): { bytes: Buffer; chunks: Buffer[] } {
  const bytes = Buffer.alloc(total);
  for (let offset = 0; offset < total; offset++) bytes[offset] = (offset * 7 + (offset >> 8)) % 251;
  const chunks: Buffer[] = [];
  for (let offset = 0, k = 0; offset < total; k++) {
    const size = chunkSizes[k % chunkSizes.length]!;
    // Copies, as a socket hands over fresh buffers: a part must not alias the chunk it came from.
    chunks.push(Buffer.from(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  return { bytes, chunks };
}

async function* streamOf(chunks: Buffer[]): AsyncGenerator<Buffer> {
  for (const chunk of chunks) yield chunk;
}

/** Consumes every part as an uploader does: copies out what it sends, then gives the buffer back. */
async function collect(parts: AsyncIterable<{ buffer: Buffer; length: number }>, pool: PartBuffers): Promise<Buffer[]> {
  const sent: Buffer[] = [];
  for await (const part of parts) {
    sent.push(Buffer.from(part.buffer.subarray(0, part.length)));
    pool.give(part.buffer);
  }
  return sent;
}

describe('fillParts', () => {
  const cases: [string, number, number[]][] = [
    ['chunks that straddle part boundaries', 10 * 64 + 17, [13, 64, 1, 200]],
    ['an exact multiple of the part size', 4 * 64, [64]],
    ['one chunk larger than several parts', 5 * 64 + 3, [5 * 64 + 3]],
    ['less than one part', 40, [7]],
  ];
  for (const [name, total, chunkSizes] of cases) {
    it(`cuts ${name} into full parts and a short last one, bytes in order`, async () => {
      const { bytes, chunks } = body(total, chunkSizes);
      const pool = new PartBuffers(64, 3);
      const sent = await collect(fillParts(streamOf(chunks), pool), pool);
      expect(Buffer.concat(sent).equals(bytes)).toBe(true);
      expect(sent.slice(0, -1).every((part) => part.length === 64)).toBe(true);
      expect(sent.at(-1)!.length).toBe(total % 64 === 0 ? 64 : total % 64);
      expect(sent).toHaveLength(Math.ceil(total / 64));
    });
  }

  it('yields nothing for an empty body and keeps the buffer it took', async () => {
    const pool = new PartBuffers(64, 3);
    expect(await collect(fillParts(streamOf([]), pool), pool)).toEqual([]);
    expect(pool.allocated).toBe(1);
    pool.take();
    expect(pool.allocated).toBe(1);
  });

  it('reuses buffers given back: a consumer that sends each part before asking for the next needs one buffer', async () => {
    const { bytes, chunks } = body(50 * 64 + 5, [30]);
    const pool = new PartBuffers(64, 3);
    const sent = await collect(fillParts(streamOf(chunks), pool), pool);
    expect(Buffer.concat(sent).equals(bytes)).toBe(true);
    // Reading waits at each yield, so the buffer is back before the next part is filled.
    expect(pool.allocated).toBe(1);
    // A second body reuses it.
    const second = body(20 * 64, [64]);
    expect(Buffer.concat(await collect(fillParts(streamOf(second.chunks), pool), pool)).equals(second.bytes)).toBe(true);
    expect(pool.allocated).toBe(1);
  });

  it('takes one more buffer for each part still held, and keeps no more than its limit', async () => {
    const pool = new PartBuffers(64, 2);
    const held: Buffer[] = [];
    for await (const part of fillParts(streamOf(body(5 * 64, [64]).chunks), pool)) held.push(part.buffer);
    expect(pool.allocated).toBe(5);
    expect(new Set(held).size).toBe(5);
    for (const buffer of held) pool.give(buffer);
    pool.take();
    pool.take();
    expect(pool.allocated).toBe(5);
    pool.take();
    expect(pool.allocated).toBe(6);
  });

  it('gives back the buffer it was filling when the consumer stops early or the body fails', async () => {
    const pool = new PartBuffers(64, 3);
    for await (const part of fillParts(streamOf(body(3 * 64 + 10, [10]).chunks), pool)) {
      pool.give(part.buffer);
      break;
    }
    // The first part went back; the one being filled after it was never taken (reading stops at the yield).
    expect(pool.allocated).toBe(1);

    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(100);
      throw new Error('download reset');
    }
    const parts = fillParts(failing(), pool);
    const first = await parts.next();
    expect(first.value?.length).toBe(64);
    await expect(parts.next()).rejects.toThrow('download reset');
    pool.give(first.value!.buffer);
    // Both buffers (the sent part's and the half-filled one) are back: two takes allocate nothing new.
    const allocated = pool.allocated;
    pool.take();
    pool.take();
    expect(pool.allocated).toBe(allocated);
  });
});

describe('PartBuffers between uploads', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('drops the buffers it holds once none has come back for the idle period, and allocates afresh after', () => {
    vi.useFakeTimers();
    const pool = new PartBuffers(64, 3, 1000);
    const buffers = [pool.take(), pool.take()];
    pool.give(buffers[0]!);
    vi.advanceTimersByTime(900);
    // A buffer coming back restarts the period: the first one is still held 900 ms later.
    pool.give(buffers[1]!);
    vi.advanceTimersByTime(900);
    expect(pool.held).toBe(2);
    expect(pool.take()).toBe(buffers[1]);
    pool.give(buffers[1]!);
    vi.advanceTimersByTime(1000);
    expect(pool.held).toBe(0);
    expect(pool.allocated).toBe(2);
    const fresh = pool.take();
    expect(buffers).not.toContain(fresh);
    expect(pool.allocated).toBe(3);
  });

  it('a pool without an idle period (one upload\'s) sets no timer: it is dropped with its upload, not kept alive by one', () => {
    vi.useFakeTimers();
    const pool = new PartBuffers(64, 3, null);
    const buffer = pool.take();
    pool.give(buffer);
    expect(vi.getTimerCount()).toBe(0);
    expect(pool.take()).toBe(buffer);
    // A pool with an idle period sets one.
    new PartBuffers(64, 3, 1000).give(buffer);
    expect(vi.getTimerCount()).toBe(1);
  });
});
