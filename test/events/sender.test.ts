// The sandbox's webhook sender is held to zcc-events.md §3 and §7: Zoom's headers on every attempt, a fresh signature
// per attempt, retries after ≥500, timeouts and refused connections on Zoom's 5/20/60-minute schedule (run instantly
// on a virtual clock), none after 3xx/4xx; the URL validation before the first event; and each fault on demand: an
// exact seeded share dropped, duplicated (also concurrently), delayed or tampered with, reordering, wrong secret,
// stale timestamp, bytes that differ from JSON.stringify.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { signatureFor } from '../../src/events/signature.js';
import { startSandbox, ValidationFailedError, VirtualClock, type Sandbox, type SandboxEvent } from '../../src/sandbox/index.js';
import { WebhookSender } from '../../src/sandbox/webhooks.js';
import { NOW } from '../support/harness.js';
import { freePort } from './child.js';

const MIN = 60_000;
const SECRET = 's3cret-token';

let sandbox: Sandbox | null = null;
let server: Server | null = null;
afterEach(async () => {
  await sandbox?.close();
  await closeReceiver();
  sandbox = null;
});

async function closeReceiver(): Promise<void> {
  const open = server;
  server = null;
  if (open) await new Promise<void>((resolve) => open.close(() => resolve()));
}

interface Seen {
  headers: IncomingHttpHeaders;
  body: Buffer;
  json: { event?: string; payload?: { plainToken?: string; object?: Record<string, unknown> } };
  /** Real time of arrival and of the answer (ms), and the virtual clock's time of arrival, if any. */
  at: number;
  answeredAt: number;
  virtualAt: number | null;
}

type Answer = number | { status: number; body?: string; delayMs?: number };

