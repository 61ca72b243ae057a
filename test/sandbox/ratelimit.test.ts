import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { DAY, call, fakeClock, getToken, items, rawGet, walk } from './helpers.js';

let sb: Sandbox;
afterEach(async () => sb?.close());

describe('rate limits', () => {
  test('per-second limits per label: 429 with Zoom headers past the burst, then recovery', async () => {
    sb = await startSandbox({ rateLimits: { Medium: 5, Light: 2 }, now: fakeClock('2026-11-24T12:00:00Z').now });
    const token = await getToken(sb);
    const replies = await Promise.all(Array.from({ length: 8 }, () => call(sb, token, '/contact_center/engagements')));
    const refused = replies.filter((r) => r.status === 429);
    const ok = replies.filter((r) => r.status === 200).length;
    // The burst is 5; a slow machine may refill one more token while the 8 requests arrive.
    expect(ok === 5 || ok === 6).toBe(true);
    expect(refused).toHaveLength(8 - ok);
    const r = refused[0];
    expect(r?.body).toEqual({ code: 429, message: 'You have reached the maximum per-second rate limit for this API. Try again later.' });
    expect(r?.headers.get('x-ratelimit-category')).toBe('Medium');
    expect(r?.headers.get('x-ratelimit-type')).toBe('QPS');
    expect(r?.headers.get('x-ratelimit-limit')).toBe('5');
    expect(r?.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(r?.headers.get('retry-after')).toBe('1');
    // Another label has its own bucket.
    expect((await call(sb, token, '/contact_center/engagements/AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
    await sleep(1000);
    expect((await call(sb, token, '/contact_center/engagements')).status).toBe(200);
    expect(sb.stats.status429).toBe(8 - ok);
    expect(sb.stats.byLabel['Medium']).toBe(9);
    expect(sb.requests.filter((q) => q.status === 429)).toHaveLength(8 - ok);
  });

  test('a sustained rate above the limit is held to it', async () => {
    sb = await startSandbox({ rateLimits: { Medium: 10 }, now: fakeClock('2026-11-24T12:00:00Z').now });
    const token = await getToken(sb);
    let ok = 0;
    let attempts = 0;
    const started = Date.now();
    while (Date.now() - started < 1500) {
      attempts++;
      if ((await call(sb, token, '/contact_center/engagements')).status === 200) ok++;
      await sleep(10);
    }
    const seconds = (Date.now() - started) / 1000;
    // A burst of 10, then 10 a second.
    expect(ok).toBeLessThanOrEqual(10 + Math.ceil(10 * seconds) + 1);
    expect(ok).toBeGreaterThanOrEqual(Math.min(attempts, 20));
  });

  test('daily limits answer with Daily-limit and the next UTC midnight', async () => {
    const clock = fakeClock('2026-11-24T12:00:00Z');
    sb = await startSandbox({ dailyLimits: { Light: 3 }, now: clock.now });
    let token = await getToken(sb);
    const get = (): ReturnType<typeof call> => call(sb, token, '/contact_center/engagements/AAAAAAAAAAAAAAAAAAAAAA');
    for (let i = 0; i < 3; i++) expect((await get()).status).toBe(404);
    const refused = await get();
    expect(refused.status).toBe(429);
    expect(refused.body['message']).toMatch(/maximum daily rate limit/);
    expect(refused.headers.get('x-ratelimit-type')).toBe('Daily-limit');
    expect(refused.headers.get('x-ratelimit-category')).toBe('Light');
    expect(refused.headers.get('retry-after')).toBe('2026-11-25T00:00:00Z');
    expect((await call(sb, token, '/contact_center/engagements')).status).toBe(200);
    clock.advance(DAY / 2);
    token = await getToken(sb);
    expect((await get()).status).toBe(404);
  });

  test('downloads have their own rate', async () => {
    sb = await startSandbox({ rateLimits: { download: 2 }, now: fakeClock('2026-11-24T12:00:00Z').now });
    const token = await getToken(sb);
    const url = String(items(await walk(sb, token, '/contact_center/recordings', {}), 'recordings')[0]?.['download_url']);
    const statuses = await Promise.all(Array.from({ length: 4 }, async () => (await rawGet(url, { authorization: `Bearer ${token}` })).status));
    expect(statuses.sort()).toEqual([200, 200, 429, 429]);
  });
});
