import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterEach, describe, expect, test } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { call, fakeClock, getToken, items, rawGet, sha256, walk } from './helpers.js';

type Item = Record<string, unknown>;
let sb: Sandbox;
afterEach(async () => sb?.close());

const W = { from: new Date('2026-11-10T00:00:00Z'), to: new Date('2026-11-11T00:00:00Z') };

/** artifact key → the URL the listings give for it. */
async function urlsByKey(token: string): Promise<Map<string, string>> {
  const urls = new Map<string, string>();
  const q = { from: '2026-11-10T00:00:00Z', to: '2026-11-10T23:59:59Z' };
  for (const r of items(await walk(sb, token, '/contact_center/recordings', { ...q, query_date_type: 'recording_end_time', page_size: 300 }), 'recordings')) {
    urls.set(`recording/${String(r['recording_id'])}`, String(r['download_url']));
    if (r['transcript_url']) urls.set(`recording_transcript/${String(r['recording_id'])}`, String(r['transcript_url']));
  }
  for (const e of items(await walk(sb, token, '/contact_center/engagements', { ...q, timezone: 'UTC', page_size: 100 }), 'engagements')) {
    if (e['transcript_url']) urls.set(`messaging_transcript/${String(e['engagement_id'])}`, String(e['transcript_url']));
  }
  for (const m of items(await walk(sb, token, '/contact_center/inboxes/messages', { ...q, page_size: 300 }), 'messages')) {
    urls.set(`voicemail/${String(m['message_id'])}`, String(m['download_url']));
    if (m['transcript_url']) urls.set(`voicemail_transcript/${String(m['message_id'])}`, String(m['transcript_url']));
  }
  return urls;
}

const TYPES: Record<string, RegExp> = {
  recording: /^(audio\/mpeg|video\/mp4)$/,
  recording_transcript: /^text\/vtt$/,
  messaging_transcript: /^application\/json$/,
  voicemail: /^audio\/mpeg$/,
  voicemail_transcript: /^text\/plain$/,
};

