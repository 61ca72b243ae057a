// A benchmark's result: its figures and the checks it is judged by, printed and written to bench/results/<name>.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { ensureResults, RESULTS } from './paths.mjs';

export function machine() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    // Other work on the machine skews wall times: the 1-minute load average when the result was written.
    loadAverage: Math.round(loadavg()[0] * 100) / 100,
  };
}

/**
 * A check: `measured` and `limit` in the same unit; `direction` says whether measured must be at most ('<=') or at
 * least ('>=') the limit (or strictly below: '<').
 */
export function check(figure, goal, measured, limit, direction, text) {
  const pass = direction === '<=' ? measured <= limit : direction === '<' ? measured < limit : measured >= limit;
  return { figure, goal, measured: text ?? String(measured), value: measured, limit, direction, pass };
}

export function writeResult(name, payload) {
  const file = path.join(ensureResults(), `${name}.json`);
  const body = { name, at: new Date().toISOString(), machine: machine(), ...payload };
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  console.log(`\n${name}:`);
  for (const c of payload.checks) console.log(`  ${c.pass ? 'PASS' : 'FAIL'}  ${c.figure}: ${c.measured} (goal ${c.goal})`);
  console.log(`  → ${path.relative(process.cwd(), file)}`);
  return body;
}

export function readResult(name) {
  try {
    return JSON.parse(readFileSync(path.join(RESULTS, `${name}.json`), 'utf8'));
  } catch {
    return null;
  }
}

export const fmt = {
  s: (ms) => `${(ms / 1000).toFixed(2)} s`,
  ms: (ms) => `${Math.round(ms)} ms`,
  mb: (bytes) => `${(bytes / 1e6).toFixed(1)} MB`,
  mib: (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`,
  x: (ratio) => `${ratio.toFixed(2)}×`,
};
