// npm run bench [-- <name> [options]]: builds dist/ when it is missing or older than src/, runs one benchmark or all
// six (each in its own process), then prints the table of figure | goal | measured | pass/fail. Options after the
// name go to that benchmark (e.g. `npm run bench -- floor --concurrency 4 --profile`).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DIST, ROOT } from './lib/paths.mjs';
import { machine, readResult } from './lib/result.mjs';

const BENCHMARKS = ['floor', 'naive', 'memory', 'ledger', 'idle', 'startup'];

function newest(folder, test) {
  let latest = 0;
  if (!existsSync(folder)) return latest;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(full, test));
    else if (test(entry.name)) latest = Math.max(latest, statSync(full).mtimeMs);
  }
  return latest;
}

function buildIfStale() {
  const built = newest(DIST, (name) => name.endsWith('.js'));
  const sources = newest(path.join(ROOT, 'src'), (name) => name.endsWith('.ts'));
  if (built > 0 && built >= sources) return;
  console.log(built === 0 ? 'dist/ is missing: building' : 'src/ changed since the last build: building');
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
}

const [name, ...rest] = process.argv.slice(2);
// Any bench/<name>.mjs runs by name; with no name, the six of the performance table.
if (name !== undefined && !existsSync(path.join(ROOT, 'bench', `${name}.mjs`))) {
  console.error(`unknown benchmark "${name}": one of ${BENCHMARKS.join(', ')} (or another bench/<name>.mjs)`);
  process.exit(2);
}
buildIfStale();
const started = Date.now();
const chosen = name ? [name] : BENCHMARKS;
const crashed = new Set();
for (const bench of chosen) {
  console.log(`\n=== ${bench} ===`);
  const run = spawnSync(process.execPath, [path.join(ROOT, 'bench', `${bench}.mjs`), ...rest], { cwd: ROOT, stdio: 'inherit' });
  if (run.status !== 0) crashed.add(bench);
}

const rows = [];
for (const bench of chosen) {
  const result = readResult(bench);
  if (crashed.has(bench) || !result?.checks || Date.parse(result.at) < started) {
    rows.push({ figure: `${bench}: did not finish`, goal: '', measured: 'see the output above', pass: false });
    continue;
  }
  rows.push(...result.checks);
}
const m = machine();
console.log(`\n${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; load average ${m.loadAverage}\n`);
console.log('| figure | goal | measured | pass/fail |');
console.log('| --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.figure} | ${row.goal} | ${row.measured} | ${row.pass ? 'pass' : '**fail**'} |`);
process.exitCode = rows.every((row) => row.pass) ? 0 : 1;
