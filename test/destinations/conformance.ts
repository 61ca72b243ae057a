// The suite every destination passes: each test gets a fresh destination from `setup` and talks to it only
// through the Destination interface.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Destination, PutRequest } from '../../src/destinations/types.js';

export interface ConformanceCapabilities {
  /** False for a destination that keeps no bytes (read-back tests are skipped). */
  readBack?: boolean;
  /** Size of the large streamed body (default 64 MiB). */
  largeBytes?: number;
  /**
   * How much RSS may grow while it streams (default 64 MiB). Keep it well under `largeBytes`: buffers allocated
   * afresh per chunk or part wait for V8 to collect them, so growth is the working set plus some not-yet-collected
   * buffers; a body larger than that tells holding it from streaming it.
   */
  maxRssGrowthBytes?: number;
  /**
   * Where the destination switches from one request to a multipart or streamed upload (part, block or buffer
   * size); bodies just under, at and just over it are checked by size and sha256 (default 1 MiB).
   */
  partBytes?: number;
  /**
   * CRMs: no free-form metadata is kept (stat's metadata is {}), and text is stored as rendered for agents (a note's
   * stat size and read-back are the rendered text's, so the raw-bytes checks apply to files only).
   */
  crm?: boolean;
}

export type DestinationSetup = () => Promise<{ destination: Destination; cleanup: () => Promise<void> }>;

const MiB = 1024 * 1024;
let serial = 0;

/** A valid request for a fresh recording key unless overridden. */
export function sampleRequest(overrides: Partial<PutRequest> = {}): PutRequest {
  serial += 1;
  return {
    key: `recording/Rec${String(serial).padStart(4, '0')}`,
    kind: 'recording',
    engagementId: 'Eng001',
    occurredAt: '2026-03-14T09:26:53Z',
    date: '2026-03-14',
    extension: 'mp4',
    contentType: 'video/mp4',
    metadata: { engagementId: 'Eng001', kind: 'recording' },
    ...overrides,
  };
}

export function bodyOf(content: string | Buffer): Readable {
  return Readable.from([Buffer.from(content)]);
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

export async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Emits `chunks` chunks of 64 KiB, then fails like a connection reset. */
export function failingBody(chunks = 3): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent < chunks) {
        sent += 1;
        setImmediate(() => this.push(Buffer.alloc(64 * 1024, sent)));
      } else {
        setImmediate(() => this.destroy(new Error('reset')));
      }
    },
  });
}

/** Emits two chunks, then aborts `controller` when the destination asks for the third (which never comes). */
export function abortingBody(controller: AbortController): Readable {
  let reads = 0;
  return new Readable({
    read() {
      reads += 1;
      if (reads <= 2) this.push(Buffer.alloc(64 * 1024, reads));
      else if (reads === 3) setImmediate(() => controller.abort());
    },
  });
}

function* chunksOf(content: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < content.length; offset += size) yield content.subarray(offset, offset + size);
}

