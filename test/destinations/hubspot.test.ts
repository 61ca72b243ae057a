// The hubspot destination against a strict HubSpot fake on loopback (HubSpot's own OpenAPI schemas check every body).
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngagementInfo } from '../../src/artifacts.js';
import { hubspotDestinationSchema } from '../../src/config-schema.js';
import type { CrmDestination } from '../../src/destinations/crm/engine.js';
import { createHubspotDestination, hubspotClassifier, NOTE_BODY_LIMIT } from '../../src/destinations/hubspot.js';
import type { PutRequest } from '../../src/destinations/types.js';
import { DestinationUnavailableError } from '../../src/errors.js';
import { bodyOf, destinationConformance, sampleRequest, sha256, sha256Of } from './conformance.js';
import { startHubspotFake, type HubspotFake } from './servers/crm/hubspot.js';

const MiB = 1024 * 1024;
const FAST_RETRY = { limit: 3, maxBackoff: 'PT0.05S', maxRetryAfter: 'PT30S' };
let shared: HubspotFake;
let serial = 0;
const opened: CrmDestination[] = [];

beforeAll(async () => {
  // A generous rolling window: the conformance suite alone sends more than HubSpot's 190 requests per 10 s.
  shared = await startHubspotFake({ fileLimitBytes: 128 * MiB, searchIndexLagMs: 300, tenSecondlyMax: 100_000 });
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((destination) => destination.close()));
});
afterAll(async () => {
  expect(shared.contractErrors).toEqual([]);
  await shared?.close();
});

function hubspot(fake: HubspotFake = shared, extra: Record<string, unknown> = {}, env: Record<string, string> = fake.env()): CrmDestination {
  const config = hubspotDestinationSchema.parse(fake.destinationConfig('crm', { retry: FAST_RETRY, ...extra }));
  const destination = createHubspotDestination(config, env);
  opened.push(destination);
  return destination;
}

function engagement(overrides: Partial<EngagementInfo> = {}): EngagementInfo {
  serial += 1;
  return {
    engagementId: `HsEng${serial}`,
    startTime: '2026-03-14T09:20:00Z',
    endTime: '2026-03-14T09:26:53Z',
    direction: 'inbound',
    channel: 'voice',
    queueName: 'Support',
    agents: [{ userId: 'u1', displayName: 'Zoë Agent' }],
    consumers: [{ displayName: 'Kunde', number: '+4930123456' }],
    ...overrides,
  };
}

function noteRequest(info: EngagementInfo, noteId = 'N1', overrides: Partial<PutRequest> = {}): PutRequest {
  return sampleRequest({
    key: `note/${info.engagementId}/${noteId}`,
    kind: 'note',
    engagementId: info.engagementId,
    extension: 'json',
    contentType: 'application/json',
    engagement: info,
    ...overrides,
  });
}

function noteBody(text: string): Readable {
  return bodyOf(JSON.stringify({ note_id: 'N1', note: text, user_id: 'u1', last_modified_time: '2026-03-14T09:30:00Z' }));
}

function recordingRequest(info: EngagementInfo, overrides: Partial<PutRequest> = {}): PutRequest {
  return sampleRequest({ engagementId: info.engagementId, engagement: info, extension: 'mp3', contentType: 'audio/mpeg', ...overrides });
}

/** Requests to `path` in the fake's log from entry `from` on. */
function requests(fake: HubspotFake, path: string, from = 0): number {
  return fake.log().slice(from).filter((entry) => entry.path === path).length;
}

function heldFor(fake: HubspotFake, info: EngagementInfo) {
  return fake.records().filter((record) => record.engagementId === info.engagementId);
}

destinationConformance('hubspot', async () => ({ destination: hubspot(), cleanup: async () => {} }), { crm: true });

