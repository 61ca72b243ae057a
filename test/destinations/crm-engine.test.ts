// The layer the five CRM destinations share: the HTTP client's pause / refresh / stop rules against a real loopback
// server, the OAuth token cache, and the engine's decisions (text, file or link; grouping; one record per engagement).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { ArtifactKind, EngagementInfo } from '../../src/artifacts.js';
import type { CrmAdapter, CrmRecord, FileEntry, FoundEntry, TextEntry } from '../../src/destinations/crm/adapter.js';
import { OAuthToken, staticHeaders, type TokenSource } from '../../src/destinations/crm/auth.js';
import { CrmDestination, type AttachMode } from '../../src/destinations/crm/engine.js';
import { CrmHttp, retryAfterMs, type CrmAnswer, type CrmSignal } from '../../src/destinations/crm/http.js';
import { LinkMaker } from '../../src/destinations/crm/links.js';
import { MemoryDestination } from '../../src/destinations/memory.js';
import type { Destination, PutRequest } from '../../src/destinations/types.js';
import { DestinationError, DestinationUnavailableError } from '../../src/errors.js';
import { bodyOf, sampleRequest } from './conformance.js';

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void;

interface Loopback {
  url: string;
  log: { at: number; path: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function loopback(handler: Handler): Promise<Loopback> {
  const log: Loopback['log'] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      log.push({ at: Date.now(), path: request.url ?? '', authorization: request.headers.authorization });
      handler(request, response, body);
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, log, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A CRM that answers 429 with `retry-after`, 401 `expired`, 403 `daily`, 401 `refused` (JSON bodies). */
function classify(answer: CrmAnswer): CrmSignal | null {
  if (answer.statusCode === 429) return { type: 'rate-limit', waitMs: retryAfterMs(answer.headers) };
  if (answer.statusCode === 403 && answer.body.includes('daily')) return { type: 'daily-limit', message: 'daily' };
  if (answer.statusCode === 401 && answer.body.includes('expired')) return { type: 'auth-expired' };
  if (answer.statusCode === 401) return { type: 'auth-refused', message: 'refused' };
  return null;
}

function client(tokens: TokenSource, retryLimit = 4): CrmHttp {
  return new CrmHttp({
    name: 'crm',
    label: 'TestCRM',
    timeoutMs: 5000,
    retry: { limit: retryLimit, maxBackoffMs: 200, maxRetryAfterMs: 5000 },
    authorize: () => tokens.headers(),
    invalidate: () => tokens.invalidate(),
    classify,
  });
}

describe('CrmHttp', () => {
  it('a 429 with Retry-After pauses every request of the destination, then all succeed', async () => {
    let limited = 1;
    const server = await loopback((request, response) => {
      if (request.url === '/slow' && limited-- > 0) {
        response.writeHead(429, { 'retry-after': '1' }).end('slow down');
        return;
      }
      response.end('ok');
    });
    const http = client(staticHeaders({ authorization: 'Bearer t' }));
    const first = http.send({ url: `${server.url}/slow` });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const others = await Promise.all([1, 2, 3].map((n) => http.send({ url: `${server.url}/other/${n}` })));
    expect((await first).value).toBe('ok');
    expect(others.map((other) => other.value)).toEqual(['ok', 'ok', 'ok']);
    const limitedAt = server.log.find((entry) => entry.path === '/slow')!.at;
    for (const entry of server.log.filter((item) => item.path.startsWith('/other'))) expect(entry.at).toBeGreaterThanOrEqual(limitedAt + 900);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
  });

  it('rate-limit answers waited out do not use up a request\'s retries; 5xx answers do', async () => {
    let limited = 8;
    let broken = 3;
    const server = await loopback((request, response) => {
      if (request.url === '/limited' && limited-- > 0) response.writeHead(429, { 'retry-after': '0.02' }).end();
      else if (request.url === '/broken' && broken-- > 0) response.writeHead(503).end();
      else response.end('ok');
    });
    const http = client(staticHeaders({}), 2);
    expect((await http.send({ url: `${server.url}/limited` })).value).toBe('ok');
    await expect(http.send({ url: `${server.url}/broken` })).rejects.toThrow(/TestCRM answered 503 to GET \/broken/);
    expect(server.log.filter((entry) => entry.path === '/limited').length).toBe(9);
    expect(server.log.filter((entry) => entry.path === '/broken').length).toBe(3);
  });

  it('requestsPerSecond spaces requests evenly', async () => {
    const server = await loopback((_request, response) => response.end('ok'));
    const http = new CrmHttp({
      name: 'crm', label: 'TestCRM', timeoutMs: 5000, retry: { limit: 0, maxBackoffMs: 10, maxRetryAfterMs: 10 },
      authorize: async () => ({}), invalidate: () => undefined, classify, requestsPerSecond: 20,
    });
    await Promise.all(Array.from({ length: 6 }, (_, n) => http.send({ url: `${server.url}/${n}` })));
    const times = server.log.map((entry) => entry.at).sort((a, b) => a - b);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(5 * 50 - 20);
  });

  it('an expired token is refreshed and the request replayed once; a fresh token refused again stops the destination', async () => {
    let issued = 0;
    const tokens: TokenSource = { headers: async () => ({ authorization: `Bearer t${issued}` }), invalidate: () => void issued++ };
    const server = await loopback((request, response) => {
      if (request.url === '/always-expired' || request.headers.authorization === 'Bearer t0') response.writeHead(401).end('{"error":"expired"}');
      else response.end('ok');
    });
    const http = client(tokens);
    expect((await http.send({ url: `${server.url}/a` })).value).toBe('ok');
    expect(server.log.map((entry) => entry.authorization)).toEqual(['Bearer t0', 'Bearer t1']);
    await expect(http.send({ url: `${server.url}/always-expired` })).rejects.toThrow(DestinationUnavailableError);
    const requests = server.log.length;
    await expect(http.send({ url: `${server.url}/a` })).rejects.toThrow(/refused a fresh token/);
    expect(server.log.length).toBe(requests);
  });

  it('a spent daily allowance stops the destination: later requests fail at once, without a request', async () => {
    const server = await loopback((_request, response) => response.writeHead(403).end('[{"errorCode":"daily"}]'));
    const http = client(staticHeaders({}));
    await expect(http.send({ url: `${server.url}/x` })).rejects.toThrow(/TestCRM daily API limit reached/);
    await expect(http.send({ url: `${server.url}/y` })).rejects.toThrow(DestinationUnavailableError);
    expect(() => http.check()).toThrow(DestinationUnavailableError);
    expect(server.log.length).toBe(1);
  });

  it('a stop ends: after an hour for a daily limit, after 15 minutes for refused credentials (a listener goes on)', async () => {
    let now = 1_000_000;
    let daily = true;
    let refused = false;
    const server = await loopback((_request, response) => {
      if (daily) response.writeHead(403).end('[{"errorCode":"daily"}]');
      else if (refused) response.writeHead(401).end('{"error":"nope"}');
      else response.end('ok');
    });
    let invalidated = 0;
    const http = new CrmHttp({
      name: 'crm', label: 'TestCRM', timeoutMs: 5000, retry: { limit: 1, maxBackoffMs: 10, maxRetryAfterMs: 1000 },
      authorize: async () => ({}), invalidate: () => void invalidated++, classify, now: () => now,
    });
    await expect(http.send({ url: `${server.url}/a` })).rejects.toThrow(DestinationUnavailableError);
    daily = false;
    now += 3_599_000;
    expect(() => http.check()).toThrow(/daily API limit/);
    now += 2_000;
    expect((await http.send({ url: `${server.url}/a` })).value).toBe('ok');
    expect(invalidated).toBe(1);
    refused = true;
    await expect(http.send({ url: `${server.url}/b` })).rejects.toThrow(/refused the credentials/);
    refused = false;
    now += 14 * 60_000;
    await expect(http.send({ url: `${server.url}/b` })).rejects.toThrow(/refused the credentials/);
    now += 60_001;
    expect((await http.send({ url: `${server.url}/b` })).value).toBe('ok');
    expect(server.log.length).toBe(4);
  });

  it('a Retry-After longer than retry.maxRetryAfter ends the destination for the run instead of waiting', async () => {
    const server = await loopback((_request, response) => response.writeHead(429, { 'retry-after': '3600' }).end());
    const http = client(staticHeaders({}));
    await expect(http.send({ url: `${server.url}/x` })).rejects.toThrow(/asks to wait 3600 s/);
    expect(server.log.length).toBe(1);
  });

  it('other errors name the CRM, the request and the answer, never the token', async () => {
    const server = await loopback((_request, response) => response.writeHead(400).end('{"message":"bad field Foo"}'));
    const http = client(staticHeaders({ authorization: 'Bearer secret-token-123' }));
    const error = await http.send({ url: `${server.url}/things`, method: 'POST', json: { a: 1 } }).then(() => new Error('resolved'), (caught: unknown) => caught as Error);
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toBe('crm: TestCRM answered 400 to POST /things: {"message":"bad field Foo"}');
    expect(error.message).not.toContain('secret-token-123');
  });
});

describe('OAuthToken', () => {
  it('fetches once for concurrent callers and keeps the token until it nearly expires', async () => {
    let now = 1_000_000;
    const server = await loopback((_request, response, body) => {
      expect(body).toBe('grant_type=client_credentials&client_id=id');
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ access_token: `tok${server.log.length}`, expires_in: 3600 }));
    });
    const token = new OAuthToken({ destination: 'crm', label: 'TestCRM', tokenUrl: `${server.url}/token`, form: () => ({ grant_type: 'client_credentials', client_id: 'id' }), timeoutMs: 5000, now: () => now });
    const headers = await Promise.all([token.headers(), token.headers(), token.headers()]);
    expect(headers.map((h) => h.authorization)).toEqual(['Bearer tok1', 'Bearer tok1', 'Bearer tok1']);
    now += 3_500_000;
    expect((await token.headers()).authorization).toBe('Bearer tok1');
    now += 60_000;
    expect((await token.headers()).authorization).toBe('Bearer tok2');
    expect(token.requests).toBe(2);
  });

  it('refused credentials become DestinationUnavailableError naming the OAuth error, not the secret', async () => {
    const server = await loopback((_request, response) =>
      response.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_client","error_description":"client identifier invalid","secret":"s3cr3t"}'),
    );
    const token = new OAuthToken({ destination: 'crm', label: 'TestCRM', tokenUrl: `${server.url}/oauth/token`, form: () => ({ client_secret: 's3cr3t' }), timeoutMs: 5000 });
    const http = client(token);
    const error = await http.send({ url: `${server.url}/api` }).then(() => new Error('resolved'), (caught: unknown) => caught as Error);
    expect(error).toBeInstanceOf(DestinationUnavailableError);
    expect(error.message).toBe('crm: TestCRM refused the credentials at /oauth/token: invalid_client: client identifier invalid');
    expect(error.message).not.toContain('s3cr3t');
    await expect(http.send({ url: `${server.url}/api` })).rejects.toBe(error);
    expect(server.log.map((entry) => entry.path)).toEqual(['/oauth/token']);
  });
});

