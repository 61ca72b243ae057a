import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { basic, call, fakeClock, getToken, items, rawGet, walk } from './helpers.js';

type Item = Record<string, unknown>;
let sb: Sandbox;
let token: string;
const ENG = '/contact_center/engagements';
const DAY_Q = { from: '2026-11-10', to: '2026-11-10', timezone: 'UTC', page_size: 10 };

beforeEach(async () => {
  sb = await startSandbox({ seed: 11, mediaBytes: { min: 30_000, max: 30_000 }, now: fakeClock('2026-11-24T12:00:00Z').now });
  token = await getToken(sb);
});
afterEach(async () => sb.close());

const ids = (body: Item): string[] => (body['engagements'] as Item[]).map((e) => String(e['engagement_id']));

async function fileUrl(): Promise<string> {
  const recs = items(await walk(sb, token, '/contact_center/recordings', { from: '2026-11-10T00:00:00Z', to: '2026-11-10T23:59:59Z' }), 'recordings');
  return String(recs[0]?.['download_url']);
}

describe('faults', () => {
  test('status: an answer of our choosing, `times` and `after` respected, logged in fired', async () => {
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'status', status: 503 }, { times: 2, after: 1 });
    sb.faults.add({ label: 'Light' }, { type: 'status', status: 429, headers: { 'Retry-After': '2' }, body: { code: 429, message: 'slow down' } });
    expect((await call(sb, token, ENG)).status).toBe(200);
    expect(await call(sb, token, ENG)).toMatchObject({ status: 503, body: { code: 503 } });
    expect((await call(sb, token, ENG)).status).toBe(503);
    expect((await call(sb, token, ENG)).status).toBe(200);
    const light = await call(sb, token, `${ENG}/AAAAAAAAAAAAAAAAAAAAAA`);
    expect(light).toMatchObject({ status: 429, body: { code: 429, message: 'slow down' } });
    expect(light.headers.get('retry-after')).toBe('2');
    expect(sb.stats.status429).toBe(1);
    expect(sb.faults.fired.map((f) => f.fault)).toEqual(['status', 'status', 'status']);
    expect(sb.faults.fired[0]?.path).toBe('/v2/contact_center/engagements');
  });

  test('the token endpoint can fail too, and credentials can be refused', async () => {
    sb.faults.add({ label: 'token' }, { type: 'status', status: 500 });
    const res = await fetch(`${sb.oauthTokenUrl}?grant_type=account_credentials&account_id=${sb.credentials.accountId}`, { method: 'POST', headers: { authorization: basic(sb) } });
    expect(res.status).toBe(500);
    await expect(getToken(sb)).resolves.toBeTruthy();
  });

  test('reset, slow and malformed', async () => {
    sb.faults.add({ pathIncludes: '/engagements' }, { type: 'reset' });
    await expect(fetch(`${sb.apiBaseUrl}${ENG}`, { headers: { authorization: `Bearer ${token}` } })).rejects.toThrow();
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'slow', delayMs: 400 });
    await expect(fetch(`${sb.apiBaseUrl}${ENG}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(100) })).rejects.toThrow();
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'slow', delayMs: 300 });
    const started = Date.now();
    expect((await call(sb, token, ENG)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'malformed', body: '{"engagements": [' });
    const res = await fetch(`${sb.apiBaseUrl}${ENG}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"engagements": [');
  });

  test('expired tokens: 401 (or legacy 400) code 124, and the token stays revoked', async () => {
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'expireToken' });
    expect(await call(sb, token, ENG)).toMatchObject({ status: 401, body: { code: 124, message: 'Access token is expired.' } });
    expect(await call(sb, token, ENG)).toMatchObject({ status: 401, body: { code: 124, message: 'Invalid access token.' } });
    const second = await getToken(sb);
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'expireToken400' });
    expect(await call(sb, second, ENG)).toMatchObject({ status: 400, body: { code: 124, message: 'Invalid access token.' } });
    expect((await call(sb, second, ENG)).status).toBe(401);
    const third = await getToken(sb);
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'expireTokenErrorCode' });
    expect(await call(sb, third, ENG)).toMatchObject({ status: 401, body: { status: false, errorCode: 401 } });
    expect((await call(sb, third, ENG)).status).toBe(401);
    expect((await call(sb, await getToken(sb), ENG)).status).toBe(200);
  });

  test('page-token faults: stale, repeated', async () => {
    const first = await call(sb, token, ENG, DAY_Q);
    const next = String(first.body['next_page_token']);
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'stalePageToken' });
    expect((await call(sb, token, ENG, DAY_Q)).status).toBe(200); // no token: the fault waits
    expect(await call(sb, token, ENG, { ...DAY_Q, next_page_token: next })).toMatchObject({ status: 400, body: { code: 300, message: 'The next page token is invalid or expired.' } });
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'repeatPageToken' });
    const looped = await call(sb, token, ENG, { ...DAY_Q, next_page_token: next });
    expect(looped.body['next_page_token']).toBe(next);
    const normal = await call(sb, token, ENG, { ...DAY_Q, next_page_token: next });
    expect(normal.body['next_page_token']).not.toBe(next);
    expect(ids(normal.body)).toEqual(ids(looped.body));
  });

  test('shiftPage repeats items of the previous page; duplicateItems repeats one within a page', async () => {
    const all = items(await walk(sb, token, ENG, DAY_Q), 'engagements').map((e) => String(e['engagement_id']));
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'shiftPage', by: 3 }, { after: 1 });
    const shifted = items(await walk(sb, token, ENG, DAY_Q), 'engagements').map((e) => String(e['engagement_id']));
    expect(shifted.length).toBe(all.length + 3);
    expect(shifted.slice(10, 13)).toEqual(all.slice(7, 10));
    expect(new Set(shifted)).toEqual(new Set(all));
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'duplicateItems' });
    const dup = await call(sb, token, ENG, DAY_Q);
    const page = ids(dup.body);
    expect(page[0]).toBe(page[1]);
    expect(new Set(page).size).toBe(10);
  });

  test('moveItem: an item from a later page moves to the front, so a naive pager misses it', async () => {
    const all = items(await walk(sb, token, ENG, DAY_Q), 'engagements').map((e) => String(e['engagement_id']));
    sb.faults.add({ operationId: 'listEngagements' }, { type: 'moveItem' }, { after: 1 });
    const pages = await walk(sb, token, ENG, DAY_Q);
    const seen = items(pages, 'engagements').map((e) => String(e['engagement_id']));
    for (const p of pages) expect(p['total_records']).toBe(all.length);
    const missed = all.filter((id) => !seen.includes(id));
    expect(missed).toEqual([all[20]]);
    const again = await call(sb, token, ENG, DAY_Q);
    expect(ids(again.body)[0]).toBe(all[20]);
    sb.faults.clear();
    expect(ids((await call(sb, token, ENG, DAY_Q)).body)[0]).toBe(all[0]);
  });

  test('download faults: html, redirect, resetMidBody, truncate, wrongLength, slowBody', async () => {
    const url = await fileUrl();
    const auth = { authorization: `Bearer ${token}` };
    const target = { label: 'download' as const };
    sb.faults.add(target, { type: 'html' });
    const html = await rawGet(url, auth);
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.body.toString('utf8').toLowerCase()).toContain('sign in');

    sb.faults.add(target, { type: 'redirect', location: 'https://evil.example.com/steal' });
    const redirect = await rawGet(url, auth);
    expect(redirect.status).toBe(302);
    expect(redirect.headers['location']).toBe('https://evil.example.com/steal');

    sb.faults.add(target, { type: 'resetMidBody', afterBytes: 10_000 });
    const reset = await rawGet(url, auth);
    expect(reset.headers['content-length']).toBe('30000');
    expect(reset.body.length).toBeLessThan(30_000);
    expect(reset.error).toBeDefined();

    sb.faults.add(target, { type: 'truncate', bytes: 5_000 });
    const truncated = await rawGet(url, auth);
    expect(truncated.headers['content-length']).toBe('30000');
    expect(truncated.body.length).toBe(5_000);
    expect(truncated.error).toBeDefined();

    sb.faults.add(target, { type: 'wrongLength', delta: 100 });
    const longer = await rawGet(url, auth);
    expect(longer.headers['content-length']).toBe('30100');
    expect(longer.body.length).toBe(30_000);
    expect(longer.error).toBeDefined();

    sb.faults.add(target, { type: 'wrongLength', delta: -100 });
    // More bytes than promised: Node's parser refuses the response outright; other clients may see 29,900 bytes.
    const shorter = await rawGet(url, auth);
    expect(shorter.error !== undefined || (shorter.headers['content-length'] === '29900' && shorter.body.length === 29_900)).toBe(true);

    sb.faults.add(target, { type: 'slowBody', bytesPerSecond: 15_000 });
    const started = Date.now();
    const slow = await rawGet(url, auth);
    expect(slow.body.length).toBe(30_000);
    expect(Date.now() - started).toBeGreaterThan(800);

    const clean = await rawGet(url, auth);
    expect(clean.status).toBe(200);
    expect(clean.body.length).toBe(30_000);
    expect(sb.faults.fired.map((f) => f.fault)).toEqual(['html', 'redirect', 'resetMidBody', 'truncate', 'wrongLength', 'wrongLength', 'slowBody']);
  });

  test('download-only faults ignore list requests; clear() disarms everything', async () => {
    sb.faults.add({}, { type: 'truncate', bytes: 10 });
    expect((await call(sb, token, ENG)).status).toBe(200);
    sb.faults.add({}, { type: 'status', status: 500 }, { times: Infinity });
    expect((await call(sb, token, ENG)).status).toBe(500);
    expect((await call(sb, token, ENG)).status).toBe(500);
    sb.faults.clear();
    expect((await call(sb, token, ENG)).status).toBe(200);
    const reply = await rawGet(await fileUrl(), { authorization: `Bearer ${token}` });
    expect(reply.body.length).toBe(30_000);
  });
});
