// The Zendesk destination against a strict fake of the Ticketing API on loopback: the shared conformance suite, then
// what is Zendesk's own (both auth flows, the shared 429 pause and stops, comments that cannot be edited, several
// entries per comment, crash safety by marker, uploads, links for files over the limit).
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { ArtifactKind, EngagementInfo } from '../../src/artifacts.js';
import { zendeskDestinationSchema } from '../../src/config-schema.js';
import type { CrmDestination } from '../../src/destinations/crm/engine.js';
import { classifyZendesk, createZendeskDestination } from '../../src/destinations/zendesk.js';
import { DestinationUnavailableError } from '../../src/errors.js';
import { bodyOf, destinationConformance, failingBody, sampleRequest, sha256, sha256Of } from './conformance.js';
import { startZendeskFake, type ZendeskFake, type ZendeskFakeOptions } from './servers/crm/zendesk.js';

const MiB = 1024 * 1024;

interface Opened {
  fake: ZendeskFake;
  destination: CrmDestination;
}

const opened: Opened[] = [];
afterEach(async () => {
  for (const { fake, destination } of opened.splice(0)) {
    await destination.close().catch(() => undefined);
    await fake.close();
  }
});

async function open(fakeOptions: ZendeskFakeOptions = {}, extra: Record<string, unknown> = {}, env?: (fake: ZendeskFake) => Record<string, string>): Promise<Opened> {
  const fake = await startZendeskFake(fakeOptions);
  const config = zendeskDestinationSchema.parse(fake.destinationConfig('desk', { retry: { limit: 3, maxBackoff: 'PT0.2S', maxRetryAfter: 'PT5S' }, ...extra }));
  let destination: CrmDestination;
  try {
    destination = createZendeskDestination(config, env ? env(fake) : fake.env(), { groupDelayMs: 30 });
  } catch (error) {
    await fake.close();
    throw error;
  }
  const result = { fake, destination };
  opened.push(result);
  return result;
}

const engagement: EngagementInfo = {
  engagementId: 'Eng001',
  startTime: '2026-03-14T09:20:00Z',
  endTime: '2026-03-14T09:26:53Z',
  direction: 'inbound',
  channel: 'voice',
  queueName: 'Billing',
  agents: [{ userId: 'u1', displayName: 'Alice Agent' }],
  consumers: [{ displayName: 'Carl Customer', number: '+1 513 555 7611' }],
};

function note(id: string, overrides: Partial<Parameters<typeof sampleRequest>[0]> = {}) {
  return sampleRequest({ key: `note/Eng001/${id}`, kind: 'note' as ArtifactKind, extension: 'json', contentType: 'application/json', engagement, ...overrides });
}

const noteBody = (text: string) => bodyOf(JSON.stringify({ note: text, user_id: 'u1', last_modified_time: '2026-03-14T09:30:00Z' }));