describe('hubspot: the engagement call', () => {
  it('upserts one call keyed by our unique property, with string properties HubSpot understands', async () => {
    const info = engagement();
    await hubspot().put(noteRequest(info), noteBody('first'));
    const [held] = heldFor(shared, info);
    expect(held?.externalId).toBe(`engagement/${info.engagementId}`);
    const call = shared.object('calls', held!.id)!;
    expect(call.properties).toMatchObject({
      zcc_key: `engagement/${info.engagementId}`,
      hs_timestamp: '2026-03-14T09:20:00.000Z',
      hs_call_direction: 'INBOUND',
      hs_call_duration: String(413_000),
      hs_call_status: 'COMPLETED',
      hs_call_from_number: '+4930123456',
    });
    expect(call.properties['hs_call_title']).toContain(info.engagementId);
    expect(call.properties['hs_call_body']).toContain('Queue: Support<br>Agents: Zoë Agent');
  });

  it('a later run finds the call by its key at once (batch read, not the lagging search index) and writes no second call', async () => {
    const info = engagement();
    await hubspot().put(noteRequest(info, 'N1'), noteBody('one'));
    await hubspot().put(noteRequest(info, 'N2'), noteBody('two'));
    expect(heldFor(shared, info)).toHaveLength(1);
    expect(heldFor(shared, info)[0]?.texts).toHaveLength(2);
  });

  it('record.create false: no call, no write, a clear error', async () => {
    const info = engagement();
    const destination = hubspot(shared, { record: { create: false } });
    await expect(destination.put(noteRequest(info), noteBody('x'))).rejects.toThrow(/no HubSpot record for engagement/);
    expect(heldFor(shared, info)).toHaveLength(0);
  });

  it('record.match contact: the call and its notes hang under the contact with the consumer phone', async () => {
    const fake = await startHubspotFake({ searchIndexLagMs: 0 });
    try {
      const contactId = fake.addContact({ firstname: 'Kunde', mobilephone: '+4930999' });
      const info = engagement({ consumers: [{ number: '+4930999' }] });
      const { location } = await hubspot(fake, { record: { match: 'contact' } }).put(noteRequest(info), noteBody('hi'));
      const [held] = heldFor(fake, info);
      expect(fake.associationsOf('calls', held!.id, 'contacts')).toEqual([contactId]);
      expect(fake.associationsOf('notes', location.split('/')[1]!, 'contacts')).toEqual([contactId]);
      expect(fake.contractErrors).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it('record.match contact: a contact not yet in the search index is associated on a later run, not duplicated', async () => {
    const fake = await startHubspotFake({ searchIndexLagMs: 400 });
    try {
      const contactId = fake.addContact({ phone: '+4930555' });
      const info = engagement({ consumers: [{ number: '+4930555' }] });
      await hubspot(fake, { record: { match: 'contact' } }).put(noteRequest(info, 'N1'), noteBody('early'));
      const [held] = heldFor(fake, info);
      expect(fake.associationsOf('calls', held!.id, 'contacts')).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 450));
      await hubspot(fake, { record: { match: 'contact' } }).put(noteRequest(info, 'N2'), noteBody('later'));
      expect(heldFor(fake, info)).toHaveLength(1);
      expect(fake.associationsOf('calls', held!.id, 'contacts')).toEqual([contactId]);
    } finally {
      await fake.close();
    }
  });
});

describe('hubspot: notes', () => {
  it('text renders as readable lines, ends with the key marker, and is stored as HTML HubSpot displays', async () => {
    const info = engagement();
    await hubspot().put(noteRequest(info), noteBody('Kunde möchte Rückruf\n<b>zweite</b> Zeile & mehr'));
    const [text] = heldFor(shared, info)[0]!.texts;
    expect(text?.text.split('\n')).toEqual([
      `Zoom note (engagement ${info.engagementId})`,
      'Note by Zoë Agent at 2026-03-14T09:30:00Z:',
      'Kunde möchte Rückruf',
      '<b>zweite</b> Zeile & mehr',
      `[zcc:note/${info.engagementId}/N1]`,
    ]);
    const note = shared.object('notes', text!.id)!;
    expect(note.properties['hs_note_body']).toContain('<br>&lt;b&gt;zweite&lt;/b&gt; Zeile &amp; mehr<br>');
    expect(note.properties['zcc_key']).toBe(`note/${info.engagementId}/N1`);
    expect(note.properties['hs_timestamp']).toBe('2026-03-14T09:20:00.000Z');
  });

  it('several entries for one record go up in one batch upsert', async () => {
    const info = engagement();
    const destination = hubspot();
    await destination.put(noteRequest(info, 'N0'), noteBody('creates the call first'));
    const since = shared.log().length;
    const locations = await Promise.all(['N1', 'N2', 'N3'].map((id) => destination.put(noteRequest(info, id), noteBody(`text ${id}`))));
    expect(new Set(locations.map((result) => result.location)).size).toBe(3);
    expect(requests(shared, '/crm/v3/objects/notes/batch/upsert', since)).toBe(1);
    expect(requests(shared, '/crm/v4/associations/notes/calls/batch/associate/default', since)).toBe(1);
    expect(heldFor(shared, info)[0]?.texts.map((text) => text.key).sort()).toEqual(['N0', 'N1', 'N2', 'N3'].map((id) => `note/${info.engagementId}/${id}`));
  });

  it('an edited note updates its copy in place (same note, new text)', async () => {
    const info = engagement();
    const first = await hubspot().put(noteRequest(info), noteBody('first version'));
    const second = await hubspot().put(noteRequest(info, 'N1', { previousLocation: first.location }), noteBody('edited version'));
    expect(second.location).toBe(first.location);
    const texts = heldFor(shared, info)[0]!.texts;
    expect(texts).toHaveLength(1);
    expect(texts[0]?.text).toContain('edited version');
    expect(texts[0]?.text).not.toContain('first version');
  });

  it('a crash after HubSpot accepted the note (same key again, no previousLocation) creates nothing new', async () => {
    const info = engagement();
    const first = await hubspot().put(noteRequest(info), noteBody('only once'));
    const notesBefore = shared.objects('notes').length;
    const again = await hubspot().put(noteRequest(info), noteBody('only once'));
    expect(again.location).toBe(first.location);
    expect(shared.objects('notes').length).toBe(notesBefore);
    expect(heldFor(shared, info)[0]?.texts).toHaveLength(1);
  });

  it('a text that fits the field but not as HTML goes up as a .txt file on its note', async () => {
    const info = engagement();
    const text = Array.from({ length: 13_000 }, () => '<a>').join('\n');
    expect(text.length).toBeLessThan(NOTE_BODY_LIMIT);
    const request = noteRequest(info, 'Long', { extension: 'txt', contentType: 'text/plain' });
    const { location } = await hubspot().put(request, bodyOf(text));
    expect(location).toMatch(/^file\/\d+\/\d+$/);
    const [file] = heldFor(shared, info)[0]!.files;
    expect(file?.key).toBe(request.key);
    expect(file?.fileName).toMatch(/\.txt$/);
  });

  it('an edited text short enough to be inline again leaves no .txt file of the longer version behind', async () => {
    const info = engagement();
    const long = Array.from({ length: 13_000 }, () => '<a>').join('\n');
    const request = noteRequest(info, 'Shrinks', { extension: 'txt', contentType: 'text/plain' });
    const first = await hubspot().put(request, bodyOf(long));
    const [, noteId, fileId] = /^file\/(\d+)\/(\d+)$/.exec(first.location)!;
    expect(shared.files().map((held) => held.id)).toContain(fileId);
    const second = await hubspot().put({ ...request, previousLocation: first.location }, bodyOf('short now'));
    expect(second.location).toBe(`note/${noteId}`);
    expect(shared.files().map((held) => held.id)).not.toContain(fileId);
    expect(heldFor(shared, info)[0]!.files).toEqual([]);
  });

  it('a 207 (one input refused) fails the put naming the key; the retry writes it', async () => {
    const info = engagement();
    const destination = hubspot();
    await destination.put(noteRequest(info, 'N0'), noteBody('call first'));
    shared.failUpsertOf(`note/${info.engagementId}/N2`);
    const results = await Promise.allSettled(['N1', 'N2'].map((id) => destination.put(noteRequest(info, id), noteBody(id))));
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(new RegExp(`note/${info.engagementId}/N2`));
    await destination.put(noteRequest(info, 'N2'), noteBody('N2'));
    await destination.put(noteRequest(info, 'N1'), noteBody('N1'));
    expect(heldFor(shared, info)[0]?.texts).toHaveLength(3);
  });
});

describe('hubspot: files', () => {
  it('uploads a private file into folderPath and attaches it by a note; a crash re-run uploads nothing', async () => {
    const info = engagement();
    const content = Buffer.alloc(200_000, 7);
    const request = recordingRequest(info, { size: content.length });
    const since = shared.log().length;
    const first = await hubspot(shared, { folderPath: '/zcc/recordings' }).put(request, bodyOf(content));
    const again = await hubspot(shared, { folderPath: '/zcc/recordings' }).put(request, bodyOf(content));
    expect(again.location).toBe(first.location);
    expect(requests(shared, '/files/v3/files', since)).toBe(1);
    const [held] = heldFor(shared, info);
    expect(held?.files).toEqual([expect.objectContaining({ key: request.key, size: content.length, sha256: sha256(content) })]);
    expect(held?.internalOnly).toBe(true);
    const stored = shared.files().find((file) => file.id === held!.files[0]!.id)!;
    expect(stored).toMatchObject({ access: 'PRIVATE', folderPath: '/zcc/recordings' });
    expect(await sha256Of(await hubspot().read(first.location))).toBe(sha256(content));
  });

  it('replaces a file with an edited version of the same size (a long note corrected: teh → the)', async () => {
    const info = engagement();
    const request = noteRequest(info, 'LongEdit', { extension: 'txt', contentType: 'text/plain' });
    const first = await hubspot().put(request, bodyOf(`teh ${'x'.repeat(70_000)}`));
    const second = await hubspot().put({ ...request, previousLocation: first.location }, bodyOf(`the ${'x'.repeat(70_000)}`));
    expect(second.location).not.toBe(first.location);
    const chunks: Buffer[] = [];
    for await (const chunk of await hubspot().read(second.location)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString('utf8').startsWith('the ')).toBe(true);
    expect(heldFor(shared, info)[0]!.files).toHaveLength(1);
  });

  it('streams a body too large to hold (no Content-Length known) and the fake keeps no partial upload when it breaks', async () => {
    const info = engagement();
    const filesBefore = shared.files().length;
    let sent = 0;
    const breaking = new Readable({
      read() {
        sent += 1;
        if (sent <= 160) this.push(Buffer.alloc(64 * 1024, sent));
        else this.destroy(new Error('download reset'));
      },
    });
    await expect(hubspot().put(recordingRequest(info), breaking)).rejects.toThrow(/reset/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(shared.files().length).toBe(filesBefore);
    expect(heldFor(shared, info).flatMap((record) => record.files)).toEqual([]);
  });

  it('a file over the limit becomes a link when linkTemplate is set: no body wanted, a link note written', async () => {
    const fake = await startHubspotFake({ fileLimitBytes: 1_000 });
    try {
      const destination = hubspot(fake, { linkTemplate: 'https://recordings.example.com/{key}' });
      const info = engagement();
      const request = recordingRequest(info, { size: 5_000 });
      expect(destination.wantsBody?.(request)).toBe(false);
      const { location } = await destination.put({ ...request, linkOnly: { size: 5_000 } }, Readable.from([]));
      expect(location).toMatch(/^note\//);
      expect(requests(fake, '/files/v3/files')).toBe(0);
      const [text] = heldFor(fake, info)[0]!.texts;
      expect(text?.text).toContain(`Zoom recording: https://recordings.example.com/${request.key}`);
      expect(text?.text).toContain('over HubSpot');
      expect(fake.contractErrors).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it('the fake refuses an upload over its limit and keeps nothing', async () => {
    const fake = await startHubspotFake({ fileLimitBytes: 1_000 });
    try {
      const destination = hubspot(fake, { maxFileBytes: 10_000 });
      const info = engagement();
      await expect(destination.put(recordingRequest(info, { size: 5_000 }), bodyOf(Buffer.alloc(5_000)))).rejects.toThrow(/413/);
      expect(fake.files()).toEqual([]);
    } finally {
      await fake.close();
    }
  });
});

describe('hubspot: credentials and limits', () => {
  it('sends the static token as Bearer on every API request, with no token endpoint', async () => {
    const fake = await startHubspotFake();
    try {
      await hubspot(fake).put(noteRequest(engagement()), noteBody('x'));
      expect(fake.log().length).toBeGreaterThan(0);
      expect(fake.log().every((entry) => entry.status < 400)).toBe(true);
    } finally {
      await fake.close();
    }
  });

  it('refused credentials stop the destination after one request; later puts fail fast without a request', async () => {
    const fake = await startHubspotFake();
    try {
      const destination = hubspot(fake, {}, fake.badEnv());
      await expect(destination.put(noteRequest(engagement()), noteBody('x'))).rejects.toThrow(DestinationUnavailableError);
      expect(fake.log()).toHaveLength(1);
      expect(fake.log()[0]?.status).toBe(401);
      await expect(destination.put(noteRequest(engagement()), noteBody('y'))).rejects.toThrow(/HubSpot refused the credentials: 401 INVALID_AUTHENTICATION/);
      expect(fake.log()).toHaveLength(1);
      const message = String(await destination.put(noteRequest(engagement()), noteBody('z')).catch((error: unknown) => error));
      expect(message).not.toContain(fake.badEnv()['HUBSPOT_FAKE_ACCESS_TOKEN']!.slice(0, 12));
    } finally {
      await fake.close();
    }
  });

  it('a token revoked mid-run is refused credentials, never a refresh: one 401, then nothing', async () => {
    const fake = await startHubspotFake();
    try {
      const destination = hubspot(fake);
      await destination.put(noteRequest(engagement()), noteBody('before'));
      fake.revokeToken();
      await expect(destination.put(noteRequest(engagement()), noteBody('after'))).rejects.toThrow(DestinationUnavailableError);
      expect(fake.log().filter((entry) => entry.status === 401)).toHaveLength(1);
      await expect(destination.put(noteRequest(engagement()), noteBody('later'))).rejects.toThrow(DestinationUnavailableError);
      expect(fake.log().filter((entry) => entry.status === 401)).toHaveLength(1);
    } finally {
      await fake.close();
    }
  });

  it('a TEN_SECONDLY_ROLLING 429 pauses every request of the destination until Retry-After', async () => {
    const fake = await startHubspotFake();
    try {
      const destination = hubspot(fake);
      const infos = [engagement(), engagement(), engagement(), engagement()];
      await destination.put(noteRequest(infos[0]!, 'warm'), noteBody('warm up'));
      fake.faults.rateLimitStorm(1);
      await Promise.all(infos.map((info, index) => destination.put(noteRequest(info, `N${index}`), noteBody(`n${index}`))));
      const limited = fake.log().find((entry) => entry.status === 429)!;
      expect(limited.retryAfterMs).toBe(1000);
      // Requests already on the wire when the 429 went out may land just after it; none starts inside the pause.
      const inside = fake.log().filter((entry) => entry.at > limited.at + 50 && entry.at < limited.at + 950);
      expect(inside).toEqual([]);
      expect(fake.log().filter((entry) => entry.at >= limited.at + 950).length).toBeGreaterThan(0);
      for (const info of infos) expect(heldFor(fake, info)[0]?.texts.length).toBeGreaterThan(0);
    } finally {
      await fake.close();
    }
  });

  it('the DAILY policy ends the destination for the run; later puts fail fast', async () => {
    const fake = await startHubspotFake();
    try {
      const destination = hubspot(fake);
      fake.faults.dailyLimit(true);
      await expect(destination.put(noteRequest(engagement()), noteBody('x'))).rejects.toThrow(/daily API limit/);
      const seen = fake.log().length;
      expect(seen).toBe(1);
      await expect(destination.put(noteRequest(engagement()), noteBody('y'))).rejects.toThrow(DestinationUnavailableError);
      expect(fake.log().length).toBe(seen);
    } finally {
      await fake.close();
    }
  });

  it('classifies HubSpot answers like the official SDK', () => {
    const classify = hubspotClassifier('HUBSPOT_ACCESS_TOKEN');
    const answer = (statusCode: number, body: unknown, headers: Record<string, string> = {}) => ({ statusCode, headers, body: JSON.stringify(body) });
    const rate = (policyName?: string, message = 'You have reached your ten secondly limit.') => ({ status: 'error', message, errorType: 'RATE_LIMIT', correlationId: 'c', ...(policyName ? { policyName } : {}) });
    expect(classify(answer(429, rate('TEN_SECONDLY_ROLLING')))).toEqual({ type: 'rate-limit', waitMs: 10_000 });
    expect(classify(answer(429, rate('TEN_SECONDLY_ROLLING'), { 'retry-after': '3' }))).toEqual({ type: 'rate-limit', waitMs: 3_000 });
    expect(classify(answer(429, rate(undefined, 'You have reached your secondly limit.')))).toEqual({ type: 'rate-limit', waitMs: 1_000 });
    expect(classify(answer(429, rate('DAILY', 'You have reached your daily limit.')))).toEqual({ type: 'daily-limit', message: 'You have reached your daily limit.' });
    expect(classify(answer(401, { status: 'error', category: 'EXPIRED_AUTHENTICATION', message: 'expired' }))).toMatchObject({ type: 'auth-refused' });
    expect(classify(answer(403, { status: 'error', category: 'MISSING_SCOPES', message: 'scopes' }))).toBeNull();
    expect(classify(answer(400, { status: 'error', category: 'VALIDATION_ERROR', message: 'bad' }))).toBeNull();
  });

  it('a secondly-limited contact search waits and goes on', async () => {
    const fake = await startHubspotFake({ searchIndexLagMs: 0 });
    try {
      fake.addContact({ phone: '+4930777' });
      fake.searchStorm(1);
      const info = engagement({ consumers: [{ number: '+4930777' }] });
      await hubspot(fake, { record: { match: 'contact' } }).put(noteRequest(info), noteBody('x'));
      const searches = fake.log().filter((entry) => entry.path === '/crm/v3/objects/contacts/search');
      expect(searches.map((entry) => entry.status)).toEqual([429, 200]);
      expect(searches[1]!.at - searches[0]!.at).toBeGreaterThanOrEqual(900);
    } finally {
      await fake.close();
    }
  });
});

describe('the HubSpot fake is strict where HubSpot is', () => {
  async function call(method: string, path: string, body?: unknown, token: string | null = shared.token) {
    const response = await fetch(`${shared.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }
  const upsertCall = (properties: Record<string, unknown>, idProperty = 'zcc_key', id = `strict/${++serial}`) =>
    call('POST', '/crm/v3/objects/calls/batch/upsert', { inputs: [{ idProperty, id, properties }] });

  it('refuses a request without credentials with HubSpot\'s 401 body', async () => {
    const answer = await call('POST', '/crm/v3/objects/calls/batch/read', { inputs: [], properties: [], propertiesWithHistory: [] }, null);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('x-hubspot-auth-failure')).toBe('401 Unauthorized');
    expect(answer.body).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION' });
  });

  it('takes only string property values, a hs_timestamp on create, known properties and a unique idProperty', async () => {
    expect((await upsertCall({ hs_timestamp: 1773480000000 })).status).toBe(400);
    const missing = await upsertCall({ hs_call_title: 'no time' });
    expect(missing.status).toBe(400);
    expect(String(missing.body['message'])).toContain('hs_timestamp');
    expect((await upsertCall({ hs_timestamp: '1773480000000', hs_call_colour: 'red' })).body['message']).toMatch(/PROPERTY_DOESNT_EXIST/);
    expect((await upsertCall({ hs_timestamp: '1773480000000', hs_call_direction: 'SIDEWAYS' })).status).toBe(400);
    expect((await upsertCall({ hs_timestamp: '1773480000000' }, 'hs_call_title')).body['message']).toMatch(/not a unique identifier/);
    const ok = await upsertCall({ hs_timestamp: '1773480000000' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-hubspot-ratelimit-daily')).toBeTruthy();
    expect(ok.headers.get('x-hubspot-ratelimit-remaining')).toBeTruthy();
  });

  it('caps hs_note_body at 65,536 characters and refuses duplicate ids in one batch', async () => {
    const note = (id: string, body: string) => ({ idProperty: 'zcc_key', id, properties: { hs_timestamp: '1773480000000', hs_note_body: body } });
    const over = await call('POST', '/crm/v3/objects/notes/batch/upsert', { inputs: [note(`cap/${++serial}`, 'x'.repeat(NOTE_BODY_LIMIT + 1))] });
    expect(over.status).toBe(400);
    const at = await call('POST', '/crm/v3/objects/notes/batch/upsert', { inputs: [note(`cap/${++serial}`, 'x'.repeat(NOTE_BODY_LIMIT))] });
    expect(at.status).toBe(200);
    const twice = await call('POST', '/crm/v3/objects/notes/batch/upsert', { inputs: [note('dup', 'a'), note('dup', 'b')] });
    expect(twice.body['message']).toMatch(/Duplicate IDs/);
  });

  it('checks bodies against the spec: search needs every documented field, unknown paths are 404', async () => {
    const partial = await call('POST', '/crm/v3/objects/contacts/search', { filterGroups: [] });
    expect(partial.status).toBe(400);
    expect(partial.body['category']).toBe('VALIDATION_ERROR');
    expect((await call('GET', '/crm/v3/objects/widgets/1')).status).toBe(404);
  });

  it('the rolling ten-second window answers TEN_SECONDLY_ROLLING with rate headers and no Retry-After', async () => {
    const fake = await startHubspotFake({ tenSecondlyMax: 3 });
    try {
      const read = () =>
        fetch(`${fake.url}/crm/v3/objects/calls/batch/read`, {
          method: 'POST',
          headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [], properties: [], propertiesWithHistory: [] }),
        });
      const answers = [];
      for (let i = 0; i < 4; i += 1) answers.push(await read());
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429]);
      const limited = answers[3]!;
      expect(limited.headers.get('retry-after')).toBeNull();
      expect(limited.headers.get('x-hubspot-ratelimit-remaining')).toBe('0');
      expect(await limited.json()).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
    } finally {
      await fake.close();
    }
  });

  it('search does not see a contact until the index catches up', async () => {
    const phone = `+49${Date.now()}`;
    shared.addContact({ phone });
    const search = () =>
      call('POST', '/crm/v3/objects/contacts/search', { filterGroups: [{ filters: [{ propertyName: 'phone', operator: 'EQ', value: phone }] }], properties: [], limit: 1, sorts: [], after: '0' });
    expect((await search()).body['total']).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await search()).body['total']).toBe(1);
  });
});
