import { mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { ARTIFACT_KINDS, type Artifact, type ArtifactKind } from '../../src/artifacts.js';
import type { DeliveredCursor, RunScope } from '../../src/ledger/types.js';
import { LedgerLockedError } from '../../src/errors.js';
import { MIGRATIONS } from '../../src/ledger/schema.js';
import { RUN_LOCK_STALE_MS, SqliteLedger } from '../../src/ledger/sqlite.js';

const SCOPE: RunScope = { kinds: ['note', 'recording'], destinations: [{ name: 'archive', kinds: ['note', 'recording'] }] };

function tempLedgerPath(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'ledger-')), 'ledger.sqlite');
}

function artifact(key: string, state: 'ready' | 'pending' = 'ready'): Artifact {
  return {
    key, kind: 'recording_transcript', engagementId: 'E1', listedAt: '2026-11-24T10:00:00.000Z',
    occurredAt: '2026-11-24T10:00:00.000Z', extension: 'vtt', contentType: 'text/vtt', state,
    body: state === 'ready' ? { type: 'download', url: 'https://api.zoom.us/v2/x' } : undefined,
    fingerprint: `zoom:${key}`, engagement: { engagementId: 'E1', agents: [], consumers: [] },
  };
}

describe('SQLite ledger', () => {
  it('is created 0600 and in WAL mode', () => {
    const file = tempLedgerPath();
    SqliteLedger.open(file).close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('records deliveries and answers a set-based lookup', () => {
    const ledger = SqliteLedger.open(tempLedgerPath());
    ledger.recordDeliveries([
      { destination: 'a', key: 'k1', fingerprint: 'f1', size: 3, sha256: 's', location: 'l1', deliveredAt: '2026-01-01T00:00:00Z' },
      { destination: 'b', key: 'k2', fingerprint: 'f2', size: 4, sha256: 't', location: 'l2', deliveredAt: '2026-01-01T00:00:00Z' },
    ]);
    const states = ledger.deliveryStates('a', ['k1', 'k2', 'k3']);
    expect([...states.keys()]).toEqual(['k1']);
    expect(states.get('k1')).toMatchObject({ status: 'delivered', fingerprint: 'f1', size: 3 });
    ledger.close();
  });

  it('counts failed attempts and keeps the last error; a delivery clears them', () => {
    const ledger = SqliteLedger.open(tempLedgerPath());
    ledger.rememberArtifacts([artifact('recording_transcript/R1')], '2026-01-01T00:00:00Z', '2025-12-29T00:00:00Z');
    ledger.recordFailure({ destination: 'a', key: 'recording_transcript/R1', error: 'first', at: '2026-01-01T00:00:00Z' });
    ledger.recordFailure({ destination: 'a', key: 'recording_transcript/R1', error: 'second', at: '2026-01-01T00:01:00Z' });
    expect(ledger.deliveryStates('a', ['recording_transcript/R1']).get('recording_transcript/R1')).toMatchObject({ status: 'failed', attempts: 2, lastError: 'second' });
    expect([...ledger.retryableArtifacts(3)].map((entry) => entry.artifact.key)).toEqual(['recording_transcript/R1']);
    expect([...ledger.retryableArtifacts(2)]).toEqual([]);
    ledger.recordDeliveries([{ destination: 'a', key: 'recording_transcript/R1', fingerprint: 'f', size: 1, sha256: 's', location: 'l', deliveredAt: '2026-01-01T00:02:00Z' }]);
    expect(ledger.deliveryStates('a', ['recording_transcript/R1']).get('recording_transcript/R1')).toMatchObject({ status: 'delivered', attempts: 0, lastError: null });
    ledger.close();
  });

  it('ledgerSummary counts per kind from key ranges exactly as a GROUP BY over every row would', () => {
    const file = tempLedgerPath();
    const ledger = SqliteLedger.open(file);
    const now = '2026-01-01T00:00:00Z';
    const cutoff = '2025-12-29T00:00:00Z';
    // Kinds whose names share a prefix (recording, recording_transcript; voicemail, voicemail_transcript), every state,
    // two destinations, failures below and at the attempt limit.
    const kinds = ['recording', 'recording_transcript', 'voicemail', 'voicemail_transcript', 'note', 'disposition', 'messaging_transcript'] as const;
    const made: Artifact[] = [];
    kinds.forEach((kind, k) => {
      for (let n = 0; n < 5 + k * 3; n++) {
        const key = kind === 'note' || kind === 'disposition' ? `${kind}/E${n % 4}/${kind[0]}${n}` : `${kind}/${kind[0]}${n}`;
        made.push({ ...artifact(key, n % 4 === 1 ? 'pending' : 'ready'), kind });
      }
    });
    ledger.rememberArtifacts(made, now, cutoff);
    ledger.markArtifactState(made.filter((_, n) => n % 7 === 3).map((a) => a.key), 'not_available', now);
    const delivered = made.filter((_, n) => n % 3 === 0);
    ledger.recordDeliveries(delivered.map((a) => ({ destination: 'a', key: a.key, fingerprint: a.fingerprint, size: 1, sha256: 's', location: 'l', deliveredAt: now })));
    ledger.recordDeliveries(made.filter((_, n) => n % 5 === 0).map((a) => ({ destination: 'b', key: a.key, fingerprint: a.fingerprint, size: 1, sha256: 's', location: 'l', deliveredAt: now })));
    for (const [n, a] of made.entries()) {
      if (n % 3 !== 1) continue;
      for (let attempt = 0; attempt < 1 + (n % 4); attempt++) ledger.recordFailure({ destination: 'a', key: a.key, error: 'boom', at: now });
    }
    const maxAttempts = 3;
    const summary = ledger.ledgerSummary(maxAttempts);
    ledger.close();

    // The oracle: the plain GROUP BY over the tables.
    const db = new Database(file, { readonly: true });
    type Counts = { artifacts: number; pending: number; notAvailable: number; delivered: number; failing: number; gaveUp: number };
    const expected: Record<string, Counts> = {};
    const entry = (kind: string): Counts => (expected[kind] ??= { artifacts: 0, pending: 0, notAvailable: 0, delivered: 0, failing: 0, gaveUp: 0 });
    for (const row of db.prepare(`SELECT kind, state, count(*) AS n FROM artifacts GROUP BY kind, state`).all() as { kind: string; state: string; n: number }[]) {
      entry(row.kind).artifacts += row.n;
      if (row.state === 'pending') entry(row.kind).pending += row.n;
      if (row.state === 'not_available') entry(row.kind).notAvailable += row.n;
    }
    const deliveries = db
      .prepare(
        `SELECT substr(key, 1, instr(key, '/') - 1) AS kind, sum(status = 'delivered') AS delivered,
                sum(status = 'failed' AND attempts < ?) AS failing, sum(status = 'failed' AND attempts >= ?) AS gaveUp
         FROM deliveries GROUP BY 1`,
      )
      .all(maxAttempts, maxAttempts) as { kind: string; delivered: number; failing: number; gaveUp: number }[];
    for (const row of deliveries) Object.assign(entry(row.kind), { delivered: row.delivered, failing: row.failing, gaveUp: row.gaveUp });
    db.close();
    expect(summary.byKind).toEqual(expected);
    const sum = (field: keyof Counts) => Object.values(expected).reduce((total, counts) => total + counts[field], 0);
    expect(summary).toMatchObject({ artifacts: made.length, pending: sum('pending'), notAvailable: sum('notAvailable'), delivered: sum('delivered'), failing: sum('failing'), gaveUp: sum('gaveUp') });
    // The fixture exercises every count.
    for (const field of ['pending', 'notAvailable', 'delivered', 'failing', 'gaveUp'] as const) expect(sum(field), field).toBeGreaterThan(0);
  });

  it('deliveredPage over a window reads it by listed time: every delivered entry in it once, per destination, in pages', () => {
    const ledger = SqliteLedger.open(tempLedgerPath());
    const now = '2026-01-01T00:00:00Z';
    // 60 artifacts an hour apart (some listed at the same instant), delivered to two destinations, some failed.
    const made = Array.from({ length: 60 }, (_, n) => ({
      ...artifact(`recording_transcript/R${String(n).padStart(3, '0')}`),
      ...(n % 5 === 4 ? { kind: 'voicemail' as const, key: `voicemail/V${n}` } : {}),
      listedAt: new Date(Date.UTC(2026, 0, 1, Math.floor(n / 2) * 2)).toISOString(),
    }));
    ledger.rememberArtifacts(made, now, '2025-12-29T00:00:00Z');
    const deliver = (destination: string, list: Artifact[]) =>
      ledger.recordDeliveries(list.map((a) => ({ destination, key: a.key, fingerprint: a.fingerprint, size: 1, sha256: 's', location: a.key, deliveredAt: now })));
    deliver('b-store', made.filter((_, n) => n % 2 === 0));
    deliver('a-archive', made);
    ledger.recordFailure({ destination: 'a-archive', key: made[10]!.key, error: 'gone', at: now });
    // Delivered long ago and listed outside every window below.
    deliver('a-archive', [{ ...artifact('recording_transcript/OLD'), listedAt: '2025-06-01T00:00:00.000Z' }]);

    const walk = (filter: Parameters<SqliteLedger['deliveredPage']>[0], size: number) => {
      const seen: string[] = [];
      for (let after: DeliveredCursor | null = null; ; ) {
        const page = ledger.deliveredPage(filter, after, size);
        seen.push(...page.map((entry) => `${entry.destination} ${entry.key}`));
        if (page.length < size) return seen;
        after = page.at(-1)!;
      }
    };
    const expected = (from: string, to: string, destinations = ['a-archive', 'b-store'], kinds?: string[]) =>
      destinations.flatMap((destination) =>
        // Listed-time order, then the order the ledger first saw them in (`made` is listed in time order already).
        made
          .filter((a, n) => a.listedAt >= from && a.listedAt < to && (destination === 'a-archive' ? n !== 10 : n % 2 === 0))
          .filter((a) => !kinds || kinds.includes(a.kind))
          .map((a) => `${destination} ${a.key}`),
      );
    const from = '2026-01-01T10:00:00.000Z';
    const to = '2026-01-02T20:00:00.000Z';
    for (const size of [1, 7, 200]) expect(walk({ from, to }, size)).toEqual(expected(from, to));
    expect(walk({ from }, 4)).toEqual(expected(from, '9999'));
    expect(walk({ to }, 4)).toEqual(expected('', to));
    expect(walk({ from, to, destinations: ['b-store', 'b-store'] }, 3)).toEqual(expected(from, to, ['b-store']));
    expect(walk({ from, to, kinds: ['voicemail'] }, 2)).toEqual(expected(from, to, undefined, ['voicemail']));
    // Without a window: every delivered entry of the ledger, the old one too.
    expect(walk({}, 9)).toHaveLength(made.length - 1 + made.length / 2 + 1);
    ledger.close();
  });

  it('pages pending and failing artifacts, and lets the caller write between items', () => {
    const ledger = SqliteLedger.open(tempLedgerPath());
    const now = '2026-01-01T00:00:00Z';
    const pending = Array.from({ length: 1_203 }, (_, n) => artifact(`recording_transcript/P${n}`, 'pending'));
    const failing = Array.from({ length: 1_001 }, (_, n) => artifact(`recording_transcript/F${n}`));
    ledger.rememberArtifacts([...pending, ...failing], now, '2025-12-29T00:00:00Z');
    for (const { key } of failing) ledger.recordFailure({ destination: 'a', key, error: 'boom', at: now });
    expect(new Set([...ledger.pendingArtifacts()].map((entry) => entry.artifact.key))).toEqual(new Set(pending.map((a) => a.key)));
    const retried: string[] = [];
    for (const { artifact: stored } of ledger.retryableArtifacts(3)) {
      retried.push(stored.key);
      // A retry that succeeds meanwhile must not disturb the walk.
      ledger.recordDeliveries([{ destination: 'a', key: stored.key, fingerprint: 'f', size: 1, sha256: 's', location: 'l', deliveredAt: now }]);
    }
    expect(retried.sort()).toEqual(failing.map((a) => a.key).sort());
    expect([...ledger.retryableArtifacts(3)]).toEqual([]);
    ledger.close();
  });

  it('holds grouped writes in order until a commit, and commits them before it reads deliveries or finishes a run', async () => {
    const file = tempLedgerPath();
    const ledger = SqliteLedger.open(file);
    const other = SqliteLedger.open(file);
    const delivered = (key: string) => ({ destination: 'a', key, fingerprint: 'f', size: 1, sha256: 's', location: 'l', deliveredAt: '2026-01-01T00:00:00Z' });
    ledger.groupWrites();
    const runId = ledger.startRun({ mode: 'backfill', windowFrom: 'w0', windowTo: 'w1', startedAt: '2026-01-01T00:00:00Z', scope: SCOPE });
    ledger.recordDeliveries([delivered('k1')]);
    ledger.markChunkDone(runId, 'recordings', 'c1');
    expect(other.deliveryStates('a', ['k1']).size).toBe(0);
    expect(ledger.deliveryStates('a', ['k1']).size).toBe(1);
    expect(other.deliveryStates('a', ['k1']).size).toBe(1);

    ledger.recordDeliveries([delivered('k2')]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(other.deliveryStates('a', ['k2']).size).toBe(1);

    ledger.recordDeliveries([delivered('k3')]);
    ledger.finishRun(runId, { outcome: 'interrupted', listingComplete: false, counts: {}, bytes: 0, finishedAt: '2026-01-01T00:01:00Z' });
    expect(other.deliveryStates('a', ['k3']).size).toBe(1);
    expect(other.resumableChunks('w0', SCOPE)).toEqual(new Set(['recordings:c1']));
    ledger.close();
    other.close();
  });

  it('keeps scratch key sets apart from each other, in read-only ledgers too', () => {
    const file = tempLedgerPath();
    const ledger = SqliteLedger.open(file);
    const seen = ledger.scratchKeySet();
    expect([...seen.addNew(['a', 'b', 'a'])].sort()).toEqual(['a', 'b']);
    expect([...seen.addNew(['b', 'c'])]).toEqual(['c']);
    expect(seen.has('a') && !seen.has('z')).toBe(true);
    expect([...ledger.scratchKeySet().addNew(['a'])]).toEqual(['a']);
    ledger.close();
    const readonly = SqliteLedger.open(file, { readonly: true });
    expect([...readonly.scratchKeySet().addNew(['a', 'a'])]).toEqual(['a']);
    readonly.close();
  });

  it('turns an artifact pending for longer than the timeout into not available', () => {
    const ledger = SqliteLedger.open(tempLedgerPath());
    const key = 'recording_transcript/R2';
    expect(ledger.rememberArtifacts([artifact(key, 'pending')], '2026-01-01T00:00:00Z', '2025-12-29T00:00:00Z').get(key)).toBe('pending');
    expect(ledger.rememberArtifacts([artifact(key, 'pending')], '2026-01-02T00:00:00Z', '2025-12-30T00:00:00Z').get(key)).toBe('pending');
    expect([...ledger.pendingArtifacts()].map((entry) => entry.pendingSince)).toEqual(['2026-01-01T00:00:00Z']);
    expect(ledger.rememberArtifacts([artifact(key, 'pending')], '2026-01-05T00:00:00Z', '2026-01-02T00:00:00Z').get(key)).toBe('not_available');
    expect(ledger.rememberArtifacts([artifact(key, 'ready')], '2026-01-06T00:00:00Z', '2026-01-03T00:00:00Z').get(key)).toBe('ready');
    ledger.close();
  });

  it('lets one run hold the lock; a lock of a dead process is taken over', () => {
    const file = tempLedgerPath();
    const first = SqliteLedger.open(file);
    const second = SqliteLedger.open(file);
    first.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: 'now' });
    expect(() => second.acquireRunLock({ pid: process.pid, host: 'x', startedAt: 'now' })).toThrow(LedgerLockedError);
    first.releaseRunLock();
    second.acquireRunLock({ pid: 999_999_999, host: hostname(), startedAt: 'now' });
    expect(() => first.acquireRunLock({ pid: process.pid, host: 'y', startedAt: 'now' })).not.toThrow();
    first.close();
    second.close();
  });

  it('takes over a lock whose heartbeat stopped, from any host, and marks the run its holder left as crashed', () => {
    const file = tempLedgerPath();
    const holder = SqliteLedger.open(file);
    holder.acquireRunLock({ pid: process.pid, host: 'container-a', startedAt: '2026-12-01T02:00:00.000Z' });
    const run = holder.startRun({ mode: 'run', windowFrom: 'A', windowTo: 'B', startedAt: '2026-12-01T02:00:00.000Z', scope: SCOPE });
    holder.close();
    const raw = new Database(file);
    // startRun records this process; the holder was another container's process.
    raw.prepare(`UPDATE runs SET pid = 7, host = 'container-a' WHERE id = ?`).run(run);
    raw.prepare(`UPDATE run_lock SET pid = 7`).run();
    const next = SqliteLedger.open(file);
    // Another host's lock with a fresh heartbeat is held: its process cannot be checked from here.
    expect(() => next.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: 'now' })).toThrow(/pid 7 on container-a/);
    expect(next.runLockHolder()).toEqual({ pid: 7, host: 'container-a', startedAt: '2026-12-01T02:00:00.000Z' });
    raw.prepare(`UPDATE run_lock SET heartbeat_at = ?`).run(new Date(Date.now() - RUN_LOCK_STALE_MS + 60_000).toISOString());
    expect(() => next.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: 'now' })).toThrow(LedgerLockedError);
    raw.prepare(`UPDATE run_lock SET heartbeat_at = ?`).run(new Date(Date.now() - RUN_LOCK_STALE_MS - 1000).toISOString());
    // status and doctor say nobody holds it: the next run takes it over.
    expect(next.runLockHolder()).toBeNull();
    next.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: 'now' });
    expect(raw.prepare('SELECT pid, host FROM run_lock').get()).toEqual({ pid: process.pid, host: hostname() });
    expect(raw.prepare('SELECT outcome FROM runs WHERE id = ?').pluck().get(run)).toBe('crashed');
    next.releaseRunLock();
    expect(raw.prepare('SELECT count(*) FROM run_lock').pluck().get()).toBe(0);
    next.close();
    raw.close();
  });

  it('a live process on this host whose heartbeat stopped (its pid reused) does not hold the lock', () => {
    const file = tempLedgerPath();
    const first = SqliteLedger.open(file);
    // The parent process: alive, on this host, and not this process (a lock under this process's own pid that it
    // does not hold was left by a dead predecessor: see the container case in test/e2e/run.test.ts).
    first.acquireRunLock({ pid: process.ppid, host: hostname(), startedAt: 'now' });
    first.close();
    const raw = new Database(file);
    const second = SqliteLedger.open(file);
    expect(() => second.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: 'now' })).toThrow(LedgerLockedError);
    raw.prepare(`UPDATE run_lock SET heartbeat_at = ?`).run(new Date(Date.now() - RUN_LOCK_STALE_MS - 1000).toISOString());
    expect(() => second.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: 'later' })).not.toThrow();
    second.close();
    raw.close();
  });

  it('reads the holder of a ledger from before the heartbeat (schema 2, read-only) by its pid alone', () => {
    const file = tempLedgerPath();
    const raw = new Database(file);
    MIGRATIONS.slice(0, 2).forEach((migration) => raw.exec(migration));
    raw.pragma('user_version = 2');
    raw.prepare(`INSERT INTO run_lock (id, pid, host, started_at) VALUES (1, 999999999, ?, 'then')`).run(hostname());
    const readOnly = () => SqliteLedger.open(file, { readonly: true });
    let ledger = readOnly();
    expect(ledger.runLockHolder()).toBeNull();
    ledger.close();
    raw.prepare(`UPDATE run_lock SET host = 'elsewhere'`).run();
    ledger = readOnly();
    expect(ledger.runLockHolder()).toEqual({ pid: 999999999, host: 'elsewhere', startedAt: 'then' });
    expect(ledger.schemaInfo().version).toBe(2);
    ledger.close();
    raw.close();
  });

  it('keeps the heartbeat of a held lock fresh while it is held', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      const file = tempLedgerPath();
      const ledger = SqliteLedger.open(file);
      const raw = new Database(file, { readonly: true });
      const heartbeat = () => raw.prepare('SELECT heartbeat_at FROM run_lock').pluck().get() as string;
      ledger.acquireRunLock({ pid: process.pid, host: hostname(), startedAt: 'now' });
      const first = heartbeat();
      vi.advanceTimersByTime(RUN_LOCK_STALE_MS * 2);
      const later = heartbeat();
      expect(Date.parse(later) - Date.parse(first)).toBeGreaterThanOrEqual(RUN_LOCK_STALE_MS * 2 - RUN_LOCK_STALE_MS / 10);
      expect(Date.now() - Date.parse(later)).toBeLessThan(RUN_LOCK_STALE_MS);
      ledger.releaseRunLock();
      ledger.close();
      raw.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts failed attempts per version: an edited version starts again, a delivery clears the count', () => {
    const ledger = SqliteLedger.open(tempLedgerPath());
    const fail = (fingerprint?: string) => ledger.recordFailure({ destination: 'a', key: 'note/E1/N1', error: 'refused', at: 'now', fingerprint });
    const state = () => ledger.deliveryStates('a', ['note/E1/N1']).get('note/E1/N1');
    fail('v1');
    fail('v1');
    expect(state()).toMatchObject({ status: 'failed', attempts: 2, failedFingerprint: 'v1' });
    fail('v2');
    expect(state()).toMatchObject({ attempts: 1, failedFingerprint: 'v2' });
    // A failure that names no version (a bad listed item) adds to the count it has.
    fail();
    expect(state()).toMatchObject({ attempts: 2, failedFingerprint: 'v2' });
    ledger.recordDeliveries([{ destination: 'a', key: 'note/E1/N1', fingerprint: 'v2', size: 1, sha256: 's', location: 'l', deliveredAt: 'now' }]);
    expect(state()).toMatchObject({ status: 'delivered', attempts: 0, failedFingerprint: null });
    ledger.close();
  });

  it('resumes the chunks of the latest interrupted backfill from the same start with the same scope only', () => {
    const ledger = SqliteLedger.open(tempLedgerPath());
    const finish = (run: number, outcome: 'interrupted' | 'ok') =>
      ledger.finishRun(run, { outcome, listingComplete: outcome === 'ok', counts: {}, bytes: 0, finishedAt: 'now' });
    const run = ledger.startRun({ mode: 'backfill', windowFrom: 'A', windowTo: 'B', startedAt: 'now', scope: SCOPE });
    ledger.markChunkDone(run, 'engagements', 'c1');
    finish(run, 'interrupted');
    expect([...ledger.resumableChunks('A', SCOPE)]).toEqual(['engagements:c1']);
    // The same scope written in another order is the same scope.
    expect([...ledger.resumableChunks('A', { kinds: [...SCOPE.kinds].reverse(), destinations: SCOPE.destinations })]).toEqual(['engagements:c1']);
    expect(ledger.resumableChunks('Z', SCOPE).size).toBe(0);
    // Fewer kinds listed, or another destination, or the same destination taking more kinds: its chunks are not done
    // for this run.
    expect(ledger.resumableChunks('A', { ...SCOPE, kinds: [...SCOPE.kinds, 'voicemail'] }).size).toBe(0);
    expect(ledger.resumableChunks('A', { ...SCOPE, destinations: [...SCOPE.destinations, { name: 'crm', kinds: ['note'] }] }).size).toBe(0);
    expect(ledger.resumableChunks('A', { ...SCOPE, destinations: [{ name: 'archive', kinds: ['note', 'recording', 'voicemail'] }] }).size).toBe(0);
    finish(ledger.startRun({ mode: 'backfill', windowFrom: 'A', windowTo: 'B', startedAt: 'now', scope: SCOPE }), 'ok');
    expect(ledger.resumableChunks('A', SCOPE).size).toBe(0);
    ledger.close();
  });

  it('ends the next default window where the nights before it were listed, for the kinds the run lists', () => {
    const file = tempLedgerPath();
    const ledger = SqliteLedger.open(file);
    const all = [...ARTIFACT_KINDS];
    const listed = (mode: 'run' | 'backfill', windowFrom: string, windowTo: string, kinds: readonly ArtifactKind[] = all, complete = true) =>
      ledger.finishRun(ledger.startRun({ mode, windowFrom, windowTo, startedAt: 'now', scope: { kinds, destinations: [{ name: 'archive', kinds }] } }), {
        outcome: complete ? 'ok' : 'incomplete', listingComplete: complete, counts: {}, bytes: 0, finishedAt: 'now',
      });
    expect(ledger.lastListedWindowEnd(all)).toBeNull();
    listed('backfill', '2026-01-01', '2026-02-01');
    expect(ledger.lastListedWindowEnd(all)).toBe('2026-02-01');
    listed('run', '2026-03-03', '2026-03-05');
    // A night that could not list leaves E; a run over fewer kinds moves it for those kinds only.
    listed('run', '2026-03-03', '2026-03-06', all, false);
    listed('run', '2026-03-03', '2026-03-09', ['note']);
    expect(ledger.lastListedWindowEnd(all)).toBe('2026-03-05');
    expect(ledger.lastListedWindowEnd(['note'])).toBe('2026-03-09');
    // A backfill of a later day leaves the nights before it to the next run; one that reaches back to E carries it on.
    listed('backfill', '2026-03-07', '2026-03-08');
    expect(ledger.lastListedWindowEnd(all)).toBe('2026-03-05');
    listed('backfill', '2026-03-04', '2026-03-07');
    expect(ledger.lastListedWindowEnd(all)).toBe('2026-03-08');
    // Runs recorded before scopes were (schema 4) count for every kind.
    const raw = new Database(file);
    raw.prepare(`UPDATE runs SET scope_json = NULL WHERE window_to = '2026-03-09'`).run();
    raw.close();
    expect(ledger.lastListedWindowEnd(all)).toBe('2026-03-09');
    ledger.close();
  });

  it('opens read-only for dry runs and writes nothing, even when the file does not exist', () => {
    const file = tempLedgerPath();
    const dry = SqliteLedger.open(file, { readonly: true });
    expect(dry.deliveryStates('a', ['k']).size).toBe(0);
    dry.close();
    expect(() => statSync(file)).toThrow();
    const ledger = SqliteLedger.open(file);
    ledger.recordDeliveries([{ destination: 'a', key: 'k', fingerprint: 'f', size: 1, sha256: 's', location: 'l', deliveredAt: 'now' }]);
    ledger.close();
    const readonly = SqliteLedger.open(file, { readonly: true });
    expect(readonly.deliveryStates('a', ['k']).size).toBe(1);
    expect(() => readonly.recordDeliveries([{ destination: 'a', key: 'k2', fingerprint: 'f', size: 1, sha256: 's', location: 'l', deliveredAt: 'now' }])).toThrow();
    readonly.close();
  });

  it('a read-only view at the current schema of an older ledger removes copies their dead processes left, and its own on close', () => {
    const file = tempLedgerPath();
    const raw = new Database(file);
    MIGRATIONS.slice(0, 4).forEach((migration) => raw.exec(migration));
    raw.pragma('user_version = 4');
    raw.close();
    const temp = mkdtempSync(path.join(tmpdir(), 'zcc-views-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = temp;
    try {
      // Left by a process that is gone (a second Ctrl-C), and one a live process (this one) is using.
      mkdirSync(path.join(temp, 'zcc-ledger-view-999999999-abc'));
      mkdirSync(path.join(temp, `zcc-ledger-view-${process.pid}-live`));
      const view = SqliteLedger.open(file, { readonly: true, currentSchema: true });
      expect(view.schemaInfo()).toEqual({ version: MIGRATIONS.length, latest: MIGRATIONS.length });
      const live = `zcc-ledger-view-${process.pid}-live`;
      const during = readdirSync(temp);
      expect(during).toContain(live);
      expect(during.filter((name) => name !== live)).toEqual([expect.stringMatching(new RegExp(`^zcc-ledger-view-${process.pid}-`))]);
      view.close();
      expect(readdirSync(temp)).toEqual([live]);
      const untouched = new Database(file, { readonly: true });
      expect(untouched.pragma('user_version', { simple: true })).toBe(4);
      untouched.close();
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});

