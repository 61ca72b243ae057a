import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { meterBody, readHead, wholeBody } from '../../src/destinations/body.js';

const bytesOf = (length: number): Buffer => Buffer.from(Array.from({ length }, (_, offset) => (offset * 13 + 5) % 256));

/** `content` in fresh chunks of `size` bytes. */
function chunked(content: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < content.length; offset += size) chunks.push(Buffer.from(content.subarray(offset, offset + size)));
  return Readable.from(chunks, { objectMode: false });
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('readHead', () => {
  it('reads a body announced to fit into one buffer of its size, which wholeBody hands over without a copy', async () => {
    const content = bytesOf(10_000);
    const meter = meterBody(chunked(content, 999), content.length);
    const head = await readHead(meter, 16_384, content.length);
    expect(head).toMatchObject({ ended: true, bytes: 10_000 });
    expect(head.chunks).toHaveLength(1);
    const whole = wholeBody(head);
    expect(whole).toBe(head.chunks[0]);
    expect(whole.equals(content)).toBe(true);
    expect(meter.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('an announced body that comes up short fails with the meter\'s error, one that runs over fails too', async () => {
    const content = bytesOf(5000);
    await expect(readHead(meterBody(chunked(content, 700), 6000), 16_384, 6000)).rejects.toThrow('received 5000 bytes, expected 6000');
    // Unmetered, a body longer than announced is refused before it overruns the buffer.
    await expect(readHead(chunked(content, 700), 16_384, 4000)).rejects.toThrow('received more than the announced 4000 bytes');
  });

  it('a body announced larger than the limit is not read: all of it streams on as the rest', async () => {
    const content = bytesOf(50_000);
    const meter = meterBody(chunked(content, 4096), content.length);
    const head = await readHead(meter, 16_384, content.length);
    expect(head).toMatchObject({ ended: false, bytes: 0, chunks: [] });
    expect(head.rest).toBe(meter);
    expect((await drain(head.rest)).equals(content)).toBe(true);
  });

  it('an unannounced body larger than the limit is read one chunk past the limit and the rest streams on', async () => {
    const content = bytesOf(50_000);
    const head = await readHead(meterBody(chunked(content, 4096), undefined), 16_384);
    expect(head.ended).toBe(false);
    expect(head.bytes).toBeGreaterThan(16_384);
    expect(head.bytes).toBeLessThanOrEqual(16_384 + 4096);
    // rest replays the head's chunks, then the remainder.
    expect((await drain(head.rest)).equals(content)).toBe(true);
  });

  it('an unannounced body within the limit ends whole, joined by wholeBody', async () => {
    const content = bytesOf(9000);
    const head = await readHead(meterBody(chunked(content, 1000), undefined), 16_384);
    expect(head).toMatchObject({ ended: true, bytes: 9000 });
    expect(wholeBody(head).equals(content)).toBe(true);
  });
});
