// The http destination against a recording server on loopback that fails on demand.
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { HttpDestination, resolveHeaders, type HttpDestinationOptions, type MetadataHeader } from '../../src/destinations/http.js';
import { createDestination } from '../../src/destinations/index.js';
import { ConfigError } from '../../src/errors.js';
import { bodyOf, destinationConformance, sampleRequest, sha256, sha256Of } from './conformance.js';
import { startRecordingServer, type RecordingServer } from './servers/recording-server.js';

const MiB = 1024 * 1024;
let server: RecordingServer;
let serial = 0;

beforeAll(async () => {
  server = await startRecordingServer();
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  server.clearFaults();
  vi.unstubAllEnvs();
});

function http(options: Partial<HttpDestinationOptions> = {}): HttpDestination {
  serial += 1;
  return new HttpDestination({
    name: 'hook',
    url: `${server.url}/t${serial}/{kind}/{engagementId}/{key}?date={date}`,
    retry: { limit: 3, maxBackoffMs: 50, maxRetryAfterMs: 5_000 },
    bufferBytes: MiB,
    ...options,
  });
}

function writesTo(path: string): number {
  return server.requests.filter((request) => request.url.startsWith(path) && (request.method === 'PUT' || request.method === 'POST')).length;
}

function patterned(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let offset = 0; offset + 4 <= size; offset += 4096) out.writeUInt32BE(offset, offset);
  return out;
}

function chunked(content: Buffer): Readable {
  return Readable.from((function* () {
    for (let offset = 0; offset < content.length; offset += 64 * 1024) yield content.subarray(offset, offset + 64 * 1024);
  })());
}

destinationConformance('http', async () => ({ destination: http(), cleanup: async () => {} }), { partBytes: MiB });

