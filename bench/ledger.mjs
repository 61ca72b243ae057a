// Ledger scale: with 1M delivered rows, diff 100k candidates (≤ 1 s) and record 100k deliveries (≤ 2 s), through the
// Ledger interface exactly as the engine calls it, plus EXPLAIN QUERY PLAN of the engine's statements.
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { artifact, delivery } from './lib/artifacts.mjs';
import { dist } from './lib/paths.mjs';
import { check, fmt, writeResult } from './lib/result.mjs';

const { SqliteLedger, ENGINE_SQL } = await import(dist('ledger/sqlite.js'));
const { planBatch } = await import(dist('plan.js'));

const ROWS = Number(process.env.BENCH_LEDGER_ROWS ?? 1_000_000);
// For an inner loop: BENCH_LEDGER_CACHE=<file> keeps the set-up ledger there and copies it on later runs (the set-up
// is not timed; delete the file after a schema change).
const CACHE = process.env.BENCH_LEDGER_CACHE;
const CANDIDATES = 100_000;
const PAGE = 250; // about one listed page's artifacts (100 engagements → notes, dispositions, transcripts)
const SETUP_BATCH = 20_000;
const DESTINATION = 'archive';
const NOW = '2026-11-20T02:00:00.000Z';
const CUTOFF = '2026-11-17T02:00:00.000Z';

const dir = mkdtempSync(path.join(tmpdir(), 'zcc-bench-ledger-'));
const file = path.join(dir, 'ledger.sqlite');
const cpuTimes = {};
/** Runs f; returns [value, wall ms] and keeps its CPU time (user + system) under `name` (load on the machine shows as wall > CPU). */
const timed = (f, name) => {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = f();
  const wall = performance.now() - started;
  if (name) {
    const used = process.cpuUsage(cpu);
    cpuTimes[name] = (used.user + used.system) / 1000;
  }
  return [value, wall];
};

