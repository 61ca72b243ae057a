// The dynamics destination against a strict Dataverse + Entra ID fake on loopback.
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngagementInfo } from '../../src/artifacts.js';
import { dynamicsDestinationSchema } from '../../src/config-schema.js';
import { createDynamicsDestination, type DynamicsTestHooks } from '../../src/destinations/dynamics.js';
import { blockIdOf } from '../../src/destinations/dynamics/blocks.js';
import { recordKeyOf, uuidV5 } from '../../src/destinations/dynamics/ids.js';
import type { CrmDestination } from '../../src/destinations/crm/engine.js';
import { DestinationUnavailableError } from '../../src/errors.js';
import { bodyOf, destinationConformance, sampleRequest, sha256, sha256Of } from './conformance.js';
import { dynamicsFakeAccess, startDynamicsFake, type DynamicsFake, type DynamicsFakeOptions } from './servers/crm/dynamics.js';
import { startDynamicsFakeChild } from './servers/crm/dynamics-child.js';

const MiB = 1024 * 1024;
const fakes: DynamicsFake[] = [];
const opened: CrmDestination[] = [];
let child: Awaited<ReturnType<typeof startDynamicsFakeChild>>;

async function fake(options: DynamicsFakeOptions = {}): Promise<DynamicsFake> {
  const started = await startDynamicsFake(options);
  fakes.push(started);
  return started;
}

function destination(on: DynamicsFake, extra: Record<string, unknown> = {}, env = on.env(), hooks: DynamicsTestHooks = {}): CrmDestination {
  const config = dynamicsDestinationSchema.parse(on.destinationConfig('crm', { retry: { limit: 3, maxBackoff: 'PT0.05S', maxRetryAfter: 'PT5M' }, ...extra }));
  const created = createDynamicsDestination(config, env, { groupDelayMs: 5, ...hooks });
  opened.push(created);
  return created;
}

let serial = 0;
function engagement(overrides: Partial<EngagementInfo> = {}): EngagementInfo {
  serial += 1;
  return {
    engagementId: `EngD${serial}`,
    startTime: '2026-03-14T09:00:00Z',
    endTime: '2026-03-14T09:05:00Z',
    direction: 'inbound',
    channel: 'voice',
    queueName: 'Support',
    agents: [{ userId: 'u1', displayName: 'Alice Agent' }],
    consumers: [{ displayName: 'Bob', number: '+15551234567' }],
    ...overrides,
  };
}

function noteRequest(eng: EngagementInfo, id = 'N1') {
  return sampleRequest({ key: `note/${eng.engagementId}/${id}`, kind: 'note', engagementId: eng.engagementId, extension: 'json', contentType: 'application/json', engagement: eng });
}

function noteBody(text: string): Readable {
  return bodyOf(JSON.stringify({ note: text, user_id: 'u1', last_modified_time: '2026-03-14T09:06:00Z' }));
}

function apiLog(on: DynamicsFake) {
  return on.log().filter((entry) => !entry.token);
}

beforeAll(async () => {
  // The conformance suite's fake runs in a child process: its memory check must not count the fake's garbage.
  child = await startDynamicsFakeChild({ maxUploadFileSize: 131_072_000 });
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((entry) => entry.close()));
});
afterAll(async () => {
  await Promise.all([...fakes.map((entry) => entry.close()), child?.stop()]);
});

function childDestination(): CrmDestination {
  const access = dynamicsFakeAccess(child.port);
  const config = dynamicsDestinationSchema.parse({ name: 'crm', ...access.config, retry: { limit: 3, maxBackoff: 'PT0.05S', maxRetryAfter: 'PT5M' } });
  return createDynamicsDestination(config, access.env);
}

