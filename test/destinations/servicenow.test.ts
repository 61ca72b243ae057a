// The ServiceNow destination against a strict fake instance on loopback: the shared conformance suite, each auth
// flow, the 429 pause, the hourly allowance, edits as new work notes, crash safety, links for over-size files, and
// the fake's own strictness.
import { Readable } from 'node:stream';
import got from 'got';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngagementInfo } from '../../src/artifacts.js';
import { servicenowDestinationSchema } from '../../src/config-schema.js';
import { markerOf } from '../../src/destinations/crm/adapter.js';
import { classifyServicenow, createServicenowDestination, tokenUrlOf, type ServicenowTestHooks } from '../../src/destinations/servicenow.js';
import { EDITED_LINE } from '../../src/destinations/servicenow/adapter.js';
import type { Destination, PutRequest } from '../../src/destinations/types.js';
import { DestinationUnavailableError } from '../../src/errors.js';
import { bodyOf, destinationConformance, sampleRequest, sha256, sha256Of } from './conformance.js';
import { startServicenowFake, type ServicenowFake, type ServicenowFakeOptions } from './servers/crm/servicenow.js';

const MiB = 1024 * 1024;
const opened: { destination: Destination; fake?: ServicenowFake }[] = [];

async function fakeWith(options: ServicenowFakeOptions = {}): Promise<ServicenowFake> {
  const fake = await startServicenowFake(options);
  opened.push({ destination: { close: async () => fake.close() } as Destination });
  return fake;
}

function open(fake: ServicenowFake, extra: Record<string, unknown> = {}, options: { env?: Record<string, string>; hooks?: ServicenowTestHooks } = {}): Destination {
  const config = servicenowDestinationSchema.parse(
    fake.destinationConfig('snow', { retry: { limit: 3, maxBackoff: 'PT0.05S', maxRetryAfter: 'PT5M' }, ...extra }),
  );
  const destination = createServicenowDestination(config, options.env ?? fake.env(), options.hooks);
  opened.unshift({ destination });
  return destination;
}

afterEach(async () => {
  for (const { destination } of opened.splice(0)) await destination.close().catch(() => undefined);
});

