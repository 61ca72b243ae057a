import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { call, fakeClock, getToken } from './helpers.js';

// 100,000 engagements a day: listings generate only the days a page needs, never the whole month.
let sb: Sandbox;
let token: string;
beforeAll(async () => {
  sb = await startSandbox({ seed: 42, engagementsPerDay: 100_000, now: fakeClock('2026-11-24T12:00:00Z').now });
  token = await getToken(sb);
});
afterAll(async () => sb.close());

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await f();
  return [value, performance.now() - started];
}

describe('scale', () => {
  test('first and middle pages of a one-day window come back in well under 2 s', async () => {
    const q = { from: '2026-11-10', to: '2026-11-10', timezone: 'UTC', page_size: 100 };
    const [first, t1] = await timed(() => call(sb, token, '/contact_center/engagements', q));
    expect(first.status).toBe(200);
    expect(first.body['total_records']).toBe(100_000);
    expect(t1).toBeLessThan(2000);
    // Walk to the middle of the day with page tokens.
    let next = String(first.body['next_page_token']);
    let page = first;
    for (let i = 1; i < 500; i++) {
      page = await call(sb, token, '/contact_center/engagements', { ...q, next_page_token: next });
      next = String(page.body['next_page_token']);
    }
    const [middle, t2] = await timed(() => call(sb, token, '/contact_center/engagements', { ...q, next_page_token: next }));
    expect(middle.status).toBe(200);
    const engagements = middle.body['engagements'] as { start_time: string }[];
    expect(engagements).toHaveLength(100);
    expect(engagements[0]?.start_time.slice(0, 13)).toMatch(/^2026-11-10T1[12]$/);
    expect(t2).toBeLessThan(2000);
  });

  test('a month-long engagement window does not generate the month', async () => {
    const [reply, ms] = await timed(() => call(sb, token, '/contact_center/engagements', { from: '2026-10-27T00:00:00Z', to: '2026-11-20T00:00:00Z', timezone: 'UTC', page_size: 100 }));
    expect(reply.status).toBe(200);
    expect(reply.body['total_records']).toBeGreaterThan(2_300_000);
    expect(ms).toBeLessThan(2000);
  });

  test('recordings and inbox messages of a one-day window come back in under 2 s', async () => {
    const [recs, t1] = await timed(() => call(sb, token, '/contact_center/recordings', { from: '2026-11-12T00:00:00Z', to: '2026-11-12T23:59:59Z', query_date_type: 'recording_end_time', page_size: 300 }));
    expect(recs.status).toBe(200);
    expect(recs.body['recordings']).toHaveLength(300);
    expect(t1).toBeLessThan(2000);
    const [msgs, t2] = await timed(() => call(sb, token, '/contact_center/inboxes/messages', { from: '2026-11-12', to: '2026-11-12', page_size: 300 }));
    expect(msgs.status).toBe(200);
    expect(Number(msgs.body['total_records'])).toBeGreaterThan(3000);
    expect(t2).toBeLessThan(2000);
  });
});
