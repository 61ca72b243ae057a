// `zcc-reconcile demo --live` as a user runs it: sandbox + listener + a day of events with 10% dropped (some sent twice,
// all out of order), then the nightly run. The report and the ledger agree that the events delivered the rest and the
// run caught exactly the dropped ones, every artifact once; `status` shows the split; plain `demo` is unchanged.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteLedger } from '../../src/ledger/sqlite.js';
import { cli, plain, schemaErrors } from '../commands/helpers.js';
import { walkArchive } from '../support/harness.js';

const env = { ...process.env, FORCE_COLOR: '0' };

function summaryNumbers(stdout: string) {
  const text = plain(stdout);
  const events = /^ {2}(\d+) events, (\d+) dropped \((\d+)%\), (\d+) sent twice at the same moment, all out of order\.$/m.exec(text);
  const through = /^Through events: (\d+) of the day's (\d+) artifacts delivered by the listener as they arrived\.$/m.exec(text);
  const caught = /^The nightly run \(the report above\): (\d+) artifacts caught: exactly the (\d+) the dropped events carried\.$/m.exec(text);
  expect({ events, through, caught }).toMatchObject({ events: expect.any(Array), through: expect.any(Array), caught: expect.any(Array) });
  const n = (match: RegExpExecArray | null, index: number) => Number(match![index]);
  return {
    events: n(events, 1),
    dropped: n(events, 2),
    percent: n(events, 3),
    duplicated: n(events, 4),
    viaEvents: n(through, 1),
    artifacts: n(through, 2),
    caught: n(caught, 1),
    carried: n(caught, 2),
  };
}

function deliveredByPath(file: string): { event: number; reconcile: number } {
  const ledger = SqliteLedger.open(file, { readonly: true });
  try {
    const rows = ledger.deliveriesByPath(new Date(0).toISOString());
    const total = (via: string) => rows.filter((row) => row.via === via).reduce((sum, row) => sum + row.artifacts, 0);
    return { event: total('event'), reconcile: total('reconcile') };
  } finally {
    ledger.close();
  }
}

describe('zcc-reconcile demo --live', () => {
  it('delivers a day through events, drops 10%, and the nightly run catches exactly the dropped ones', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'zcc-demo-live-'));
    const ran = await cli(['demo', '--live'], env, cwd);
    expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: '' });
    const numbers = summaryNumbers(ran.stdout);
    expect(numbers.events).toBeGreaterThan(150);
    expect(numbers.dropped).toBe(Math.round(numbers.events * 0.1));
    expect(numbers.percent).toBe(10);
    expect(numbers.duplicated).toBeGreaterThan(0);
    // One artifact per event: the events carried every artifact of the day, the dropped ones carried what the run caught.
    expect(numbers.artifacts).toBe(numbers.events);
    expect(numbers.caught).toBe(numbers.dropped);
    expect(numbers.carried).toBe(numbers.dropped);
    expect(numbers.viaEvents + numbers.caught).toBe(numbers.artifacts);
    // The run's own report: what events delivered is unchanged for it, what they missed it delivered.
    expect(plain(ran.stdout)).toMatch(new RegExp(`^total\\s+\\d+\\s+${numbers.viaEvents}\\s+${numbers.caught}\\s`, 'm'));

    const folder = path.join(cwd, 'demo-live');
    const files = walkArchive(path.join(folder, 'archive'));
    expect(files).toHaveLength(numbers.artifacts);
    expect(new Set(files.map((file) => file.key)).size).toBe(files.length);
    expect(deliveredByPath(path.join(folder, 'zcc-ledger.sqlite'))).toEqual({ event: numbers.viaEvents, reconcile: numbers.caught });
    expect(existsSync(path.join(cwd, 'demo'))).toBe(false);

    const status = await cli(['status', '--config', path.join(folder, 'zcc-reconcile.json'), '--format', 'json'], env, cwd);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(schemaErrors('status', report)).toEqual([]);
    const sum = (field: 'viaEvents' | 'viaReconcile') => report.realtime.byDay.reduce((total: number, day: Record<string, number>) => total + day[field]!, 0);
    expect({ viaEvents: sum('viaEvents'), viaReconcile: sum('viaReconcile') }).toEqual({ viaEvents: numbers.viaEvents, viaReconcile: numbers.caught });

    // Again: it starts from nothing, so the run catches the dropped ones again; JSON is the run's report.
    const again = await cli(['demo', '--live', '--format', 'json'], env, cwd);
    expect(again.code).toBe(0);
    const json = JSON.parse(again.stdout);
    expect(schemaErrors('run-report', json)).toEqual([]);
    expect(json).toMatchObject({ mode: 'run', exitCode: 0, totals: { unchanged: numbers.viaEvents, delivered: numbers.caught, failed: 0 } });
    expect(walkArchive(path.join(folder, 'archive'))).toHaveLength(numbers.artifacts);
  });

  it('leaves plain demo as it was: a full run into ./demo/, no listener', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'zcc-demo-'));
    const ran = await cli(['demo'], env, cwd);
    expect(ran.code).toBe(0);
    expect(plain(ran.stdout)).toMatch(/^Sandbox at http:\/\/127\.0\.0\.1:\d+ \(seed 7, 60 engagements a day\)\. .*Run the demo again: it finds nothing new to push\.$/m);
    expect(plain(ran.stdout)).not.toMatch(/Live demo/);
    expect(existsSync(path.join(cwd, 'demo-live'))).toBe(false);
    expect(deliveredByPath(path.join(cwd, 'demo', 'zcc-ledger.sqlite'))).toMatchObject({ event: 0 });
  });
});