function noteRequest(id: string, overrides: Partial<PutRequest> = {}): PutRequest {
  return sampleRequest({ key: `note/Eng001/${id}`, kind: 'note', extension: 'json', contentType: 'application/json', ...overrides });
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function apiRequests(fake: ServicenowFake): number {
  return fake.log().filter((entry) => !entry.token).length;
}

describe('conformance', () => {
  let fake: ServicenowFake;
  beforeAll(async () => {
    fake = await startServicenowFake();
  });
  afterAll(async () => {
    await fake.close();
  });
  destinationConformance(
    'servicenow',
    async () => {
      const config = servicenowDestinationSchema.parse(fake.destinationConfig('snow', { retry: { limit: 3, maxBackoff: 'PT0.05S', maxRetryAfter: 'PT5M' } }));
      return { destination: createServicenowDestination(config, fake.env()), cleanup: async () => {} };
    },
    { crm: true, partBytes: 8 * MiB },
  );
});

describe('authentication', () => {
  it('client credentials: one token for many requests, a new one after the fake expires it, the request replayed once', async () => {
    const fake = await fakeWith();
    const destination = open(fake);
    await destination.put(noteRequest('A1'), bodyOf('first'));
    await destination.put(noteRequest('A2'), bodyOf('second'));
    expect(fake.tokenRequests()).toEqual([{ grant: 'client_credentials', status: 200 }]);

    fake.faults.expireTokens();
    await destination.put(noteRequest('A3'), bodyOf('third'));
    expect(fake.tokenRequests().map((request) => request.grant)).toEqual(['client_credentials', 'client_credentials']);
    expect(fake.log().filter((entry) => entry.status === 401)).toHaveLength(1);
    expect(fake.records()[0]?.texts).toHaveLength(3);
  });

  it('client credentials: a token is renewed before its expires_in runs out, without a 401', async () => {
    let clock = Date.now();
    const fake = await fakeWith({ tokenLifetimeSeconds: 1800, now: () => clock });
    const destination = open(fake, {}, { hooks: { now: () => clock } });
    await destination.put(noteRequest('L1'), bodyOf('one'));
    clock += 1790 * 1000;
    await destination.put(noteRequest('L2'), bodyOf('two'));
    expect(fake.tokenRequests()).toHaveLength(2);
    expect(fake.log().some((entry) => entry.status === 401)).toBe(false);
  });

  it('password grant: an expired token is renewed with the refresh token, then with the password once that is refused', async () => {
    const fake = await fakeWith({ auth: 'password' });
    const destination = open(fake);
    await destination.put(noteRequest('P1'), bodyOf('one'));
    await destination.put(noteRequest('P2'), bodyOf('two'));
    expect(fake.tokenRequests().map((request) => request.grant)).toEqual(['password']);

    fake.faults.expireTokens();
    await destination.put(noteRequest('P3'), bodyOf('three'));
    expect(fake.tokenRequests().map((request) => request.grant)).toEqual(['password', 'refresh_token']);

    fake.faults.expireTokens();
    fake.revokeRefreshTokens();
    await destination.put(noteRequest('P4'), bodyOf('four'));
    expect(fake.tokenRequests()).toEqual([
      { grant: 'password', status: 200 },
      { grant: 'refresh_token', status: 200 },
      { grant: 'refresh_token', status: 401 },
      { grant: 'password', status: 200 },
    ]);
    expect(fake.records()[0]?.texts).toHaveLength(4);
  });

  it('basic auth sends no token request', async () => {
    const fake = await fakeWith({ auth: 'basic' });
    const destination = open(fake);
    await destination.put(noteRequest('B1'), bodyOf('basic'));
    expect(fake.tokenRequests()).toEqual([]);
    expect(fake.records()[0]?.texts).toHaveLength(1);
  });

  it.each(['client-credentials', 'password', 'basic'] as const)('%s: refused credentials stop the destination after at most a few requests; later puts fail without a request', async (auth) => {
    const fake = await fakeWith({ auth });
    const destination = open(fake, {}, { env: fake.badEnv() });
    await expect(destination.put(noteRequest('R1'), bodyOf('x'))).rejects.toThrow(DestinationUnavailableError);
    const requests = fake.log().length;
    expect(requests).toBeLessThanOrEqual(3);
    await expect(destination.put(noteRequest('R2'), bodyOf('y'))).rejects.toThrow(DestinationUnavailableError);
    await expect(destination.put(sampleRequest(), bodyOf('z'))).rejects.toThrow(DestinationUnavailableError);
    expect(fake.log()).toHaveLength(requests);
    expect(fake.records()).toEqual([]);
  });

  it('client credentials disabled on the instance: the destination is unavailable, with the reason', async () => {
    const fake = await fakeWith({ clientCredentialsEnabled: false });
    const destination = open(fake);
    const error = await destination.put(noteRequest('D1'), bodyOf('x')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DestinationUnavailableError);
    expect(String(error)).toMatch(/ServiceNow refused the credentials at \/oauth_token\.do: server_error: access_denied/);
    expect(String(error)).not.toContain('fake-client-secret');
    expect(fake.tokenRequests()).toEqual([{ grant: 'client_credentials', status: 401 }]);
  });

  it('the token URL is {tokenUrl ?? baseUrl}/oauth_token.do', () => {
    expect(tokenUrlOf({ baseUrl: 'https://acme.service-now.com/' })).toBe('https://acme.service-now.com/oauth_token.do');
    expect(tokenUrlOf({ baseUrl: 'https://acme.service-now.com', tokenUrl: 'https://sso.acme.test' })).toBe('https://sso.acme.test/oauth_token.do');
    expect(tokenUrlOf({ baseUrl: 'https://a.test', tokenUrl: 'https://sso.acme.test/oauth_token.do' })).toBe('https://sso.acme.test/oauth_token.do');
  });
});

describe('classify', () => {
  const now = Date.UTC(2026, 2, 1, 10, 0, 0);
  it('429 is a rate limit for Retry-After, else until X-RateLimit-Reset', () => {
    expect(classifyServicenow({ statusCode: 429, headers: { 'retry-after': '7' }, body: '' }, true, now)).toEqual({ type: 'rate-limit', waitMs: 7000 });
    expect(classifyServicenow({ statusCode: 429, headers: { 'x-ratelimit-reset': String(now / 1000 + 30) }, body: '' }, true, now)).toEqual({ type: 'rate-limit', waitMs: 30_000 });
    expect(classifyServicenow({ statusCode: 429, headers: {}, body: '' }, true, now)).toEqual({ type: 'rate-limit', waitMs: null });
  });
  it('401 is an expired token with OAuth and refused credentials with basic auth', () => {
    const body = JSON.stringify({ error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' }, status: 'failure' });
    expect(classifyServicenow({ statusCode: 401, headers: {}, body }, true)).toEqual({ type: 'auth-expired' });
    expect(classifyServicenow({ statusCode: 401, headers: {}, body }, false)).toEqual({ type: 'auth-refused', message: 'User Not Authenticated: Required to provide Auth information' });
    expect(classifyServicenow({ statusCode: 401, headers: { 'x-mfa_token': 'invalid' }, body }, true)).toMatchObject({ type: 'auth-refused' });
    expect(classifyServicenow({ statusCode: 403, headers: {}, body: '' }, true)).toBeNull();
  });
});

describe('rate limits', () => {
  it('a 429 pauses every request of the destination until its Retry-After', async () => {
    const fake = await fakeWith();
    const destination = open(fake);
    await destination.put(noteRequest('W0'), bodyOf('warm up'));
    fake.faults.rateLimitStorm(2);
    const results = await Promise.all([
      destination.put(noteRequest('W1'), bodyOf('one')),
      destination.put(sampleRequest(), bodyOf('file one')),
      destination.put(sampleRequest(), bodyOf('file two')),
    ]);
    expect(results).toHaveLength(3);
    const log = fake.log().filter((entry) => !entry.token);
    const limited = log.filter((entry) => entry.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    for (const answer of limited) {
      expect(answer.retryAfterMs).toBe(1000);
      // Requests already on the wire when the 429 left may still arrive; none may start inside the pause.
      const inside = log.filter((entry) => entry.at > answer.at + 50 && entry.at < answer.at + 1000);
      expect(inside).toEqual([]);
    }
  });

  it('a lone request that meets more 429s than its retry budget goes again after each pause, and arrives once', async () => {
    const fake = await fakeWith();
    const destination = open(fake, { retry: { limit: 2, maxBackoff: 'PT0.05S', maxRetryAfter: 'PT5M' } });
    await destination.put(noteRequest('S0'), bodyOf('warm up'));
    fake.faults.rateLimitStorm(5);
    await destination.put(noteRequest('S1'), bodyOf('through the storm'));
    expect(fake.log().filter((entry) => entry.status === 429)).toHaveLength(5);
    expect(fake.records()[0]?.texts.map((entry) => entry.key)).toEqual(['note/Eng001/S0', 'note/Eng001/S1']);
  }, 20_000);

  it('a spent hourly allowance (429 with Retry-After past maxRetryAfter) ends the destination for the run', async () => {
    const fake = await fakeWith();
    const destination = open(fake);
    await destination.put(noteRequest('H0'), bodyOf('before'));
    fake.faults.dailyLimit(true);
    const error = await destination.put(noteRequest('H1'), bodyOf('after')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DestinationUnavailableError);
    expect(String(error)).toMatch(/ServiceNow asks to wait 3600 s/);
    const requests = apiRequests(fake);
    await expect(destination.put(noteRequest('H2'), bodyOf('later'))).rejects.toThrow(DestinationUnavailableError);
    expect(apiRequests(fake)).toBe(requests);
  });

  it('the fake answers a rate-limit rule like ServiceNow: 429, Retry-After and X-RateLimit-*', async () => {
    const fake = await fakeWith({ auth: 'basic', rateLimitPerHour: 2 });
    const auth = `Basic ${Buffer.from(`${fake.env().SERVICENOW_USERNAME}:${fake.env().SERVICENOW_PASSWORD}`).toString('base64')}`;
    const get = () => got(`${fake.url}/api/now/table/incident`, { headers: { accept: 'application/json', authorization: auth }, throwHttpErrors: false, retry: { limit: 0 } });
    const first = await get();
    expect(first.headers['x-ratelimit-limit']).toBe('2');
    expect(first.headers['x-ratelimit-rule']).toMatch(/^[0-9a-f]{32}$/);
    await get();
    const denied = await get();
    expect(denied.statusCode).toBe(429);
    expect(Number(denied.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(denied.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000);
    expect(JSON.parse(denied.body)).toEqual({ error: { message: 'Rate limit exceeded', detail: 'Rate limit of 2 requests per hour for Table API exceeded' }, status: 'failure' });
  });
});

describe('the engagement record', () => {
  const engagement: EngagementInfo = {
    engagementId: 'Eng001',
    direction: 'inbound',
    channel: 'voice',
    agents: [{ userId: 'u1', displayName: 'Alice Agent' }],
    consumers: [{ displayName: 'Carla Customer', number: '+15550100' }],
  };

  it('is created once with correlation_id, correlation_display and a short description, then found again', async () => {
    const fake = await fakeWith();
    await open(fake).put(noteRequest('N1', { engagement }), bodyOf('hello'));
    await open(fake).put(noteRequest('N2', { engagement }), bodyOf('again'));
    const rows = fake.rows('incident');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      correlation_id: 'zcc:Eng001',
      correlation_display: 'zcc-reconcile',
      short_description: 'Zoom Contact Center inbound voice engagement Eng001 with Carla Customer',
      number: 'INC0010001',
    });
    expect(fake.records()[0]?.texts).toHaveLength(2);
  });

  it('record.match "contact" opens it for the user whose phone matches (caller_id)', async () => {
    const fake = await fakeWith({ users: [{ name: 'Someone Else', phone: '+15550199' }, { name: 'Carla Customer', mobile_phone: '+15550100' }] });
    await open(fake, { record: { match: 'contact' } }).put(noteRequest('C1', { engagement }), bodyOf('hello'));
    expect(fake.rows('incident')[0]).toMatchObject({ caller_id: fake.personId('Carla Customer'), correlation_id: 'zcc:Eng001' });
  });

  it('record.match "contact" on Customer Service cases uses customer_contact (contact)', async () => {
    const fake = await fakeWith({ table: 'sn_customerservice_case', contacts: [{ name: 'Carla Customer', phone: '+15550100' }] });
    await open(fake, { record: { match: 'contact' } }).put(noteRequest('C2', { engagement }), bodyOf('hello'));
    expect(fake.rows('sn_customerservice_case')[0]).toMatchObject({ contact: fake.personId('Carla Customer'), number: 'CS0010001' });
  });

  it('a custom key field (record.field) holds the key', async () => {
    const fake = await fakeWith({ keyField: 'u_zcc_key' });
    await open(fake).put(noteRequest('F1'), bodyOf('hello'));
    await open(fake).put(noteRequest('F2'), bodyOf('hello'));
    expect(fake.rows('incident')).toHaveLength(1);
    expect(fake.rows('incident')[0]).toMatchObject({ u_zcc_key: 'zcc:Eng001' });
  });

  it('two records with the key: a clear error naming both numbers, nothing written', async () => {
    const fake = await fakeWith({ auth: 'basic' });
    const auth = `Basic ${Buffer.from(`${fake.env().SERVICENOW_USERNAME}:${fake.env().SERVICENOW_PASSWORD}`).toString('base64')}`;
    for (let i = 0; i < 2; i += 1) {
      await got.post(`${fake.url}/api/now/table/incident`, { headers: { accept: 'application/json', authorization: auth }, json: { correlation_id: 'zcc:Eng001', short_description: 'dup' } });
    }
    const error = await open(fake).put(noteRequest('X1'), bodyOf('x')).catch((caught: unknown) => caught);
    expect(String(error)).toMatch(/more than one incident record with correlation_id=zcc:Eng001 \(INC0010001 and INC0010002\)/);
    expect(fake.journal()).toEqual([]);
  });

  it('a write whose answer a gateway lost (502 after it landed) is not sent again: the next run finds what landed', async () => {
    const fake = await fakeWith();
    fake.faults.gatewayErrorAfterWrite('POST', '/api/now/table/incident');
    await expect(open(fake).put(noteRequest('G1', { engagement }), bodyOf('hello'))).rejects.toThrow(/502/);
    expect(fake.rows('incident')).toHaveLength(1);
    fake.faults.gatewayErrorAfterWrite('PATCH', '/api/now/table/incident/');
    await expect(open(fake).put(noteRequest('G1', { engagement }), bodyOf('hello'))).rejects.toThrow(/502/);
    fake.faults.gatewayErrorAfterWrite('POST', '/api/now/attachment/file');
    const recording = sampleRequest({ key: 'recording/RecG1', engagement, size: 9 });
    await expect(open(fake).put(recording, bodyOf('mp3 bytes'))).rejects.toThrow(/502/);
    // The next run: one record, one work note, one attachment.
    await open(fake).put(noteRequest('G1', { engagement }), bodyOf('hello'));
    await open(fake).put(sampleRequest({ ...recording }), bodyOf('mp3 bytes'));
    expect(fake.rows('incident')).toHaveLength(1);
    expect(fake.journal().filter((note) => note.value.includes(markerOf('note/Eng001/G1')))).toHaveLength(1);
    expect(fake.records()[0]?.files).toHaveLength(1);
  });

  it('record.create false: no record, no write', async () => {
    const fake = await fakeWith();
    await expect(open(fake, { record: { create: false } }).put(noteRequest('Z1'), bodyOf('x'))).rejects.toThrow(/record\.create is false/);
    expect(fake.rows('incident')).toEqual([]);
  });
});

describe('work notes', () => {
  it('text renders as readable lines, ends with its marker, and is internal only', async () => {
    const fake = await fakeWith();
    const destination = open(fake);
    const engagement: EngagementInfo = { engagementId: 'Eng001', agents: [{ userId: 'u1', displayName: 'Alice Agent' }], consumers: [] };
    await destination.put(noteRequest('T1', { engagement }), bodyOf(JSON.stringify({ note: 'Customer wants a call back', user_id: 'u1' })));
    const vtt = 'WEBVTT\n\n1\n00:00:01.000 --> 00:00:03.000\nAlice Agent: Hello, how can I help?\n\n2\n00:00:04.000 --> 00:00:06.000\nCarla: My order is late.\n';
    await destination.put(sampleRequest({ key: 'recording_transcript/R1', kind: 'recording_transcript', extension: 'vtt', contentType: 'text/vtt', engagement }), bodyOf(vtt));
    const [record] = fake.records();
    expect(record?.internalOnly).toBe(true);
    expect(fake.journal().every((entry) => entry.element === 'work_notes')).toBe(true);
    expect(record?.texts.map((entry) => entry.text)).toEqual([
      `Note by Alice Agent:\nCustomer wants a call back\n${markerOf('note/Eng001/T1')}`,
      `[00:01] Alice Agent: Hello, how can I help?\n[00:04] Carla: My order is late.\n${markerOf('recording_transcript/R1')}`,
    ]);
    expect(record?.texts.map((entry) => entry.key)).toEqual(['note/Eng001/T1', 'recording_transcript/R1']);
  });

  it('an edited note becomes one new work note saying it replaces the earlier one; a repeat writes nothing', async () => {
    const fake = await fakeWith();
    const destination = open(fake);
    const request = noteRequest('E1');
    const first = await destination.put(request, bodyOf('first words'));
    const second = await destination.put({ ...request, previousLocation: first.location }, bodyOf('second words'));
    expect(second.location).not.toBe(first.location);
    // A crash before the ledger recorded the edit: the same edit again finds it.
    const again = await destination.put({ ...request, previousLocation: first.location }, bodyOf('second words'));
    expect(again.location).toBe(second.location);
    const texts = fake.records()[0]?.texts ?? [];
    expect(texts.map((entry) => entry.text)).toEqual([`first words\n${markerOf(request.key)}`, `${EDITED_LINE}\nsecond words\n${markerOf(request.key)}`]);
    expect(await text(await destination.read(second.location))).toContain('second words');
    expect(await destination.stat(request)).toEqual({ location: second.location, size: Buffer.byteLength(texts[1]!.text), metadata: {} });
  });

  it('a crash after the write: the same note put again (no previousLocation) creates nothing new', async () => {
    const fake = await fakeWith();
    const request = noteRequest('K1');
    const first = await open(fake).put(request, bodyOf('exactly once'));
    const second = await open(fake).put(request, bodyOf('exactly once'));
    expect(second.location).toBe(first.location);
    expect(fake.journal()).toHaveLength(1);
    expect(fake.rows('incident')).toHaveLength(1);
  });

  it('a changed note the ledger lost track of is still marked as replacing, never a plain duplicate', async () => {
    const fake = await fakeWith();
    const request = noteRequest('K2');
    await open(fake).put(request, bodyOf('v1'));
    await open(fake).put(request, bodyOf('v2'));
    expect(fake.journal().map((entry) => entry.value)).toEqual([`v1\n${markerOf(request.key)}`, `${EDITED_LINE}\nv2\n${markerOf(request.key)}`]);
  });

  it('a text longer than a journal entry holds goes up as a .txt attachment', async () => {
    const fake = await fakeWith();
    const destination = open(fake);
    const long = 'word '.repeat(1000);
    const request = sampleRequest({ key: 'voicemail_transcript/V1', kind: 'voicemail_transcript', extension: 'txt', contentType: 'text/plain' });
    const { location } = await destination.put(request, bodyOf(long));
    expect(location).toMatch(/^attachment\//);
    expect(fake.journal()).toEqual([]);
    expect(fake.records()[0]?.files).toMatchObject([{ key: 'voicemail_transcript/V1', fileName: 'voicemail_transcript-V1.txt' }]);
    expect((await destination.stat(request))?.location).toBe(location);
  });
});

describe('attachments', () => {
  it('a crash after the upload: the same file again is found by name and size, not uploaded twice', async () => {
    const fake = await fakeWith();
    const request = sampleRequest({ size: 11 });
    const first = await open(fake).put(request, bodyOf('recording 1'));
    const second = await open(fake).put(request, bodyOf('recording 1'));
    expect(second.location).toBe(first.location);
    expect(fake.records()[0]?.files).toMatchObject([{ key: request.key, size: 11, sha256: sha256('recording 1') }]);
    expect(fake.log().filter((entry) => entry.method === 'POST' && entry.path === '/api/now/attachment/file')).toHaveLength(1);
  });

  it('a replaced file is uploaded before the old one is removed', async () => {
    const fake = await fakeWith();
    const destination = open(fake);
    const request = sampleRequest();
    const first = await destination.put(request, bodyOf('old bytes'));
    const second = await destination.put({ ...request, previousLocation: first.location }, bodyOf('new bytes'));
    const calls = fake.log().filter((entry) => entry.path.startsWith('/api/now/attachment/') && entry.method !== 'GET');
    expect(calls.map((entry) => entry.method)).toEqual(['POST', 'POST', 'DELETE']);
    expect(fake.records()[0]?.files.map((file) => file.sha256)).toEqual([sha256('new bytes')]);
    expect(await sha256Of(await destination.read(second.location))).toBe(sha256('new bytes'));
  });

  it('a file over the limit with a linkTemplate becomes a link in a work note; the body is never asked for', async () => {
    const fake = await fakeWith({ fileLimitBytes: 1000 });
    const destination = open(fake, { linkTemplate: 'https://recordings.example.com/{key}' });
    const request = sampleRequest({ key: 'recording/Big1', size: 5000 });
    expect(destination.wantsBody?.(request)).toBe(false);
    expect(destination.wantsBody?.({ ...request, size: 900 })).toBe(true);
    const { location } = await destination.put({ ...request, linkOnly: { size: 5000 } }, Readable.from([]));
    expect(location).toMatch(/^work_notes\//);
    const [record] = fake.records();
    expect(record?.files).toEqual([]);
    expect(await destination.stat(request)).toMatchObject({ location });
    expect(record?.texts[0]?.text).toBe(
      `Zoom recording: https://recordings.example.com/recording/Big1\n(5.0 KB, over ServiceNow's 1.0 KB file limit: a link to our stored copy)\n${markerOf('recording/Big1')}`,
    );
  });

  it('an upload over the instance limit of unknown size is refused and leaves no file', async () => {
    const fake = await fakeWith({ fileLimitBytes: 1000 });
    const destination = open(fake, { maxFileBytes: 1024 * MiB });
    const request = sampleRequest();
    await expect(destination.put(request, Readable.from([Buffer.alloc(600), Buffer.alloc(600)]))).rejects.toThrow(/File part might be too large/);
    expect(fake.records()[0]?.files).toEqual([]);
  });
});

describe('the fake is strict like ServiceNow', () => {
  let fake: ServicenowFake;
  let auth: string;
  beforeAll(async () => {
    fake = await startServicenowFake({ users: [{ name: 'Ann', phone: '+1' }, { name: 'Bob', mobile_phone: '+2' }, { name: 'Cy', phone: '+3' }] });
    auth = `Basic ${Buffer.from(`${fake.env().SERVICENOW_USERNAME}:${fake.env().SERVICENOW_PASSWORD}`).toString('base64')}`;
  });
  afterAll(async () => {
    await fake.close();
  });
  const call = (path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
    got(`${fake.url}${path}`, { method: options.method as 'GET', headers: { authorization: auth, accept: 'application/json', ...options.headers }, body: options.body, throwHttpErrors: false, retry: { limit: 0 } });

  it('401 envelope without credentials', async () => {
    const answer = await got(`${fake.url}/api/now/table/incident`, { headers: { accept: 'application/json' }, throwHttpErrors: false });
    expect(answer.statusCode).toBe(401);
    expect(JSON.parse(answer.body)).toEqual({ error: { message: 'User Not Authenticated', detail: 'Required to provide Auth information' }, status: 'failure' });
  });

  it('400 without Accept, or Content-Type on a write; 400 for an unknown path or table', async () => {
    expect((await call('/api/now/table/incident', { headers: { accept: '' } })).statusCode).toBe(400);
    expect((await call('/api/now/table/incident', { method: 'POST', body: '{}' })).statusCode).toBe(400);
    const unknown = await call('/api/now/v9/nothing');
    expect(unknown.statusCode).toBe(400);
    expect(JSON.parse(unknown.body)).toEqual({ error: { message: 'Requested URI does not represent any resource', detail: null }, status: 'failure' });
    expect(JSON.parse((await call('/api/now/table/u_nope')).body)).toMatchObject({ error: { message: 'Invalid table u_nope' } });
  });

  it('rejects a JSON token request', async () => {
    const answer = await got.post(`${fake.url}/oauth_token.do`, { json: { grant_type: 'client_credentials', client_id: fake.env().SERVICENOW_CLIENT_ID, client_secret: fake.env().SERVICENOW_CLIENT_SECRET }, throwHttpErrors: false });
    expect(answer.statusCode).toBe(400);
  });

  it('encoded queries with ^ and ^OR, string values, sysparm_limit and X-Total-Count', async () => {
    const answer = await call(`/api/now/table/sys_user?${new URLSearchParams({ sysparm_query: 'phone=+1^ORmobile_phone=+2^active=true^ORDERBYname', sysparm_fields: 'name,active', sysparm_limit: '1' })}`);
    expect(answer.headers['x-total-count']).toBe('2');
    expect(JSON.parse(answer.body)).toEqual({ result: [{ name: 'Ann', active: 'true' }] });
  });

  it('an upload needs Content-Type; a cut-off upload leaves nothing', async () => {
    const created = await call('/api/now/table/incident', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ short_description: 'x', correlation_id: 'zcc:strict' }) });
    const sysId = (JSON.parse(created.body) as { result: { sys_id: string } }).result.sys_id;
    const query = new URLSearchParams({ table_name: 'incident', table_sys_id: sysId, file_name: 'a.mp3' });
    expect((await call(`/api/now/attachment/file?${query}`, { method: 'POST', body: 'abc' })).statusCode).toBe(400);
    const cut = got.post(`${fake.url}/api/now/attachment/file?${query}`, {
      headers: { authorization: auth, accept: 'application/json', 'content-type': 'audio/mpeg' },
      body: new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024));
          setTimeout(() => this.destroy(new Error('cut')), 20);
        },
      }),
      retry: { limit: 0 },
    });
    await expect(cut).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const listed = await call(`/api/now/attachment?${new URLSearchParams({ sysparm_query: `table_sys_id=${sysId}` })}`);
    expect(JSON.parse(listed.body)).toEqual({ result: [] });
  });
});
