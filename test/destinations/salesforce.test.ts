// The Salesforce destination against a strict fake org on loopback: the shared conformance suite, then what is
// Salesforce's own (both OAuth flows, upserts by external id, Description blocks, ContentVersion uploads, its limits).
import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import got from 'got';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngagementInfo } from '../../src/artifacts.js';
import { salesforceDestinationSchema } from '../../src/config-schema.js';
import type { CrmDestination } from '../../src/destinations/crm/engine.js';
import { classifySalesforce, createSalesforceDestination, signJwt, tokenUrlOf } from '../../src/destinations/salesforce.js';
import type { PutRequest } from '../../src/destinations/types.js';
import { ConfigError, DestinationError, DestinationUnavailableError } from '../../src/errors.js';
import { bodyOf, destinationConformance, sampleRequest, sha256 } from './conformance.js';
import { startSalesforceFake, type SalesforceFake, type SalesforceFakeOptions } from './servers/crm/salesforce.js';

const MiB = 1024 * 1024;
const FAST_RETRY = { limit: 3, maxBackoff: 'PT0.05S', maxRetryAfter: 'PT5M' };

interface Opened {
  fake: SalesforceFake;
  destination: CrmDestination;
}

const opened: Opened[] = [];
afterEach(async () => {
  for (const { fake, destination } of opened.splice(0)) await Promise.allSettled([destination.close(), fake.close()]);
});

async function open(options: { fake?: SalesforceFakeOptions; extra?: Record<string, unknown>; env?: (fake: SalesforceFake) => Record<string, string> } = {}): Promise<Opened> {
  const fake = await startSalesforceFake(options.fake);
  const config = salesforceDestinationSchema.parse(fake.destinationConfig('sf', { retry: FAST_RETRY, ...options.extra }));
  const destination = createSalesforceDestination(config, options.env ? options.env(fake) : fake.env());
  const pair = { fake, destination };
  opened.push(pair);
  return pair;
}

const ENGAGEMENT: EngagementInfo = {
  engagementId: 'Eng042',
  startTime: '2026-03-14T09:20:00Z',
  endTime: '2026-03-14T09:25:12Z',
  direction: 'inbound',
  channel: 'voice',
  queueName: 'Support',
  agents: [{ userId: 'u1', displayName: 'Ada Agent' }],
  consumers: [{ displayName: 'Carla Customer', number: '+14155550100' }],
};

function note(id: string, engagement: EngagementInfo = ENGAGEMENT, overrides: Partial<PutRequest> = {}): PutRequest {
  return sampleRequest({
    key: `note/${engagement.engagementId}/${id}`,
    kind: 'note',
    engagementId: engagement.engagementId,
    extension: 'json',
    contentType: 'application/json',
    engagement,
    ...overrides,
  });
}

function noteBody(text: string): Readable {
  return bodyOf(JSON.stringify({ note: text, user_id: 'u1', last_modified_time: '2026-03-14T09:30:00Z' }));
}

function recording(engagement: EngagementInfo = ENGAGEMENT, overrides: Partial<PutRequest> = {}): PutRequest {
  return sampleRequest({ engagementId: engagement.engagementId, engagement, extension: 'mp3', contentType: 'audio/mpeg', ...overrides });
}

function apiRequests(fake: SalesforceFake) {
  return fake.log().filter((entry) => !entry.token);
}

destinationConformance(
  'salesforce',
  async () => {
    const fake = await startSalesforceFake();
    const config = salesforceDestinationSchema.parse(fake.destinationConfig('sf', { retry: FAST_RETRY }));
    return { destination: createSalesforceDestination(config, fake.env()), cleanup: () => fake.close() };
  },
  // Up to 8 MiB a file goes up as JSON base64 (replayable), above it as a streamed multipart body. The fake parses
  // the multipart body in this process, so its garbage counts too: growth measures 52-57 MiB whether the body is 128
  // or 384 MiB. A 40 MiB body against 36 MiB failed once in CI on that noise; this body is well above the bound.
  { crm: true, partBytes: 8 * MiB, largeBytes: 256 * MiB, maxRssGrowthBytes: 96 * MiB },
);

