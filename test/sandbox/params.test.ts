import { afterEach, describe, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { operationFor, validateRequest, validateResponse } from '../support/openapi.js';
import { DAY, MINUTE, call, fakeClock, getToken, items, walk } from './helpers.js';

type Item = Record<string, unknown>;
const NOW = '2026-11-24T12:00:00Z';
let sb: Sandbox;
afterEach(async () => sb?.close());

async function start(): Promise<{ token: string; clock: ReturnType<typeof fakeClock> }> {
  const clock = fakeClock(NOW);
  sb = await startSandbox({ seed: 2, now: clock.now });
  return { token: await getToken(sb), clock };
}

const ENG = '/contact_center/engagements';
const REC = '/contact_center/recordings';
const MSG = '/contact_center/inboxes/messages';

describe('strict parameters', () => {
  test('unknown parameters, bad enums and bad page sizes get 400 code 300 with the field', async () => {
    const { token } = await start();
    const cases: [string, Record<string, string>, string][] = [
      [ENG, { foo: '1' }, 'foo'],
      [ENG, { page_size: '101' }, 'page_size'],
      [ENG, { page_size: '0' }, 'page_size'],
      [ENG, { page_size: 'ten' }, 'page_size'],
      [ENG, { page_size: '2.5' }, 'page_size'],
      [ENG, { channel: 'fax' }, 'channel'],
      [ENG, { channel_sources: 'web_chat,pigeon' }, 'channel_sources'],
      [ENG, { direction: 'sideways' }, 'direction'],
      [ENG, { timezone: 'Mars/Olympus' }, 'timezone'],
      [REC, { page_size: '301' }, 'page_size'],
      [REC, { query_date_type: 'created_at' }, 'query_date_type'],
      [REC, { timezone: 'UTC' }, 'timezone'],
      [REC, { exemption: 'true' }, 'exemption'],
      [MSG, { page_size: '301' }, 'page_size'],
      [MSG, { message_type: 'fax' }, 'message_type'],
      [MSG, { cc_queue_ids: Array.from({ length: 11 }, (_, i) => `q${i}`).join(',') }, 'cc_queue_ids'],
    ];
    for (const [path, query, field] of cases) {
      const reply = await call(sb, token, path, query);
      expect(reply.status, `${path} ${JSON.stringify(query)}`).toBe(400);
      expect(reply.body).toMatchObject({ code: 300, message: 'Validation Failed.', errors: [{ field }] });
    }
    expect((await call(sb, token, ENG, { page_size: '100' })).status).toBe(200);
    expect((await call(sb, token, REC, { page_size: '300' })).status).toBe(200);
    expect((await call(sb, token, MSG, { page_size: '300', message_type: 'voicemail' })).status).toBe(200);
    expect((await call(sb, token, `${ENG}/AAAAAAAAAAAAAAAAAAAAAA`, { page_size: '1' })).status).toBe(400);
  });

  test('dates: formats per endpoint, both bounds, order, and the one-month limit', async () => {
    const { token } = await start();
    const bad: [string, Record<string, string>][] = [
      [ENG, { from: '2026/11/01', to: '2026/11/02' }],
      [ENG, { from: '2026-11-01T00:00:00+01:00', to: '2026-11-02T00:00:00+01:00' }],
      [ENG, { from: '2026-11-01T00:00:00.000Z', to: '2026-11-02T00:00:00.000Z' }],
      [ENG, { from: '2026-02-30', to: '2026-03-01' }],
      [REC, { from: '2026-11-01', to: '2026-11-02' }],
      [MSG, { from: '2026-11-01T00:00:00-05:00', to: '2026-11-02T00:00:00-05:00' }],
      [ENG, { from: '2026-11-01' }],
      [REC, { to: '2026-11-01T00:00:00Z' }],
      [ENG, { from: '2026-11-02', to: '2026-11-01' }],
      [REC, { from: '2026-11-02T00:00:00Z', to: '2026-11-01T23:59:59Z' }],
      // "the same format as the from parameter"
      [ENG, { from: '2026-11-20', to: '2026-11-21T00:00:00Z', timezone: 'UTC' }],
      [MSG, { from: '2026-11-01T00:00:00Z', to: '2026-11-21' }],
    ];
    for (const [path, query] of bad) {
      const reply = await call(sb, token, path, query);
      expect(reply.status, `${path} ${JSON.stringify(query)}`).toBe(400);
      expect(reply.body).toMatchObject({ code: 300, message: 'Validation Failed.' });
    }
    const tooLong = { code: 300, message: 'The date range should be within a month.' };
    expect((await call(sb, token, ENG, { from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:01Z', timezone: 'UTC' })).body).toEqual(tooLong);
    expect((await call(sb, token, REC, { from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:01Z' })).body).toEqual(tooLong);
    expect((await call(sb, token, REC, { from: '2026-10-01T00:00:00-05:00', to: '2026-11-01T05:00:01Z' })).body).toEqual(tooLong);
    expect((await call(sb, token, MSG, { from: '2026-10-01', to: '2026-11-02' })).body).toEqual(tooLong);
    // Exactly one calendar month is allowed (January 31st + 1 month = February 28th).
    for (const [path, from, to] of [
      [ENG, '2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z'],
      [REC, '2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z'],
      [REC, '2026-10-01T00:00:00-05:00', '2026-11-01T05:00:00Z'],
      [MSG, '2026-10-01', '2026-11-01'],
      [MSG, '2026-01-31T00:00:00Z', '2026-02-28T00:00:00Z'],
    ] as const) {
      expect((await call(sb, token, path, { from, to })).status, `${path} ${from} ${to}`).toBe(200);
    }
    expect((await call(sb, token, MSG, { from: '2026-01-31T00:00:00Z', to: '2026-02-28T00:00:01Z' })).body).toEqual(tooLong);
  });

  test('defaults: engagements the last 24 hours, recordings and messages the last 30 days', async () => {
    const { token } = await start();
    const eng = await call(sb, token, ENG);
    expect(eng.body).toMatchObject({ from: '2026-11-23T12:00:00Z', to: NOW, timezone: 'UTC', page_size: 10 });
    const rec = await call(sb, token, REC);
    expect(rec.body).toMatchObject({ from: '2026-10-25T12:00:00Z', to: NOW, page_size: 30 });
    const msgs = items(await walk(sb, token, MSG, {}), 'messages');
    expect(msgs.every((m) => Date.parse(String(m['created_at'])) >= Date.parse(NOW) - 30 * DAY)).toBe(true);
  });

  test('bare dates are whole days in `timezone`, and the Z of a date-time is read in `timezone` too', async () => {
    const { token } = await start();
    const tz = 'America/New_York';
    const bare = await walk(sb, token, ENG, { from: '2026-11-05', to: '2026-11-05', timezone: tz, page_size: 100 });
    expect(bare[0]).toMatchObject({ timezone: tz, from: '2026-11-05T00:00:00-05:00', to: '2026-11-05T23:59:59-05:00' });
    const list = items(bare, 'engagements');
    expect(list.length).toBeGreaterThan(20);
    for (const e of list) {
      expect(String(e['start_time'])).toMatch(/-05:00$/);
      const t = Date.parse(String(e['start_time']));
      expect(t >= Date.parse('2026-11-05T05:00:00Z') && t <= Date.parse('2026-11-06T04:59:59Z')).toBe(true);
    }
    const zulu = items(await walk(sb, token, ENG, { from: '2026-11-05T00:00:00Z', to: '2026-11-05T23:59:59Z', timezone: tz, page_size: 100 }), 'engagements');
    expect(zulu.map((e) => e['engagement_id'])).toEqual(list.map((e) => e['engagement_id']));
    const utc = items(await walk(sb, token, ENG, { from: '2026-11-05T00:00:00Z', to: '2026-11-05T23:59:59Z', timezone: 'UTC', page_size: 100 }), 'engagements');
    expect(utc.map((e) => e['engagement_id'])).not.toEqual(list.map((e) => e['engagement_id']));
    const noTz = items(await walk(sb, token, ENG, { from: '2026-11-05', to: '2026-11-05', page_size: 100 }), 'engagements');
    expect(noTz).toEqual(utc);
    // Both bounds are inclusive: an engagement starting exactly at `to` is listed.
    const edge = String(utc[4]?.['start_time']);
    const upTo = items(await walk(sb, token, ENG, { from: '2026-11-05T00:00:00Z', to: edge, timezone: 'UTC', page_size: 100 }), 'engagements');
    expect(upTo.at(-1)?.['start_time']).toBe(edge);
    const fromEdge = items(await walk(sb, token, ENG, { from: edge, to: '2026-11-05T23:59:59Z', timezone: 'UTC', page_size: 100 }), 'engagements');
    expect(fromEdge[0]?.['start_time']).toBe(edge);
  });
});

describe('page tokens', () => {
  test('are bound to the query and expire 15 minutes after issue', async () => {
    const { token, clock } = await start();
    const query = { from: '2026-11-01', to: '2026-11-03', timezone: 'UTC', page_size: 5 };
    const first = await call(sb, token, ENG, query);
    const next = String(first.body['next_page_token']);
    expect(next.length).toBeGreaterThan(0);
    expect(next.length).toBeLessThanOrEqual(100);
    const stale = { code: 300, message: 'The next page token is invalid or expired.' };
    expect((await call(sb, token, ENG, { ...query, page_size: 6, next_page_token: next })).body).toEqual(stale);
    expect((await call(sb, token, ENG, { ...query, to: '2026-11-04', next_page_token: next })).body).toEqual(stale);
    expect((await call(sb, token, ENG, { ...query, direction: 'inbound', next_page_token: next })).body).toEqual(stale);
    expect((await call(sb, token, REC, { next_page_token: next })).body).toEqual(stale);
    expect((await call(sb, token, ENG, { ...query, next_page_token: `${next.slice(0, -2)}AA` })).body).toEqual(stale);
    expect((await call(sb, token, ENG, { ...query, next_page_token: 'garbage' })).body).toEqual(stale);
    // Same parameters in another order are the same query.
    const reordered = { page_size: 5, timezone: 'UTC', to: '2026-11-03', from: '2026-11-01', next_page_token: next };
    const second = await call(sb, token, ENG, reordered);
    expect(second.status).toBe(200);
    const ids = (b: Item): unknown[] => (b['engagements'] as Item[]).map((e) => e['engagement_id']);
    expect(ids(second.body)).not.toEqual(ids(first.body));
    clock.advance(15 * MINUTE);
    expect((await call(sb, token, ENG, { ...query, next_page_token: next })).status).toBe(200);
    clock.advance(1000);
    expect((await call(sb, token, ENG, { ...query, next_page_token: next })).body).toEqual(stale);
  });

  test('a default window stays where the first page put it', async () => {
    const { token, clock } = await start();
    const first = await call(sb, token, REC, { page_size: 10 });
    clock.advance(10 * MINUTE);
    const second = await call(sb, token, REC, { page_size: 10, next_page_token: String(first.body['next_page_token']) });
    expect(second.body['from']).toBe(first.body['from']);
  });
});

describe('OpenAPI helper', () => {
  test('validateRequest and operationFor follow the document', () => {
    expect(operationFor('GET', '/v2/contact_center/engagements')).toBe('listEngagements');
    expect(operationFor('GET', '/v2/contact_center/engagements/abc')).toBe('getEngagement');
    expect(operationFor('GET', '/contact_center/engagements/abc/recordings?x=1')).toBe('listEngagementRecordings');
    expect(operationFor('GET', '/v2/contact_center/inboxes/messages')).toBe('listInboxesMessages');
    expect(operationFor('GET', '/v2/contact_center/inboxes/i1/messages')).toBe('listInboxMessages');
    expect(operationFor('GET', '/v2/nothing/here')).toBeNull();
    expect(validateRequest('listEngagements', '/v2/contact_center/engagements', { from: '2026-01-01', to: '2026-01-02T00:00:00Z', timezone: 'UTC', page_size: '100' })).toEqual([]);
    expect(validateRequest('listEngagements', '/v2/contact_center/engagements', { page_size: '101' })).toHaveLength(1);
    expect(validateRequest('listEngagements', '/v2/contact_center/engagements', { foo: 'x', channel: 'fax' })).toHaveLength(2);
    expect(validateRequest('listEngagements', '/v2/contact_center/engagements', { from: '2026-01-01' })).toHaveLength(1);
    expect(validateRequest('listRecordings', '/v2/contact_center/recordings', { from: '2026-01-01', to: '2026-01-02' })).toHaveLength(2);
    expect(validateRequest('listRecordings', '/v2/contact_center/recordings', { from: '2026-01-01T00:00:00-05:00', to: '2026-01-02T00:00:00Z', query_date_type: 'recording_end_time', page_size: '300' })).toEqual([]);
    expect(validateRequest('listRecordings', '/v2/contact_center/recordings', { query_date_type: 'nope', page_size: '301' })).toHaveLength(2);
    expect(validateRequest('listInboxesMessages', '/v2/contact_center/inboxes/messages', { cc_queue_ids: ['a', 'b,c'] })).toEqual([]);
    expect(validateRequest('listInboxesMessages', '/v2/contact_center/recordings', {})).toHaveLength(1);
  });

  test('validateResponse reports schema violations', () => {
    expect(validateResponse('listEngagements', 200, { engagements: [{ engagement_id: 1 }] })).toHaveLength(1);
    expect(validateResponse('listRecordings', 200, { recordings: [{ channel: 'fax' }] })).toHaveLength(1);
    expect(validateResponse('listInboxesMessages', 200, { messages: [], total_records: 0, page_size: 30, next_page_token: '' })).toEqual([]);
  });
});

describe('references', () => {
  test('unknown queue or user filters are 404 like Zoom (1201 / 1001)', async () => {
    const { token } = await start();
    expect(await call(sb, token, ENG, { queue_id: 'nope' })).toMatchObject({ status: 404, body: { code: 1201 } });
    expect(await call(sb, token, ENG, { user_id: 'nope' })).toMatchObject({ status: 404, body: { code: 1001 } });
    expect((await call(sb, token, '/contact_center/engagements/%E0%A4%A')).status).toBe(404);
  });
});
