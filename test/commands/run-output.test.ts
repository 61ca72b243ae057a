// `run` as scripts and people read it: the JSON report against its schema, the per-artifact CSV, the table, the
// JSON log lines (stderr or --log-file), the HTML report, and silence (no progress) when there is no terminal.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, walkArchive, type Harness } from '../support/harness.js';
import { cli, plain, schemaErrors } from './helpers.js';

const WINDOW = ['--from', '2026-11-18', '--to', '2026-11-19'];
const CSV_HEADER = 'kind,key,engagement_id,destination,size,action,reason';

let current: Harness | null = null;
afterEach(async () => {
  await current?.close();
  current = null;
});

function parseCsv(text: string): string[][] {
  // Enough CSV for our own output: quoted cells may hold commas, quotes ("") and newlines.
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += char;
  }
  return rows;
}

describe('run output', () => {
  it('json: the report validates against docs/schemas/run-report.schema.json, dry run and real run', async () => {
    const h = (current = await harness());
    const dry = await cli(['run', '--config', h.configPath, ...WINDOW, '--dry-run', '--format', 'json'], h.env(), h.dir);
    expect(dry).toMatchObject({ code: 0, stderr: '' });
    const planned = JSON.parse(dry.stdout);
    expect(schemaErrors('run-report', planned)).toEqual([]);
    expect(planned).toMatchObject({ schemaVersion: 1, mode: 'dry-run', runId: null, exitCode: 0, interrupted: false, failuresTotal: 0 });
    expect(planned.totals.to_push).toBeGreaterThan(0);

    const real = await cli(['run', '--config', h.configPath, ...WINDOW, '--format', 'json'], h.env(), h.dir);
    expect(real.code).toBe(0);
    const report = JSON.parse(real.stdout);
    expect(schemaErrors('run-report', report)).toEqual([]);
    expect(report).toMatchObject({ mode: 'backfill', exitCode: 0, listingComplete: true });
    expect(report.totals.delivered).toBe(planned.totals.to_push);
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(report.finishedAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));
    expect(real.stderr).toBe('');
  });

  it('csv: one row per artifact with kind, key, engagement id, destination, size, action and reason', async () => {
    const h = (current = await harness());
    const dry = await cli(['run', '--config', h.configPath, ...WINDOW, '--dry-run', '--format', 'csv'], h.env(), h.dir);
    expect(dry.code).toBe(0);
    const [header, ...rows] = parseCsv(dry.stdout);
    expect(header!.join(',')).toBe(CSV_HEADER);
    expect(rows.length).toBeGreaterThan(20);
    expect(new Set(rows.map((row) => row[1])).size).toBe(rows.length);
    for (const [kind, key, engagementId, destination, size, action, reason] of rows) {
      expect(key!.startsWith(`${kind}/`)).toBe(true);
      expect(engagementId).toMatch(/^\S+$/);
      expect(destination).toBe('archive');
      expect(['to_push', 'pending']).toContain(action);
      if (action === 'to_push') expect(reason).toBe('new');
      if (kind === 'note' || kind === 'disposition') expect(Number(size)).toBeGreaterThan(0);
    }

    const real = await cli(['run', '--config', h.configPath, ...WINDOW, '--format', 'csv'], h.env(), h.dir);
    expect(real.code).toBe(0);
    const [, ...delivered] = parseCsv(real.stdout);
    const files = new Map(walkArchive(h.archive).map((file) => [file.key, file]));
    const pushed = delivered.filter((row) => row[5] === 'delivered');
    expect(pushed.length).toBe(files.size);
    for (const [, key, , , size, , reason] of pushed) {
      expect(Number(size)).toBe(files.get(key!)!.size);
      expect(reason).toBe('new');
    }
    expect(delivered.map((row) => row[1]).sort()).toEqual(rows.map((row) => row[1]).sort());

    const again = await cli(['run', '--config', h.configPath, ...WINDOW, '--format', 'csv'], h.env(), h.dir);
    const [, ...unchanged] = parseCsv(again.stdout);
    expect(new Set(unchanged.map((row) => row[5]))).toEqual(new Set(['unchanged', 'pending']));
    for (const row of unchanged.filter((r) => r[5] === 'unchanged')) expect(Number(row[4])).toBe(files.get(row[1]!)!.size);
  });

  it('csv and logs carry failures with key and reason; cron stderr gets the short summary', async () => {
    const h = (current = await harness());
    h.sandbox.faults.add({ label: 'download' }, { type: 'html' }, { times: 3 });
    const logFile = path.join(h.dir, 'run.log');
    const ran = await cli(['--log-format', 'json', '--log-file', logFile, 'run', '--config', h.configPath, ...WINDOW, '--format', 'csv'], h.env(), h.dir);
    expect(ran.code).toBe(1);
    const failed = parseCsv(ran.stdout).filter((row) => row[5] === 'failed');
    expect(failed).toHaveLength(3);
    for (const row of failed) expect(row[6]).toMatch(/html|not the file|text\/html/i);
    expect(ran.stderr).toMatch(/^zcc-reconcile: run \d+ exit 1: /);
    expect(ran.stderr).toMatch(/see `zcc-reconcile status`/);

    const records = readFileSync(logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    for (const record of records) expect(schemaErrors('log-event', record)).toEqual([]);
    const failures = records.filter((record) => record.event === 'artifact_failed');
    expect(failures.map((record) => record.key).sort()).toEqual(failed.map((row) => row[1]).sort());
    expect(failures[0]).toMatchObject({ level: 'warn', destination: 'archive', reason: expect.any(String) });
    expect(records.at(-1)).toMatchObject({ event: 'run_end', exitCode: 1, totals: { failed: 3 } });
  });

  it('json logs: one object per event on stderr (run start/end, chunks, deliveries, rate-limit waits), never a secret', async () => {
    const h = (current = await harness());
    h.sandbox.faults.add({ operationId: 'listEngagements' }, { type: 'status', status: 429, headers: { 'retry-after': '1' } }, { times: 1 });
    const ran = await cli(['--log-format', 'json', 'run', '--config', h.configPath, ...WINDOW], h.env(), h.dir);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toBe('');
    const lines = ran.stderr.trim().split('\n');
    const records = lines.map((line) => JSON.parse(line));
    for (const record of records) expect(schemaErrors('log-event', record)).toEqual([]);
    const events = new Set(records.map((record) => record.event));
    for (const event of ['run_start', 'chunk', 'artifact_delivered', 'rate_limit_wait', 'run_end']) expect(events).toContain(event);
    expect(records[0]).toMatchObject({ event: 'run_start', mode: 'backfill', window: { from: '2026-11-18T00:00:00.000Z', to: '2026-11-20T00:00:00.000Z' } });
    expect(records.find((record) => record.event === 'rate_limit_wait')).toMatchObject({ level: 'warn', label: 'Medium', waitMs: expect.any(Number) });
    const delivered = records.filter((record) => record.event === 'artifact_delivered');
    expect(delivered.length).toBe(walkArchive(h.archive).length);
    expect(delivered[0]).toMatchObject({ key: expect.any(String), kind: expect.any(String), engagementId: expect.any(String), size: expect.any(Number) });
    for (const secret of Object.values(h.sandbox.credentials)) expect(ran.stderr).not.toContain(secret);
  });

  it('table: aligned counts with totals and a verdict; no progress and no escape codes without a terminal', async () => {
    const h = (current = await harness());
    const ran = await cli(['run', '--config', h.configPath, ...WINDOW, '--format', 'table'], { ...h.env(), FORCE_COLOR: '0' }, h.dir);
    expect(ran.code).toBe(0);
    expect(ran.stderr).toBe('');
    expect(ran.stdout).toBe(plain(ran.stdout));
    const lines = ran.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Backfill \d+ · window \[2026-11-18T00:00:00.000Z, 2026-11-20T00:00:00.000Z\) in 1 chunk\(s\) · /);
    const header = lines[1]!;
    expect(header).toMatch(/^kind\s+seen\s+unchanged\s+delivered\s+pending\s+not available\s+failed\s+gave up$/);
    const body = lines.slice(2, 10);
    expect(body.map((line) => line.split(/\s+/)[0])).toEqual([
      'recording', 'recording_transcript', 'messaging_transcript', 'note', 'disposition', 'voicemail', 'voicemail_transcript', 'total',
    ]);
    // Right-aligned: every row is as long as the header.
    for (const line of body) expect(line.length).toBe(header.length);
    expect(ran.stdout).toMatch(/bytes delivered: [\d.]+ (B|KB|MB)/);
    expect(lines.at(-1)).toMatch(/^✓ everything in the window is delivered/);

    const coloured = await cli(['run', '--config', h.configPath, ...WINDOW, '--format', 'table'], { ...h.env(), FORCE_COLOR: '1' }, h.dir);
    expect(coloured.stdout).toContain('\u001b[');
    expect(plain(coloured.stdout)).toMatch(/total\s+\d+\s+\d+\s+0/);
    expect(coloured.stderr).toBe('');
  });

  it('--report-file writes a self-contained HTML page with the charts and the failures', async () => {
    const h = (current = await harness());
    h.sandbox.faults.add({ label: 'download' }, { type: 'html' }, { times: 2 });
    const file = path.join(h.dir, 'report.html');
    const ran = await cli(['run', '--config', h.configPath, ...WINDOW, '--report-file', file], h.env(), h.dir);
    expect(ran.code).toBe(1);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain('Artifacts per day, by kind');
    expect(html).toMatch(/2026-11-18 note: \d+/);
    expect(html).toMatch(/2026-11-19 recording: \d+/);
    expect(html).toContain('Failures (2)');
    expect((html.match(/<tr><td><code>/g) ?? []).length).toBe(2);
    const bad = await cli(['run', '--config', h.configPath, ...WINDOW, '--report-file', path.join(h.dir, 'nope', 'r.html')], h.env(), h.dir);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/--report-file: .* is not valid; expected a file in an existing folder/) });
  });
});