describe('Salesforce: the engagement Task', () => {
  it('is upserted once by ZCC_Key__c as a completed inbound call, and the note becomes a child Task keyed by the note', async () => {
    const { fake, destination } = await open();
    const { location } = await destination.put(note('N1'), noteBody('Customer wants a callback'));
    expect(location).toMatch(/^task\/00T/);
    const [engagementTask, child] = fake.tasks();
    expect(engagementTask).toMatchObject({
      ZCC_Key__c: 'engagement:Eng042',
      Subject: 'Zoom Contact Center inbound voice Eng042',
      Status: 'Completed',
      TaskSubtype: 'Call',
      CallType: 'Inbound',
      CallDurationInSeconds: 312,
      CallObject: 'Eng042',
      ActivityDate: '2026-03-14',
      IsVisibleInSelfService: false,
    });
    expect(engagementTask!.Description).toContain('Agents: Ada Agent');
    expect(child).toMatchObject({ ZCC_Key__c: 'note:Eng042:N1', Status: 'Completed', CallObject: 'Eng042', Subject: 'Zoom note (engagement Eng042)' });
    expect(child!.Description).toBe('Note by Ada Agent at 2026-03-14T09:30:00Z:\nCustomer wants a callback\n[zcc:note/Eng042/N1]');
    expect(location).toBe(`task/${child!.Id}`);
    const [record] = fake.records();
    expect(record).toMatchObject({ externalId: 'engagement:Eng042', engagementId: 'Eng042', id: engagementTask!.Id, internalOnly: true });
    expect(record!.texts.map((text) => text.key)).toEqual(['note/Eng042/N1']);
  });

  it('record.match "contact" hangs the Task and its notes under the contact with the consumer\'s number', async () => {
    const { fake, destination } = await open({ extra: { record: { match: 'contact' } } });
    const contactId = fake.seedContact({ LastName: 'Customer', MobilePhone: '+14155550100' });
    await destination.put(note('N1'), noteBody('hello'));
    expect(fake.tasks().map((task) => task.WhoId)).toEqual([contactId, contactId]);
  });

  it('record.create false writes only to an existing Task', async () => {
    const { fake, destination } = await open({ extra: { record: { create: false } } });
    await expect(destination.put(note('N1'), noteBody('x'))).rejects.toThrow(/no Salesforce record for engagement Eng042/);
    fake.seedTask({ ZCC_Key__c: 'engagement:Eng042', CallObject: 'Eng042' });
    await destination.put(note('N2'), noteBody('x'));
    expect(fake.tasks()).toHaveLength(2);
  });

  it('several Tasks with one key (a non-unique field) is a clear error, and nothing is written', async () => {
    const { fake, destination } = await open();
    fake.seedTask({ ZCC_Key__c: 'engagement:Eng042' });
    fake.seedTask({ ZCC_Key__c: 'engagement:Eng042' });
    const error = await destination.put(note('N1'), noteBody('x')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DestinationError);
    expect(String(error)).toMatch(/several Tasks with ZCC_Key__c = "engagement:Eng042".*300.*Unique/);
    expect(fake.tasks()).toHaveLength(2);
  });

  it('API versions before 46.0 answer an upsert that updates with 204; the Task id is read back', async () => {
    const { fake, destination } = await open({ extra: { apiVersion: '45.0' } });
    const first = await destination.put(note('N1'), noteBody('first'));
    const second = await destination.put(note('N1', ENGAGEMENT, { key: 'note/Eng042/N1', previousLocation: first.location }), noteBody('second'));
    expect(second.location).toBe(first.location);
    expect(fake.log().some((entry) => entry.status === 204 && entry.method === 'PATCH')).toBe(true);
  });
});

