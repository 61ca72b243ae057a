// The listener's HTTP front against hostile and odd requests: each gets its documented status, nothing is stored,
// the process stays up; plus the CRC, the body cap, flow calls, /healthz and /metrics.
import { request as httpRequest } from 'node:http';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../src/destinations/memory.js';
import { BODY_LIMIT_BYTES } from '../../src/events/server.js';
import type { SendFaults } from '../../src/sandbox/index.js';
import { NOW } from '../support/harness.js';
import { DAY, FLOW_SECRET, listenHarness, readLedger, waitFor, type ListenHarness } from './support.js';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: target.hostname, port: target.port, path: target.pathname, method: options.method ?? 'POST', headers: options.headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: response.headers }));
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

let t: ListenHarness;
let memory: MemoryDestination;
beforeAll(async () => {
  memory = new MemoryDestination({ name: 'archive' });
  t = await listenHarness({ destinations: [memory] });
});
afterAll(async () => {
  await t.close();
});

const stored = () => readLedger(t.h.ledgerPath, (db) => (db.prepare('SELECT count(*) AS n FROM event_inbox').get() as { n: number }).n);

function noteEvent(object: Record<string, unknown> = {}, event = 'contact_center.engagement_note_added') {
  const [engagementId] = t.h.sandbox.truth.engagementIds({ from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) });
  return { event, event_ts: NOW.getTime(), payload: { account_id: 'Acc001kkkkkkkkkkkkkkkk', object: { engagement_id: engagementId, note_id: 'Not001gggggggggggggggg', note: 'Hello.', ...object } } };
}

function signed(body: unknown, faults: SendFaults = {}, headers: Record<string, string> = {}) {
  const request = t.sender.sign(body, faults);
  return { headers: { ...request.headers, ...headers }, body: request.bytes };
}

type Case = [name: string, make: () => { url: string; method?: string; headers?: Record<string, string>; body?: Buffer | string }, status: number, error?: string];

const webhook = () => t.listener.webhookUrl!;
const flow = () => t.listener.flowUrl!;
const flowHeaders = (bearer?: string): Record<string, string> => ({ 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) });

const hostile: Case[] = [
  ['no signature', () => ({ url: webhook(), ...signed(noteEvent(), { unsigned: true }) }), 401, 'missing_signature'],
  ['a signature made with another secret', () => ({ url: webhook(), ...signed(noteEvent(), { wrongSecret: true }) }), 401, 'bad_signature'],
  ['a stale timestamp (301 s old)', () => ({ url: webhook(), ...signed(noteEvent(), { skewSeconds: 301 }) }), 401, 'stale_timestamp'],
  ['a future timestamp (301 s ahead)', () => ({ url: webhook(), ...signed(noteEvent(), { skewSeconds: -301 }) }), 401, 'stale_timestamp'],
  ['no timestamp', () => { const s = signed(noteEvent()); delete (s.headers as Record<string, string>)['x-zm-request-timestamp']; return { url: webhook(), ...s }; }, 401, 'missing_timestamp'],
  ['a timestamp that is not a number', () => ({ url: webhook(), ...signed(noteEvent(), {}, { 'x-zm-request-timestamp': 'yesterday' }) }), 401, 'bad_timestamp'],
  ['a body over 1 MiB', () => ({ url: webhook(), ...signed(noteEvent({ padding: 'x'.repeat(BODY_LIMIT_BYTES) })) }), 413, 'body_too_large'],
  ['a body over 1 MiB sent without a length (chunked)', () => { const s = signed(noteEvent({ padding: 'x'.repeat(BODY_LIMIT_BYTES) })); delete (s.headers as Record<string, string>)['content-length']; return { url: webhook(), ...s }; }, 413, 'body_too_large'],
  ['a signed body that is not JSON by its content type', () => ({ url: webhook(), ...signed(noteEvent(), {}, { 'content-type': 'text/plain' }) }), 415, 'not_json'],
  ['a signed body that is not valid JSON', () => ({ url: webhook(), ...signed('{"event": "contact_center.engagement_note_added",') }), 400, 'invalid_json'],
  ['a signed JSON body that is not an event', () => ({ url: webhook(), ...signed([1, 2, 3]) }), 400, 'not_an_event'],
  ['an event without its ids', () => ({ url: webhook(), ...signed(noteEvent({ note_id: undefined })) }), 400, 'missing_ids'],
  ['an id with a slash', () => ({ url: webhook(), ...signed(noteEvent({ note_id: 'Not001/../../etc' })) }), 400, 'bad_id'],
  ['an id that is ".."', () => ({ url: webhook(), ...signed(noteEvent({ engagement_id: '..' })) }), 400, 'bad_id'],
  ['a URL validation with a bad signature', () => ({ url: webhook(), ...signed({ event: 'endpoint.url_validation', event_ts: 1, payload: { plainToken: 'abc' } }, { wrongSecret: true }) }), 401, 'bad_signature'],
  ['a GET on the webhook path', () => ({ url: webhook(), method: 'GET' }), 405, 'method_not_allowed'],
  ['a path that does not exist', () => ({ url: `${t.listener.url}/zoom/event`, ...signed(noteEvent()) }), 404],
  ['a flow call without the secret', () => ({ url: flow(), headers: flowHeaders(), body: '{"engagement_id":"Eng1"}' }), 401, 'missing_bearer'],
  ['a flow call with a wrong secret', () => ({ url: flow(), headers: flowHeaders('not-the-secret'), body: '{"engagement_id":"Eng1"}' }), 401, 'bad_bearer'],
  ['a flow call without an engagement id', () => ({ url: flow(), headers: flowHeaders(FLOW_SECRET), body: '{"event":"Engagement Closed"}' }), 400, 'missing_ids'],
  ['a flow call with an id that could escape a path', () => ({ url: flow(), headers: flowHeaders(FLOW_SECRET), body: '{"engagement_id":"../x"}' }), 400, 'bad_id'],
  ['a flow call whose body is not valid JSON', () => ({ url: flow(), headers: flowHeaders(FLOW_SECRET), body: 'engagement_id=Eng1' }), 400, 'invalid_json'],
  ['a flow call that is a form, not JSON', () => ({ url: flow(), headers: { ...flowHeaders(FLOW_SECRET), 'content-type': 'application/x-www-form-urlencoded' }, body: 'engagement_id=Eng1' }), 415, 'not_json'],
  ['a PUT on /healthz', () => ({ url: `${t.listener.url}/healthz`, method: 'PUT' }), 405],
];