describe('HttpDestination against a recording server', () => {
  it('PUTs to the filled-in template with the Idempotency-Key, metadata, digest and env-resolved headers', async () => {
    const headers = resolveHeaders('hook', { Authorization: 'Bearer ${HTTP_DEST_TOKEN}', 'X-Tenant': 'acme' }, { HTTP_DEST_TOKEN: 's3cr3t' });
    const destination = http({ headers });
    const request = sampleRequest({
      key: 'note/Eng 1/N1',
      kind: 'note',
      engagementId: 'Eng 1',
      extension: 'json',
      contentType: 'application/json',
      metadata: { key: 'note/Eng 1/N1', agent: 'Zoë' },
    });
    const { location } = await destination.put(request, bodyOf('{"note":"hi"}'));
    const url = new URL(location);
    expect(url.pathname).toMatch(/^\/t\d+\/note\/Eng%201\/note%2FEng%201%2FN1$/);
    expect(url.search).toBe('?date=2026-03-14');
    const recorded = server.requests.find((entry) => entry.method === 'PUT' && `${server.url}${entry.url}` === location);
    expect(recorded?.headers).toMatchObject({
      authorization: 'Bearer s3cr3t',
      'x-tenant': 'acme',
      'idempotency-key': 'note/Eng 1/N1',
      'content-type': 'application/json',
      'content-length': '13',
      'content-digest': `sha-256=:${Buffer.from(sha256('{"note":"hi"}'), 'hex').toString('base64')}:`,
    });
    const description = JSON.parse(String(recorded?.headers['x-zcc-metadata'])) as MetadataHeader;
    expect(description).toEqual({
      key: 'note/Eng 1/N1',
      kind: 'note',
      engagementId: 'Eng 1',
      date: '2026-03-14',
      occurredAt: '2026-03-14T09:26:53Z',
      contentType: 'application/json',
      size: 13,
      sha256: sha256('{"note":"hi"}'),
      metadata: { key: 'note/Eng 1/N1', agent: 'Zoë' },
    });
  });

  it('POSTs when configured, and a non-ASCII key travels percent-encoded in Idempotency-Key', async () => {
    const destination = http({ method: 'POST' });
    const request = sampleRequest({ key: 'recording/Réc 1' });
    await destination.put(request, bodyOf('x'));
    const recorded = server.requests.at(-1);
    expect(recorded?.method).toBe('POST');
    expect(recorded?.headers['idempotency-key']).toBe('recording/R%C3%A9c%201');
  });

  it('keeps its header values out of an error that echoes them (the message goes into the ledger)', async () => {
    const destination = http({ headers: { authorization: 'Bearer hook-secret-value-8d1f2c', 'x-api-key': 'key-2b7e91aa' } });
    server.fail({ status: 401, body: 'bad credentials: Bearer hook-secret-value-8d1f2c (api key key-2b7e91aa)' });
    const error = (await destination.put(sampleRequest(), bodyOf('x')).then(() => new Error('stored'), (caught: unknown) => caught)) as Error;
    expect(error.message).toMatch(/answered 401 .*bad credentials: \[redacted\] \(api key \[redacted\]\)/);
    expect(error.message).not.toMatch(/hook-secret|2b7e91aa/);
  });

  it('sends an edited version as a new operation: its own Idempotency-Key, accepted by an endpoint that refuses a reused one', async () => {
    const destination = http();
    const request = sampleRequest({ kind: 'note', key: 'note/Eng001/N7', extension: 'json', contentType: 'application/json', fingerprint: 'zoom:note:v1' });
    await destination.put(request, bodyOf('{"note":"first text"}'));
    const edited = await destination.put({ ...request, fingerprint: 'zoom:note:v2' }, bodyOf('{"note":"edited text"}'));
    const keys = server.requests.filter((entry) => entry.stored && entry.url.includes('N7')).map((entry) => entry.headers['idempotency-key']);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^note\/Eng001\/N7#[0-9a-f]{16}$/);
    expect(keys[1]).not.toBe(keys[0]);
    expect(await sha256Of(await destination.read(edited.location))).toBe(sha256('{"note":"edited text"}'));
  });

  it('retries 5xx and a reset mid-upload, storing the body once', async () => {
    const destination = http({ method: 'POST' });
    const request = sampleRequest();
    server.fail({ status: 503 });
    server.fail({ status: 500 });
    server.fail({ resetAfterBytes: 64 * 1024 });
    const { location } = await destination.put(request, chunked(patterned(512 * 1024)));
    const path = new URL(location).pathname;
    expect(server.requests.filter((entry) => entry.url.startsWith(path)).map((entry) => entry.stored)).toEqual([false, false, false, true]);
    expect(server.storesByKey().get(request.key)).toBe(1);
    expect(server.stored.get(`${path}${new URL(location).search}`)?.sha256).toBe(sha256(patterned(512 * 1024)));
  });

  it('waits for Retry-After on a 429, but fails at once when the wait is longer than maxRetryAfter', async () => {
    const destination = http();
    const request = sampleRequest();
    server.fail({ status: 429, retryAfter: '1' });
    const started = Date.now();
    await destination.put(request, bodyOf('after a pause'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect((await destination.stat(request))?.size).toBe(13);

    const other = sampleRequest();
    server.fail({ status: 429, retryAfter: '3600' });
    const quick = Date.now();
    await expect(destination.put(other, bodyOf('x'))).rejects.toThrow(/answered 429 Too Many Requests/);
    expect(Date.now() - quick).toBeLessThan(2_000);
    expect(await destination.stat(other)).toBeNull();
  });

  it('a 4xx is a clear failure, not retried, and never shows header secrets', async () => {
    const destination = http({ headers: { Authorization: 'Bearer s3cr3t' } });
    const request = sampleRequest();
    server.fail({ status: 403, body: 'token not allowed for this tenant' });
    const error = await destination.put(request, bodyOf('x')).then(() => null, (failure: unknown) => failure);
    if (!(error instanceof Error)) throw new Error('the put did not fail');
    expect(error.message).toMatch(/^hook: recording\/Rec\d+: PUT http:\/\/127\.0\.0\.1:\d+\/t\d+\/recording\/Eng001\/recording%2FRec\d+\?… answered 403 Forbidden: token not allowed for this tenant \(refused, not retried\)$/);
    expect(error.message).not.toContain('s3cr3t');
    expect(writesTo(new URL(`${server.url}/t${serial}/`).pathname)).toBe(1);
    expect(await destination.stat(request)).toBeNull();
  });

  it('a body over the buffer streams through once: a reset fails the put and stores nothing', async () => {
    const destination = http();
    const request = sampleRequest();
    const content = patterned(3 * MiB);
    server.fail({ resetAfterBytes: 2 * MiB }, { times: 5 });
    await expect(destination.put(request, chunked(content))).rejects.toThrow(request.key);
    expect(writesTo(`/t${serial}/`)).toBe(1);
    expect(await destination.stat(request)).toBeNull();
    server.clearFaults();

    const { location } = await destination.put({ ...request, size: content.length }, chunked(content));
    const recorded = server.requests.at(-1);
    expect(recorded?.headers['content-length']).toBe(String(content.length));
    expect(recorded?.headers['content-digest']).toBeUndefined();
    expect(JSON.parse(String(recorded?.headers['x-zcc-metadata']))).not.toHaveProperty('sha256');
    expect((await destination.stat(request))?.location).toBe(location);
  });

  it('does not follow redirects, and reads or removes only on its own origin', async () => {
    const destination = http();
    server.fail({ status: 307 });
    await expect(destination.put(sampleRequest(), bodyOf('x'))).rejects.toThrow(/answered 307/);
    await expect(destination.read('https://elsewhere.example/x')).rejects.toThrow(/is not under/);
    await expect(destination.remove('not a url')).rejects.toThrow(/is not under/);
  });

  it('a redirect (a login page in front of the endpoint) answering a read or a remove is a failure, not the object or a removal', async () => {
    const destination = http();
    const { location } = await destination.put(sampleRequest(), bodyOf('stored'));
    server.fail({ status: 302, body: '<a href="/login">login</a>' }, { match: (request) => request.method === 'GET', times: 1 });
    await expect(destination.read(location)).rejects.toThrow(/GET .* answered 302/);
    server.fail({ status: 302 }, { match: (request) => request.method === 'DELETE', times: 1 });
    await expect(destination.remove(location)).rejects.toThrow(/DELETE .* answered 302/);
    expect(await sha256Of(await destination.read(location))).toBe(sha256('stored'));
  });
});

describe('http config and registry', () => {
  const config = (extra: Record<string, unknown>) => ({ destinations: [{ name: 'hook', type: 'http', url: 'https://hooks.example.com/{key}', ...extra }] });

  it('reads header secrets from the environment when it opens, naming a missing variable', async () => {
    vi.stubEnv('HTTP_DEST_TOKEN', 'from-env');
    const parsed = parseConfig(config({ url: `${server.url}/registry/{kind}/{key}`, headers: { Authorization: 'Bearer ${HTTP_DEST_TOKEN}' } }));
    const destination = await createDestination(parsed.destinations[0]!);
    const request = sampleRequest();
    await destination.put(request, bodyOf('via the registry'));
    expect(server.requests.at(-1)?.headers.authorization).toBe('Bearer from-env');
    expect((await destination.stat(request))?.size).toBe(16);

    vi.stubEnv('HTTP_DEST_TOKEN', '');
    await expect(createDestination(parsed.destinations[0]!)).rejects.toThrow(ConfigError);
    await expect(createDestination(parsed.destinations[0]!)).rejects.toThrow(/environment variable HTTP_DEST_TOKEN/);
  });

  it.each([
    [{ url: 'http://hooks.example.com/{key}' }, /destinations\[0\]\.url.*plain http only for a loopback host/],
    [{ url: 'https://hooks.example.com/{id}' }, /destinations\[0\]\.url.*placeholders are among \{kind\} \{key\} \{engagementId\} \{date\}/],
    [{ url: 'https://hooks.example.com/zcc/{kind}/{engagementId}' }, /destinations\[0\]\.url: ".*" is not valid; expected a URL template that names each artifact with \{key\}/],
    [{ url: 'https://{kind}.hooks.example.com/{key}' }, /destinations\[0\]\.url: ".*" is not valid; expected a URL template whose placeholders are in its path or query/],
    [{ headers: { 'Idempotency-Key': 'x' } }, /destinations\[0\]\.headers\.Idempotency-Key.*set by the destination/],
    [{ headers: { 'X-Token': '${not valid}' } }, /destinations\[0\]\.headers\.X-Token.*environment variables/],
    [{ method: 'PATCH' }, /destinations\[0\]\.method.*"PUT", "POST"/],
    [{ retry: { limit: 3, extra: 1 } }, /destinations\[0\]\.retry\.extra.*no such key/],
  ])('refuses %j with a clear message', (extra, message) => {
    expect(() => parseConfig(config(extra))).toThrow(message);
  });

  it('accepts loopback http and fills the defaults', () => {
    const parsed = parseConfig(config({ url: 'http://127.0.0.1:8080/{kind}/{key}' })).destinations[0];
    expect(parsed).toMatchObject({ method: 'PUT', headers: {}, timeout: 'PT60S', retry: { limit: 5 }, bufferMiB: 8 });
  });
});
