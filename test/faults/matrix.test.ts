// The fault matrix: full reconciliations against the sandbox with one kind of fault switched on at a time. Every case
// checks the same promises: each artifact of the window delivered exactly once, nothing marked delivered that the
// destination does not hold byte for byte, failures recorded with their reasons, and the exit code of PRODUCT.md.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDestination } from '../../src/destinations/memory.js';
import { CredentialsRefusedError, QuotaExhaustedError } from '../../src/errors.js';
import type { RunRequest, RunResult } from '../../src/run.js';
import type { Fault, FaultTarget, RecordedRequest } from '../../src/sandbox/index.js';
import { harness, type Harness, type HarnessOptions } from '../support/harness.js';
import {
  expectExactlyOnce,
  expectLedgerMatches,
  failedRows,
  fetchPage,
  readDeliveries,
  readRuns,
  throttledByLabel,
} from './support.js';

const BOUNDS = { from: '2026-11-17', to: '2026-11-18' };
const WINDOW = { from: new Date('2026-11-17T00:00:00Z'), to: new Date('2026-11-19T00:00:00Z') };
const RECORDINGS = { operationId: 'downloadRecording' } satisfies FaultTarget;
const DOWNLOADS = { label: 'download' } satisfies FaultTarget;
const MEDIUM = { label: 'Medium' } satisfies FaultTarget;

let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

interface Setup {
  h: Harness;
  memory: MemoryDestination;
  run(request?: Partial<RunRequest>): Promise<RunResult>;
  fault(target: FaultTarget, fault: Fault, options?: { times?: number; after?: number }): void;
}

/** A small sandbox, fast retries, and a memory destination that counts puts per key; `request` goes to every run. */
async function setup(options: HarnessOptions = {}, defaults: Partial<RunRequest> = {}): Promise<Setup> {
  const { zoom, ...rest } = options;
  const h = (current = await harness({
    engagementsPerDay: 8,
    mediaBytes: { min: 2_000, max: 60_000 },
    ...rest,
    zoom: { retry: { limit: 4, maxBackoff: 'PT0.05S' }, ...zoom },
  }));
  const memory = new MemoryDestination({ name: 'archive' });
  return {
    h,
    memory,
    run: (request = {}) => h.run({ ...BOUNDS, destinations: [memory], ...defaults, ...request }),
    fault: (target, fault, faultOptions) => h.sandbox.faults.add(target, fault, faultOptions),
  };
}

/**
 * Where paging faults can act: three pages of engagements (100 a page) in the window, listed by one query (sliced, each
 * slice would fit one page and no page token would ever be sent).
 */
const PAGED: HarnessOptions = { engagementsPerDay: 110, mediaBytes: { min: 300, max: 2_000 } };
/** Six pages of engagements: after the first, total_records leaves more than the first query pages alone. */
const SLICED: HarnessOptions = { engagementsPerDay: 260, mediaBytes: { min: 300, max: 2_000 } };
const ONE_QUERY: Partial<RunRequest> = { listSlices: 1 };

/** A list request's window as one string, `from to`. */
function boundsOf(request: RecordedRequest): string {
  return `${String(request.query.from)} ${String(request.query.to)}`;
}

function tokenRequests(h: Harness): number {
  return h.sandbox.requests.filter((request) => request.operationId === 'oauthToken').length;
}