try {
  // 1. A ledger with ROWS artifacts, each delivered once.
  let ledger = SqliteLedger.open(file);
  const cached = CACHE && existsSync(CACHE);
  if (cached) {
    ledger.close();
    copyFileSync(CACHE, file);
    // The copy's 1.9 GB would otherwise still be written back to disk during the timed steps.
    const copied = openSync(file, 'r+');
    fsyncSync(copied);
    closeSync(copied);
    ledger = SqliteLedger.open(file);
  }
  const [, setupMs] = timed(() => {
    if (cached) return;
    for (let start = 0; start < ROWS; start += SETUP_BATCH) {
      const batch = [];
      for (let n = start; n < Math.min(ROWS, start + SETUP_BATCH); n++) batch.push(artifact(n));
      ledger.rememberArtifacts(batch, NOW, CUTOFF);
      ledger.recordDeliveries(batch.map((a) => delivery(DESTINATION, a, NOW)));
    }
  }, 'setup');
  ledger.close();
  if (CACHE && !cached) copyFileSync(file, CACHE);
  console.log(cached ? `setup: copied from ${CACHE}` : `setup: ${ROWS} artifacts and deliveries in ${fmt.s(setupMs)}`);

  // 2. 100k candidates: half already delivered and unchanged, a tenth delivered but edited, the rest new.
  const candidates = [];
  for (let k = 0; k < CANDIDATES; k++) {
    if (k % 10 < 5) candidates.push(artifact(Math.floor((k / CANDIDATES) * ROWS)));
    else if (k % 10 === 5) candidates.push(artifact(Math.floor((k / CANDIDATES) * ROWS), 1));
    else candidates.push(artifact(ROWS + k));
  }
  ledger = SqliteLedger.open(file);
  // As a run does (src/run.ts): its writes are committed in groups; the timed work ends with the last commit.
  ledger.groupWrites();
  const scopes = [{ name: DESTINATION, kinds: new Set(['recording', 'recording_transcript', 'messaging_transcript', 'note', 'disposition', 'voicemail', 'voicemail_transcript']) }];
  const decisions = { push: 0, unchanged: 0, other: 0 };
  let lookupMs = 0;
  const [, diffMs] = timed(() => {
    for (let start = 0; start < candidates.length; start += PAGE) {
      const page = candidates.slice(start, start + PAGE);
      const states = ledger.rememberArtifacts(page, NOW, CUTOFF);
      const lookupStarted = performance.now();
      const keys = page.map((a) => a.key);
      const deliveries = new Map([[DESTINATION, ledger.deliveryStates(DESTINATION, keys)]]);
      for (const item of planBatch(page, states, scopes, deliveries, 10)) {
        const action = item.decision.action;
        decisions[action === 'push' || action === 'unchanged' ? action : 'other']++;
      }
      lookupMs += performance.now() - lookupStarted;
    }
    ledger.flush();
  }, 'diff');
  console.log(`diff: ${CANDIDATES} candidates in pages of ${PAGE}: ${fmt.ms(diffMs)} (lookups and plan alone ${fmt.ms(lookupMs)}); ${JSON.stringify(decisions)}`);

  // 3. Record 100k deliveries as a run does: one call per confirmed push, the writes grouped; then, for comparison,
  // another 100k through a handle that commits each call on its own (as `listen` does).
  const toRecord = candidates.map((a) => delivery(DESTINATION, a, NOW));
  const [, recordMs] = timed(() => {
    for (const entry of toRecord) ledger.recordDeliveries([entry]);
    ledger.flush();
  }, 'record');
  ledger.close();
  ledger = SqliteLedger.open(file);
  const single = [];
  for (let k = 0; k < CANDIDATES; k++) single.push(delivery(DESTINATION, artifact(ROWS + CANDIDATES + k), NOW));
  const [, singleMs] = timed(() => {
    for (const entry of single) ledger.recordDeliveries([entry]);
  }, 'recordOneByOne');
  // The least any diff must do: look each candidate up in both tables, nothing written (the rows exist by now).
  const [, readsMs] = timed(() => {
    for (let start = 0; start < candidates.length; start += PAGE) {
      const keys = candidates.slice(start, start + PAGE).map((a) => a.key);
      ledger.artifactStates(keys);
      ledger.deliveryStates(DESTINATION, keys);
    }
  }, 'reads');
  console.log(`reads alone (each candidate looked up in artifacts and deliveries, no writes, no plan): ${fmt.ms(readsMs)}`);
  const calibration = lookupFloor(candidates.map((a) => a.key));
  console.log(`this machine's SQLite, for scale: the same ${CANDIDATES} keys looked up in an in-memory table of ${ROWS} keys (one B-tree descent each, no I/O): ${fmt.ms(calibration.lookupMs)}`);
  console.log(`CPU time: ${Object.entries(cpuTimes).map(([k, v]) => `${k} ${fmt.ms(v)}`).join(', ')}`);
  console.log(`record: ${CANDIDATES} deliveries one call each, grouped commits: ${fmt.ms(recordMs)}; one transaction each: ${fmt.ms(singleMs)}`);
  const counts = ledger.counts();
  // What `verify --from --to` reads: one day of listed time (the set-up's artifacts are listed 300 ms apart), in pages.
  const [verified, verifyDayMs] = timed(() => {
    let count = 0;
    for (let after = null; ; ) {
      const page = ledger.deliveredPage({ from: '2026-10-02T00:00:00.000Z', to: '2026-10-03T00:00:00.000Z' }, after, 200);
      count += page.length;
      if (page.length < 200) return count;
      after = page.at(-1);
    }
  }, 'verifyDay');
  console.log(`verify's listing of one day of a ${ROWS}-row ledger: ${verified} deliveries in ${fmt.ms(verifyDayMs)}`);
  // What `status` reads: the per-kind counts of the whole ledger.
  const [summary, summaryMs] = timed(() => ledger.ledgerSummary(5), 'summary');
  console.log(`status summary of ${summary.artifacts} artifacts and ${summary.delivered + summary.failing + summary.gaveUp} deliveries: ${fmt.ms(summaryMs)}`);
  // Closing checkpoints the WAL the diff and the deliveries wrote (each page copied back once).
  const [, closeMs] = timed(() => ledger.close(), 'close');
  console.log(`close (final checkpoint): ${fmt.ms(closeMs)}`);

  // 4. The query plans of the engine's statements.
  const db = new Database(file, { readonly: true });
  const plans = {};
  for (const [name, sql] of Object.entries(ENGINE_SQL ?? {})) {
    try {
      plans[name] = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...placeholders(sql)).map((row) => row.detail);
    } catch (error) {
      plans[name] = [`(not explainable: ${error.message})`];
    }
  }
  db.close();
  for (const [name, lines] of Object.entries(plans)) console.log(`plan ${name}: ${lines.join(' | ')}`);

  writeResult('ledger', {
    figures: { cpuMs: cpuTimes, rows: ROWS, candidates: CANDIDATES, page: PAGE, setupMs, diffMs, lookupMs, readsMs, inMemoryLookupMs: calibration.lookupMs, decisions, recordMs, singleTransactionMs: singleMs, summaryMs, verifyDayMs, closeMs, counts, plans },
    checks: [
      check('ledger: diff 100k candidates with 1M delivered rows', '≤ 1 s', diffMs / 1000, 1, '<=', `${fmt.s(diffMs)} (${CANDIDATES / PAGE} pages: remember + look up + plan; the lookups alone, no writes: ${fmt.s(readsMs)}; one in-memory lookup per candidate: ${fmt.s(calibration.lookupMs)})`),
      check('ledger: record 100k deliveries', '≤ 2 s', recordMs / 1000, 2, '<=', `${fmt.s(recordMs)} (one call each, grouped commits; one transaction each: ${fmt.s(singleMs)})`),
    ],
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The least a lookup costs on this machine: `keys` looked up, in pages of PAGE through the engine's json_each form, in
 * an in-memory WITHOUT ROWID table of ROWS keys shaped like the ledger's (one descent per key; no page cache, no
 * syscalls, nothing written). The diff looks each candidate up in two tables, so twice this is its floor here.
 */
function lookupFloor(keys) {
  const memory = new Database(':memory:');
  try {
    memory.exec('CREATE TABLE t (key TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID');
    const insert = memory.prepare("INSERT OR IGNORE INTO t VALUES (?, 'ready')");
    memory.transaction(() => {
      for (let n = 0; n < ROWS; n++) insert.run(artifact(n).key);
    })();
    const lookup = memory.prepare('SELECT key, state FROM t WHERE key IN (SELECT value FROM json_each(?))');
    let found = 0;
    const [, lookupMs] = timed(() => {
      for (let start = 0; start < keys.length; start += PAGE) found += lookup.all(JSON.stringify(keys.slice(start, start + PAGE))).length;
    }, 'lookupFloor');
    return { lookupMs, found };
  } finally {
    memory.close();
  }
}

/** Parameters for EXPLAIN: named ones as an object of nulls, positional ones as nulls. */
function placeholders(sql) {
  const named = [...sql.matchAll(/@(\w+)/g)].map((m) => m[1]);
  if (named.length > 0) return [Object.fromEntries(named.map((name) => [name, null]))];
  return Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => null);
}