/** `total` bytes generated on demand in 1 MiB chunks; only pulled as fast as the consumer reads. */
function largeBody(total: number): { body: Readable; expectedSha: string } {
  const hash = createHash('sha256');
  let produced = 0;
  let index = 0;
  const body = new Readable({
    highWaterMark: MiB,
    read() {
      if (produced >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(MiB, total - produced);
      const chunk = Buffer.alloc(size, index % 251);
      chunk.writeUInt32BE(index, 0);
      hash.update(chunk);
      produced += size;
      index += 1;
      this.push(chunk);
    },
  });
  return {
    body,
    get expectedSha() {
      return hash.copy().digest('hex');
    },
  };
}

export function destinationConformance(
  name: string,
  setup: DestinationSetup,
  capabilities: ConformanceCapabilities = {},
): void {
  const readBack = capabilities.readBack ?? true;
  const largeBytes = capabilities.largeBytes ?? 64 * MiB;
  const maxRssGrowthBytes = capabilities.maxRssGrowthBytes ?? 64 * MiB;
  const partBytes = capabilities.partBytes ?? MiB;
  const crm = capabilities.crm ?? false;
  const metadataOf = (request: PutRequest) => (crm ? {} : request.metadata);

  describe(`destination conformance: ${name}`, () => {
    let current: Awaited<ReturnType<DestinationSetup>> | undefined;
    const destination = (): Destination => {
      if (!current) throw new Error('setup did not run');
      return current.destination;
    };

    beforeEach(async () => {
      current = await setup();
    });
    afterEach(async () => {
      await current?.destination.close();
      await current?.cleanup();
      current = undefined;
    });

    async function readSha(location: string): Promise<string> {
      return sha256Of(await destination().read(location));
    }

    it('put then stat: size, unicode metadata and a stable location', async () => {
      const metadata = { engagementId: 'Eng001', agent: 'Zoë Ångström', queue: '東京 サポート', mood: 'café ☕ 🎧 “ok”' };
      const request = sampleRequest({ metadata });
      const { location } = await destination().put(request, bodyOf('hello recording'));
      expect(location).toBeTruthy();
      const stored = await destination().stat(request);
      expect(stored).toEqual({ location, size: Buffer.byteLength('hello recording'), metadata: crm ? {} : metadata });
      expect((await destination().put(request, bodyOf('hello recording'))).location).toBe(location);
    });

    it.runIf(readBack)('read back: the bytes are the ones put', async () => {
      const content = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 256));
      const { location } = await destination().put(sampleRequest(), bodyOf(content));
      expect(await readSha(location)).toBe(sha256(content));
    });

    it('a note with unicode text round trips', async () => {
      const text = 'Kundin möchte Rückruf — 山田さん 🙂\nzweite Zeile';
      const request = sampleRequest({
        key: 'note/Eng001/Note-1',
        kind: 'note',
        extension: 'txt',
        contentType: 'text/plain; charset=utf-8',
      });
      const { location } = await destination().put(request, bodyOf(text));
      if (crm) {
        // Stored as text an agent reads: the words are there, unchanged.
        const stored = await destination().stat(request);
        expect(stored?.location).toBe(location);
        const chunks: Buffer[] = [];
        for await (const chunk of await destination().read(location)) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks).toString('utf8')).toContain(text);
        return;
      }
      expect((await destination().stat(request))?.size).toBe(Buffer.byteLength(text));
      if (readBack) expect(await readSha(location)).toBe(sha256(text));
    });

    it('a key and engagement id with unicode and spaces: put, stat, read back, remove', async () => {
      const request = sampleRequest({
        key: 'voicemail/Nachricht für Zoë 東京 1',
        kind: 'voicemail',
        engagementId: 'Eng 001 ü',
        extension: 'mp3',
        contentType: 'audio/mpeg',
        metadata: { engagement_id: 'Eng 001 ü', note: 'spaces  and ünïcödé' },
      });
      const content = 'voicemail bytes ✓';
      const { location } = await destination().put(request, bodyOf(content));
      expect(await destination().stat(request)).toEqual({ location, size: Buffer.byteLength(content), metadata: metadataOf(request) });
      if (readBack) expect(await readSha(location)).toBe(sha256(content));
      await destination().remove(location);
      expect(await destination().stat(request)).toBeNull();
    });

    it.each([
      ['just under', -1],
      ['exactly', 0],
      ['just over', 1],
    ])('verify by size and sha256: a body %s one part', async (_label, delta) => {
      const content = Buffer.alloc(partBytes + delta);
      for (let i = 0; i + 4 <= content.length; i += 4096) content.writeUInt32BE(i, i);
      const request = sampleRequest({ size: content.length });
      const { location } = await destination().put(request, Readable.from(chunksOf(content, 64 * 1024)));
      expect((await destination().stat(request))?.size).toBe(content.length);
      if (readBack) expect(await readSha(location)).toBe(sha256(content));
    });

    it('put is idempotent by key: the second copy replaces the first at the same place', async () => {
      // A new version of the same key (an edited note) carries its own fingerprint.
      const request = sampleRequest({ fingerprint: 'zoom:recording:v1' });
      const first = await destination().put(request, bodyOf('first version, longer'));
      const second = await destination().put({ ...request, fingerprint: 'zoom:recording:v2', metadata: { v: '2' } }, bodyOf('second'));
      // A CRM may keep a replaced file under a new id (a new upload, the old one deleted); there is still one copy.
      if (!crm) expect(second.location).toBe(first.location);
      expect(await destination().stat(request)).toEqual({ location: second.location, size: 6, metadata: crm ? {} : { v: '2' } });
      if (readBack) expect(await readSha(second.location)).toBe(sha256('second'));
      await destination().remove(second.location);
      expect(await destination().stat(request)).toBeNull();
    });

    it.each([
      ['a slash in an id', { key: 'recording/a/b' }],
      ['a dot-dot id', { key: 'recording/..' }],
      ['a NUL in an id', { key: 'recording/a\u0000b' }],
      ['a backslash in an id', { key: 'note/Eng001/a\\b', kind: 'note' }],
      ['a control character in an id', { key: 'voicemail/a\nb', kind: 'voicemail' }],
      ['a dot-dot engagement id', { engagementId: '..' }],
      ['a slash in the engagement id', { engagementId: 'Eng/001' }],
      ['an id longer than 128', { key: `recording/${'x'.repeat(129)}` }],
      ['a bad extension', { extension: '../mp4' }],
      ['a bad date', { date: '2026-02-30' }],
    ] satisfies [string, Partial<PutRequest>][])('refuses %s and writes nothing', async (_label, overrides) => {
      const request = sampleRequest(overrides);
      await expect(destination().put(request, bodyOf('x'))).rejects.toThrow(Error);
      expect(await destination().stat(request).catch(() => null)).toBeNull();
    });

    it('a body that errors midway leaves nothing, and an earlier complete copy intact', async () => {
      const fresh = sampleRequest();
      await expect(destination().put(fresh, failingBody())).rejects.toThrow('reset');
      expect(await destination().stat(fresh)).toBeNull();

      const existing = sampleRequest();
      const { location } = await destination().put(existing, bodyOf('complete copy'));
      await expect(destination().put(existing, failingBody())).rejects.toThrow('reset');
      expect(await destination().stat(existing)).toMatchObject({ location, size: 13 });
      if (readBack) expect(await readSha(location)).toBe(sha256('complete copy'));
    });

    it('aborting mid-stream leaves nothing, and an earlier complete copy intact', async () => {
      const fresh = sampleRequest();
      const controller = new AbortController();
      await expect(destination().put(fresh, abortingBody(controller), controller.signal)).rejects.toThrow();
      expect(controller.signal.aborted).toBe(true);
      expect(await destination().stat(fresh)).toBeNull();

      const existing = sampleRequest();
      const { location } = await destination().put(existing, bodyOf('complete copy'));
      const again = new AbortController();
      await expect(destination().put(existing, abortingBody(again), again.signal)).rejects.toThrow();
      expect(await destination().stat(existing)).toMatchObject({ location, size: 13 });
      if (readBack) expect(await readSha(location)).toBe(sha256('complete copy'));
    });

    it('a body shorter than the announced size is refused', async () => {
      const request = sampleRequest({ size: 100 });
      await expect(destination().put(request, bodyOf('only 17 bytes ...'))).rejects.toThrow();
      expect(await destination().stat(request)).toBeNull();
    });

    it('a body longer than the announced size is refused', async () => {
      const request = sampleRequest({ size: 5 });
      await expect(destination().put(request, bodyOf('seventeen bytes!!'))).rejects.toThrow();
      expect(await destination().stat(request)).toBeNull();
    });

    it(`streams a large body (${largeBytes} bytes) without holding it in memory`, async () => {
      const request = sampleRequest();
      const large = largeBody(largeBytes);
      const startRss = process.memoryUsage().rss;
      let peakRss = startRss;
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }, 10);
      let location: string;
      try {
        ({ location } = await destination().put(request, large.body));
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      } finally {
        clearInterval(sampler);
      }
      expect(peakRss - startRss).toBeLessThan(maxRssGrowthBytes);
      expect((await destination().stat(request))?.size).toBe(largeBytes);
      if (readBack) expect(await readSha(location)).toBe(large.expectedSha);
    });

    it('20 concurrent puts of different keys all succeed', async () => {
      const requests = Array.from({ length: 20 }, () => sampleRequest());
      const results = await Promise.all(requests.map((r, i) => destination().put(r, bodyOf(`body ${i} `.repeat(i + 1)))));
      expect(new Set(results.map((r) => r.location)).size).toBe(20);
      for (const [i, request] of requests.entries()) {
        expect((await destination().stat(request))?.size).toBe(Buffer.byteLength(`body ${i} `.repeat(i + 1)));
      }
    });

    it('remove makes stat return null; removing a missing object is fine', async () => {
      const request = sampleRequest();
      const { location } = await destination().put(request, bodyOf('to be removed'));
      await destination().remove(location);
      expect(await destination().stat(request)).toBeNull();
      await expect(destination().remove(location)).resolves.toBeUndefined();
    });
  });
}