/** A loopback receiver that records every request and answers with `answer(request, index)`. */
async function receiver(answer: Answer[] | ((seen: Seen, index: number) => Answer), options: { delayMs?: number; clock?: VirtualClock } = {}) {
  const seen: Seen[] = [];
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: Seen = { headers: request.headers, body, json: JSON.parse(body.toString() || 'null') ?? {}, at: Date.now(), answeredAt: 0, virtualAt: options.clock?.now() ?? null };
      seen.push(entry);
      const index = seen.length - 1;
      const given = typeof answer === 'function' ? answer(entry, index) : (answer[index] ?? 200);
      const { status, body: text = '', delayMs = options.delayMs ?? 0 } = typeof given === 'number' ? { status: given } : given;
      setTimeout(() => {
        entry.answeredAt = Date.now();
        response.writeHead(status, { 'content-type': 'application/json' }).end(text);
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, seen };
}

/** What a correct endpoint answers to the URL validation, and 200 to everything else. */
function crcAware(seen: Seen): Answer {
  const token = seen.json.payload?.plainToken;
  if (seen.json.event !== 'endpoint.url_validation' || !token) return 200;
  return { status: 200, body: JSON.stringify({ plainToken: token, encryptedToken: createHmac('sha256', SECRET).update(token).digest('hex') }) };
}

const events = (seen: Seen[]) => seen.filter((entry) => entry.json.event !== 'endpoint.url_validation');
/** The same text for the same object whatever its key order (odd serialisations reverse it). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
const keyOf = (entry: Seen) => canonical(entry.json.payload?.object);
const keyOfEvent = (event: SandboxEvent) => canonical(event.body.payload.object);

async function sandboxEvents(): Promise<SandboxEvent[]> {
  sandbox = await startSandbox({ seed: 3, engagementsPerDay: 12, days: 3, now: () => NOW });
  return sandbox.events.forWindow({ from: new Date(NOW.getTime() - 2 * 86_400_000), to: new Date(NOW.getTime() - 86_400_000) });
}

describe('sandbox webhook sender: delivery and retries', () => {
  it('signs every attempt as Zoom does and retries a 5xx after the configured delays', async () => {
    sandbox = await startSandbox({ engagementsPerDay: 2, days: 2 });
    const { url, seen } = await receiver([500, 503, 200]);
    const sender = sandbox.webhooks({ url, secret: SECRET, retryDelaysMs: [30, 60, 90] });
    const result = await sender.send({ event: 'contact_center.recording_completed', event_ts: 1, payload: { account_id: 'a', object: {} } });
    expect(result.delivered).toBe(true);
    expect(result.attempts.map((attempt) => attempt.status)).toEqual([500, 503, 200]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(25);
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(55);
    for (const { headers, body } of seen) {
      expect(headers['user-agent']).toBe('Zoom Marketplace/1.0a');
      expect(headers['content-type']).toBe('application/json; charset=utf-8');
      expect(headers['x-zm-request-id']).toMatch(/^[0-9a-f_]{36}$/);
      expect(headers['x-zm-trackingid']).toBeTruthy();
      expect(headers['x-zm-signature']).toBe(signatureFor(SECRET, String(headers['x-zm-request-timestamp']), body));
    }
  });

  it("runs Zoom's schedule, 5, 20 and 60 minutes after each failure, on a virtual clock in no real time", async () => {
    const clock = new VirtualClock(NOW.getTime());
    const { url, seen } = await receiver([500, 503, 502, 200], { clock });
    const started = Date.now();
    const result = await new WebhookSender({ url, secret: SECRET, clock }).send({ event: 'contact_center.recording_completed' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.delivered).toBe(true);
    expect(result.attempts.map((attempt) => [(attempt.at - NOW.getTime()) / MIN, attempt.status])).toEqual([[0, 500], [5, 503], [25, 502], [85, 200]]);
    // Each retry is signed at its own (virtual) moment.
    expect(seen.map((entry) => Number(entry.headers['x-zm-request-timestamp']) * 1000 - NOW.getTime())).toEqual([0, 5 * MIN, 25 * MIN, 85 * MIN]);
    expect(clock.waiting).toBe(0);
  });

  it('gives up after the third retry, retries refused connections and timeouts, and never retries a 3xx or 4xx', async () => {
    const clock = new VirtualClock(NOW.getTime());
    const failing = await receiver([500, 500, 500, 500, 200]);
    const exhausted = await new WebhookSender({ url: failing.url, secret: SECRET, clock }).send({ event: 'e' });
    expect(exhausted.delivered).toBe(false);
    expect(exhausted.attempts.map((attempt) => (attempt.at - NOW.getTime()) / MIN)).toEqual([0, 5, 25, 85]);
    await closeReceiver();

    const closed = await new WebhookSender({ url: `http://127.0.0.1:${await freePort()}/hook`, secret: SECRET, clock: new VirtualClock(0) }).send({ event: 'e' });
    expect(closed.attempts.map((attempt) => [attempt.at / MIN, attempt.status])).toEqual([[0, null], [5, null], [25, null], [85, null]]);

    const slow = await receiver([200, 200], { delayMs: 300 });
    const timedOut = await new WebhookSender({ url: slow.url, secret: SECRET, retryDelaysMs: [10], timeoutMs: 100 }).send({ event: 'e' });
    expect(timedOut.delivered).toBe(false);
    expect(timedOut.attempts.every((attempt) => attempt.status === null && /timeout/.test(attempt.error ?? ''))).toBe(true);
    await closeReceiver();

    for (const status of [301, 302, 400, 401, 404, 405, 413, 429]) {
      const final = await receiver([status, 200]);
      const once = await new WebhookSender({ url: final.url, secret: SECRET, clock: new VirtualClock(0) }).send({ event: 'e' });
      expect({ status, delivered: once.delivered, attempts: once.attempts.length, seen: final.seen.length }).toEqual({ status, delivered: false, attempts: 1, seen: 1 });
      await closeReceiver();
    }
  });

  it('keeps each of many concurrent events on its own schedule while the receiver is down for 10 minutes', async () => {
    const all = await sandboxEvents();
    const clock = new VirtualClock(NOW.getTime());
    const { url, seen } = await receiver((entry) => ((entry.virtualAt ?? 0) < NOW.getTime() + 10 * MIN ? 503 : 200), { clock });
    const sender = sandbox!.webhooks({ url, secret: SECRET, clock });
    const report = await sender.deliver(all, { concurrency: 8, validate: false });
    expect(report.failed).toEqual([]);
    expect(report.sent).toHaveLength(all.length);
    // Down at the first attempt and at +5 min, up at +25 min: three attempts each, whatever the real timing was.
    expect(seen).toHaveLength(3 * all.length);
    const offsets = new Map<string, number[]>();
    for (const entry of seen) offsets.set(keyOf(entry), [...(offsets.get(keyOf(entry)) ?? []), (entry.virtualAt! - NOW.getTime()) / MIN]);
    expect(new Set([...offsets.values()].map((times) => times.join(',')))).toEqual(new Set(['0,5,25']));
  });
});

describe('sandbox webhook sender: URL validation on start', () => {
  it('validates the endpoint once, before the first event', async () => {
    const all = (await sandboxEvents()).slice(0, 5);
    const { url, seen } = await receiver(crcAware);
    const sender = sandbox!.webhooks({ url, secret: SECRET });
    const first = await sender.deliver(all, { concurrency: 1 });
    expect(first.validation).toMatchObject({ passed: true, status: 200 });
    await sender.deliver(all, { concurrency: 1 });
    expect(seen.map((entry) => entry.json.event)).toEqual(['endpoint.url_validation', ...all.map((event) => event.event), ...all.map((event) => event.event)]);
    // The validation is signed too.
    expect(seen[0]!.headers['x-zm-signature']).toBe(signatureFor(SECRET, String(seen[0]!.headers['x-zm-request-timestamp']), seen[0]!.body));
  });

  it('sends nothing to an endpoint that fails the validation', async () => {
    const all = (await sandboxEvents()).slice(0, 5);
    const { url, seen } = await receiver((entry) => ({ status: 200, body: JSON.stringify({ plainToken: entry.json.payload?.plainToken, encryptedToken: 'not-it' }) }));
    const sender = sandbox!.webhooks({ url, secret: SECRET });
    await expect(sender.deliver(all)).rejects.toBeInstanceOf(ValidationFailedError);
    expect((await sender.start()).passed).toBe(false);
    expect(seen).toHaveLength(1);
  });
});

describe('sandbox webhook sender: faults on demand', () => {
  it('drops an exact, seeded share: the same seed drops the same events, another seed others', async () => {
    const all = await sandboxEvents();
    expect(all.length).toBeGreaterThan(40);
    const { url, seen } = await receiver(crcAware);
    const sender = sandbox!.webhooks({ url, secret: SECRET });
    const report = await sender.deliver(all, { dropShare: 0.1, seed: 9, concurrency: 8 });
    expect(report.dropped).toHaveLength(Math.round(all.length * 0.1));
    expect(report.sent).toHaveLength(all.length - report.dropped.length);
    const arrived = new Set(events(seen).map(keyOf));
    expect(report.dropped.filter((event) => arrived.has(keyOfEvent(event)))).toEqual([]);
    expect(arrived.size).toBe(report.sent.length);
    const again = await sender.deliver(all, { dropShare: 0.1, seed: 9 });
    expect(again.dropped).toEqual(report.dropped);
    expect((await sender.deliver(all, { dropShare: 0.1, seed: 10 })).dropped).not.toEqual(report.dropped);
  });

  it('duplicates a share, one copy after the other or both at the same moment with different signatures', async () => {
    const all = (await sandboxEvents()).slice(0, 12);
    const { url, seen } = await receiver(crcAware, { delayMs: 40 });
    const sender = sandbox!.webhooks({ url, secret: SECRET });
    const report = await sender.deliver(all, { duplicateShare: 0.25, concurrentDuplicates: true, seed: 4, concurrency: 1 });
    expect(report.duplicated).toHaveLength(3);
    for (const event of all) {
      const copies = events(seen).filter((entry) => keyOf(entry) === keyOfEvent(event));
      if (!report.duplicated.includes(event)) {
        expect(copies).toHaveLength(1);
        continue;
      }
      expect(copies).toHaveLength(2);
      // Both in flight at once: the second arrived before the first was answered.
      expect(copies[1]!.at).toBeLessThan(copies[0]!.answeredAt);
      expect(copies[0]!.headers['x-zm-signature']).not.toBe(copies[1]!.headers['x-zm-signature']);
      expect(copies[0]!.body.equals(copies[1]!.body)).toBe(true);
    }
    seen.length = 0;
    await sender.deliver(all, { duplicateShare: 0.25, seed: 4, concurrency: 1 });
    for (const event of report.duplicated) {
      const copies = events(seen).filter((entry) => keyOf(entry) === keyOfEvent(event));
      expect(copies[1]!.at).toBeGreaterThanOrEqual(copies[0]!.answeredAt);
    }
  });

  it('reorders by seed, and holds a share back by a delay while the others go out', async () => {
    const all = (await sandboxEvents()).slice(0, 30);
    const clock = new VirtualClock(NOW.getTime());
    const { url, seen } = await receiver(crcAware, { clock });
    const sender = sandbox!.webhooks({ url, secret: SECRET, clock });
    await sender.deliver(all, { reorder: true, seed: 2, concurrency: 1 });
    const order = events(seen).map(keyOf);
    expect(order).not.toEqual(all.map(keyOfEvent));
    expect([...order].sort()).toEqual(all.map(keyOfEvent).sort());
    seen.length = 0;
    await sender.deliver(all, { reorder: true, seed: 2, concurrency: 1 });
    expect(events(seen).map(keyOf)).toEqual(order);

    seen.length = 0;
    const start = clock.now();
    const report = await sender.deliver(all, { delay: { share: 0.2, ms: 45 * MIN }, concurrency: 4 });
    expect(report.delayed).toHaveLength(6);
    const held = new Set(report.delayed.map(keyOfEvent));
    const arrivals = events(seen);
    expect(arrivals.slice(-6).map(keyOf).sort()).toEqual([...held].sort());
    for (const entry of arrivals) expect(entry.virtualAt! - start).toBe(held.has(keyOf(entry)) ? 45 * MIN : 0);
  });

  it('tampers with a share: wrong secret (refused, never retried), stale timestamp, bytes other than JSON.stringify', async () => {
    const all = (await sandboxEvents()).slice(0, 20);
    const { url, seen } = await receiver((entry) => {
      const timestamp = String(entry.headers['x-zm-request-timestamp']);
      const fresh = Math.abs(Number(timestamp) * 1000 - Date.now()) <= 300_000;
      return entry.headers['x-zm-signature'] === signatureFor(SECRET, timestamp, entry.body) && fresh ? crcAware(entry) : 401;
    });
    const sender = sandbox!.webhooks({ url, secret: SECRET, retryDelaysMs: [5, 5, 5] });
    const wrong = await sender.deliver(all, { tamper: { share: 0.25, faults: { wrongSecret: true } }, seed: 1 });
    expect(wrong.tampered).toHaveLength(5);
    expect(wrong.failed.map((failure) => failure.event)).toEqual(expect.arrayContaining(wrong.tampered));
    expect(wrong.failed).toHaveLength(5);
    for (const failure of wrong.failed) expect(failure.result.attempts.map((attempt) => attempt.status)).toEqual([401]);

    seen.length = 0;
    const stale = await sender.deliver(all, { tamper: { share: 0.1, faults: { skewSeconds: 301 } }, seed: 1 });
    expect(stale.failed.map((failure) => failure.event)).toEqual(stale.tampered);
    const staleSeen = seen.filter((entry) => stale.tampered.some((event) => keyOfEvent(event) === keyOf(entry)));
    expect(staleSeen).toHaveLength(stale.tampered.length);
    for (const entry of staleSeen) expect(Date.now() / 1000 - Number(entry.headers['x-zm-request-timestamp'])).toBeGreaterThanOrEqual(301);

    seen.length = 0;
    const odd = await sender.deliver(all, { tamper: { share: 1, faults: { oddSerialisation: true } } });
    expect(odd.failed).toEqual([]);
    for (const entry of events(seen)) {
      const text = entry.body.toString();
      expect(text).not.toBe(JSON.stringify(JSON.parse(text)));
      expect(entry.json).toEqual(all.find((event) => keyOfEvent(event) === keyOf(entry))!.body);
    }
  });
});
