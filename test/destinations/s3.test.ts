// The s3 destination against a real S3 server (s3rver) on loopback, through a proxy that logs and fails requests.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { createDestination } from '../../src/destinations/index.js';
import { S3Destination, type S3DestinationOptions } from '../../src/destinations/s3.js';
import { bodyOf, destinationConformance, sampleRequest, sha256, sha256Of } from './conformance.js';
import type { ProxiedRequest } from './servers/fault-proxy.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from './servers/s3.js';

const MiB = 1024 * 1024;
let server: S3Server;
let serial = 0;

beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  server.proxy.faults.length = 0;
});

function s3(options: Partial<S3DestinationOptions> = {}): S3Destination {
  serial += 1;
  return new S3Destination({
    name: 'bucket',
    bucket: server.bucket,
    prefix: `t${serial}/zcc`,
    region: 'us-east-1',
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    partSizeBytes: 5 * MiB,
    ...options,
  });
}

/** Bytes that differ per offset, in 256 KiB chunks, so a misplaced part would change the hash. */
function patterned(size: number): Buffer {
  const bytes = randomBytes(Math.min(size, MiB));
  const out = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += bytes.length) bytes.copy(out, offset, 0, Math.min(bytes.length, size - offset));
  for (let offset = 0; offset + 4 <= size; offset += 4096) out.writeUInt32BE(offset, offset);
  return out;
}

function chunked(content: Buffer): Readable {
  return Readable.from((function* () {
    for (let offset = 0; offset < content.length; offset += 256 * 1024) yield content.subarray(offset, offset + 256 * 1024);
  })());
}

/** `content` in 256 KiB chunks; then, once `ready()` holds, `finish` ends the stream (cleanly or with an error). */
function chunksThen(content: Buffer, finish: (stream: Readable) => void, ready: () => boolean = () => true): Readable {
  const chunks = [...chunksOf(content)];
  return new Readable({
    read() {
      const next = chunks.shift();
      if (next) {
        this.push(next);
        return;
      }
      const end = (): void => {
        if (ready()) finish(this);
        else setTimeout(end, 5);
      };
      setImmediate(end);
    },
  });
}

/** `content` in 256 KiB chunks, then `error` instead of the end (a download that breaks), once `ready()` holds. */
function failingAfter(content: Buffer, error: Error, ready?: () => boolean): Readable {
  return chunksThen(content, (stream) => stream.destroy(error), ready);
}

/** 256 KiB chunks for ever. */
function endless(): Readable {
  const chunk = patterned(256 * 1024);
  return new Readable({
    read() {
      setImmediate(() => this.push(chunk));
    },
  });
}

function* chunksOf(content: Buffer): Generator<Buffer> {
  for (let offset = 0; offset < content.length; offset += 256 * 1024) yield content.subarray(offset, offset + 256 * 1024);
}

const since = (from: number): ProxiedRequest[] => server.proxy.requests.slice(from);
const isPart = (request: ProxiedRequest): boolean => request.method === 'PUT' && request.query.has('partNumber');

destinationConformance('s3', async () => ({ destination: s3({ endpoint: server.directEndpoint }), cleanup: async () => {} }), {
  partBytes: 5 * MiB,
  largeBytes: 256 * MiB,
});