function isoIn(h: Harness, ms: number): string {
  return new Date(h.clock.now.getTime() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

describe('rate limits', () => {
  it('a 429 storm (Retry-After in seconds) pauses the label and slows it: few 429s, everything once', async () => {
    const { h, memory, run } = await setup({ engagementsPerDay: 16, rateLimits: { Medium: 2, download: 30 } });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    const throttled = throttledByLabel(h.sandbox);
    expect(throttled.download ?? 0).toBeGreaterThan(0);
    expect(throttled.download ?? 0).toBeLessThanOrEqual(8);
    expect(throttled.Medium ?? 0).toBeLessThanOrEqual(3);
  });

  it('a 429 storm with an ISO date-time Retry-After is honoured the same way', async () => {
    const { h, memory, run, fault } = await setup();
    const headers = { 'Retry-After': isoIn(h, 1_000), 'X-RateLimit-Type': 'QPS', 'X-RateLimit-Category': 'Light' };
    fault(DOWNLOADS, { type: 'status', status: 429, headers, body: { code: 429, message: 'slow down' } }, { times: Infinity, after: 2 });
    // The storm ends a little before the date it announced: a client that reads the date and waits meets it about once
    // per request in flight; one that cannot read a date and falls back to its own short backoff meets it many times.
    let stop: NodeJS.Timeout | undefined;
    const watch = setInterval(() => {
      if (h.sandbox.faults.fired.length > 0 && !stop) stop = setTimeout(() => h.sandbox.faults.clear(), 900);
    }, 5);
    const result = await run();
    clearInterval(watch);
    clearTimeout(stop);
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    const throttled = throttledByLabel(h.sandbox);
    expect(throttled.download ?? 0).toBeGreaterThan(0);
    // About once per request in flight (zcc-reconcile's concurrency), plus one.
    expect(throttled.download ?? 0).toBeLessThanOrEqual(h.config.concurrency + 1);
  });

  it('an HTTP-date Retry-After on a list pauses that label until the date', async () => {
    const { h, memory, run, fault } = await setup();
    const until = new Date(h.clock.now.getTime() + 1_000).toUTCString();
    fault({ operationId: 'listRecordings' }, { type: 'status', status: 429, headers: { 'Retry-After': until } }, { times: 1 });
    const started = Date.now();
    const result = await run();
    expect(result.exitCode).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    expect(throttledByLabel(h.sandbox)).toEqual({ Medium: 1 });
  });

  it('a 429 without Retry-After backs off exponentially and is retried', async () => {
    const { h, memory, run, fault } = await setup();
    fault(DOWNLOADS, { type: 'status', status: 429, headers: {} }, { times: 3 });
    fault(MEDIUM, { type: 'status', status: 429, headers: {} }, { times: 1 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    expect(h.sandbox.stats.status429).toBe(4);
  });

  it('a spent daily quota ends the run at once (exit 3), keeps what was delivered, and the next run completes', async () => {
    const { h, memory, run, fault } = await setup();
    const resets = isoIn(h, 10 * 3_600_000);
    const daily = {
      type: 'status',
      status: 429,
      headers: { 'Retry-After': resets, 'X-RateLimit-Type': 'Daily-limit', 'X-RateLimit-Category': 'Medium' },
      body: { code: 429, message: 'You have reached the maximum daily rate limit for this API.' },
    } satisfies Fault;
    fault(MEDIUM, daily, { times: Infinity, after: 1 });
    const started = Date.now();
    const stopped = await run();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(stopped.exitCode).toBe(3);
    expect(stopped.stopped).toBeInstanceOf(QuotaExhaustedError);
    expect(stopped.stopped!.message).toMatch(/daily quota/);
    expect(stopped.stopped!.message).toContain(resets.replace('Z', ''));
    expect(throttledByLabel(h.sandbox).Medium).toBeLessThanOrEqual(2);
    expect(memory.objects.size).toBeGreaterThan(0);
    expectLedgerMatches(memory, h.ledgerPath);
    expect(failedRows(h.ledgerPath)).toEqual([]);
    expect(readRuns(h.ledgerPath).at(-1)).toMatchObject({ outcome: 'incomplete', listing_complete: 0 });

    h.sandbox.faults.clear();
    const next = await run();
    expect(next.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('a daily quota met by a download also ends the run, without counting the artifact as failed', async () => {
    const { h, memory, run, fault } = await setup();
    const headers = { 'Retry-After': isoIn(h, 3_600_000), 'X-RateLimit-Type': 'Daily-limit' };
    fault(DOWNLOADS, { type: 'status', status: 429, headers }, { times: Infinity, after: 3 });
    const stopped = await run();
    expect(stopped.exitCode).toBe(3);
    expect(stopped.stopped).toBeInstanceOf(QuotaExhaustedError);
    expectLedgerMatches(memory, h.ledgerPath);
    expect(failedRows(h.ledgerPath)).toEqual([]);
    h.sandbox.faults.clear();
    expect((await run()).exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });
});

describe('a daily quota told only by its message (no X-RateLimit-Type, no Retry-After, as seen in the field)', () => {
  const bare = { type: 'status', status: 429, body: { code: 429, message: 'You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request.' } } satisfies Fault;

  // At most one 429 per request in flight: the list's probe and its neighbour, or the 8 downloads of `concurrency`.
  it.each([
    ['a list', MEDIUM, 1, 2],
    ['a download', DOWNLOADS, 3, 8],
  ] as const)('met by %s, it ends the run at once (exit 3) instead of retrying; the next run completes', async (_name, target, after, inFlight) => {
    const { h, memory, run, fault } = await setup();
    fault(target, bare, { times: Infinity, after });
    const started = Date.now();
    const stopped = await run();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(stopped.exitCode).toBe(3);
    expect(stopped.stopped).toBeInstanceOf(QuotaExhaustedError);
    // Reset at midnight UTC when Zoom does not say.
    expect(stopped.stopped!.message).toMatch(/daily quota.*T00:00:00/);
    expect(h.sandbox.faults.fired.length).toBeLessThanOrEqual(inFlight);
    expectLedgerMatches(memory, h.ledgerPath);
    expect(failedRows(h.ledgerPath)).toEqual([]);
    h.sandbox.faults.clear();
    expect((await run()).exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });
});

describe('transient errors', () => {
  it('5xx bursts on lists, downloads and the token endpoint are retried', async () => {
    const { h, memory, run, fault } = await setup();
    fault(MEDIUM, { type: 'status', status: 503 }, { times: 3 });
    fault(DOWNLOADS, { type: 'status', status: 500 }, { times: 3 });
    fault(DOWNLOADS, { type: 'status', status: 502 }, { times: 2, after: 5 });
    fault({ label: 'token' }, { type: 'status', status: 503 }, { times: 1 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    expect(h.sandbox.faults.fired.length).toBe(9);
  });

  it('5xx past the retry budget leaves that chunk unchecked (exit 3); the rest is delivered; the next run lists it', async () => {
    const { h, memory, run, fault } = await setup();
    fault({ operationId: 'listInboxesMessages' }, { type: 'status', status: 503 }, { times: Infinity });
    const result = await run();
    expect(result.exitCode).toBe(3);
    expect(result.incomplete.join('\n')).toMatch(/messages .*503/);
    expect([...memory.objects.keys()].some((key) => key.startsWith('recording/'))).toBe(true);
    expect([...memory.objects.keys()].some((key) => key.startsWith('voicemail'))).toBe(false);
    expectLedgerMatches(memory, h.ledgerPath);
    h.sandbox.faults.clear();
    expect((await run()).exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('an incomplete listing and a failed artifact in one run: exit 3 wins over 1', async () => {
    const { h, memory, run, fault } = await setup();
    fault({ operationId: 'listInboxesMessages' }, { type: 'status', status: 503 }, { times: Infinity });
    fault(RECORDINGS, { type: 'html' }, { times: 1, after: 1 });
    const result = await run();
    expect(result.incomplete.join('\n')).toMatch(/messages .*503/);
    expect(failedRows(h.ledgerPath)).toHaveLength(1);
    expect(result.exitCode).toBe(3);
    expectLedgerMatches(memory, h.ledgerPath);
  });

  it('an API that refuses connections is unreachable: exit 3 after the bounded retries, nothing marked delivered', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { h, memory, run } = await setup({ zoom: { apiBaseUrl: `http://127.0.0.1:${port}/v2` } });
    const started = Date.now();
    const result = await run();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.exitCode).toBe(3);
    expect(result.stopped?.message).toMatch(/unreachable \(ECONNREFUSED\)/);
    expect(memory.objects.size).toBe(0);
    expect(readDeliveries(h.ledgerPath)).toEqual([]);
  });

  it('connections reset before the response are retried', async () => {
    const { h, memory, run, fault } = await setup();
    fault(MEDIUM, { type: 'reset' }, { times: 2 });
    fault(DOWNLOADS, { type: 'reset' }, { times: 4 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('slow headers past zoom.requestTimeout time out and are retried', async () => {
    const { h, memory, run, fault } = await setup({ zoom: { requestTimeout: 'PT0.4S' } });
    fault(MEDIUM, { type: 'slow', delayMs: 1_500 }, { times: 2 });
    fault(DOWNLOADS, { type: 'slow', delayMs: 1_500 }, { times: 2 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });
});

describe('downloads', () => {
  it('a connection reset mid-body is resumed with Range', async () => {
    const { h, memory, run, fault } = await setup();
    fault(RECORDINGS, { type: 'resetMidBody', afterBytes: 1_500 }, { times: 4 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    const ranged = h.sandbox.requests.filter((request) => request.operationId === 'downloadRecording' && request.range);
    expect(ranged.length).toBeGreaterThanOrEqual(4);
    for (const request of ranged) expect(request.range).toMatch(/^bytes=\d+-$/);
  });

  it('a truncated body is resumed, never delivered short', async () => {
    const { h, memory, run, fault } = await setup();
    fault(RECORDINGS, { type: 'truncate', bytes: 1_000 }, { times: 3 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('a wrong Content-Length is a failed artifact (exit 1), nothing stored, delivered by the next run', async () => {
    const { h, memory, run, fault } = await setup();
    fault(RECORDINGS, { type: 'wrongLength', delta: 100 }, { times: 1 });
    fault({ operationId: 'downloadVoicemail' }, { type: 'wrongLength', delta: -100 }, { times: 1 });
    fault({ operationId: 'downloadRecordingTranscript' }, { type: 'wrongLength', delta: -7 }, { times: 1 });
    const result = await run();
    expect(result.exitCode).toBe(1);
    const failed = failedRows(h.ledgerPath);
    expect(failed.map((row) => row.key.split('/')[0]).sort()).toEqual(['recording', 'recording_transcript', 'voicemail']);
    for (const row of failed) {
      expect(row.last_error).toMatch(/Content-Length|bytes/);
      expect(memory.objects.has(row.key)).toBe(false);
    }
    expectLedgerMatches(memory, h.ledgerPath);
    expect((await run()).exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    expect(failedRows(h.ledgerPath)).toEqual([]);
  });

  it('a wrong Content-Length into the filesystem archive is a failed artifact too, not a crash of the run', async () => {
    const { h, run, fault } = await setup();
    fault(RECORDINGS, { type: 'wrongLength', delta: 100 }, { times: 1 });
    fault({ operationId: 'downloadRecordingTranscript' }, { type: 'wrongLength', delta: 100 }, { times: 1 });
    const result = await run({ destinations: undefined });
    expect(result.exitCode).toBe(1);
    expect(failedRows(h.ledgerPath).map((row) => row.key.split('/')[0]).sort()).toEqual(['recording', 'recording_transcript']);
    expect((await run({ destinations: undefined })).exitCode).toBe(0);
    expect(failedRows(h.ledgerPath)).toEqual([]);
  });

  it('a slow but steady body completes; a stalled one times out and is resumed', async () => {
    const { h, memory, run, fault } = await setup({ zoom: { requestTimeout: 'PT0.5S' } });
    fault(RECORDINGS, { type: 'slowBody', bytesPerSecond: 60_000 }, { times: 2 });
    fault(RECORDINGS, { type: 'slowBody', bytesPerSecond: 1 }, { times: 1, after: 2 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    expect(h.sandbox.requests.some((request) => request.operationId === 'downloadRecording' && request.range)).toBe(true);
  });

  it('an HTML page instead of the file is a failed artifact (exit 1), nothing stored, delivered by the next run', async () => {
    const { h, memory, run, fault } = await setup();
    fault(RECORDINGS, { type: 'html' }, { times: 1, after: 1 });
    const result = await run();
    expect(result.exitCode).toBe(1);
    const failed = failedRows(h.ledgerPath);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ key: expect.stringMatching(/^recording\//), attempts: 1, last_error: expect.stringMatching(/HTML/) });
    expect(memory.objects.has(failed[0]!.key)).toBe(false);
    expectLedgerMatches(memory, h.ledgerPath);
    expect((await run()).exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });
});

describe('auth', () => {
  it.each([
    ['401 code 124', 'expireToken'],
    ['legacy 400 code 124', 'expireToken400'],
    ['401 errorCode 401', 'expireTokenErrorCode'],
  ] as const)('a token that expires mid-run (%s) is refreshed once and the request replayed', async (_label, type) => {
    const { h, memory, run, fault } = await setup();
    fault({ operationId: 'listRecordings' }, { type }, { times: 1 });
    fault(RECORDINGS, { type }, { times: 1, after: 2 });
    fault({ operationId: 'downloadMessagingTranscript' }, { type }, { times: 1, after: 1 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    expect(h.sandbox.faults.fired).toHaveLength(3);
    expect(tokenRequests(h)).toBeGreaterThanOrEqual(2);
    expect(tokenRequests(h)).toBeLessThanOrEqual(4);
  });

  it('every token revoked mid-run: one refresh, the run completes', async () => {
    const { h, memory, run } = await setup();
    let revoked = false;
    const result = await run({
      onEvent: (event) => {
        if (event.type === 'delivered' && !revoked) {
          revoked = true;
          h.sandbox.revokeTokens();
        }
      },
    });
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    expect(tokenRequests(h)).toBe(2);
  });

  it('refused credentials end the run with exit 3, naming the variables to check, after one token request', async () => {
    const { h, memory, run } = await setup();
    h.sandbox.faults.refuseCredentials(true);
    const result = await run();
    expect(result.exitCode).toBe(3);
    expect(result.stopped).toBeInstanceOf(CredentialsRefusedError);
    expect(result.stopped!.message).toMatch(/ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET/);
    expect(tokenRequests(h)).toBe(1);
    expect(h.sandbox.requests).toHaveLength(1);
    expect(memory.objects.size).toBe(0);
  });

  it('credentials refused mid-run stop the run (exit 3) without failing artifacts; the next run completes', async () => {
    const { h, memory, run } = await setup();
    let refused = false;
    const result = await run({
      onEvent: (event) => {
        if (event.type === 'delivered' && !refused) {
          refused = true;
          h.sandbox.faults.refuseCredentials(true);
          h.sandbox.revokeTokens();
        }
      },
    });
    expect(result.exitCode).toBe(3);
    expect(result.stopped).toBeInstanceOf(CredentialsRefusedError);
    expect(tokenRequests(h)).toBeLessThanOrEqual(3);
    expectLedgerMatches(memory, h.ledgerPath);
    expect(failedRows(h.ledgerPath)).toEqual([]);
    h.sandbox.faults.refuseCredentials(false);
    expect((await run()).exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });
});

describe('paging', () => {
  it('a stale page token restarts the chunk; nothing is lost or pushed twice', async () => {
    const { h, memory, run, fault } = await setup(PAGED, ONE_QUERY);
    fault({ operationId: 'listEngagements' }, { type: 'stalePageToken' }, { times: 1 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expect(h.sandbox.faults.fired).toHaveLength(1);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('a page token still stale after restarts leaves the chunk unchecked (exit 3); the next run lists it again', async () => {
    const { h, memory, run, fault } = await setup(PAGED, ONE_QUERY);
    fault({ operationId: 'listEngagements' }, { type: 'stalePageToken' }, { times: Infinity });
    const result = await run();
    expect(result.exitCode).toBe(3);
    expect(result.incomplete.join('\n')).toMatch(/engagements .*stale/);
    expectLedgerMatches(memory, h.ledgerPath);
    h.sandbox.faults.clear();
    expect((await run()).exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('a repeating next_page_token: listing incomplete (exit 3), other sources delivered, next run lists that chunk', async () => {
    const { h, memory, run, fault } = await setup(PAGED, ONE_QUERY);
    fault({ operationId: 'listEngagements' }, { type: 'repeatPageToken' }, { times: 1 });
    const result = await run();
    expect(result.exitCode).toBe(3);
    expect(result.incomplete.join('\n')).toMatch(/same next_page_token/);
    const keys = [...memory.objects.keys()];
    expect(keys.some((key) => key.startsWith('recording/'))).toBe(true);
    expect(keys.some((key) => key.startsWith('voicemail/'))).toBe(true);
    expectLedgerMatches(memory, h.ledgerPath);
    expect(readRuns(h.ledgerPath).at(-1)).toMatchObject({ outcome: 'incomplete', listing_complete: 0 });

    const before = h.sandbox.requests.length;
    const next = await run();
    expect(next.exitCode).toBe(0);
    // Only the unchecked chunk is listed again over its bounds (pending transcripts are re-checked by their day).
    const chunkLists = h.sandbox.requests
      .slice(before)
      .filter((request) => request.query.from === '2026-11-17T00:00:00Z' && request.query.to === '2026-11-19T00:00:00Z');
    expect(new Set(chunkLists.map((request) => request.operationId))).toEqual(new Set(['listEngagements']));
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('next_page_tokens that come back after another (A, B, A, …): listing incomplete (exit 3) instead of paging for ever', async () => {
    const { h, memory, run, fault } = await setup(PAGED, ONE_QUERY);
    fault({ operationId: 'listEngagements' }, { type: 'cyclePageToken' }, { times: Infinity });
    const result = await run();
    expect(result.exitCode).toBe(3);
    expect(result.incomplete.join('\n')).toMatch(/engagements .*same next_page_token/);
    // Three pages, then the token of the second again: refused there, never followed.
    expect(h.sandbox.requests.filter((request) => request.operationId === 'listEngagements')).toHaveLength(3);
    expectLedgerMatches(memory, h.ledgerPath);
    h.sandbox.faults.clear();
    expect((await run()).exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('a range of several pages is listed as concurrent slices: both bounds on each query, slices tile the chunk, every item once', async () => {
    const { h, memory, run } = await setup(SLICED);
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    const lists = h.sandbox.requests.filter((request) => request.operationId === 'listEngagements');
    expect(lists.every((request) => typeof request.query.from === 'string' && typeof request.query.to === 'string')).toBe(true);
    // One query over the whole chunk shows it has more than a page; then four slices (Zoom's `to` is inclusive).
    const bounds = new Set(lists.map(boundsOf));
    expect(bounds).toEqual(
      new Set([
        '2026-11-17T00:00:00Z 2026-11-19T00:00:00Z',
        '2026-11-17T00:00:00Z 2026-11-17T12:00:00Z',
        '2026-11-17T12:00:00Z 2026-11-18T00:00:00Z',
        '2026-11-18T00:00:00Z 2026-11-18T12:00:00Z',
        '2026-11-18T12:00:00Z 2026-11-19T00:00:00Z',
      ]),
    );
  });

  it('a range that total_records shows has only two pages after the first is paged by that one query, not sliced', async () => {
    const { h, memory, run } = await setup(PAGED);
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
    const lists = h.sandbox.requests.filter((request) => request.operationId === 'listEngagements');
    expect(lists.map(boundsOf)).toEqual(
      Array(3).fill('2026-11-17T00:00:00Z 2026-11-19T00:00:00Z'),
    );
    expect(lists.filter((request) => request.query.next_page_token !== undefined)).toHaveLength(2);
  });

  it('recordings report no total_records: a range of three pages is still sliced after its first page', async () => {
    const { h, memory, run } = await setup({ engagementsPerDay: 520, mediaBytes: { min: 100, max: 300 } });
    const result = await run({ kinds: ['recording'] });
    expect(result.exitCode).toBe(0);
    const lists = h.sandbox.requests.filter((request) => request.operationId === 'listRecordings');
    const bounds = new Set(lists.map(boundsOf));
    expect(bounds.size).toBe(5);
    const truth = h.sandbox.truth.artifacts(WINDOW).filter((artifact) => artifact.kind === 'recording');
    expect([...memory.objects.keys()].sort()).toEqual(truth.map((artifact) => artifact.key).sort());
  });

  it('a slice that cannot be listed leaves its chunk unchecked (exit 3); the next run lists it and delivers the rest once', async () => {
    const { h, memory, run, fault } = await setup(SLICED);
    fault({ operationId: 'listEngagements' }, { type: 'status', status: 503 }, { times: Infinity, after: 2 });
    const result = await run();
    expect(result.exitCode).toBe(3);
    expect(result.incomplete.join('\n')).toMatch(/^engagements /);
    expectLedgerMatches(memory, h.ledgerPath);
    expect(readRuns(h.ledgerPath).at(-1)).toMatchObject({ outcome: 'incomplete', listing_complete: 0 });
    h.sandbox.faults.clear();
    expect((await run()).exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('duplicated items and shifted pages: nothing lost, nothing pushed twice', async () => {
    const { h, memory, run, fault } = await setup(PAGED, ONE_QUERY);
    fault({ operationId: 'listEngagements' }, { type: 'duplicateItems' }, { times: 2 });
    fault({ operationId: 'listRecordings' }, { type: 'duplicateItems' }, { times: 1 });
    fault({ operationId: 'listInboxesMessages' }, { type: 'duplicateItems' }, { times: 1 });
    fault({ operationId: 'listEngagements' }, { type: 'shiftPage', by: 7 }, { times: 1, after: 1 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('an engagement that moves to an earlier page during paging is still found (total_records)', async () => {
    const { h, memory, run, fault } = await setup(PAGED, ONE_QUERY);
    fault({ operationId: 'listEngagements' }, { type: 'moveItem' }, { times: 1, after: 1 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expect(h.sandbox.faults.fired).toHaveLength(1);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('a recording that moves to an earlier page is still found (no total_records: the repeat gives it away)', async () => {
    // Three pages of recordings (300 a page): the item moves while the second page is served.
    const { h, memory, run, fault } = await setup({ engagementsPerDay: 520, mediaBytes: { min: 100, max: 300 } });
    fault({ operationId: 'listRecordings' }, { type: 'moveItem' }, { times: 1, after: 1 });
    const result = await run({ kinds: ['recording'] });
    expect(result.exitCode).toBe(0);
    expect(h.sandbox.faults.fired).toHaveLength(1);
    const truth = h.sandbox.truth.artifacts(WINDOW).filter((artifact) => artifact.kind === 'recording');
    expect(truth.length).toBeGreaterThan(600);
    expect([...memory.objects.keys()].sort()).toEqual(truth.map((artifact) => artifact.key).sort());
    expect([...memory.putCount.values()].every((count) => count === 1)).toBe(true);
    expectLedgerMatches(memory, h.ledgerPath);
  });
});

describe('bad API data', () => {
  it('a page that is not JSON is retried', async () => {
    const { h, memory, run, fault } = await setup();
    fault({ operationId: 'listRecordings' }, { type: 'malformed', body: '{"recordings": [' }, { times: 2 });
    fault({ operationId: 'listEngagements' }, { type: 'malformed', body: '<html>gateway</html>' }, { times: 1 });
    const result = await run();
    expect(result.exitCode).toBe(0);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });

  it('bad items (missing field, ids with /, .., NUL, a 1 MB id) are failed artifacts with reasons; the rest is delivered', async () => {
    const { h, memory, run, fault } = await setup();
    const bounds = { from: '2026-11-17T00:00:00Z', to: '2026-11-19T00:00:00Z' };
    const recordings = await fetchPage(h.sandbox, '/contact_center/recordings', { ...bounds, query_date_type: 'recording_end_time', page_size: '300' });
    const real = (recordings.recordings as Record<string, unknown>[])[0]!;
    const missing: Record<string, unknown> = { ...real, recording_id: 'RecMissingEndTime00001' };
    delete missing.recording_end_time;
    const bad = [
      missing,
      { ...real, recording_id: 'Rec/../../../etc/passwd' },
      { ...real, recording_id: '..' },
      { ...real, recording_id: 'Rec\u0000evil' },
      { ...real, recording_id: 'R'.repeat(1_000_000) },
      { ...real, recording_id: 'RecBadEngagement000001', engagement_id: '../outside' },
    ];
    // Every listing of the window gets the crafted pages, restarts included: bad data does not go away by asking again.
    const always = { times: Infinity };
    fault({ operationId: 'listRecordings' }, { type: 'malformed', body: JSON.stringify({ ...recordings, recordings: [...(recordings.recordings as unknown[]), ...bad] }) }, always);

    const engagements = await fetchPage(h.sandbox, '/contact_center/engagements', { ...bounds, timezone: 'UTC', page_size: '100' });
    const first = (engagements.engagements as Record<string, unknown>[])[0]!;
    const badNote = { ...first, engagement_id: 'EngBadNote000000000001', notes: [{ note_id: '..', note: 'x', user_id: 'u', last_modified_time: '2026-11-17T10:00:00Z' }], dispositions: [] };
    const noId: Record<string, unknown> = { ...first, notes: [], dispositions: [] };
    delete noId.engagement_id;
    fault(
      { operationId: 'listEngagements' },
      {
        type: 'malformed',
        body: JSON.stringify({ ...engagements, total_records: Number(engagements.total_records) + 2, engagements: [...(engagements.engagements as unknown[]), badNote, noId] }),
      },
      always,
    );

    const result = await run();
    expect(result.exitCode).toBe(1);
    const failed = failedRows(h.ledgerPath);
    expect(failed).toHaveLength(8);
    const reasons = failed.map((row) => row.last_error ?? '').join('\n');
    expect(reasons).toMatch(/recording_end_time/);
    expect(reasons).toMatch(/invalid recording_id "Rec\/\.\.\/\.\.\/\.\.\/etc\/passwd"/);
    expect(reasons).toMatch(/invalid recording_id "\.\."/);
    expect(reasons).toMatch(/invalid recording_id "Rec\\u0000evil"/);
    expect(reasons).toMatch(/1000000 chars/);
    expect(reasons).toMatch(/invalid engagement_id "\.\.\/outside"/);
    expect(reasons).toMatch(/invalid note_id "\.\."/);
    expect(reasons).toMatch(/engagement_id \(missing\)/);
    for (const row of failed) {
      expect(row.key).toMatch(/^[a-z_]+\/invalid-[0-9a-f]{16}$/);
      expect(row.last_error!.length).toBeLessThan(500);
      expect(row.last_error).not.toContain('\u0000');
    }
    expect(readDeliveries(h.ledgerPath).every((row) => !row.key.includes('..') && !row.key.includes('\u0000'))).toBe(true);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });
});

describe('late data', () => {
  it('a recording that appears after its window was reconciled is delivered once by the next run', async () => {
    const { h, memory, run } = await setup();
    expect((await run()).exitCode).toBe(0);
    const [engagement] = h.sandbox.truth.engagementIds(WINDOW);
    const { recordingId } = h.sandbox.mutate.addRecording(engagement!, { endTime: new Date('2026-11-18T20:00:00Z') });
    const delivered: string[] = [];
    const next = await run({ onEvent: (event) => event.type === 'delivered' && delivered.push(event.key) });
    expect(next.exitCode).toBe(0);
    expect(delivered).toContain(`recording/${recordingId}`);
    expect(delivered.every((key) => key.endsWith(recordingId))).toBe(true);
    expectExactlyOnce(h.sandbox, WINDOW, memory, h.ledgerPath);
  });
});

describe('window bounds', () => {
  it('a recording that ended exactly at the window\'s end belongs to the next window; one at its start to this one', async () => {
    const { h, memory, run } = await setup({ engagementsPerDay: 4, mediaBytes: { min: 500, max: 2_000 } });
    const [engagement] = h.sandbox.truth.engagementIds(WINDOW);
    const atEnd = h.sandbox.mutate.addRecording(engagement!, { endTime: WINDOW.to });
    const atStart = h.sandbox.mutate.addRecording(engagement!, { endTime: WINDOW.from });
    expect((await run()).exitCode).toBe(0);
    expect(memory.putCount.get(`recording/${atStart.recordingId}`)).toBe(1);
    expect(memory.putCount.get(`recording/${atEnd.recordingId}`)).toBeUndefined();
    expect((await run({ from: '2026-11-19', to: '2026-11-19' })).exitCode).toBe(0);
    expect(memory.putCount.get(`recording/${atEnd.recordingId}`)).toBe(1);
  });
});