async function textOf(destination: CrmDestination, location: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await destination.read(location)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const apiRequests = (fake: ZendeskFake) => fake.log().filter((entry) => !entry.token);

destinationConformance(
  'zendesk',
  async () => {
    const { fake, destination } = await open({ fileLimitBytes: 200 * MiB });
    opened.pop();
    return { destination, cleanup: () => fake.close() };
  },
  // The engine holds up to 8 MiB of a body to keep it replayable, and the 1 MiB chunks of the source are garbage
  // collected lazily: half the body is still far from holding it.
  { crm: true, largeBytes: 128 * MiB, maxRssGrowthBytes: 64 * MiB },
);

describe('Zendesk destination', () => {
  it('creates one private ticket per engagement, by external_id with an Idempotency-Key, and writes notes as private comments', async () => {
    const { fake, destination } = await open();
    const first = await destination.put(note('N1'), noteBody('Kunde möchte Rückruf'));
    const second = await destination.put(note('N2'), noteBody('second note'));
    const [record] = fake.records();
    expect(fake.records()).toHaveLength(1);
    expect(record).toMatchObject({ externalId: 'zcc:Eng001', engagementId: 'Eng001', internalOnly: true });
    expect(record!.texts.map((text) => text.key)).toEqual(['note/Eng001/N1', 'note/Eng001/N2']);
    const creates = fake.requests().filter((request) => request.method === 'POST' && request.path === '/api/v2/tickets');
    expect(creates).toHaveLength(1);
    expect(creates[0]).toMatchObject({ status: 201, lookup: 'miss', auth: 'basic' });
    expect(creates[0]!.idempotency).toMatch(/^zcc-[0-9a-f]{40}$/);
    const comments = fake.comments(Number(record!.id));
    expect(comments.every((comment) => !comment.public)).toBe(true);
    // The first comment tells the agent what the engagement was; it carries no marker.
    expect(comments[0]!.body).toContain('Zoom Contact Center engagement Eng001');
    expect(comments[0]!.body).toContain('Alice Agent');
    expect(comments[0]!.body).not.toContain('[zcc:');
    // Readable lines: the header names the artifact, the note its author, the marker comes last.
    const text = await textOf(destination, first.location);
    expect(text).toBe('Note by Alice Agent at 2026-03-14T09:30:00Z:\nKunde möchte Rückruf\n[zcc:note/Eng001/N1]');
    expect(comments.some((comment) => comment.body.includes('── Zoom note (engagement Eng001) ──\nNote by Alice Agent'))).toBe(true);
    expect(second.location).toMatch(/^comment\/\d+\/\d+\/note%2FEng001%2FN2$/);
  });

  it('puts several entries for one ticket into one comment (one ticket update)', async () => {
    const { fake, destination } = await open();
    await destination.put(note('N0'), noteBody('creates the ticket'));
    const before = fake.requests().filter((request) => request.method === 'PUT').length;
    const locations = await Promise.all(Array.from({ length: 12 }, (_, i) => destination.put(note(`B${i}`), noteBody(`batched ${i}`))));
    const puts = fake.requests().filter((request) => request.method === 'PUT').length - before;
    expect(puts).toBe(1);
    expect(new Set(locations.map((result) => result.location.split('/')[2])).size).toBe(1);
    for (const [i, result] of locations.entries()) expect(await textOf(destination, result.location)).toContain(`batched ${i}`);
    expect(fake.records()[0]!.texts).toHaveLength(13);
  });

  it('an edited note becomes one new comment saying it replaces the earlier version, never a plain duplicate', async () => {
    const { fake, destination } = await open();
    const request = note('N1');
    const first = await destination.put(request, noteBody('first words'));
    const edited = await destination.put({ ...request, previousLocation: first.location }, noteBody('edited words'));
    expect(edited.location).not.toBe(first.location);
    const texts = fake.records()[0]!.texts.filter((text) => text.key === request.key);
    expect(texts).toHaveLength(2);
    expect(texts[1]!.text).toContain(`edited: replaces the earlier version (comment ${first.location.split('/')[2]})`);
    expect(texts[1]!.text).toContain('edited words');
    expect((await destination.stat(request))?.location).toBe(edited.location);
    // The same edit again (a crash before the ledger heard): nothing new.
    await destination.put({ ...request, previousLocation: first.location }, noteBody('edited words'));
    expect(fake.records()[0]!.texts.filter((text) => text.key === request.key)).toHaveLength(2);
  });

  it('a crash after Zendesk took a write (the same key again, no previousLocation) creates nothing new', async () => {
    const { fake, destination } = await open();
    const text = note('N1');
    const file = sampleRequest({ engagement });
    const textFirst = await destination.put(text, noteBody('once'));
    const fileFirst = await destination.put(file, bodyOf('recording bytes'));
    const writes = fake.requests().filter((request) => request.method !== 'GET').length;
    // A new process: no record cache.
    const config = zendeskDestinationSchema.parse(fake.destinationConfig('desk'));
    const again = createZendeskDestination(config, fake.env(), { groupDelayMs: 10 });
    try {
      expect((await again.put(text, noteBody('once'))).location).toBe(textFirst.location);
      expect((await again.put(file, bodyOf('recording bytes'))).location).toBe(fileFirst.location);
    } finally {
      await again.close();
    }
    expect(fake.requests().filter((request) => request.method !== 'GET').length).toBe(writes);
    expect(fake.records()).toHaveLength(1);
  });

  it('several tickets with our external_id: the oldest is used, every time', async () => {
    const { fake, destination } = await open();
    const oldest = fake.seedTicket('zcc:Eng001', Date.now() - 60_000);
    fake.seedTicket('zcc:Eng001');
    const { location } = await destination.put(note('N1'), noteBody('goes to the oldest'));
    expect(location.split('/')[1]).toBe(String(oldest));
    expect(fake.requests().filter((request) => request.method === 'POST' && request.path === '/api/v2/tickets')).toEqual([]);
  });

  it('a ticket agents closed gets a follow-up (via_followup_source_id, same external_id): later entries land there, in this run and the next', async () => {
    const { fake, destination } = await open();
    const request = note('N1');
    const first = await destination.put(request, noteBody('before closing'));
    const closed = Number(first.location.split('/')[1]);
    const putsToClosed = () => fake.requests().filter((entry) => entry.method === 'PUT' && entry.path === `/api/v2/tickets/${closed}`).map((entry) => entry.status);
    expect(putsToClosed()).toEqual([200]);
    fake.closeTicket(closed);

    // The engine still holds the closed ticket as the engagement's record: the write finds it closed (422), the
    // follow-up is made, and the note goes there.
    const second = await destination.put(note('N2'), noteBody('after closing'));
    const followUp = Number(second.location.split('/')[1]);
    expect(followUp).not.toBe(closed);
    expect(fake.ticket(closed)).toMatchObject({ status: 'closed', followupIds: [followUp] });
    expect(fake.ticket(followUp)).toMatchObject({ externalId: 'zcc:Eng001', status: 'new', tags: ['zoom_contact_center'] });
    expect(fake.comments(followUp)[0]!.body).toContain(`Follow-up of closed ticket #${closed}`);
    expect(await textOf(destination, second.location)).toContain('after closing');
    expect(putsToClosed()).toEqual([200, 422]);

    // More writes in this run, a file and an edit of the note on the closed ticket, go straight to the follow-up.
    const file = await destination.put(sampleRequest({ engagement, kind: 'voicemail', key: 'voicemail/VM1', extension: 'mp3', contentType: 'audio/mpeg' }), bodyOf('voicemail bytes'));
    expect(file.location.split('/')[1]).toBe(String(followUp));
    const edited = await destination.put({ ...request, previousLocation: first.location }, noteBody('edited after closing'));
    expect(edited.location.split('/')[1]).toBe(String(followUp));
    expect(await textOf(destination, edited.location)).toContain('edited after closing');
    const editComment = fake.comments(followUp).find((comment) => comment.id === Number(edited.location.split('/')[2]));
    expect(editComment?.body).toContain(`edited: replaces the earlier version (comment ${first.location.split('/')[2]})`);
    expect(putsToClosed()).toEqual([200, 422]);
    // What stays on the closed ticket is still read and found.
    expect(await textOf(destination, first.location)).toContain('before closing');

    // The next run (no cache) finds the open follow-up by external_id: no 422, no third ticket.
    const config = zendeskDestinationSchema.parse(fake.destinationConfig('desk'));
    const next = createZendeskDestination(config, fake.env(), { groupDelayMs: 10 });
    try {
      const third = await next.put(note('N3'), noteBody('next night'));
      expect(third.location.split('/')[1]).toBe(String(followUp));
      expect((await next.stat(note('N2')))?.location).toBe(second.location);
      expect((await next.stat(request))?.location).toBe(edited.location);
    } finally {
      await next.close();
    }
    expect(fake.requests().filter((entry) => entry.method === 'POST' && entry.path === '/api/v2/tickets')).toHaveLength(2);
    expect(putsToClosed()).toEqual([200, 422]);
  });

  it('finds an entry that only the closed ticket of a follow-up chain holds', async () => {
    const { fake, destination } = await open();
    const first = await destination.put(note('N1'), noteBody('only on the closed ticket'));
    const closed = Number(first.location.split('/')[1]);
    fake.closeTicket(closed);
    const later = await destination.put(note('N2'), noteBody('on the follow-up'));
    expect(later.location.split('/')[1]).not.toBe(String(closed));
    const config = zendeskDestinationSchema.parse(fake.destinationConfig('desk'));
    const next = createZendeskDestination(config, fake.env(), { groupDelayMs: 10 });
    try {
      expect((await next.stat(note('N1')))?.location).toBe(first.location);
      expect(await next.stat(note('N9'))).toBeNull();
    } finally {
      await next.close();
    }
  });

  it('two processes writing to the same closed ticket make one follow-up; a closed follow-up gets its own', async () => {
    const { fake, destination } = await open();
    const first = await destination.put(note('N1'), noteBody('before closing'));
    const closed = Number(first.location.split('/')[1]);
    fake.closeTicket(closed);
    const config = zendeskDestinationSchema.parse(fake.destinationConfig('desk'));
    const other = createZendeskDestination(config, fake.env(), { groupDelayMs: 10 });
    try {
      const [a, b] = await Promise.all([destination.put(note('N2'), noteBody('from the run')), other.put(note('N3'), noteBody('from listen'))]);
      expect(a.location.split('/')[1]).toBe(b.location.split('/')[1]);
      const followUp = Number(a.location.split('/')[1]);
      expect(fake.ticket(closed)?.followupIds).toEqual([followUp]);

      fake.closeTicket(followUp);
      const c = await destination.put(note('N4'), noteBody('after the follow-up closed too'));
      const second = Number(c.location.split('/')[1]);
      expect(second).not.toBe(followUp);
      expect(second).not.toBe(closed);
      expect(fake.ticket(followUp)?.followupIds).toEqual([second]);
    } finally {
      await other.close();
    }
  });

  it('record.match "contact" hangs the ticket under the end user found by phone; record.create false only finds', async () => {
    const { fake, destination } = await open({ users: [{ name: 'Carl Customer', phone: '+1 (513) 555-7611' }] }, { record: { match: 'contact' } });
    await destination.put(note('N1'), noteBody('hello'));
    const searches = fake.requests().filter((request) => request.path === '/api/v2/search');
    expect(searches).toHaveLength(1);
    expect(fake.ticket(Number(fake.records()[0]!.id))?.requesterId).toBe(fake.userId('Carl Customer'));
    expect(fake.comments(Number(fake.records()[0]!.id))[0]!.body).toContain('Carl Customer +1 513 555 7611');
    const onlyFind = await open({}, { record: { create: false } });
    await expect(onlyFind.destination.put(note('N1'), noteBody('x'))).rejects.toThrow(/no Zendesk record for engagement Eng001, and record.create is false/);
    expect(onlyFind.fake.records()).toEqual([]);
  });

  it('uploads a file raw and attaches it by token to a private comment; a replaced file is uploaded before the old is redacted', async () => {
    const { fake, destination } = await open();
    const request = sampleRequest({ engagement, kind: 'voicemail', key: 'voicemail/VM1', extension: 'mp3', contentType: 'audio/mpeg' });
    const first = await destination.put(request, bodyOf('first voicemail'));
    const upload = fake.requests().find((entry) => entry.path === '/api/v2/uploads');
    expect(upload?.status).toBe(201);
    expect(fake.records()[0]!.files).toEqual([expect.objectContaining({ key: 'voicemail/VM1', fileName: 'voicemail-VM1.mp3', size: 15, sha256: sha256('first voicemail') })]);
    const second = await destination.put({ ...request, previousLocation: first.location }, bodyOf('the second voicemail'));
    const paths = fake.requests().map((entry) => `${entry.method} ${entry.path}`);
    expect(paths.lastIndexOf('POST /api/v2/uploads')).toBeLessThan(paths.findIndex((entry) => entry.endsWith('/redact')));
    expect(fake.records()[0]!.files).toEqual([expect.objectContaining({ size: 20, sha256: sha256('the second voicemail') })]);
    expect(await sha256Of(await destination.read(second.location))).toBe(sha256('the second voicemail'));
    expect(fake.comments(Number(fake.records()[0]!.id)).every((comment) => !comment.public)).toBe(true);
  });

  it('an upload cut off midway leaves nothing held at Zendesk; an upload whose comment is refused is deleted', async () => {
    const { fake, destination } = await open({ maxComments: 2 });
    await destination.put(note('N1'), noteBody('the second and last comment this ticket takes'));
    await expect(destination.put(sampleRequest({ engagement }), failingBody())).rejects.toThrow('reset');
    expect(fake.heldUploads()).toBe(0);
    await expect(destination.put(sampleRequest({ engagement }), bodyOf('refused'))).rejects.toThrow(/422.*limit of 2 comments/);
    expect(fake.requests().some((entry) => entry.method === 'DELETE' && entry.path.startsWith('/api/v2/uploads/') && entry.status === 204)).toBe(true);
    expect(fake.heldUploads()).toBe(0);
  });

  it('an upload token Zendesk drops (expired) fails the put and leaves no marker that would pass for the file', async () => {
    const { fake, destination } = await open({ uploadTokenLifetimeMs: 0 });
    const request = sampleRequest({ engagement });
    await expect(destination.put(request, bodyOf('late'))).rejects.toThrow(/upload token was dropped/);
    expect(fake.records()[0]!.files).toEqual([]);
    expect(fake.records()[0]!.texts).toEqual([]);
    expect(await destination.stat(request)).toBeNull();
  });

  it('a file over the limit with a linkTemplate becomes a private link comment, nothing is downloaded or uploaded', async () => {
    const { fake, destination } = await open({ fileLimitBytes: 1000 }, { linkTemplate: 'https://recordings.example.com/{key}' });
    const request = sampleRequest({ engagement, size: 5000 });
    expect(destination.wantsBody(request)).toBe(false);
    expect(destination.wantsBody({ ...request, size: 500 })).toBe(true);
    const { location } = await destination.put({ ...request, size: undefined, linkOnly: { size: 5000 } }, Readable.from([]));
    const text = await textOf(destination, location);
    expect(text).toContain(`https://recordings.example.com/${request.key}`);
    expect(text).toContain('over Zendesk');
    expect(fake.requests().some((entry) => entry.path === '/api/v2/uploads')).toBe(false);
    expect(fake.records()[0]!.files).toEqual([]);
  });

  it('a 429 pauses every request of the destination until Retry-After', async () => {
    const { fake, destination } = await open();
    await destination.put(note('N0'), noteBody('ticket'));
    fake.faults.rateLimitStorm(1);
    const started = Date.now();
    await Promise.all([
      destination.put(sampleRequest({ engagement }), bodyOf('a')),
      destination.put(sampleRequest({ engagement }), bodyOf('b')),
      destination.put(note('N1'), noteBody('c')),
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const log = apiRequests(fake);
    const limited = log.find((entry) => entry.status === 429)!;
    expect(limited.retryAfterMs).toBe(1000);
    const inside = log.filter((entry) => entry.at > limited.at + 100 && entry.at < limited.at + 950);
    expect(inside).toEqual([]);
  });

  it('the per-ticket limit (30 updates per 10 minutes) answers 429 text/plain with Retry-After; a wait that long stops the destination', async () => {
    const { fake, destination } = await open({ ticketUpdatesPer10Minutes: 2 });
    await destination.put(sampleRequest({ engagement }), bodyOf('one'));
    await destination.put(sampleRequest({ engagement }), bodyOf('two'));
    await expect(destination.put(sampleRequest({ engagement }), bodyOf('three'))).rejects.toThrow(DestinationUnavailableError);
    const limited = fake.log().find((entry) => entry.status === 429)!;
    expect(limited.retryAfterMs).toBeGreaterThan(500_000);
    const count = fake.log().length;
    await expect(destination.put(note('N9'), noteBody('later'))).rejects.toThrow(/asks to wait/);
    expect(fake.log().length).toBe(count);
  });

  it('a spent allowance (a Retry-After beyond retry.maxRetryAfter) ends the work; later puts fail with no request', async () => {
    const { fake, destination } = await open();
    fake.faults.dailyLimit(true);
    await expect(destination.put(note('N1'), noteBody('x'))).rejects.toThrow(DestinationUnavailableError);
    const count = fake.log().length;
    expect(count).toBe(1);
    await expect(destination.put(note('N2'), noteBody('y'))).rejects.toThrow(DestinationUnavailableError);
    expect(fake.log().length).toBe(count);
  });

  it('refused API token: DestinationUnavailableError after one request, then fails fast', async () => {
    const { fake, destination } = await open({}, {}, (served) => served.badEnv());
    await expect(destination.put(note('N1'), noteBody('x'))).rejects.toThrow(/refused the credentials: 401 Couldn't authenticate you/);
    expect(fake.log()).toHaveLength(1);
    await expect(destination.put(note('N2'), noteBody('y'))).rejects.toThrow(DestinationUnavailableError);
    expect(fake.log()).toHaveLength(1);
  });

  it('OAuth: one token for concurrent requests, cached, refreshed and replayed once after Zendesk expires it', async () => {
    const { fake, destination } = await open({ auth: 'oauth', tokenLifetimeSeconds: null }, { auth: 'oauth' });
    await Promise.all([destination.put(note('N1'), noteBody('a')), destination.put(sampleRequest({ engagement }), bodyOf('file'))]);
    expect(fake.log().filter((entry) => entry.token)).toHaveLength(1);
    expect(fake.requests().filter((request) => !request.path.startsWith('/oauth')).every((request) => request.auth === 'bearer')).toBe(true);
    fake.faults.expireTokens();
    await destination.put(note('N2'), noteBody('b'));
    expect(fake.log().filter((entry) => entry.token)).toHaveLength(2);
    expect(fake.log().filter((entry) => entry.status === 401)).toHaveLength(1);
  });

  it('OAuth: a token with expires_in is fetched again before it runs out', async () => {
    const { fake, destination } = await open({ auth: 'oauth', tokenLifetimeSeconds: 61 }, { auth: 'oauth' });
    await destination.put(note('N1'), noteBody('a'));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await destination.put(note('N2'), noteBody('b'));
    expect(fake.log().filter((entry) => entry.token)).toHaveLength(2);
    expect(fake.log().some((entry) => entry.status === 401)).toBe(false);
  });

  it('OAuth: a refused client fails after the one token request, and later puts send nothing', async () => {
    const { fake, destination } = await open({ auth: 'oauth' }, { auth: 'oauth' }, (served) => served.badEnv());
    await expect(Promise.all([destination.put(note('N1'), noteBody('x')), destination.put(note('N2'), noteBody('y'))])).rejects.toThrow(DestinationUnavailableError);
    await expect(destination.put(note('N3'), noteBody('z'))).rejects.toThrow(/refused the credentials at \/oauth\/tokens: invalid_client/);
    expect(fake.log()).toHaveLength(1);
    expect(fake.log()[0]!.token).toBe(true);
  });

  it('classifies Zendesk answers', () => {
    const answer = (statusCode: number, body: string, headers: Record<string, string> = {}) => ({ statusCode, body, headers });
    expect(classifyZendesk(false)(answer(429, 'Number of allowed API requests per minute exceeded', { 'retry-after': '7' }))).toEqual({ type: 'rate-limit', waitMs: 7000 });
    expect(classifyZendesk(true)(answer(401, '{"error":"invalid_token","error_description":"expired"}'))).toEqual({ type: 'auth-expired' });
    expect(classifyZendesk(false)(answer(401, '{"error":"invalid_token"}'))).toMatchObject({ type: 'auth-refused' });
    expect(classifyZendesk(true)(answer(401, '{"error":"Couldn\'t authenticate you"}'))).toEqual({ type: 'auth-refused', message: "401 Couldn't authenticate you" });
    expect(classifyZendesk(false)(answer(404, '{"error":"RecordNotFound"}'))).toBeNull();
  });

  it('the fake is strict: no first comment → 422, comments default to public, unknown paths → InvalidEndpoint', async () => {
    const fake = await startZendeskFake();
    try {
      const auth = `Basic ${Buffer.from(`${fake.credentials.email}/token:${fake.credentials.apiToken}`).toString('base64')}`;
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${fake.url}${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const blank = await call('POST', '/api/v2/tickets', { ticket: { subject: 'x' } });
      expect(blank.status).toBe(422);
      expect(await blank.json()).toMatchObject({ error: 'RecordInvalid', details: { description: [{ description: 'Description: cannot be blank' }] } });
      const created = await call('POST', '/api/v2/tickets', { ticket: { subject: 'x', comment: { body: 'hi' } } });
      const { ticket } = (await created.json()) as { ticket: { id: number; is_public: boolean } };
      expect(ticket.is_public).toBe(true);
      await call('PUT', `/api/v2/tickets/${ticket.id}`, { ticket: { comment: { body: 'no public flag' } } });
      expect(fake.comments(ticket.id).map((comment) => comment.public)).toEqual([true, true]);
      const unknown = await call('GET', '/api/v2/nothing');
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({ error: 'InvalidEndpoint', description: 'Not found' });
      const noAuth = await fetch(`${fake.url}/api/v2/tickets`);
      expect(noAuth.status).toBe(401);
      expect(await noAuth.json()).toEqual({ error: "Couldn't authenticate you" });
      const replay = { ticket: { subject: 'y', comment: { body: 'once', public: false } } };
      const headers = { authorization: auth, 'content-type': 'application/json', 'idempotency-key': 'k1' };
      const one = await fetch(`${fake.url}/api/v2/tickets`, { method: 'POST', headers, body: JSON.stringify(replay) });
      const two = await fetch(`${fake.url}/api/v2/tickets`, { method: 'POST', headers, body: JSON.stringify(replay) });
      expect([one.headers.get('x-idempotency-lookup'), two.headers.get('x-idempotency-lookup')]).toEqual(['miss', 'hit']);
      expect(((await two.json()) as { ticket: { id: number } }).ticket.id).toBe(((await one.json()) as { ticket: { id: number } }).ticket.id);
      // The search index lags behind writes; the tickets list filter does not.
      await call('POST', '/api/v2/tickets', { ticket: { external_id: 'zcc:lag', comment: { body: 'x', public: false } } });
      const searched = (await (await call('GET', `/api/v2/search?query=${encodeURIComponent('type:ticket external_id:zcc:lag')}`)).json()) as { count: number };
      const listed = (await (await call('GET', '/api/v2/tickets?external_id=zcc%3Alag')).json()) as { tickets: unknown[] };
      expect([searched.count, listed.tickets.length]).toEqual([0, 1]);
      // 30 updates per ticket per 10 minutes (one was made above), then 429 text/plain with Retry-After.
      for (let i = 0; i < 29; i += 1) expect((await call('PUT', `/api/v2/tickets/${ticket.id}`, { ticket: { tags: ['x'] } })).status).toBe(200);
      const limited = await call('PUT', `/api/v2/tickets/${ticket.id}`, { ticket: { tags: ['y'] } });
      expect([limited.status, limited.headers.get('content-type')]).toEqual([429, 'text/plain; charset=utf-8']);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(590);
    } finally {
      await fake.close();
    }
  });
});