/** An in-memory CRM for the engine's decisions; it records every call. */
class MemoryCrm implements CrmAdapter {
  readonly label = 'MemoryCRM';
  readonly fileLimitBytes = 100;
  readonly textLimitChars = 200;
  readonly entriesPerWrite: number;
  readonly calls: string[] = [];
  readonly records = new Map<string, CrmRecord>();
  readonly entries = new Map<string, { key: string; text?: string; bytes?: Buffer }>();

  constructor(entriesPerWrite = 1) {
    this.entriesPerWrite = entriesPerWrite;
  }

  async findRecord(engagement: EngagementInfo): Promise<CrmRecord | null> {
    this.calls.push(`find ${engagement.engagementId}`);
    return this.records.get(engagement.engagementId) ?? null;
  }
  async createRecord(engagement: EngagementInfo): Promise<CrmRecord> {
    this.calls.push(`create ${engagement.engagementId}`);
    const record = { id: `R-${engagement.engagementId}`, label: `record ${engagement.engagementId}` };
    this.records.set(engagement.engagementId, record);
    return record;
  }
  async writeTexts(record: CrmRecord, entries: readonly TextEntry[]): Promise<string[]> {
    this.calls.push(`write ${record.id} ${entries.map((entry) => entry.key).join(',')}`);
    return entries.map((entry) => {
      this.entries.set(`text/${entry.key}`, { key: entry.key, text: entry.text });
      return `text/${entry.key}`;
    });
  }
  async attachFile(record: CrmRecord, file: FileEntry): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of file.body) chunks.push(chunk as Buffer);
    this.calls.push(`attach ${record.id} ${file.fileName} ${file.bytes ? 'bytes' : 'stream'}`);
    this.entries.set(`file/${file.key}`, { key: file.key, bytes: Buffer.concat(chunks) });
    return `file/${file.key}`;
  }
  async findEntry(_record: CrmRecord, key: string): Promise<FoundEntry | null> {
    for (const [location, entry] of this.entries) {
      if (entry.key === key) return { location, size: entry.bytes?.length ?? Buffer.byteLength(entry.text ?? '') };
    }
    return null;
  }
  async readEntry(location: string): Promise<Readable> {
    const entry = this.entries.get(location)!;
    return Readable.from([entry.bytes ?? Buffer.from(entry.text ?? '')]);
  }
  async removeEntry(location: string): Promise<void> {
    this.entries.delete(location);
  }
  async close(): Promise<void> {}
}

