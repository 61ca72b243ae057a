// Crash safety: real runs (child processes) killed with SIGKILL at seeded random moments, each followed by a resumed
// run, end with exactly the folder and ledger of an undisturbed run; SIGINT and SIGTERM stop a run cleanly.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { harness, listFiles, walkArchive, type Harness, type HarnessOptions } from '../support/harness.js';
import { ensureBuild, seededRandom, sleep, startCli, type Child } from './child.js';
import { readDeliveries, readRuns, sha256 } from './support.js';

const KILLS = 30;
const SEED = Number(process.env.ZCC_KILL_SEED ?? 20261125);
const DAY = 86_400_000;

// The sandbox keeps real time here: the children read the system clock, and the window must be in the past for both.
const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
const BOUNDS = { from: isoDate(today - 4 * DAY), to: isoDate(today - 2 * DAY) };
const WINDOW = { from: new Date(today - 4 * DAY), to: new Date(today - DAY) };
const DATA: HarnessOptions = { seed: 7, now: () => new Date(), engagementsPerDay: 12, mediaBytes: { min: 50_000, max: 1_200_000 } };

/**
 * Every download streams at 100 KB/s until cleared: a media file takes seconds, so kills land mid-transfer and
 * mid-write, and a killed run's half-done files start over in the next one, so the work lasts through every kill.
 */
function slowDownloads(h: Harness): void {
  h.sandbox.faults.add({ label: 'download' }, { type: 'slowBody', bytesPerSecond: 100_000 }, { times: Infinity });
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const open: Harness[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

async function setup(options: HarnessOptions): Promise<Harness> {
  const h = await harness(options);
  open.push(h);
  return h;
}

function run(h: Harness, extra: readonly string[] = []): Child {
  return startCli(['run', '--config', h.configPath, '--from', BOUNDS.from, '--to', BOUNDS.to, ...extra], h.env(), h.dir);
}

/** What a finished reconciliation leaves behind, in terms that do not depend on the folder or the run. */
function snapshot(h: Harness) {
  const files = walkArchive(h.archive).map((file) => ({ key: file.key, path: path.relative(h.archive, file.path), size: file.size, sha256: file.sha256 }));
  const deliveries = readDeliveries(h.ledgerPath).map(({ key, status, size, sha256: hash, location }) => ({ key, status, size, sha256: hash, location }));
  return { files, deliveries };
}

/**
 * Whatever moment a kill hit, nothing at a final name is less than what it claims: every data file is whole (its
 * sidecar's size) and, where the ledger says delivered, has the recorded size and sha256. Temp files are `.partial`.
 */
function expectNothingLooksComplete(h: Harness): void {
  const rows = existsSync(h.ledgerPath) ? readDeliveries(h.ledgerPath) : [];
  const delivered = new Map(rows.filter((row) => row.status === 'delivered').map((row) => [row.location, row]));
  for (const file of listFiles(h.archive)) {
    const name = path.basename(file);
    if (name.startsWith('.')) {
      expect(name).toMatch(/\.partial$/);
      continue;
    }
    if (name.endsWith('.meta.json')) continue;
    const bytes = readFileSync(path.join(h.archive, file));
    const sidecar = path.join(h.archive, `${file}.meta.json`);
    expect(existsSync(sidecar), `${file} has its sidecar`).toBe(true);
    expect(bytes.length, `${file} is whole`).toBe((JSON.parse(readFileSync(sidecar, 'utf8')) as { size: number }).size);
    const row = delivered.get(file.split(path.sep).join('/'));
    if (row) expect({ file, size: bytes.length, sha256: sha256(bytes) }).toEqual({ file, size: row.size, sha256: row.sha256 });
  }
}

beforeAll(() => ensureBuild(), 120_000);

describe('SIGKILL at random moments', () => {
  it(`${KILLS} kills, each followed by a resumed run, end equal to an undisturbed run (seed ${SEED})`, async () => {
    const h = await setup(DATA);
    slowDownloads(h);
    const random = seededRandom(SEED);
    const moments: number[] = [];
    let kills = 0;
    for (let attempt = 0; kills < KILLS && attempt < KILLS * 2; attempt++) {
      // Half the kills early (start-up, listing, first transfers), the rest spread over a few seconds.
      const delay = Math.round(random() < 0.5 ? 80 + random() * 700 : 700 + random() * 2_300);
      const child = run(h);
      const timer = setTimeout(() => child.process.kill('SIGKILL'), delay);
      const exited = await child.exited;
      clearTimeout(timer);
      if (exited.signal === 'SIGKILL') {
        kills++;
        moments.push(delay);
      } else {
        expect(exited, 'a resumed run that finished before its kill').toMatchObject({ code: 0, stderr: '' });
      }
      expectNothingLooksComplete(h);
    }
    expect(kills).toBe(KILLS);
    expect(Math.max(...moments)).toBeGreaterThan(1_500);
    expect(Math.min(...moments)).toBeLessThan(400);

    h.sandbox.faults.clear();
    const final = await run(h).exited;
    expect(final).toMatchObject({ code: 0, signal: null, stderr: '' });

    // The undisturbed run: its own sandbox with the same seed.
    const reference = await setup(DATA);
    expect(await run(reference).exited).toMatchObject({ code: 0, signal: null, stderr: '' });

    const killed = snapshot(h);
    const clean = snapshot(reference);
    expect(clean.files.length).toBeGreaterThan(100);
    expect(killed.files).toEqual(clean.files);
    expect(killed.deliveries).toEqual(clean.deliveries);
    expect(killed.deliveries.every((row) => row.status === 'delivered')).toBe(true);
    expect(new Set(killed.files.map((file) => file.key)).size).toBe(killed.files.length);
    // Every file is a data file with its sidecar; no temp file is left once a run has completed.
    expect(listFiles(h.archive)).toEqual(listFiles(reference.archive));
    expect(listFiles(h.archive).filter((file) => file.endsWith('.partial'))).toEqual([]);
  }, 170_000);
});

describe('SIGINT and SIGTERM', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s stops a run mid-way: exit %i, the run recorded as interrupted, the next run completes', async (signal, code) => {
    const h = await setup({ ...DATA, engagementsPerDay: 8 });
    slowDownloads(h);
    const child = run(h, ['--format', 'json']);
    // Mid-way: some artifacts stored already, the transfers of others under way.
    for (let waited = 0; listFiles(h.archive).filter((file) => file.endsWith('.meta.json')).length < 5 && waited < 20_000; waited += 25) {
      await sleep(25);
    }
    child.process.kill(signal);
    const stopped = await child.exited;
    expect(stopped.code).toBe(code);
    expect(stopped.ms).toBeLessThan(15_000);
    expect(stopped.stderr).toMatch(new RegExp(`stopped by ${signal}`));
    // The report says what the process exits with.
    expect(JSON.parse(stopped.stdout)).toMatchObject({ exitCode: code, interrupted: true });
    expect(readRuns(h.ledgerPath).at(-1)).toMatchObject({ outcome: 'interrupted', listing_complete: 0 });
    expectNothingLooksComplete(h);

    h.sandbox.faults.clear();
    const next = await run(h).exited;
    expect(next).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(readRuns(h.ledgerPath).at(-1)).toMatchObject({ outcome: 'ok', listing_complete: 1 });
    const truth = h.sandbox.truth.artifacts(WINDOW);
    const stored = walkArchive(h.archive);
    expect(stored.map((file) => file.key)).toEqual(truth.map((artifact) => artifact.key).sort());
    expect(listFiles(h.archive).filter((file) => file.endsWith('.partial'))).toEqual([]);
  });
});