describe('Salesforce: text entries', () => {
  it('an edited note updates its child Task in place', async () => {
    const { fake, destination } = await open();
    const request = note('N1');
    const first = await destination.put(request, noteBody('first words'));
    const second = await destination.put({ ...request, previousLocation: first.location }, noteBody('edited words'));
    expect(second.location).toBe(first.location);
    const texts = fake.records()[0]!.texts;
    expect(texts).toHaveLength(1);
    expect(texts[0]!.text).toContain('edited words');
    expect(texts[0]!.text).not.toContain('first words');
  });

  it('an edited note that outgrows its place moves, and its earlier copy goes: Description block → child Task, child Task → .txt file, file → text', async () => {
    const described = await open({ extra: { notes: 'description' } });
    const first = await described.destination.put(note('N1'), noteBody('short original text'));
    await described.destination.put(note('N2'), noteBody('b'.repeat(20_000)));
    const moved = await described.destination.put({ ...note('N1'), previousLocation: first.location }, noteBody(`EDITED ${'a'.repeat(15_000)}`));
    expect(moved.location).toMatch(/^task\//);
    expect(described.fake.tasks().filter((task) => String(task.Description ?? '').includes('short original text'))).toEqual([]);
    expect((await described.destination.stat(note('N1')))?.location).toBe(moved.location);

    const { fake, destination } = await open();
    const short = await destination.put(note('N3'), noteBody('short original text'));
    const long = await destination.put({ ...note('N3'), previousLocation: short.location }, noteBody(`EDITED ${'a'.repeat(33_000)}`));
    expect(long.location).toMatch(/^file\//);
    expect(fake.tasks().filter((task) => String(task.Description ?? '').includes('short original text'))).toEqual([]);
    const shortAgain = await destination.put({ ...note('N3'), previousLocation: long.location }, noteBody('short again'));
    expect(shortAgain.location).toMatch(/^task\//);
    expect(fake.versions()).toEqual([]);
    expect((await destination.stat(note('N3')))?.location).toBe(shortAgain.location);
  });

  it('a crash after Salesforce took the write (the same key again, no previousLocation) creates nothing new', async () => {
    const { fake, destination } = await open();
    const request = note('N1');
    const first = await destination.put(request, noteBody('once'));
    const file = recording();
    const attached = await destination.put(file, bodyOf('recording bytes'));
    const before = { tasks: fake.tasks().length, versions: fake.versions().length };
    expect((await destination.put(request, noteBody('once'))).location).toBe(first.location);
    expect((await destination.put(file, bodyOf('recording bytes'))).location).toBe(attached.location);
    expect({ tasks: fake.tasks().length, versions: fake.versions().length }).toEqual(before);
  });

  it('text renders as readable lines for agents: a disposition, a transcript', async () => {
    const { fake, destination } = await open();
    await destination.put(
      sampleRequest({ key: 'disposition/Eng042/D1', kind: 'disposition', engagementId: 'Eng042', engagement: ENGAGEMENT, extension: 'json', contentType: 'application/json' }),
      bodyOf(JSON.stringify({ disposition_name: 'Resolved' })),
    );
    await destination.put(
      sampleRequest({ key: 'recording_transcript/R9', kind: 'recording_transcript', engagementId: 'Eng042', engagement: ENGAGEMENT, extension: 'vtt', contentType: 'text/vtt' }),
      bodyOf('WEBVTT\n\n1\n00:00:01.000 --> 00:00:03.000\nAda Agent: Hello, how can I help?\n\n2\n00:01:04.500 --> 00:01:06.000\nCarla: My order is late.\n'),
    );
    const texts = Object.fromEntries(fake.records()[0]!.texts.map((text) => [text.key, text.text]));
    expect(texts['disposition/Eng042/D1']).toBe('Disposition: Resolved\n[zcc:disposition/Eng042/D1]');
    expect(texts['recording_transcript/R9']).toBe('[00:01] Ada Agent: Hello, how can I help?\n[01:04] Carla: My order is late.\n[zcc:recording_transcript/R9]');
  });

  it('every Task written is agents-only (not visible in self-service)', async () => {
    const { fake, destination } = await open();
    await destination.put(note('N1'), noteBody('private'));
    await destination.put(recording(), bodyOf('bytes'));
    expect(fake.tasks().every((task) => task.IsVisibleInSelfService === false)).toBe(true);
    expect(fake.records().every((record) => record.internalOnly)).toBe(true);
  });

  describe('notes: "description"', () => {
    it('appends each entry as a marked block of the engagement Task\'s Description, edits it in place, finds it after a crash', async () => {
      const { fake, destination } = await open({ extra: { notes: 'description' } });
      const [one, two] = [note('N1'), note('N2')];
      const [first, second] = await Promise.all([destination.put(one, noteBody('first note')), destination.put(two, noteBody('second note'))]);
      expect(first.location).toMatch(/^description\/00T\w+\/note%2FEng042%2FN1$/);
      expect(fake.tasks()).toHaveLength(1);
      const description = () => String(fake.tasks()[0]!.Description);
      expect(description()).toMatch(/first note\n\[zcc:note\/Eng042\/N1\]\n\nNote by .*\nsecond note\n\[zcc:note\/Eng042\/N2\]$/);

      await destination.put({ ...one, previousLocation: first.location }, noteBody('first note, edited'));
      expect(description()).toMatch(/first note, edited\n\[zcc:note\/Eng042\/N1\]\n\nNote by .*\nsecond note\n\[zcc:note\/Eng042\/N2\]$/);
      const writes = apiRequests(fake).filter((entry) => entry.method === 'PATCH').length;
      expect((await destination.put(two, noteBody('second note'))).location).toBe(second.location);
      expect(apiRequests(fake).filter((entry) => entry.method === 'PATCH').length).toBe(writes);

      expect((await destination.stat(two))?.location).toBe(second.location);
      const chunks: Buffer[] = [];
      for await (const chunk of await destination.read(second.location)) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString('utf8')).toMatch(/^Note by Ada Agent .*\nsecond note\n\[zcc:note\/Eng042\/N2\]$/);
      await destination.remove(first.location);
      expect(description()).toMatch(/^Note by .*\nsecond note\n\[zcc:note\/Eng042\/N2\]$/);
      expect(fake.records()[0]!.texts.map((text) => text.key)).toEqual(['note/Eng042/N2']);
    });

    it('an entry that would overflow the 32,000-character Description becomes a child Task', async () => {
      const { fake, destination } = await open({ extra: { notes: 'description' } });
      await destination.put(note('N1'), noteBody('a'.repeat(20_000)));
      const { location } = await destination.put(note('N2'), noteBody('b'.repeat(20_000)));
      expect(location).toMatch(/^task\/00T/);
      expect(fake.tasks()).toHaveLength(2);
      expect(fake.records()[0]!.texts.map((text) => text.key).sort()).toEqual(['note/Eng042/N1', 'note/Eng042/N2']);
      expect((await destination.stat(note('N2', ENGAGEMENT, { key: 'note/Eng042/N2' })))?.location).toBe(location);
    });
  });
});

describe('Salesforce: files', () => {
  it('a small file goes up as JSON base64, published to the Task with the key in its Title', async () => {
    const { fake, destination } = await open();
    const content = Buffer.from('ID3 pretend mp3 bytes');
    const request = recording(ENGAGEMENT, { key: 'recording/Rec77', size: content.length });
    const { location } = await destination.put(request, bodyOf(content));
    const [version] = fake.versions();
    expect(location).toBe(`file/${version!.Id}`);
    expect(version).toMatchObject({ Title: 'Zoom recording (engagement Eng042) [zcc:recording/Rec77]', PathOnClient: 'recording-Rec77.mp3', FirstPublishLocationId: fake.tasks()[0]!.Id, ContentSize: content.length, sha256: sha256(content) });
    expect(fake.records()[0]!.files).toEqual([{ key: 'recording/Rec77', fileName: 'recording-Rec77.mp3', size: content.length, sha256: sha256(content), id: version!.Id }]);
  });

  it('an upload whose answer a gateway lost (502 after it landed) is not sent again: the next run finds it', async () => {
    const { fake, destination } = await open();
    const content = Buffer.from('ID3 pretend mp3 bytes');
    const request = recording(ENGAGEMENT, { key: 'recording/Rec78', size: content.length });
    fake.faults.gatewayErrorAfterWrite('POST', '/sobjects/ContentVersion');
    await expect(destination.put(request, bodyOf(content))).rejects.toThrow(/502/);
    expect(fake.versions()).toHaveLength(1);
    await destination.put(request, bodyOf(content));
    expect(fake.versions()).toHaveLength(1);
  });

  it('a replaced file is uploaded before the old ContentDocument is deleted', async () => {
    const { fake, destination } = await open();
    const request = recording();
    const first = await destination.put(request, bodyOf('old recording'));
    const mark = fake.log().length;
    const second = await destination.put({ ...request, previousLocation: first.location }, bodyOf('new recording!'));
    expect(second.location).not.toBe(first.location);
    const steps = fake.log().slice(mark).map((entry) => `${entry.method} ${entry.path.replace(/^\/services\/data\/v\d+\.\d\/sobjects\/(\w+).*$/, '$1')} ${entry.status}`);
    expect(steps.filter((step) => !step.startsWith('GET'))).toEqual(['POST ContentVersion 201', 'DELETE ContentDocument 204']);
    expect(fake.versions().map((version) => version.ContentSize)).toEqual([14]);
  });

  it('a streamed body (larger than the engine holds) goes up as multipart entity_content + VersionData', async () => {
    const { fake, destination } = await open();
    const content = Buffer.alloc(9 * MiB, 7);
    const request = recording();
    const chunks = Readable.from((function* () {
      for (let offset = 0; offset < content.length; offset += MiB) yield content.subarray(offset, offset + MiB);
    })());
    const { location } = await destination.put(request, chunks);
    expect(fake.versions().map((version) => [version.uploadedAs, version.ContentSize, version.sha256])).toEqual([['multipart', content.length, sha256(content)]]);
    expect((await destination.stat(request))?.location).toBe(location);
    await destination.put(recording(), bodyOf('small'));
    expect(fake.versions().map((version) => version.uploadedAs)).toEqual(['multipart', 'json']);
  });

  it('over the limit with a linkTemplate: no body wanted, and a linkOnly put writes a link text', async () => {
    const { fake, destination } = await open({ fake: { fileLimitBytes: 1000 }, extra: { linkTemplate: 'https://recordings.example.com/{key}' } });
    const big = recording(ENGAGEMENT, { key: 'recording/Big1', size: 5000 });
    expect(destination.wantsBody(big)).toBe(false);
    expect(destination.wantsBody({ ...big, size: 999 })).toBe(true);
    await destination.put({ ...big, linkOnly: { size: 5000 } }, Readable.from([]));
    const [text] = fake.records()[0]!.texts;
    expect(text!.key).toBe('recording/Big1');
    expect(text!.text).toContain('https://recordings.example.com/recording/Big1');
    expect(text!.text).toContain('over Salesforce');
    expect(fake.versions()).toEqual([]);
    expect((await destination.stat(big))?.location).toBe(`task/${fake.tasks()[1]!.Id}`);
  });

  it('the fake refuses a file over its limit even when the destination was not told (no partial file is kept)', async () => {
    const { fake, destination } = await open({ fake: { fileLimitBytes: 1000 }, extra: { maxFileBytes: 10 * MiB } });
    await expect(destination.put(recording(), bodyOf(Buffer.alloc(5000)))).rejects.toThrow(/FILE_SIZE_LIMIT_EXCEEDED/);
    expect(fake.versions()).toEqual([]);
  });
});

describe('Salesforce: auth', () => {
  it('client credentials: one token for many requests, refreshed after INVALID_SESSION_ID and the request replayed once', async () => {
    const { fake, destination } = await open();
    await Promise.all([destination.put(note('N1'), noteBody('a')), destination.put(note('N2'), noteBody('b'))]);
    expect(fake.tokenRequests()).toEqual([{ grant: 'client_credentials', status: 200 }]);
    fake.faults.expireTokens();
    await destination.put(note('N3'), noteBody('c'));
    expect(fake.tokenRequests()).toHaveLength(2);
    const after = fake.log().slice(-3);
    expect(after.map((entry) => [entry.token ?? false, entry.status])).toEqual([
      [false, 401],
      [true, 200],
      [false, 201],
    ]);
  });

  it('JWT bearer: an RS256 assertion (iss, sub, aud, exp) signed with the PEM key from the environment', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const { fake, destination } = await open({
      fake: { auth: 'jwt', jwtPublicKey: pair.publicKey, audience: 'https://test.salesforce.com' },
      env: (on) => ({ SALESFORCE_CLIENT_ID: on.env().SALESFORCE_CLIENT_ID!, SALESFORCE_USERNAME: on.env().SALESFORCE_USERNAME!, SALESFORCE_PRIVATE_KEY: pem.replace(/\n/g, '\\n') }),
    });
    await destination.put(note('N1'), noteBody('signed in'));
    fake.faults.expireTokens();
    await destination.put(note('N2'), noteBody('signed in again'));
    expect(fake.tokenRequests()).toEqual([
      { grant: 'urn:ietf:params:oauth:grant-type:jwt-bearer', status: 200 },
      { grant: 'urn:ietf:params:oauth:grant-type:jwt-bearer', status: 200 },
    ]);
    const claims = JSON.parse(Buffer.from(signJwt({ iss: 'i', sub: 's', aud: 'a' }, pair.privateKey, 1_000_000).split('.')[1]!, 'base64url').toString()) as object;
    expect(claims).toEqual({ iss: 'i', sub: 's', aud: 'a', exp: 1180 });
  });

  it('JWT bearer with a key the connected app does not know is refused', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { fake, destination } = await open({ fake: { auth: 'jwt', jwtPublicKey: pair.publicKey }, env: (on) => on.badEnv() });
    await expect(destination.put(note('N1'), noteBody('x'))).rejects.toThrow(/refused the credentials.*invalid_grant/);
    expect(fake.tokenRequests()).toEqual([{ grant: 'urn:ietf:params:oauth:grant-type:jwt-bearer', status: 400 }]);
  });

  it('a private key that is not a PEM RSA key is a config error naming the variable, not its value', () => {
    const config = salesforceDestinationSchema.parse({ name: 'sf', type: 'salesforce', baseUrl: 'https://acme.my.salesforce.com', auth: 'jwt' });
    const env = { SALESFORCE_CLIENT_ID: 'id', SALESFORCE_USERNAME: 'u', SALESFORCE_PRIVATE_KEY: 'not-a-key-secret' };
    const error = (() => {
      try {
        createSalesforceDestination(config, env);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toContain('SALESFORCE_PRIVATE_KEY');
    expect(String(error)).not.toContain('not-a-key-secret');
  });

  it('refused client credentials: DestinationUnavailableError after one token request; later puts fail with no request', async () => {
    const { fake, destination } = await open({ env: (on) => on.badEnv() });
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => destination.put(note(`N${n}`), noteBody('x'))));
    for (const result of results) expect(result.status === 'rejected' && result.reason).toBeInstanceOf(DestinationUnavailableError);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/Salesforce refused the credentials at \/services\/oauth2\/token: invalid_client/);
    expect(String((results[0] as PromiseRejectedResult).reason)).not.toContain('fake-consumer-secret');
    const seen = fake.log().length;
    expect(seen).toBe(1);
    await expect(destination.put(note('N9'), noteBody('x'))).rejects.toBeInstanceOf(DestinationUnavailableError);
    expect(fake.log().length).toBe(seen);
  });

  it('the token URL is {tokenUrl ?? baseUrl}/services/oauth2/token', () => {
    expect(tokenUrlOf({ baseUrl: 'https://acme.my.salesforce.com/' })).toBe('https://acme.my.salesforce.com/services/oauth2/token');
    expect(tokenUrlOf({ baseUrl: 'https://acme.my.salesforce.com', tokenUrl: 'https://login.salesforce.com' })).toBe('https://login.salesforce.com/services/oauth2/token');
    expect(tokenUrlOf({ baseUrl: 'https://x', tokenUrl: 'https://test.salesforce.com/services/oauth2/token' })).toBe('https://test.salesforce.com/services/oauth2/token');
  });
});