describe('downloads', () => {
  test('every file artifact downloads with the bearer token, its Content-Length and the truth sha256', async () => {
    sb = await startSandbox({ seed: 8, now: fakeClock('2026-11-24T12:00:00Z').now });
    const token = await getToken(sb);
    const urls = await urlsByKey(token);
    const files = sb.truth.artifacts(W).filter((a) => a.kind !== 'note' && a.kind !== 'disposition');
    expect(new Set(files.map((f) => f.kind)).size).toBe(5);
    for (const f of files) {
      const url = urls.get(f.key);
      expect(url, f.key).toBeDefined();
      expect(url?.startsWith(`${sb.url}/v2/contact_center/`)).toBe(true);
      const reply = await rawGet(String(url), { authorization: `Bearer ${token}` });
      expect(reply.status).toBe(200);
      expect(Number(reply.headers['content-length'])).toBe(f.size);
      expect(reply.body.length).toBe(f.size);
      expect(String(reply.headers['content-type'])).toMatch(TYPES[f.kind] ?? /x/);
      expect(createHash('sha256').update(reply.body).digest('hex')).toBe(f.sha256);
      expect(await sha256(sb.truth.content(f.key))).toEqual({ sha256: f.sha256, size: f.size });
      if (f.kind === 'messaging_transcript') {
        const json = JSON.parse(reply.body.toString('utf8')) as { engagement_id: string; messages: Item[] };
        expect(json.engagement_id).toBe(f.engagementId);
        expect(json.messages.length).toBeGreaterThan(0);
      }
      if (f.kind === 'recording_transcript') expect(reply.body.toString('utf8')).toMatch(/^WEBVTT\n/);
    }
    const some = [...urls.values()][0] ?? '';
    const noAuth = await rawGet(some);
    expect(noAuth.status).toBe(401);
    expect(JSON.parse(noAuth.body.toString('utf8'))).toEqual({ code: 124, message: 'Invalid access token.' });
    expect(sb.stats.downloads).toBe(files.length);
    expect(sb.stats.bytesServed).toBe(files.reduce((a, f) => a + f.size, 0));
    expect(sb.requests.filter((r) => r.label === 'download')).toHaveLength(files.length + 1);
  });

  test('single byte ranges are served as 206 slices of the same bytes; HEAD and 416 work', async () => {
    sb = await startSandbox({ seed: 8, now: fakeClock('2026-11-24T12:00:00Z').now });
    const token = await getToken(sb);
    const auth = { authorization: `Bearer ${token}` };
    const rec = sb.truth.artifacts(W).find((a) => a.kind === 'recording');
    if (!rec) throw new Error('no recording');
    const url = (await urlsByKey(token)).get(rec.key) ?? '';
    const full = (await rawGet(url, auth)).body;
    expect(full.length).toBe(rec.size);
    for (const [range, start, end] of [
      ['bytes=0-0', 0, 1],
      ['bytes=17-33', 17, 34],
      ['bytes=1000-', 1000, rec.size],
      [`bytes=${rec.size - 100}-${rec.size + 500}`, rec.size - 100, rec.size],
      ['bytes=-77', rec.size - 77, rec.size],
      ['bytes=65530-131090', 65530, 131091],
    ] as const) {
      const part = await rawGet(url, { ...auth, range });
      expect(part.status, range).toBe(206);
      expect(part.headers['content-range']).toBe(`bytes ${start}-${end - 1}/${rec.size}`);
      expect(Number(part.headers['content-length'])).toBe(end - start);
      expect(part.body.equals(full.subarray(start, end)), range).toBe(true);
    }
    const head = await rawGet(url, auth, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(rec.size);
    expect(head.headers['accept-ranges']).toBe('bytes');
    const bad = await rawGet(url, { ...auth, range: `bytes=${rec.size}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${rec.size}`);
    const unknown = await rawGet(`${sb.apiBaseUrl}/contact_center/recording/download/00000000-0000-0000-0000-000000000000?type=voice`, auth);
    expect(unknown.status).toBe(404);
  });

  test('a transcript that is not ready yet is not served', async () => {
    const clock = fakeClock('2026-11-24T12:00:00Z');
    sb = await startSandbox({ seed: 8, engagementsPerDay: 2000, now: clock.now });
    const token = await getToken(sb);
    const recs = items(await walk(sb, token, '/contact_center/recordings', { from: '2026-11-24T11:00:00Z', to: '2026-11-24T12:00:00Z', query_date_type: 'recording_end_time', page_size: 300 }), 'recordings');
    const pending = recs.find((r) => !r['transcript_url']);
    if (!pending) throw new Error('expected a recording still waiting for its transcript');
    const url = `${sb.apiBaseUrl}/contact_center/recording/transcripts/download/${String(pending['recording_id'])}?type=voice`;
    expect((await rawGet(url, { authorization: `Bearer ${token}` })).status).toBe(404);
    expect(() => sb.truth.content(`recording_transcript/${String(pending['recording_id'])}`)).toThrow();
  });

  test('a 1 GB recording streams with flat memory', async () => {
    sb = await startSandbox({ seed: 1, engagementsPerDay: 3, mediaBytes: { min: 1e9, max: 1e9 }, now: fakeClock('2026-11-24T12:00:00Z').now });
    const token = await getToken(sb);
    const rec = items(await walk(sb, token, '/contact_center/recordings', {}), 'recordings')[0];
    if (!rec) throw new Error('no recording');
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const started = Date.now();
    const { received, length } = await new Promise<{ received: number; length: number }>((resolve, reject) => {
      http.get(String(rec['download_url']), { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
        let received = 0;
        let n = 0;
        res.on('data', (c: Buffer) => {
          received += c.length;
          if (++n % 256 === 0) peak = Math.max(peak, process.memoryUsage().rss);
        });
        res.on('end', () => resolve({ received, length: Number(res.headers['content-length']) }));
        res.on('error', reject);
      }).on('error', reject);
    });
    expect(length).toBe(1e9);
    expect(received).toBe(1e9);
    expect(peak - baseline).toBeLessThan(100 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 60_000);

  test('bandwidth caps all downloads together', async () => {
    sb = await startSandbox({ seed: 2, engagementsPerDay: 20, mediaBytes: { min: 150_000, max: 150_000 }, bandwidth: 150_000, now: fakeClock('2026-11-24T12:00:00Z').now });
    const token = await getToken(sb);
    const recs = items(await walk(sb, token, '/contact_center/recordings', {}), 'recordings').slice(0, 3);
    expect(recs).toHaveLength(3);
    const started = Date.now();
    const replies = await Promise.all(recs.map((r) => rawGet(String(r['download_url']), { authorization: `Bearer ${token}` })));
    const elapsed = Date.now() - started;
    for (const r of replies) expect(r.body.length).toBe(150_000);
    // 450 kB at 150 kB/s with a one-second burst: about two seconds.
    expect(elapsed).toBeGreaterThan(1500);
    expect(elapsed).toBeLessThan(15_000);
    expect((await call(sb, token, '/contact_center/engagements')).status).toBe(200);
  });

  test('streamBandwidth caps each download from its first byte: a file smaller than one second of it is not served at once', async () => {
    sb = await startSandbox({ seed: 2, engagementsPerDay: 20, mediaBytes: { min: 400_000, max: 400_000 }, streamBandwidth: 1_000_000, now: fakeClock('2026-11-24T12:00:00Z').now });
    const token = await getToken(sb);
    const recs = items(await walk(sb, token, '/contact_center/recordings', {}), 'recordings').slice(0, 2);
    expect(recs).toHaveLength(2);
    for (const r of recs) {
      const started = Date.now();
      const reply = await rawGet(String(r['download_url']), { authorization: `Bearer ${token}` });
      expect(reply.body.length).toBe(400_000);
      // 400 kB at 1 MB/s on a new stream: about 0.4 s each, one after the other.
      expect(Date.now() - started).toBeGreaterThan(300);
    }
  });
});
