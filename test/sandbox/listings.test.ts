import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { validateResponse } from '../support/openapi.js';
import { call, fakeClock, getToken, items, walk } from './helpers.js';

type Item = Record<string, unknown>;
const clock = fakeClock('2026-11-24T12:00:00Z');
let sb: Sandbox;
let token: string;
beforeAll(async () => {
  sb = await startSandbox({ seed: 5, engagementsPerDay: 40, now: clock.now });
  token = await getToken(sb);
});
afterAll(async () => sb.close());

function expectValid(op: string, pages: Item[]): void {
  for (const page of pages) expect(validateResponse(op, 200, page)).toEqual([]);
}

function sortedBy(list: Item[], field: string): boolean {
  return list.every((x, i) => {
    const prev = list[i - 1];
    if (!prev) return true;
    const a = Date.parse(String(prev[field]));
    const b = Date.parse(String(x[field]));
    return a < b || (a === b && String(prev[Object.keys(prev)[0] ?? '']) <= String(x[Object.keys(x)[0] ?? '']));
  });
}

describe('list endpoints', () => {
  test('List Engagements pages validate, cover the window once, and match total_records', async () => {
    const query = { from: '2026-11-01T00:00:00Z', to: '2026-11-10T23:59:59Z', timezone: 'UTC', page_size: 37 };
    const pages = await walk(sb, token, '/contact_center/engagements', query);
    expectValid('listEngagements', pages);
    const list = items(pages, 'engagements');
    const ids = list.map((e) => e['engagement_id']);
    expect(new Set(ids).size).toBe(ids.length);
    expect(list.length).toBe(400);
    for (const p of pages) expect(p['total_records']).toBe(400);
    expect(pages.at(-1)?.['next_page_token']).toBe('');
    expect(pages[0]).toMatchObject({ timezone: 'UTC', from: '2026-11-01T00:00:00Z', to: '2026-11-10T23:59:59Z', page_size: 37 });
    expect(sortedBy(list, 'start_time')).toBe(true);
    const channels = new Map<string, number>();
    for (const e of list) {
      const ch = (e['channels'] as { channel: string }[])[0]?.channel ?? '';
      channels.set(ch, (channels.get(ch) ?? 0) + 1);
      expect(String(e['engagement_id'])).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(String(e['start_time'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const notes = e['notes'] as { note_id: string }[];
      expect(new Set(notes.map((n) => n.note_id)).size).toBe(notes.length);
      const dispositions = e['dispositions'] as { disposition_id: string }[];
      expect(new Set(dispositions.map((d) => d.disposition_id)).size).toBe(dispositions.length);
      if (ch === 'messaging') expect(e['transcript_url']).toBe(`${sb.apiBaseUrl}/contact_center/engagements/transcripts/download/${String(e['engagement_id'])}`);
      else expect(e['transcript_url']).toBeUndefined();
    }
    expect(channels.get('voice') ?? 0).toBeGreaterThan(180);
    expect(channels.get('messaging') ?? 0).toBeGreaterThan(60);
    expect(channels.get('video') ?? 0).toBeGreaterThan(15);
    expect(channels.get('email') ?? 0).toBeGreaterThan(3);
  });

  test('Get Engagement returns the detail shape; unknown ids are 404 code 2901', async () => {
    const list = items((await walk(sb, token, '/contact_center/engagements', { from: '2026-11-05', to: '2026-11-05', page_size: 100 })), 'engagements');
    for (const e of list.slice(0, 15)) {
      const reply = await call(sb, token, `/contact_center/engagements/${String(e['engagement_id'])}`);
      expect(reply.status).toBe(200);
      expect(validateResponse('getEngagement', 200, reply.body)).toEqual([]);
      expect(reply.body).toMatchObject({ engagement_id: e['engagement_id'], start_time: e['start_time'], notes: e['notes'], dispositions: e['dispositions'] });
      expect(Array.isArray(reply.body['events'])).toBe(true);
    }
    const missing = await call(sb, token, '/contact_center/engagements/AAAAAAAAAAAAAAAAAAAAAA');
    expect(missing).toMatchObject({ status: 404, body: { code: 2901 } });
    expect((await call(sb, token, '/contact_center/engagements/AAAAAAAAAAAAAAAAAAAAAA?')).status).toBe(404);
  });

  test('List Recordings by end time: valid pages, every recording once, sorted, no total_records', async () => {
    const query = { from: '2026-11-01T00:00:00Z', to: '2026-11-20T00:00:00Z', query_date_type: 'recording_end_time', page_size: 50 };
    const pages = await walk(sb, token, '/contact_center/recordings', query);
    expectValid('listRecordings', pages);
    const list = items(pages, 'recordings');
    expect(list.length).toBeGreaterThan(300);
    expect(new Set(list.map((r) => r['recording_id'])).size).toBe(list.length);
    for (const p of pages) expect(p['total_records']).toBeUndefined();
    expect(sortedBy(list, 'recording_end_time')).toBe(true);
    for (const r of list) {
      const end = String(r['recording_end_time']);
      expect(end >= '2026-11-01T00:00:00Z' && end <= '2026-11-20T00:00:00Z').toBe(true);
      const file = /\/recording\/download\/([0-9a-f-]{36})\?type=(voice|video)$/.exec(String(r['download_url']));
      expect(file).not.toBeNull();
      expect(file?.[1]).not.toBe(r['recording_id']);
      expect(file?.[2]).toBe(r['channel']);
    }
    // Most recordings in a finished window have a transcript; ~10% (queue without transcription) never do.
    const withTranscript = list.filter((r) => r['transcript_url']).length;
    expect(withTranscript / list.length).toBeGreaterThan(0.75);
    expect(withTranscript / list.length).toBeLessThan(0.97);
    // Engagements with two recordings (transfers) exist.
    const perEngagement = new Map<string, number>();
    for (const r of list) perEngagement.set(String(r['engagement_id']), (perEngagement.get(String(r['engagement_id'])) ?? 0) + 1);
    expect([...perEngagement.values()].some((n) => n === 2)).toBe(true);
  });

  test('a call that starts before midnight has a recording ending the next day', async () => {
    const engagements = items(await walk(sb, token, '/contact_center/engagements', { from: '2026-11-03T23:00:00Z', to: '2026-11-03T23:59:59Z', timezone: 'UTC', page_size: 100 }), 'engagements');
    const late = engagements.filter((e) => String(e['end_time']) >= '2026-11-04T00:00:00Z');
    expect(late.length).toBeGreaterThan(0);
    const id = String(late[0]?.['engagement_id']);
    const recs = await call(sb, token, `/contact_center/engagements/${id}/recordings`, { from: '2026-11-03T00:00:00Z', to: '2026-11-04T23:59:59Z' });
    expect(recs.status).toBe(200);
    expect(validateResponse('listEngagementRecordings', 200, recs.body)).toEqual([]);
    const recordings = recs.body['recordings'] as Item[];
    expect(recordings.length).toBeGreaterThan(0);
    expect(String(recordings.at(-1)?.['recording_end_time']) >= '2026-11-04T00:00:00Z').toBe(true);
    const byEnd = items(await walk(sb, token, '/contact_center/recordings', { from: '2026-11-04T00:00:00Z', to: '2026-11-04T01:00:00Z', query_date_type: 'recording_end_time' }), 'recordings');
    expect(byEnd.map((r) => r['engagement_id'])).toContain(id);
    expect(await call(sb, token, '/contact_center/engagements/AAAAAAAAAAAAAAAAAAAAAA/recordings')).toMatchObject({ status: 404, body: { code: 2805 } });
  });

  test('inbox messages: account-wide and per inbox, valid, complete, filtered', async () => {
    const query = { from: '2026-10-26', to: '2026-11-23', page_size: 7 };
    const pages = await walk(sb, token, '/contact_center/inboxes/messages', query);
    expectValid('listInboxesMessages', pages);
    const all = items(pages, 'messages');
    expect(all.length).toBeGreaterThan(40);
    expect(all.length).toBe(pages[0]?.['total_records']);
    expect(new Set(all.map((m) => m['message_id'])).size).toBe(all.length);
    expect(sortedBy(all, 'created_at')).toBe(true);
    const inboxes = [...new Set(all.map((m) => String(m['inbox_id'])))];
    expect(inboxes.length).toBeGreaterThanOrEqual(2);
    expect(inboxes.length).toBeLessThanOrEqual(3);
    let sum = 0;
    for (const inbox of inboxes) {
      const per = await walk(sb, token, `/contact_center/inboxes/${inbox}/messages`, query);
      expectValid('listInboxMessages', per);
      const msgs = items(per, 'messages');
      for (const m of msgs) {
        expect(m['inbox_id']).toBe(inbox);
        expect(m['cci_queue_id']).toBeUndefined();
        expect(String(m['queue_id'])).toMatch(/^[A-Za-z0-9_-]{22}$/);
      }
      const filtered = items(await walk(sb, token, '/contact_center/inboxes/messages', { ...query, inbox_id: inbox }), 'messages');
      expect(filtered.map((m) => m['message_id'])).toEqual(msgs.map((m) => m['message_id']));
      sum += msgs.length;
    }
    expect(sum).toBe(all.length);
    const one = all[3] as Item;
    const byEngagement = await call(sb, token, '/contact_center/inboxes/messages', { ...query, engagement_id: String(one['engagement_id']) });
    expect((byEngagement.body['messages'] as Item[]).map((m) => m['message_id'])).toEqual([one['message_id']]);
    const deleted = await call(sb, token, '/contact_center/inboxes/messages', { ...query, status: 'deleted' });
    expect(deleted.body['total_records']).toBe(0);
    expect(await call(sb, token, '/contact_center/inboxes/AAAAAAAAAAAAAAAAAAAAAA/messages')).toMatchObject({ status: 404, body: { code: 3001 } });
  });

  test('filters: channel, channel_sources, direction, queue, recording type and owner', async () => {
    const window = { from: '2026-11-10', to: '2026-11-12', timezone: 'UTC', page_size: 100 };
    const all = items(await walk(sb, token, '/contact_center/engagements', window), 'engagements');
    const channelOf = (e: Item): string => (e['channels'] as { channel: string }[])[0]?.channel ?? '';
    for (const channel of ['voice', 'video', 'messaging', 'email']) {
      const got = items(await walk(sb, token, '/contact_center/engagements', { ...window, channel }), 'engagements');
      expect(got.map((e) => e['engagement_id'])).toEqual(all.filter((e) => channelOf(e) === channel).map((e) => e['engagement_id']));
    }
    const sources = items(await walk(sb, token, '/contact_center/engagements', { ...window, channel_sources: 'web_chat,sms' }), 'engagements');
    const repeated = items(await walk(sb, token, '/contact_center/engagements', { ...window, channel_sources: ['web_chat', 'sms'] }), 'engagements');
    expect(repeated).toEqual(sources);
    for (const e of sources) expect(['web_chat', 'sms']).toContain((e['channels'] as { channel_source: string }[])[0]?.channel_source);
    const outbound = items(await walk(sb, token, '/contact_center/engagements', { ...window, direction: 'outbound' }), 'engagements');
    expect(outbound.length).toBe(all.filter((e) => e['direction'] === 'outbound').length);
    const queueId = String((all[0]?.['queues'] as { cc_queue_id: string }[])[0]?.cc_queue_id);
    const inQueue = items(await walk(sb, token, '/contact_center/engagements', { ...window, queue_id: queueId }), 'engagements');
    expect(inQueue.length).toBe(all.filter((e) => (e['queues'] as { cc_queue_id: string }[]).some((q) => q.cc_queue_id === queueId)).length);

    const recWindow = { from: '2026-11-10T00:00:00Z', to: '2026-11-12T00:00:00Z' };
    const recs = items(await walk(sb, token, '/contact_center/recordings', recWindow), 'recordings');
    for (const [param, value] of [['recording_type', 'on_demand'], ['owner_type', 'queue'], ['channel', 'video']] as const) {
      const field = param === 'channel' ? 'channel' : param;
      const got = items(await walk(sb, token, '/contact_center/recordings', { ...recWindow, [param]: value }), 'recordings');
      expect(got.length).toBeGreaterThan(0);
      expect(got.map((r) => r['recording_id'])).toEqual(recs.filter((r) => r[field] === value).map((r) => r['recording_id']));
    }
  });
});