describe('Salesforce: limits', () => {
  it('503 SERVER_UNAVAILABLE with Retry-After pauses every request of the destination, then all arrive', async () => {
    const { fake, destination } = await open();
    await destination.put(note('N0'), noteBody('warm up'));
    fake.faults.rateLimitStorm(1);
    const engagements = ['EngA', 'EngB', 'EngC'].map((engagementId) => ({ ...ENGAGEMENT, engagementId }));
    const results = await Promise.all(engagements.map((engagement) => destination.put(note('N1', engagement), noteBody('x'))));
    expect(results).toHaveLength(3);
    const log = apiRequests(fake);
    const limited = log.find((entry) => entry.status === 503)!;
    expect(limited.retryAfterMs).toBe(1000);
    const inside = log.filter((entry) => entry.at > limited.at + 150 && entry.at < limited.at + 950);
    expect(inside).toEqual([]);
    expect(log.filter((entry) => entry.at >= limited.at + 950).length).toBeGreaterThan(0);
    expect(fake.records()).toHaveLength(4);
  });

  it('more overload answers than one request\'s retry budget: it goes again after the pause rather than failing', async () => {
    const { fake, destination } = await open();
    await destination.put(note('N0'), noteBody('warm up'));
    fake.faults.rateLimitStorm(5);
    await destination.put(note('N1'), noteBody('patient'));
    const answers = apiRequests(fake).slice(-6).map((entry) => entry.status);
    expect(answers).toEqual([503, 503, 503, 503, 503, 201]);
  }, 15_000);

  it('403 REQUEST_LIMIT_EXCEEDED (the 24 h allocation) ends the destination for the run; later puts send nothing', async () => {
    const { fake, destination } = await open();
    await destination.put(note('N0'), noteBody('warm up'));
    fake.faults.dailyLimit(true);
    const error = await destination.put(note('N1'), noteBody('x')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DestinationUnavailableError);
    expect(String(error)).toMatch(/Salesforce daily API limit reached \(403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded\.\)/);
    const seen = fake.log().length;
    await expect(destination.put(note('N2'), noteBody('x'))).rejects.toBeInstanceOf(DestinationUnavailableError);
    expect(fake.log().length).toBe(seen);
  });

  it('classify reads Salesforce\'s answers', () => {
    const answer = (statusCode: number, body: unknown, headers: Record<string, string> = {}) => classifySalesforce({ statusCode, headers, body: JSON.stringify(body) });
    expect(answer(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }])).toEqual({ type: 'auth-expired' });
    expect(answer(401, [{ message: 'This session is not valid for use with the REST API', errorCode: 'INVALID_SESSION_ID' }])).toMatchObject({ type: 'auth-refused' });
    expect(answer(403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }])).toMatchObject({ type: 'daily-limit' });
    expect(answer(403, [{ message: 'ConcurrentPerOrgLongTxn Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }])).toEqual({ type: 'rate-limit', waitMs: null });
    expect(answer(403, [{ message: 'no', errorCode: 'INSUFFICIENT_ACCESS_OR_READONLY' }])).toBeNull();
    expect(answer(503, [{ message: 'Server temporarily unavailable.', errorCode: 'SERVER_UNAVAILABLE' }], { 'retry-after': '2' })).toEqual({ type: 'rate-limit', waitMs: 2000 });
    expect(answer(400, { error: 'invalid_grant', error_description: 'authentication failure' })).toMatchObject({ type: 'auth-refused' });
    expect(answer(400, [{ message: 'bad', errorCode: 'INVALID_FIELD' }])).toBeNull();
  });
});