describe('listen: hostile requests', () => {
  it.each(hostile)('%s', async (_name, make, status, error) => {
    const before = stored();
    const request = make();
    const answer = await send(request.url, request);
    expect(answer.status).toBe(status);
    if (error) expect(JSON.parse(answer.body)).toEqual({ error });
    if (status === 405) expect(answer.headers.allow).toBeTruthy();
    expect(stored()).toBe(before);
    expect((await send(`${t.listener.url}/healthz`, { method: 'GET' })).status).toBe(200);
  });

  it('answers an event it does not handle with 200 and stores nothing', async () => {
    const before = stored();
    const answer = await send(webhook(), signed(noteEvent({}, 'contact_center.task_created')));
    expect(answer).toMatchObject({ status: 200, body: '{"status":"ignored"}' });
    expect(stored()).toBe(before);
  });

  it('accepts an event whose event_ts is no date (1e20): it is dated when received', async () => {
    const before = stored();
    const answer = await send(webhook(), signed({ ...noteEvent({ note_id: 'NotFarFuture01' }), event_ts: 1e20 }));
    expect(answer).toMatchObject({ status: 200, body: '{"status":"accepted"}' });
    expect(stored()).toBe(before + 1);
  });

  it('stores a replayed delivery once', async () => {
    const before = stored();
    const request = signed(noteEvent({ note_id: 'NotReplay0001' }));
    expect((await send(webhook(), request)).body).toBe('{"status":"accepted"}');
    expect((await send(webhook(), request)).body).toBe('{"status":"duplicate"}');
    expect(stored()).toBe(before + 1);
  });

  it('counts rejections by reason in /metrics', async () => {
    const metrics = await send(`${t.listener.url}/metrics`, { method: 'GET' });
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.body).toMatch(/^zcc_listen_events_rejected_total\{source="webhook",reason="bad_signature"\} [1-9]/m);
    expect(metrics.body).toMatch(/^zcc_listen_events_rejected_total\{source="flow",reason="missing_bearer"\} 1$/m);
    expect(metrics.body).not.toContain(FLOW_SECRET);
  });
});

