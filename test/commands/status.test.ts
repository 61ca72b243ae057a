// `status`: the ledger read-only, as a table and as JSON validated against docs/schemas/status.schema.json, including
// the real-time view per day (delivered via events, caught by the nightly run, WebSocket gaps).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { realtimeView } from '../../src/commands/status-realtime.js';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { harness, type Harness } from '../support/harness.js';
import { cli, plain, schemaErrors } from './helpers.js';

const WINDOW = ['--from', '2026-11-18', '--to', '2026-11-19'];
const DAY = 86_400_000;

let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

/** The ledger's bytes and mtime, and its write-ahead log's bytes (a reader may create an empty one). */
function fingerprint(file: string): string {
  const hash = (name: string) => (existsSync(name) ? createHash('sha256').update(readFileSync(name)).digest('hex') : 'none');
  const wal = hash(`${file}-wal`);
  return `${statSync(file).mtimeMs}:${hash(file)}|${wal === createHash('sha256').digest('hex') ? 'none' : wal}`;
}

describe('status', () => {
  it('before the first run: says there is no ledger yet, and JSON says so too', async () => {
    const h = (current = await harness());
    const table = await cli(['status', '--config', h.configPath], h.env(), h.dir);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    expect(plain(table.stdout)).toMatch(/^No ledger yet at .*ledger\.sqlite: the first `zcc-reconcile run` creates it\./);
    const json = await cli(['status', '--config', h.configPath, '--format', 'json'], h.env(), h.dir);
    const report = JSON.parse(json.stdout);
    expect(schemaErrors('status', report)).toEqual([]);
    expect(report).toMatchObject({ ledger: { exists: false, sizeBytes: null }, runs: [], summary: { artifacts: 0 }, realtime: { days: 7, websocketGaps: [] } });
    expect(report.realtime.byDay).toHaveLength(7);
    expect(existsSync(h.ledgerPath)).toBe(false);
  });

  it('shows the last runs with counts per kind, what keeps failing with its last error, stale pending, the size; read-only', async () => {
    const h = (current = await harness({ config: { maxAttempts: 2 } }));
    h.sandbox.faults.add({ label: 'download' }, { type: 'html' }, { times: 2 });
    expect((await cli(['run', '--config', h.configPath, ...WINDOW], h.env(), h.dir)).code).toBe(1);
    h.sandbox.faults.clear();
    h.sandbox.faults.add({ label: 'download' }, { type: 'html' }, { times: Infinity });
    expect((await cli(['run', '--config', h.configPath, ...WINDOW], h.env(), h.dir)).code).toBe(1);
    h.sandbox.faults.clear();

    const before = fingerprint(h.ledgerPath);
    const json = await cli(['status', '--config', h.configPath, '--format', 'json', '--pending-older-than', 'PT0S'], h.env(), h.dir);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(schemaErrors('status', report)).toEqual([]);
    expect(fingerprint(h.ledgerPath)).toBe(before);

    expect(report.ledger).toMatchObject({ exists: true, schemaVersion: expect.any(Number) });
    expect(report.ledger.sizeBytes).toBeGreaterThan(10_000);
    expect(report.runLock).toBeNull();
    expect(report.runs.map((run: { id: number }) => run.id)).toEqual([2, 1]);
    const [second, first] = report.runs;
    expect(first).toMatchObject({ mode: 'backfill', outcome: 'failed', listingComplete: true, window: { from: '2026-11-18T00:00:00.000Z', to: '2026-11-20T00:00:00.000Z' } });
    expect(first.totals.failed).toBe(2);
    expect(first.counts.note.delivered).toBeGreaterThan(0);
    expect(first.durationMs).toBeGreaterThanOrEqual(0);
    expect(second.totals.failed).toBe(2);

    expect(report.failing.total).toBe(2);
    expect(report.failing.maxAttempts).toBe(2);
    for (const item of report.failing.items) {
      expect(item).toMatchObject({ destination: 'archive', attempts: 2, gaveUp: true, lastError: expect.stringMatching(/HTML page/) });
    }
    expect(report.summary).toMatchObject({ gaveUp: 2, failing: 0 });
    expect(report.summary.delivered).toBe(first.totals.delivered);
    expect(report.summary.pending).toBeGreaterThan(0);
    expect(report.stalePending.total).toBe(report.summary.pending);
    expect(report.stalePending.items[0]).toMatchObject({ key: expect.any(String), pendingSince: expect.any(String) });
    const kinds = Object.keys(report.byKind).sort();
    expect(kinds).toContain('recording');

    const table = await cli(['status', '--config', h.configPath, '--pending-older-than', 'PT0S', '--runs', '1'], { ...h.env(), FORCE_COLOR: '0' }, h.dir);
    expect(table.code).toBe(0);
    const text = table.stdout;
    expect(text).toMatch(/^Ledger .*ledger\.sqlite · [\d.]+ (KB|MB) · schema v\d+$/m);
    expect(text).toMatch(/^Artifacts \d+: delivered \d+ · failing 0 · gave up 2 · pending \d+ · not available 0$/m);
    expect(text).toContain('Last 1 run(s)');
    expect(text).toMatch(/^\s+2\s+backfill\s+2026-11-18 00:00Z → 2026-11-20 00:00Z\s+\S+ \S+\s+\S+\s+failed\s+0\s+\d+\s+\d+\s+2$/m);
    expect(text).toContain('Run 2 by kind');
    expect(text).toContain('Failing artifacts: 2 (retried by every run until 2 attempts)');
    const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const item of report.failing.items) {
      expect(text).toMatch(new RegExp(`${escape(item.key)}\\s+archive\\s+2 \\(gave up\\)\\s+${escape(item.lastError.slice(0, 40))}`));
    }
    expect(text).toMatch(/Pending longer than PT0S: \d+/);
    expect(fingerprint(h.ledgerPath)).toBe(before);

    // Everything came through the reconciliation: no listener ran.
    const today = report.realtime.byDay[0];
    expect(today).toMatchObject({ day: report.generatedAt.slice(0, 10), viaEvents: 0, websocketGaps: 0, websocketDownMs: 0 });
    // One destination: artifact × destination deliveries are distinct artifacts.
    expect(today.viaReconcile).toBe(report.summary.delivered);
    expect(plain(text)).toMatch(new RegExp(`^Real-time path, last 7 day\\(s\\): 0 via events · ${today.viaReconcile} caught by the nightly run · 0 WebSocket gap\\(s\\)`, 'm'));
    expect(plain(text)).toMatch(/none came through events/);
  });

  it('shows per day what came through events, what the nightly run had to catch, and the WebSocket gaps', async () => {
    const h = (current = await harness());
    const midnight = Math.floor(Date.now() / DAY) * DAY;
    const at = (days: number, hours = 0) => new Date(midnight + days * DAY + hours * 3_600_000).toISOString();
    const ledger = SqliteLedger.open(h.ledgerPath);
    const delivery = (key: string, deliveredAt: string, destination = 'archive') => ({ destination, key, fingerprint: key, size: 1, sha256: 'x', location: key, deliveredAt });
    ledger.recordDeliveriesVia([delivery('note/E1/A', at(-2, 9)), delivery('note/E1/A', at(-2, 9), 'backup'), delivery('note/E1/B', at(-2, 10))], 'event');
    ledger.recordDeliveriesVia([delivery('note/E1/C', at(-2, 2))], 'reconcile');
    ledger.recordDeliveriesVia(['D', 'E', 'F'].map((id) => delivery(`note/E2/${id}`, at(-1, 12))), 'event');
    ledger.recordDeliveriesVia([delivery('note/E2/G', at(-1, 2))], 'reconcile');
    ledger.recordDeliveriesVia([delivery('note/E3/H', at(0))], 'event');
    // Outside the three days asked for.
    ledger.recordDeliveriesVia([delivery('note/E0/Z', at(-5, 12))], 'reconcile');
    ledger.openWebsocketGap('sub-1', at(-20), 'old');
    ledger.closeWebsocketGaps('sub-1', at(-20, 1));
    ledger.openWebsocketGap('sub-1', at(-2, 23), 'error: ECONNRESET (code 1006)');
    ledger.closeWebsocketGaps('sub-1', at(-1, 1));
    ledger.openWebsocketGap('sub-1', at(-1, 23.5), 'token_refused (code 1005)');
    ledger.close();

    const json = await cli(['status', '--config', h.configPath, '--format', 'json', '--days', '3'], h.env(), h.dir);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(schemaErrors('status', report)).toEqual([]);
    const { realtime } = report;
    expect(realtime).toMatchObject({ days: 3, since: at(-2) });
    const sinceMidnight = Date.parse(report.generatedAt) - midnight;
    expect(realtime.byDay).toEqual([
      { day: at(0).slice(0, 10), viaEvents: 1, viaReconcile: 0, websocketGaps: 1, websocketDownMs: sinceMidnight },
      { day: at(-1).slice(0, 10), viaEvents: 3, viaReconcile: 1, websocketGaps: 2, websocketDownMs: 3_600_000 + 1_800_000 },
      { day: at(-2).slice(0, 10), viaEvents: 2, viaReconcile: 1, websocketGaps: 1, websocketDownMs: 3_600_000 },
    ]);
    expect(realtime.websocketGaps).toEqual([
      { subscriptionId: 'sub-1', disconnectedAt: at(-1, 23.5), reconnectedAt: null, durationMs: sinceMidnight + 1_800_000, reason: 'token_refused (code 1005)' },
      { subscriptionId: 'sub-1', disconnectedAt: at(-2, 23), reconnectedAt: at(-1, 1), durationMs: 7_200_000, reason: 'error: ECONNRESET (code 1006)' },
    ]);

    const table = plain((await cli(['status', '--config', h.configPath, '--days', '3'], { ...h.env(), FORCE_COLOR: '0' }, h.dir)).stdout);
    expect(table).toMatch(/^Real-time path, last 3 day\(s\): 6 via events · 2 caught by the nightly run · 2 WebSocket gap\(s\) \(by UTC day of delivery\)$/m);
    expect(table).toMatch(/^\s+day\s+via events\s+caught by run\s+by events\s+ws gaps\s+ws down$/m);
    expect(table).toMatch(new RegExp(`^\\s+${at(-1).slice(0, 10)}\\s+3\\s+1\\s+75\\.0%\\s+2\\s+1h30m$`, 'm'));
    expect(table).toMatch(new RegExp(`^\\s+${at(-2).slice(0, 10)}\\s+2\\s+1\\s+66\\.7%\\s+1\\s+1h00m$`, 'm'));
    expect(table).toMatch(/^\s+sub-1\s+\S+ 23:30Z → still down\s+\S+\s+token_refused \(code 1005\)$/m);
    expect(table).toMatch(/^\s+sub-1\s+\S+ 23:00Z → \S+ 01:00Z\s+2h00m\s+error: ECONNRESET \(code 1006\)$/m);
    expect(table).not.toMatch(/none came through events/);
  });

  it('counts a gap on every day it covers, including one still open since before the period', () => {
    const now = new Date('2026-11-20T06:00:00.000Z');
    const view = realtimeView(
      [
        { day: '2026-11-19', via: 'event', artifacts: 4 },
        { day: '2026-11-19', via: 'reconcile', artifacts: 1 },
        { day: '2026-11-20', via: 'event', artifacts: 2 },
      ],
      [
        { subscriptionId: 's', disconnectedAt: '2026-11-01T00:00:00.000Z', reconnectedAt: null, reason: null },
        { subscriptionId: 's', disconnectedAt: '2026-11-19T10:00:00.000Z', reconnectedAt: '2026-11-19T10:00:00.000Z', reason: 'blip' },
        { subscriptionId: 's', disconnectedAt: '2026-11-10T00:00:00.000Z', reconnectedAt: '2026-11-10T01:00:00.000Z', reason: 'too old' },
      ],
      now,
      2,
    );
    expect(view.since).toBe('2026-11-19T00:00:00.000Z');
    expect(view.byDay).toEqual([
      { day: '2026-11-20', viaEvents: 2, viaReconcile: 0, websocketGaps: 1, websocketDownMs: 6 * 3_600_000 },
      { day: '2026-11-19', viaEvents: 4, viaReconcile: 1, websocketGaps: 2, websocketDownMs: 24 * 3_600_000 },
    ]);
    expect(view.websocketGaps.map((gap) => gap.reason)).toEqual(['blip', null]);
    expect(view.websocketGaps[1]!.durationMs).toBe(now.getTime() - Date.parse('2026-11-01T00:00:00.000Z'));
  });

  it('never shows a secret in a failing artifact\'s last error, even one the table cuts short', async () => {
    const h = (current = await harness());
    expect((await cli(['run', '--config', h.configPath, ...WINDOW], h.env(), h.dir)).code).toBe(0);
    const secret = h.env().ZOOM_CLIENT_SECRET!;
    const ledger = SqliteLedger.open(h.ledgerPath);
    // An error as a destination might word it, with the secret straddling the table's 160-character cut.
    ledger.recordFailure({ destination: 'archive', key: 'note/E1/N1', error: `PUT refused: 401 ${'x'.repeat(130)} secret=${secret} rejected`, at: '2026-11-20T00:00:00Z' });
    ledger.close();
    const env = { ...h.env(), FORCE_COLOR: '0' };
    const table = await cli(['status', '--config', h.configPath], env, h.dir);
    const json = await cli(['status', '--config', h.configPath, '--format', 'json'], env, h.dir);
    expect(secret.length).toBeGreaterThan(12);
    // The table cuts the redacted text (`secret=[red…`); the JSON carries it whole.
    expect(table.stdout).toMatch(/secret=\[red/);
    expect(json.stdout).toContain('secret=[redacted] rejected');
    for (const output of [table.stdout, json.stdout]) expect(output).not.toContain(secret.slice(0, 12));
  });

  it('refuses bad options with exit 2', async () => {
    const h = (current = await harness());
    expect(await cli(['status', '--config', h.configPath, '--runs', '0'], h.env(), h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--runs "0" is not valid/) });
    expect(await cli(['status', '--config', h.configPath, '--pending-older-than', '2 days'], h.env(), h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--pending-older-than "2 days" is not valid/) });
    expect(await cli(['status', '--config', h.configPath, '--format', 'csv'], h.env(), h.dir)).toMatchObject({ code: 2 });
    expect(await cli(['status', '--config', h.configPath, '--days', '0'], h.env(), h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--days "0" is not valid/) });
  });
});