describe('S3Destination against s3rver', () => {
  it('lays objects out under the prefix with content type and metadata on the server, sha256 included', async () => {
    const destination = s3({ prefix: 'archive' });
    const request = sampleRequest({
      key: 'note/Eng001/N1',
      kind: 'note',
      extension: 'txt',
      contentType: 'text/plain; charset=utf-8',
      metadata: { key: 'note/Eng001/N1', engagement_id: 'Eng001', agent: 'Zoë' },
    });
    const { location } = await destination.put(request, bodyOf('Rückruf'));
    expect(location).toBe('archive/2026/03/14/Eng001/note-N1.txt');
    expect(await server.keys()).toContain(location);
    const stored = await server.metadata(location);
    expect(stored).toEqual({
      zcc_key: 'note/Eng001/N1',
      zcc_kind: 'note',
      zcc_engagement_id: 'Eng001',
      zcc_sha256: sha256('Rückruf'),
      zcc_metadata: '{"key":"note/Eng001/N1","engagement_id":"Eng001","agent":"Zo\\u00eb"}',
    });
    const put = server.proxy.requests.find((entry) => entry.method === 'PUT' && entry.path.endsWith(location));
    expect(put?.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(put?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=S3RVER\//);
  });

  it('uploads a body larger than the part size as a streamed multipart upload', async () => {
    const destination = s3({ uploadConcurrency: 2 });
    const content = patterned(12 * MiB + 12345);
    const request = sampleRequest({ size: content.length });
    const from = server.proxy.requests.length;
    const { location } = await destination.put(request, chunked(content));
    const requests = since(from);
    expect(requests.filter((entry) => entry.method === 'POST' && entry.query.has('uploads'))).toHaveLength(1);
    expect(requests.filter(isPart).map((entry) => entry.bytes)).toEqual(expect.arrayContaining([5 * MiB, 5 * MiB, 2 * MiB + 12345]));
    expect(requests.filter((entry) => entry.method === 'POST' && entry.query.has('uploadId'))).toHaveLength(1);
    expect((await destination.stat(request))?.size).toBe(content.length);
    expect(await sha256Of(await destination.read(location))).toBe(sha256(content));
    // Metadata is fixed when the upload starts, before the bytes are seen: no sha256 on multipart objects.
    const stored = await server.metadata(location);
    expect(stored).toMatchObject({ zcc_key: request.key, zcc_kind: 'recording', zcc_engagement_id: 'Eng001' });
    expect(stored.zcc_sha256).toBeUndefined();
  });

  it('a body announced larger than a part goes straight into parts: the upload starts before any of it is read', async () => {
    const destination = s3({ uploadConcurrency: 2 });
    const content = patterned(11 * MiB);
    const request = sampleRequest({ size: content.length });
    const from = server.proxy.requests.length;
    const started = (): boolean => since(from).some((entry) => entry.method === 'POST' && entry.query.has('uploads'));
    // Holding the body back until the upload has started: a put that first read a head of the body would wait for ever.
    const chunks = [...chunksOf(content)];
    const body = new Readable({
      read() {
        const push = (): void => {
          if (started()) this.push(chunks.shift() ?? null);
          else setTimeout(push, 5);
        };
        push();
      },
    });
    const stopped = new AbortController();
    const timer = setTimeout(() => stopped.abort(new Error('the upload did not start before its body was read')), 10_000);
    try {
      const { location } = await destination.put(request, body, stopped.signal);
      expect(await sha256Of(await destination.read(location))).toBe(sha256(content));
    } finally {
      clearTimeout(timer);
    }
    expect(since(from).filter(isPart).map((entry) => entry.bytes)).toEqual(expect.arrayContaining([5 * MiB, 5 * MiB, MiB]));
  });

  it('reuses its part buffers: uploads with 2 parts in flight allocate 3 part buffers in all', async () => {
    const destination = s3({ uploadConcurrency: 2 });
    const from = server.proxy.requests.length;
    for (const size of [17 * MiB + 5, 12 * MiB, 10 * MiB]) {
      const content = patterned(size);
      const request = sampleRequest({ size });
      const { location } = await destination.put(request, chunked(content));
      expect(await sha256Of(await destination.read(location))).toBe(sha256(content));
    }
    expect(since(from).filter(isPart)).toHaveLength(4 + 3 + 2);
    // Two parts in flight and one being filled; every later part reuses one of them.
    expect(destination.parts.allocated).toBe(3);
  });

  it('a body announced larger than 10,000 parts of the configured size goes up in larger parts', async () => {
    const destination = s3({ uploadConcurrency: 2 });
    const request = sampleRequest({ size: 60 * 1024 * MiB });
    const from = server.proxy.requests.length;
    // 60 GiB in at most 10,000 parts needs 7 MiB parts. The body ends at 15 MiB, once two full parts are up: the size
    // check fails the upload, and it is aborted.
    const twoPartsUp = (): boolean => since(from).filter((entry) => isPart(entry) && entry.bytes >= 7 * MiB).length === 2;
    const body = chunksThen(patterned(15 * MiB), (stream) => stream.push(null), twoPartsUp);
    const failure = await destination.put(request, body).catch((error: unknown) => error);
    expect((failure as Error).message).toMatch(/received 15728640 bytes, expected 64424509440/);
    const requests = since(from);
    expect(requests.filter(isPart).map((entry) => entry.bytes)).toEqual([7 * MiB, 7 * MiB]);
    expect(requests.filter((entry) => entry.method === 'DELETE' && entry.query.has('uploadId'))).toHaveLength(1);
    expect(requests.filter((entry) => entry.method === 'POST' && entry.query.has('uploadId'))).toEqual([]);
    // Those parts had buffers of their own; the configured ones were not touched.
    expect(destination.parts.allocated).toBe(0);
  });

  it('a server failing mid-upload leaves no object, tries to abort the multipart upload and keeps the cause', async () => {
    const destination = s3();
    const existing = sampleRequest();
    const { location } = await destination.put(existing, bodyOf('complete copy'));
    server.proxy.faults.push({ match: (entry) => isPart(entry) && entry.query.get('partNumber') === '2', action: { resetAfterBytes: MiB } });
    const from = server.proxy.requests.length;
    const failure = await destination.put(existing, chunked(patterned(11 * MiB))).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    // s3rver does not implement AbortMultipartUpload (405); the error says so and keeps the upload's own failure.
    expect(String((failure as Error).message)).toMatch(/^bucket: recording\/Rec\d+: .*(socket hang up|ECONNRESET|EPIPE).*; aborting multipart upload \S+ failed too \(.*HTTP 405/);
    const cause = (failure as Error).cause as { $metadata?: { httpStatusCode?: number }; message: string };
    expect(cause).toBeInstanceOf(Error);
    expect(cause.$metadata?.httpStatusCode).not.toBe(405);
    expect(cause.message).toMatch(/socket hang up|ECONNRESET|EPIPE/);
    const aborts = since(from).filter((entry) => entry.method === 'DELETE' && entry.query.has('uploadId'));
    expect(aborts).toHaveLength(1);
    expect(since(from).filter((entry) => entry.method === 'POST' && entry.query.has('uploadId'))).toEqual([]);
    expect(await destination.stat(existing)).toMatchObject({ location, size: 13 });
    expect(await sha256Of(await destination.read(location))).toBe(sha256('complete copy'));

    // A single PUT cut by the network fails the put. What the store keeps then is the store's atomicity, not ours
    // (S3 keeps nothing; s3rver, unlike S3, writes into the object's file as bytes arrive), so it is not checked.
    server.proxy.faults.push({ match: (entry) => entry.method === 'PUT' && !entry.query.has('partNumber'), action: { resetAfterBytes: 1000 } });
    await expect(destination.put(sampleRequest(), bodyOf(patterned(2 * MiB)))).rejects.toThrow(/recording\/Rec\d+: .*socket hang up|ECONNRESET/);
  });

  it('a body that fails after some parts are up: rejects with its own error, aborts the upload, completes nothing', async () => {
    const destination = s3({ uploadConcurrency: 2 });
    const existing = sampleRequest();
    const { location } = await destination.put(existing, bodyOf('complete copy'));
    const from = server.proxy.requests.length;
    // The body breaks once a part is up (the parts are sent while the next one is read).
    const partUp = (): boolean => since(from).some((entry) => isPart(entry) && entry.bytes >= 5 * MiB);
    const failure = await destination.put(existing, failingAfter(patterned(12 * MiB), new Error('download reset at 12 MiB'), partUp)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/^bucket: recording\/Rec\d+: download reset at 12 MiB/);
    expect(((failure as Error).cause as Error).message).toBe('download reset at 12 MiB');
    const requests = since(from);
    expect(requests.filter(isPart).length).toBeGreaterThanOrEqual(1);
    // The abort is sent before put rejects (not left running behind it), and nothing is completed.
    expect(requests.filter((entry) => entry.method === 'DELETE' && entry.query.has('uploadId'))).toHaveLength(1);
    expect(requests.filter((entry) => entry.method === 'POST' && entry.query.has('uploadId'))).toEqual([]);
    expect(await destination.stat(existing)).toMatchObject({ location, size: 13 });
    expect(await sha256Of(await destination.read(location))).toBe(sha256('complete copy'));
  });

  it('an abort signal mid-multipart: rejects with the abort, cancels the parts in flight, aborts the upload, completes nothing', async () => {
    const destination = s3({ uploadConcurrency: 2 });
    const request = sampleRequest();
    const controller = new AbortController();
    const from = server.proxy.requests.length;
    // Part 2 stalls after 1 MiB: only cancelling it ends it.
    server.proxy.faults.push({ match: (entry) => isPart(entry) && entry.query.get('partNumber') === '2', action: { stallAfterBytes: MiB } });
    const body = endless();
    const started = Date.now();
    const reason = new Error('run stopped');
    const stalled = setInterval(() => {
      if (since(from).some((entry) => entry.outcome === 'stalled')) controller.abort(reason);
    }, 5);
    const failure = await destination.put(request, body, controller.signal).catch((error: unknown) => error);
    clearInterval(stalled);
    expect(failure).toBeInstanceOf(Error);
    // The abort is the cause, not s3rver's refusal (405) of AbortMultipartUpload, which the message adds.
    expect((failure as Error).message).toMatch(/^bucket: recording\/Rec\d+: run stopped; aborting multipart upload \S+ failed too/);
    expect((failure as Error).cause).toBe(reason);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(body.destroyed).toBe(true);
    const requests = since(from);
    // The abort is sent before put rejects (not left running behind it), and nothing is completed.
    expect(requests.filter((entry) => entry.method === 'DELETE' && entry.query.has('uploadId'))).toHaveLength(1);
    expect(requests.filter((entry) => entry.method === 'POST' && entry.query.has('uploadId'))).toEqual([]);
    expect(await destination.stat(request)).toBeNull();
  });

  it('an abort signal during a single PutObject cancels it', async () => {
    const destination = s3();
    const request = sampleRequest();
    const controller = new AbortController();
    const from = server.proxy.requests.length;
    server.proxy.faults.push({ match: (entry) => entry.method === 'PUT' && !entry.query.has('partNumber'), action: { stallAfterBytes: MiB }, times: 1 });
    const reason = new Error('run stopped');
    const stalled = setInterval(() => {
      if (since(from).some((entry) => entry.outcome === 'stalled')) controller.abort(reason);
    }, 5);
    const failure = await destination.put(request, bodyOf(patterned(3 * MiB)), controller.signal).catch((error: unknown) => error);
    clearInterval(stalled);
    expect((failure as Error).message).toMatch(/^bucket: recording\/Rec\d+: run stopped$/);
    expect((failure as Error).cause).toBe(reason);
    expect(since(from).filter((entry) => entry.method === 'PUT').map((entry) => entry.outcome)).toEqual(['stalled']);
    // What the store keeps of a PUT cut short is its own atomicity (S3 keeps nothing; s3rver keeps the bytes it got).
  });

  it('retries a 503 from the store and stores the object once', async () => {
    const destination = s3();
    const request = sampleRequest();
    server.proxy.faults.push({ match: (entry) => entry.method === 'PUT', action: { status: 503, body: '<Error><Code>SlowDown</Code><Message>slow down</Message></Error>' }, times: 1 });
    const from = server.proxy.requests.length;
    await destination.put(request, bodyOf('after a retry'));
    expect(since(from).filter((entry) => entry.method === 'PUT').map((entry) => entry.outcome)).toEqual(['failed', 'forwarded']);
    expect((await destination.stat(request))?.size).toBe(13);
  });

  it('asks for server-side encryption on single and multipart uploads', async () => {
    const destination = s3({ serverSideEncryption: 'aws:kms', kmsKeyId: 'alias/zcc' });
    const from = server.proxy.requests.length;
    await destination.put(sampleRequest(), bodyOf('small'));
    await destination.put(sampleRequest(), chunked(patterned(6 * MiB)));
    const starts = since(from).filter((entry) => (entry.method === 'PUT' && !entry.query.has('partNumber')) || entry.query.has('uploads'));
    expect(starts).toHaveLength(2);
    for (const entry of starts) {
      expect(entry.headers['x-amz-server-side-encryption']).toBe('aws:kms');
      expect(entry.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe('alias/zcc');
    }
  });

  it('hands out a presigned GET that plain HTTP can fetch, and refuses lifetimes over 7 days', async () => {
    const destination = s3();
    const content = patterned(300_000);
    const { location } = await destination.put(sampleRequest(), bodyOf(content));
    const link = await destination.link(location, 600);
    expect(link).toContain('X-Amz-Expires=600');
    expect(link).toContain('X-Amz-Signature=');
    const response = await fetch(link);
    expect(response.status).toBe(200);
    expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(sha256(content));
    expect(await destination.link(location)).toContain('X-Amz-Expires=3600');
    await expect(destination.link(location, 7 * 86_400 + 1)).rejects.toThrow(ConfigError);
    await expect(destination.link('../elsewhere/x.mp4')).rejects.toThrow(/not an object under/);
  });

  it('refuses to read or remove outside its prefix', async () => {
    const destination = s3({ prefix: 'mine/' });
    for (const location of ['other/2026/x.mp4', 'mine/../other/x', 'mine/', 'mine//x', 'mine/a\u0000b']) {
      await expect(destination.read(location)).rejects.toThrow(/not an object under/);
      await expect(destination.remove(location)).rejects.toThrow(/not an object under/);
    }
  });
});

describe('s3 through the registry', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('takes its credentials from the standard AWS environment chain', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_CREDENTIALS.secretAccessKey);
    const config = parseConfig({
      destinations: [
        { name: 'media', type: 's3', bucket: server.bucket, prefix: 'registry', region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true },
      ],
    });
    const destination = await createDestination(config.destinations[0]!);
    expect(destination).toMatchObject({ name: 'media', type: 's3' });
    const request = sampleRequest();
    const { location } = await destination.put(request, bodyOf('via the registry'));
    expect(location.startsWith('registry/')).toBe(true);
    expect(await server.keys()).toContain(location);
    await destination.close();
  });
});
