// `status`: the ledger read-only, as a table and as JSON validated against docs/schemas/status.schema.json.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../support/harness.js';
import { cli, plain, schemaErrors } from './helpers.js';

const WINDOW = ['--from', '2026-11-18', '--to', '2026-11-19'];

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
    expect(report).toMatchObject({ ledger: { exists: false, sizeBytes: null }, runs: [], summary: { artifacts: 0 } });
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
  });

  it('refuses bad options with exit 2', async () => {
    const h = (current = await harness());
    expect(await cli(['status', '--config', h.configPath, '--runs', '0'], h.env(), h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--runs "0" is not valid/) });
    expect(await cli(['status', '--config', h.configPath, '--pending-older-than', '2 days'], h.env(), h.dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--pending-older-than "2 days" is not valid/) });
    expect(await cli(['status', '--config', h.configPath, '--format', 'csv'], h.env(), h.dir)).toMatchObject({ code: 2 });
  });
});
