// uploadParts: exact part boundaries, bounded concurrency, a reused buffer pool, and a failure that stops the read.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { uploadParts } from '../../src/destinations/parts.js';

function body(sizes: number[]): Readable {
  let fill = 0;
  return Readable.from(sizes.map((size) => Buffer.alloc(size, (fill += 1))), { objectMode: false });
}

describe('uploadParts', () => {
  it('cuts exact parts in order, at most `concurrency` in flight, from concurrency + 1 buffers', async () => {
    const parts: { number: number; size: number; sha: string }[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let inflight = 0;
    let most = 0;
    const count = await uploadParts(body([700, 300, 1000, 50, 1950]), { partSize: 1000, concurrency: 2, maxParts: 100 }, async (bytes, number) => {
      inflight += 1;
      most = Math.max(most, inflight);
      buffers.add(bytes.buffer);
      const sha = createHash('sha256').update(bytes).digest('hex');
      await sleep(5);
      parts.push({ number, size: bytes.length, sha });
      inflight -= 1;
    });
    expect(count).toBe(4);
    expect(parts.sort((a, b) => a.number - b.number).map((part) => part.size)).toEqual([1000, 1000, 1000, 1000]);
    const whole = Buffer.concat([700, 300, 1000, 50, 1950].map((size, index) => Buffer.alloc(size, index + 1)));
    expect(parts.map((part) => part.sha)).toEqual([0, 1, 2, 3].map((i) => createHash('sha256').update(whole.subarray(i * 1000, (i + 1) * 1000)).digest('hex')));
    expect(most).toBe(2);
    expect(buffers.size).toBeLessThanOrEqual(3);
  });

  it('sends a shorter last part', async () => {
    const sizes: number[] = [];
    expect(await uploadParts(body([2500]), { partSize: 1000, concurrency: 1, maxParts: 10 }, async (bytes) => void sizes.push(bytes.length))).toBe(3);
    expect(sizes).toEqual([1000, 1000, 500]);
  });

  it('on a failed part: stops reading, lets the others settle, throws the first error', async () => {
    let settled = 0;
    let reads = 0;
    const slow = new Readable({
      read() {
        reads += 1;
        setTimeout(() => this.push(Buffer.alloc(1000)), reads > 3 ? 60_000 : 1);
      },
    });
    const started = Date.now();
    await expect(
      uploadParts(slow, { partSize: 1000, concurrency: 2, maxParts: 100 }, async (_bytes, number) => {
        await sleep(number === 2 ? 5 : 20);
        settled += 1;
        if (number === 2) throw new Error('part 2 refused');
      }),
    ).rejects.toThrow('part 2 refused');
    expect(Date.now() - started).toBeLessThan(5_000);
    // Part 1 (slower) was waited for; part 3 never started, as both places were taken when part 2 failed.
    expect(settled).toBe(2);
    expect(slow.destroyed).toBe(true);
  });

  it('refuses more parts than allowed', async () => {
    await expect(uploadParts(body([5000]), { partSize: 1000, concurrency: 1, maxParts: 3 }, async () => {})).rejects.toThrow('more than 3 parts');
  });
});