function engine(adapter: MemoryCrm, options: { attach?: Partial<Record<ArtifactKind, AttachMode>>; linkTemplate?: string; linkFrom?: string; create?: boolean } = {}) {
  const links = new LinkMaker({ destination: 'crm', linkTemplate: options.linkTemplate, linkFrom: options.linkFrom });
  return new CrmDestination({
    name: 'crm',
    type: 'memory-crm',
    adapter,
    http: client(staticHeaders({})),
    links,
    attach: options.attach ?? {},
    createRecords: options.create ?? true,
    linkFrom: options.linkFrom,
    groupDelayMs: 30,
  });
}

const note = (id: string, engagementId = 'Eng001'): PutRequest =>
  sampleRequest({ key: `note/${engagementId}/${id}`, kind: 'note', engagementId, extension: 'json', contentType: 'application/json' });

describe('CrmDestination (the shared engine)', () => {
  it('finds or creates one record per engagement, however many artifacts arrive at once', async () => {
    const crm = new MemoryCrm();
    const destination = engine(crm);
    await Promise.all(['N1', 'N2', 'N3'].map((id) => destination.put(note(id), bodyOf(JSON.stringify({ note: id })))));
    expect(crm.calls.filter((call) => call.startsWith('create'))).toEqual(['create Eng001']);
    expect(crm.calls.filter((call) => call.startsWith('find'))).toEqual(['find Eng001']);
  });

  it('groups text entries for one record into writes of up to entriesPerWrite', async () => {
    const crm = new MemoryCrm(2);
    const destination = engine(crm);
    const locations = await Promise.all(['N1', 'N2', 'N3'].map((id) => destination.put(note(id), bodyOf(JSON.stringify({ note: id })))));
    expect(locations.map((result) => result.location)).toEqual(['text/note/Eng001/N1', 'text/note/Eng001/N2', 'text/note/Eng001/N3']);
    expect(crm.calls.filter((call) => call.startsWith('write'))).toEqual(['write R-Eng001 note/Eng001/N1,note/Eng001/N2', 'write R-Eng001 note/Eng001/N3']);
  });

  it('record.create false: an engagement without a record fails clearly', async () => {
    const destination = engine(new MemoryCrm(), { create: false });
    await expect(destination.put(note('N1'), bodyOf('{}'))).rejects.toThrow('crm: no MemoryCRM record for engagement Eng001, and record.create is false');
  });

  it('wantsBody: media as links are never downloaded; a file over the limit is linked only when a link can be made', async () => {
    const linked = engine(new MemoryCrm(), { attach: { voicemail: 'link' } });
    expect(linked.wantsBody(sampleRequest({ kind: 'voicemail' }))).toBe(false);
    const withTemplate = engine(new MemoryCrm(), { linkTemplate: 'https://v.example.com/{key}' });
    expect(withTemplate.wantsBody(sampleRequest({ size: 100 }))).toBe(true);
    expect(withTemplate.wantsBody(sampleRequest({ size: 101 }))).toBe(false);
    expect(withTemplate.wantsBody(sampleRequest())).toBe(true);
    const noLinks = engine(new MemoryCrm());
    expect(noLinks.wantsBody(sampleRequest({ size: 101 }))).toBe(true);
    await expect(noLinks.put(sampleRequest({ size: 101 }), bodyOf('x'.repeat(101)))).rejects.toThrow(/over MemoryCRM's 100 B file limit; set linkTemplate or linkFrom/);
  });

  it('a link-only put writes the link as text, saying why', async () => {
    const crm = new MemoryCrm();
    const destination = engine(crm, { linkTemplate: 'https://v.example.com/{key}' });
    const request = { ...sampleRequest({ key: 'recording/R1' }), linkOnly: { size: 5000 } };
    const { location } = await destination.put(request, Readable.from([]));
    expect(crm.entries.get(location)?.text).toBe(
      'Zoom recording: https://v.example.com/recording/R1\n(5.0 KB, over MemoryCRM\'s 100 B file limit: a link to our stored copy)\n[zcc:recording/R1]',
    );
  });

  it('a small file goes up as bytes (retryable); a text too long for one entry goes up as a .txt file', async () => {
    const crm = new MemoryCrm();
    const destination = engine(crm);
    await destination.put(sampleRequest({ key: 'recording/R2', size: 10 }), bodyOf('0123456789'));
    await destination.put(note('Long'), bodyOf(JSON.stringify({ note: 'x'.repeat(300) })));
    expect(crm.calls.filter((call) => call.startsWith('attach'))).toEqual(['attach R-Eng001 recording-R2.mp4 bytes', 'attach R-Eng001 note-Long.txt bytes']);
  });

  it('linkFrom: links to the storage destination\'s copy, and refuses while there is none', async () => {
    const crm = new MemoryCrm();
    const destination = engine(crm, { linkFrom: 'store' });
    const store: Destination & { link(location: string): Promise<string> } = Object.assign(new MemoryDestination({ name: 'store' }), {
      link: async (location: string) => `https://store.example.com/${location}?sig=1`,
    });
    destination.useLinkSource(store);
    const request = { ...sampleRequest({ key: 'recording/R3' }), linkOnly: {} };
    await expect(destination.put(request, Readable.from([]))).rejects.toThrow('recording/R3 is not stored in "store" yet');
    const stored = await store.put(request, bodyOf('media'));
    const { location } = await destination.put(request, Readable.from([]));
    expect(crm.entries.get(location)?.text).toContain(`https://store.example.com/${stored.location}?sig=1`);
  });

  it('the doctor probe only looks a record up: nothing is written', async () => {
    const crm = new MemoryCrm();
    expect(await engine(crm).probe()).toBe('MemoryCRM accepted the credentials and answered a record lookup; nothing was written');
    expect(crm.calls).toEqual(['find zcc-doctor-probe']);
  });

  it('refuses unsafe ids before any request, like every destination', async () => {
    const crm = new MemoryCrm();
    await expect(engine(crm).put(sampleRequest({ key: 'recording/../x' }), bodyOf('x'))).rejects.toThrow();
    expect(crm.calls).toEqual([]);
  });
});
