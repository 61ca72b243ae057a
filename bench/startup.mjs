// Start-up: `zcc-reconcile --help` (bin/zcc-reconcile, as installed) in ≤ 250 ms, the median of many runs, with
// hyperfine when it is installed and a loop of spawns otherwise. Heavy modules must load lazily.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from './lib/args.mjs';
import { ROOT } from './lib/paths.mjs';
import { check, fmt, writeResult } from './lib/result.mjs';

const args = parseArgs();
const BUDGET_MS = args.number('seconds', 30) * 1000;
const MAX_RUNS = args.number('runs', 300);
const BIN = path.join(ROOT, 'bin', 'zcc-reconcile');

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function hyperfine() {
  try {
    execFileSync('hyperfine', ['--version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'zcc-bench-startup-'));
  try {
    const out = path.join(dir, 'hyperfine.json');
    execFileSync('hyperfine', ['--warmup', '3', '--runs', String(Math.min(MAX_RUNS, 100)), '--export-json', out, `${BIN} --help`], { stdio: 'inherit' });
    const result = JSON.parse(readFileSync(out, 'utf8')).results[0];
    return { tool: 'hyperfine', runs: result.times.length, timesMs: result.times.map((t) => t * 1000) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function once() {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // The executable itself, as a user runs it: its first line starts node with the launcher's flags (`node BIN` would
    // read that line as a comment and start node without them).
    const child = spawn(BIN, ['--help'], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`--help exited ${code}`))));
  });
}

async function loop() {
  for (let i = 0; i < 3; i++) await once(); // warm the file cache
  const timesMs = [];
  const started = performance.now();
  while (timesMs.length < MAX_RUNS && (performance.now() - started < BUDGET_MS || timesMs.length < 20)) timesMs.push(await once());
  return { tool: 'spawn loop', runs: timesMs.length, timesMs };
}

const measured = hyperfine() ?? (await loop());
const med = median(measured.timesMs);
const p90 = [...measured.timesMs].sort((a, b) => a - b)[Math.floor(measured.timesMs.length * 0.9)];
console.log(`${measured.tool}: ${measured.runs} runs of \`zcc-reconcile --help\`: median ${fmt.ms(med)}, p90 ${fmt.ms(p90)}, min ${fmt.ms(Math.min(...measured.timesMs))}`);
writeResult('startup', {
  figures: { tool: measured.tool, runs: measured.runs, medianMs: med, p90Ms: p90, minMs: Math.min(...measured.timesMs) },
  checks: [check('start-up: zcc-reconcile --help', '≤ 250 ms', med, 250, '<=', `${fmt.ms(med)} median of ${measured.runs} (${measured.tool}; min ${fmt.ms(Math.min(...measured.timesMs))})`)],
});