destinationConformance('dynamics', async () => ({ destination: childDestination(), cleanup: async () => {} }), {
  crm: true,
  partBytes: 4 * MiB,
  // Under the fake org's maxuploadfilesize (131,072,000 base64 characters, ~93.75 MiB of file).
  largeBytes: 90 * MiB,
  // One 4 MiB block, its ~5.6 MB base64 request body and the read-ahead stay in memory; the rest streams. Holding the
  // body would be nearly twice the allowed growth; a tighter pair (40 MiB against 36) failed once on allocator noise.
  maxRssGrowthBytes: 48 * MiB,
});

describe('dynamics ids', () => {
  it('UUIDv5 matches RFC 9562 (DNS namespace, www.example.com)', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('record keys escape what Dataverse cannot address by key, one to one', () => {
    expect(recordKeyOf('Eng+1/2:3~4')).toBe('zcc-Eng~2B1~2F2~3A3~7E4');
    expect(recordKeyOf('Eng001')).toBe('zcc-Eng001');
  });

  it('block ids are base64 of one length', () => {
    expect(new Set([0, 9, 12345, 99_999_999].map((index) => blockIdOf(index).length)).size).toBe(1);
  });
});

describe('dynamics against the fake', () => {
  it('creates one open phone call per engagement with the engagement details, notes hang under it', async () => {
    const on = await fake();
    const crm = destination(on);
    const eng = engagement();
    const { location } = await crm.put(noteRequest(eng), noteBody('Kunde möchte Rückruf'));
    expect(location).toMatch(/^annotation\/[0-9a-f-]{36}$/);
    const [call] = on.phoneCalls();
    expect(call).toMatchObject({
      activityid: uuidV5(recordKeyOf(eng.engagementId)),
      statecode: 0,
      columns: { subject: `Zoom voice ${eng.engagementId}`, phonenumber: '+15551234567', directioncode: false, actualdurationminutes: 5, actualstart: eng.startTime },
    });
    expect(String(call?.columns.description)).toContain('Agents: Alice Agent');
    const [held] = on.records();
    expect(held).toMatchObject({ engagementId: eng.engagementId, internalOnly: true });
    // Readable lines for an agent, the marker last.
    expect(held?.texts).toEqual([
      { key: `note/${eng.engagementId}/N1`, id: location.slice('annotation/'.length), text: `Note by Alice Agent at 2026-03-14T09:06:00Z:\nKunde möchte Rückruf\n[zcc:note/${eng.engagementId}/N1]` },
    ]);
  });

  it('every Web API request carries the bearer token and the OData headers; the token is fetched once', async () => {
    const on = await fake();
    const crm = destination(on);
    const eng = engagement();
    await crm.put(noteRequest(eng, 'A'), noteBody('one'));
    await crm.put(noteRequest(eng, 'B'), noteBody('two'));
    const api = on.requests.filter((request) => request.path.startsWith('/api/'));
    expect(api.length).toBeGreaterThanOrEqual(4);
    for (const request of api) {
      expect(request.headers).toMatchObject({ authorization: expect.stringMatching(/^Bearer /), 'odata-maxversion': '4.0', 'odata-version': '4.0', accept: 'application/json' });
      expect(request.headers['if-none-match']).toBeDefined();
    }
    expect(on.log().filter((entry) => entry.token)).toHaveLength(1);
    expect(api.some((request) => request.path === '/api/data/v9.2/organizations?$select=maxuploadfilesize')).toBe(true);
  });

  it('an expired token gets a 401; a fresh one is fetched once and the request replayed', async () => {
    const on = await fake();
    const crm = destination(on);
    const eng = engagement();
    await crm.put(noteRequest(eng, 'A'), noteBody('before'));
    on.faults.expireTokens();
    await crm.put(noteRequest(eng, 'B'), noteBody('after'));
    expect(on.log().filter((entry) => entry.token)).toHaveLength(2);
    expect(apiLog(on).filter((entry) => entry.status === 401)).toHaveLength(1);
    expect(on.records()[0]?.texts).toHaveLength(2);
  });

  it('a token is refreshed before it expires (by its expires_in), without a 401', async () => {
    const on = await fake({ tokenLifetimeSeconds: 600 });
    let clock = Date.now();
    const crm = destination(on, {}, on.env(), { now: () => clock });
    const eng = engagement();
    await crm.put(noteRequest(eng, 'A'), noteBody('first'));
    await crm.put(noteRequest(eng, 'B'), noteBody('cached'));
    expect(on.log().filter((entry) => entry.token)).toHaveLength(1);
    clock += 600_000;
    await crm.put(noteRequest(eng, 'C'), noteBody('refreshed'));
    expect(on.log().filter((entry) => entry.token)).toHaveLength(2);
    expect(on.log().some((entry) => entry.status === 401)).toBe(false);
  });

  it('refused credentials stop the destination after one token request; later puts fail with no request', async () => {
    const on = await fake();
    const crm = destination(on, {}, on.badEnv());
    await expect(crm.put(noteRequest(engagement()), noteBody('x'))).rejects.toThrow(DestinationUnavailableError);
    await expect(crm.put(noteRequest(engagement()), noteBody('x'))).rejects.toThrow(/refused the credentials.*invalid_client: AADSTS7000215/);
    const requests = on.log().length;
    expect(requests).toBeLessThanOrEqual(2);
    expect(on.log().every((entry) => entry.token)).toBe(true);
    await expect(crm.put(noteRequest(engagement()), noteBody('x'))).rejects.toThrow(DestinationUnavailableError);
    expect(on.log()).toHaveLength(requests);
    expect(on.records()).toEqual([]);
  });

  it('a 429 pauses every request of the destination until its Retry-After', async () => {
    const on = await fake();
    const crm = destination(on);
    const eng = engagement();
    await crm.put(noteRequest(eng, 'warm'), noteBody('warm up'));
    on.faults.rateLimitStorm(1);
    await Promise.all(['A', 'B', 'C', 'D'].map((id) => crm.put(noteRequest(eng, id), noteBody(`note ${id}`))));
    const log = apiLog(on);
    const limited = log.find((entry) => entry.status === 429);
    expect(limited?.retryAfterMs).toBe(1000);
    const inside = log.filter((entry) => entry.at > limited!.at + 50 && entry.at < limited!.at + 950);
    expect(inside).toEqual([]);
    expect(on.records()[0]?.texts).toHaveLength(5);
  });

  it('a daily limit (Retry-After beyond maxRetryAfter) ends the destination for the run; later puts fail fast', async () => {
    const on = await fake();
    const crm = destination(on);
    const eng = engagement();
    await crm.put(noteRequest(eng, 'A'), noteBody('before'));
    on.faults.dailyLimit(true);
    await expect(crm.put(noteRequest(eng, 'B'), noteBody('refused'))).rejects.toThrow(DestinationUnavailableError);
    const count = on.log().length;
    on.faults.dailyLimit(false);
    await expect(crm.put(noteRequest(eng, 'C'), noteBody('not even tried'))).rejects.toThrow(/asks to wait 3600 s/);
    expect(on.log()).toHaveLength(count);
  });

  it('an edited note updates its note in place', async () => {
    const on = await fake();
    const crm = destination(on);
    const eng = engagement();
    const request = noteRequest(eng);
    const first = await crm.put(request, noteBody('first version'));
    const second = await crm.put({ ...request, previousLocation: first.location }, noteBody('edited version'));
    expect(second.location).toBe(first.location);
    const texts = on.records()[0]?.texts ?? [];
    expect(texts).toHaveLength(1);
    expect(texts[0]?.text).toContain('edited version');
    expect(texts[0]?.text).not.toContain('first version');
  });

  it('a crash after the write (same key again, no previousLocation) creates nothing new', async () => {
    const on = await fake();
    const crm = destination(on);
    const eng = engagement();
    const note = noteRequest(eng);
    const first = await crm.put(note, noteBody('once'));
    expect((await destination(on).put(note, noteBody('once'))).location).toBe(first.location);

    const recording = sampleRequest({ engagementId: eng.engagementId, engagement: eng, size: 5000 });
    const content = Buffer.alloc(5000, 7);
    const file = await crm.put(recording, bodyOf(content));
    const uploadsBefore = on.requests.filter((request) => request.path.startsWith(`/api/data/v9.2/${file.location.replace('annotation/', 'annotations(')})`) && request.method === 'PATCH').length;
    expect((await destination(on).put(recording, bodyOf(content))).location).toBe(file.location);
    const uploadsAfter = on.requests.filter((request) => request.path.startsWith(`/api/data/v9.2/${file.location.replace('annotation/', 'annotations(')})`) && request.method === 'PATCH').length;
    expect(uploadsAfter).toBe(uploadsBefore);
    const [held] = on.records();
    expect(on.records()).toHaveLength(1);
    expect(held?.texts).toHaveLength(1);
    expect(held?.files).toEqual([expect.objectContaining({ key: recording.key, size: 5000, sha256: sha256(content) })]);
  });

  it("learns the org's maxuploadfilesize (base64) as the file limit; a file over it becomes a link", async () => {
    const on = await fake({ maxUploadFileSize: 1_333_336 });
    const crm = destination(on, { linkTemplate: 'https://recordings.example.com/{key}' });
    const eng = engagement();
    await crm.put(noteRequest(eng), noteBody('first'));
    expect(crm.fileLimitBytes).toBe(1_000_002);
    const big = sampleRequest({ engagementId: eng.engagementId, engagement: eng, size: 2_000_000 });
    expect(crm.wantsBody(big)).toBe(false);
    const { location } = await crm.put({ ...big, size: undefined, linkOnly: { size: 2_000_000 } }, bodyOf(''));
    const link = on.records()[0]?.texts.find((text) => text.key === big.key);
    expect(link?.id).toBe(location.slice('annotation/'.length));
    expect(link?.text).toContain(`https://recordings.example.com/${big.key}`);
    expect(link?.text).toContain('over Dynamics 365');
    const small = sampleRequest({ engagementId: eng.engagementId, engagement: eng, size: 1_000_002 });
    expect(crm.wantsBody(small)).toBe(true);
  });

  it('config maxFileBytes overrides the limit and skips the organization lookup; over the org limit Dataverse refuses', async () => {
    const on = await fake({ maxUploadFileSize: 4000 });
    const crm = destination(on, { maxFileBytes: 10_000 });
    const eng = engagement();
    expect(crm.fileLimitBytes).toBe(10_000);
    const request = sampleRequest({ engagementId: eng.engagementId, engagement: eng, size: 6000 });
    await expect(crm.put(request, bodyOf(Buffer.alloc(6000)))).rejects.toThrow(/^crm: Dynamics 365 answered 400 to PATCH \/api\/data\/v9\.2\/annotations\([0-9a-f-]+\): .*0x80044a02.*Attachment file size is too big/);
    expect(on.requests.some((entry) => entry.path.includes('organizations'))).toBe(false);
    expect(on.records()[0]?.files).toEqual([]);
  });

  it('a file larger than one block goes up in 4 MiB blocks (Initialize, UploadBlock, Commit) and reads back', async () => {
    const on = await fake({ maxUploadFileSize: 131_072_000 });
    const crm = destination(on);
    const eng = engagement();
    const content = Buffer.alloc(9 * MiB + 123);
    for (let i = 0; i < content.length; i += 997) content[i] = i % 251;
    const request = sampleRequest({ engagementId: eng.engagementId, engagement: eng });
    const { location } = await crm.put(request, Readable.from([content.subarray(0, 5 * MiB), content.subarray(5 * MiB)]));
    const paths = on.requests.map((entry) => entry.path.split('?')[0]);
    expect(paths.filter((p) => p === '/api/data/v9.2/UploadBlock')).toHaveLength(3);
    expect(paths.filter((p) => p?.endsWith('InitializeAnnotationBlocksUpload') || p?.endsWith('CommitAnnotationBlocksUpload'))).toHaveLength(2);
    expect(await sha256Of(await crm.read(location))).toBe(sha256(content));
    expect(on.records()[0]?.files).toEqual([expect.objectContaining({ key: request.key, size: content.length })]);
  });

  it('a block upload cut off midway leaves no note (nothing is committed)', async () => {
    const on = await fake({ maxUploadFileSize: 131_072_000 });
    const crm = destination(on);
    const eng = engagement();
    const request = sampleRequest({ engagementId: eng.engagementId, engagement: eng });
    let sent = 0;
    const failing = new Readable({
      read() {
        sent += 1;
        if (sent <= 10) this.push(Buffer.alloc(MiB, sent));
        else this.destroy(new Error('reset'));
      },
    });
    await expect(crm.put(request, failing)).rejects.toThrow('reset');
    expect(on.requests.some((entry) => entry.path.endsWith('/UploadBlock'))).toBe(true);
    expect(on.annotations()).toEqual([]);
    expect(await crm.stat(request)).toBeNull();
  });

  it('record.match "contact" hangs the phone call under the caller\'s contact', async () => {
    const on = await fake();
    const contactId = on.addContact({ fullname: 'Bob Caller', mobilephone: '+15559876543' });
    const crm = destination(on, { record: { match: 'contact' } });
    const eng = engagement({ consumers: [{ number: '+15559876543' }] });
    await crm.put(noteRequest(eng), noteBody('hello'));
    expect(on.phoneCalls()[0]?.regardingContactId).toBe(contactId);
    expect(on.requests.some((entry) => entry.path.startsWith('/api/data/v9.2/contacts?$select=contactid&$filter='))).toBe(true);
  });

  it('an alternate key addresses the phone call by our key (escaped), and the key column holds it', async () => {
    const on = await fake({ alternateKey: 'new_zcckey' });
    const crm = destination(on);
    const eng = engagement({ engagementId: 'Eng+7=x' });
    await crm.put(noteRequest(eng), noteBody('keyed'));
    expect(on.phoneCalls()[0]?.columns.new_zcckey).toBe('zcc-Eng~2B7=x');
    expect(on.records()[0]).toMatchObject({ externalId: 'zcc-Eng~2B7=x', engagementId: 'Eng+7=x' });
    expect(on.requests.some((entry) => entry.method === 'PATCH' && decodeURIComponent(entry.path).startsWith("/api/data/v9.2/phonecalls(new_zcckey='zcc-Eng~2B7=x')"))).toBe(true);
    // A second destination (a new run) finds the same phone call.
    await destination(on).put(noteRequest(eng, 'N2'), noteBody('again'));
    expect(on.phoneCalls()).toHaveLength(1);
  });

  it('record.create false writes only to an existing phone call', async () => {
    const on = await fake();
    const eng = engagement();
    await expect(destination(on, { record: { create: false } }).put(noteRequest(eng), noteBody('x'))).rejects.toThrow(/no Dynamics 365 record/);
    expect(on.phoneCalls()).toEqual([]);
    await destination(on).put(noteRequest(eng, 'N0'), noteBody('made'));
    await destination(on, { record: { create: false } }).put(noteRequest(eng), noteBody('now'));
    expect(on.records()[0]?.texts).toHaveLength(2);
  });

  it('a phone call an agent completed (read-only) is left alone; notes still land on it', async () => {
    const on = await fake();
    const eng = engagement();
    await destination(on).put(noteRequest(eng, 'A'), noteBody('before closing'));
    const [call] = on.phoneCalls();
    on.completePhoneCall(call!.activityid);
    await destination(on).put(noteRequest(eng, 'B'), noteBody('after closing'));
    expect(on.phoneCalls()[0]).toMatchObject({ statecode: 1, version: 1 });
    expect(on.records()[0]?.texts).toHaveLength(2);
  });
});