describe('listen: what a well-behaved Zoom sees', () => {
  it('passes the URL validation (CRC) as Zoom checks it', async () => {
    const before = stored();
    const crc = await t.sender.crc();
    expect(crc).toMatchObject({ passed: true, status: 200 });
    expect(stored()).toBe(before);
  });

  it('accepts a body of exactly 1 MiB', async () => {
    const base = JSON.stringify(noteEvent({ note_id: 'NotBig00001', padding: '' }));
    const body = JSON.stringify(noteEvent({ note_id: 'NotBig00001', padding: 'x'.repeat(BODY_LIMIT_BYTES - Buffer.byteLength(base)) }));
    expect(Buffer.byteLength(body)).toBe(BODY_LIMIT_BYTES);
    const answer = await send(webhook(), signed(body));
    expect(answer).toMatchObject({ status: 200, body: '{"status":"accepted"}' });
  });

  it('accepts a body whose bytes differ from JSON.stringify of its parse', async () => {
    const answer = await send(webhook(), signed(noteEvent({ note_id: 'NotOdd00001', note: 'Straße 5, München' }), { oddSerialisation: true }));
    expect(answer.status).toBe(200);
  });

  it('takes a flow call with the bearer secret and delivers the notes and dispositions of its engagement', async () => {
    const window = { from: new Date(NOW.getTime() - 2 * DAY), to: new Date(NOW.getTime() - DAY) };
    const truth = t.h.sandbox.truth.artifacts(window);
    const withNotes = truth.find((artifact) => artifact.kind === 'note' && truth.some((other) => other.kind === 'disposition' && other.engagementId === artifact.engagementId))!;
    const answer = await send(flow(), { headers: flowHeaders(FLOW_SECRET), body: JSON.stringify({ engagement_id: withNotes.engagementId, event: 'Engagement Closed', extra: { ignored: true } }) });
    expect(answer).toMatchObject({ status: 200, body: '{"status":"accepted"}' });
    const expected = truth.filter((artifact) => artifact.engagementId === withNotes.engagementId && ['note', 'disposition', 'messaging_transcript'].includes(artifact.kind));
    await waitFor(() => expected.every((artifact) => memory.putCount.get(artifact.key) === 1), 'the engagement delivered');
  });

  it('reports unhealthy while events cannot be stored, though a small write still fits, and healthy again once one is', async () => {
    // What a full disk does to SQLite: the file cannot grow (max_page_count at its size), while writes that fit the
    // pages it has still succeed, as a health probe's does.
    const db = (t.listener.ledger as unknown as { db: Database.Database }).db;
    // Free pages are reused whatever the limit: a filler takes them first.
    const freeBytes = (db.pragma('freelist_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
    db.exec('CREATE TABLE test_filler (x BLOB)');
    db.prepare('INSERT INTO test_filler VALUES (zeroblob(?))').run(freeBytes);
    expect(db.pragma('freelist_count', { simple: true })).toBe(0);
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const large = noteEvent({ note_id: 'NotFull00001', note: 'x'.repeat(200_000) });
    try {
      expect((await send(webhook(), signed(large))).status).toBe(503);
      const health = await send(`${t.listener.url}/healthz`, { method: 'GET' });
      expect(JSON.parse(health.body)).toMatchObject({ status: 'unhealthy', ok: false });
      expect(health.status).toBe(503);
    } finally {
      db.pragma('max_page_count = 4294967294');
      db.exec('DROP TABLE test_filler');
    }
    // Zoom's retry of the same event is stored: healthy again.
    expect((await send(webhook(), signed(large))).status).toBe(200);
    expect((await send(`${t.listener.url}/healthz`, { method: 'GET' })).status).toBe(200);
  });

  it('reports health: ledger writable, inbox depth, last event time', async () => {
    const answer = await send(`${t.listener.url}/healthz`, { method: 'GET' });
    expect(answer.status).toBe(200);
    const health = JSON.parse(answer.body);
    expect(health).toMatchObject({ status: 'ok', ok: true, websocket: 'off' });
    expect(typeof health.inboxDepth).toBe('number');
    expect(Date.parse(health.lastEventAt)).toBeGreaterThan(0);
    const metrics = (await send(`${t.listener.url}/metrics`, { method: 'GET' })).body;
    expect(metrics).toMatch(/^zcc_listen_ack_latency_seconds_count [1-9]/m);
    expect(metrics).toMatch(/^zcc_listen_events_accepted_total\{source="flow",event="flow"\} 1$/m);
    expect(metrics).toMatch(/^zcc_listen_inbox_depth \d+$/m);
    expect(metrics).toMatch(/^zcc_listen_deliveries_total\{kind="note",outcome="delivered"\} [1-9]/m);
  });
});