describe('the Salesforce fake is strict', () => {
  async function session(): Promise<{ fake: SalesforceFake; api: typeof got }> {
    const fake = await startSalesforceFake();
    const token = await got.post(`${fake.url}/services/oauth2/token`, { form: { grant_type: 'client_credentials', client_id: fake.env().SALESFORCE_CLIENT_ID, client_secret: fake.env().SALESFORCE_CLIENT_SECRET } }).json<{ access_token: string; instance_url: string }>();
    opened.push({ fake, destination: { close: async () => {} } as CrmDestination });
    expect(token.instance_url).toBe(fake.url);
    return { fake, api: got.extend({ prefixUrl: `${fake.url}/services/data/v62.0`, headers: { authorization: `Bearer ${token.access_token}` }, throwHttpErrors: false, retry: { limit: 0 } }) };
  }

  it('answers as Salesforce does: JSON-array errors, Sforce-Limit-Info, strict fields and bodies', async () => {
    const { fake, api } = await session();
    const anonymous = await got(`${fake.url}/services/data/v62.0/query?q=SELECT+Id+FROM+Task`, { throwHttpErrors: false });
    expect([anonymous.statusCode, JSON.parse(anonymous.body)]).toEqual([401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]]);
    expect(anonymous.headers['sforce-limit-info']).toMatch(/^api-usage=\d+\/100000$/);

    const unknownField = await api.patch('sobjects/Task/ZCC_Key__c/k1', { json: { Status: 'Completed', Colour__c: 'red' } });
    expect([unknownField.statusCode, JSON.parse(unknownField.body)]).toEqual([400, [{ message: "No such column 'Colour__c' on sobject of type Task", errorCode: 'INVALID_FIELD' }]]);
    const keyInBody = await api.patch('sobjects/Task/ZCC_Key__c/k1', { json: { Status: 'Completed', ZCC_Key__c: 'k1' } });
    expect(keyInBody.statusCode).toBe(400);
    const wrongField = await api.patch('sobjects/Task/Other__c/k1', { json: { Status: 'Completed' } });
    expect([wrongField.statusCode, JSON.parse(wrongField.body)[0].errorCode]).toEqual([404, 'NOT_FOUND']);
    const created = await api.patch('sobjects/Task/ZCC_Key__c/k1', { json: { Status: 'Completed', TaskSubtype: 'Call' } });
    expect([created.statusCode, JSON.parse(created.body)]).toMatchObject([201, { success: true, created: true }]);
    const subtypeAgain = await api.patch('sobjects/Task/ZCC_Key__c/k1', { json: { TaskSubtype: 'Call' } });
    expect(JSON.parse(subtypeAgain.body)[0].errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
    const updated = await api.patch('sobjects/Task/ZCC_Key__c/k1', { json: { Subject: 'x'.repeat(256) } });
    expect(JSON.parse(updated.body)[0]).toMatchObject({ errorCode: 'STRING_TOO_LONG', fields: ['Subject'] });
    const textPlain = await api.patch('sobjects/Task/ZCC_Key__c/k1', { body: '{}', headers: { 'content-type': 'text/plain' } });
    expect(textPlain.statusCode).toBe(415);
    const query = await api('query', { searchParams: { q: "SELECT Id FROM Task WHERE ZCC_Key__c = 'k1' OR CallObject = 'x' AND Status = 'y'" } });
    expect(JSON.parse(query.body)[0].errorCode).toBe('MALFORMED_QUERY');
    for (const response of [unknownField, created, query]) expect(response.headers['sforce-limit-info']).toBeDefined();
  });

  it('takes multipart ContentVersions only as entity_content then VersionData', async () => {
    const { fake, api } = await session();
    const task = fake.seedTask({ ZCC_Key__c: 'engagement:E1' });
    const multipart = (parts: string) => api.post('sobjects/ContentVersion', { body: parts, headers: { 'content-type': 'multipart/form-data; boundary=b' } });
    const entity = `--b\r\nContent-Disposition: form-data; name="entity_content"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ Title: 't', PathOnClient: 'a.txt', FirstPublishLocationId: task })}\r\n`;
    const data = '--b\r\nContent-Disposition: form-data; name="VersionData"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n';
    const wrongOrder = await multipart(`${data}${entity}--b--\r\n`);
    expect(wrongOrder.statusCode).toBe(400);
    const good = await multipart(`${entity}${data}--b--\r\n`);
    expect(good.statusCode).toBe(201);
    expect(fake.versions().map((version) => [version.ContentSize, version.sha256])).toEqual([[5, sha256('hello')]]);
  });
});
