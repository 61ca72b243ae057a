// Reads a V8 .cpuprofile (node --cpu-prof) and sums self time by function and by package/file, so a benchmark can
// say where the time went.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.mjs';

function where(frame) {
  const url = frame.url || '';
  if (!url) return frame.functionName ? `(native) ${frame.functionName}` : '(program/gc/idle)';
  const file = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return `node_modules/${pkg[1]}`;
  if (file.startsWith('node:')) return file;
  return path.relative(ROOT, file);
}

/** Self time (ms) per function and per file/package, largest first. */
export function summarize(profileFile, top = 15) {
  const profile = JSON.parse(readFileSync(profileFile, 'utf8'));
  const self = new Map();
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0) / 1000);
  }
  const byFunction = new Map();
  const byFile = new Map();
  let total = 0;
  for (const [id, ms] of self) {
    const frame = nodes.get(id)?.callFrame;
    if (!frame) continue;
    total += ms;
    const file = where(frame);
    const fn = `${frame.functionName || '(anonymous)'} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
  }
  const rank = (map) =>
    [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({ name, ms: Math.round(ms), share: ms / total }));
  return { totalMs: Math.round(total), byFile: rank(byFile), byFunction: rank(byFunction) };
}

/** The newest .cpuprofile in a folder. */
export function newestProfile(folder) {
  const files = readdirSync(folder).filter((name) => name.endsWith('.cpuprofile'));
  files.sort((a, b) => statSync(path.join(folder, b)).mtimeMs - statSync(path.join(folder, a)).mtimeMs);
  return files[0] ? path.join(folder, files[0]) : null;
}

export function printSummary(summary, out = console.log) {
  const pct = (share) => `${(share * 100).toFixed(1).padStart(5)}%`;
  out(`  CPU profile: ${summary.totalMs} ms sampled`);
  out('  by file/package (self time):');
  for (const row of summary.byFile.slice(0, 10)) out(`    ${pct(row.share)}  ${row.ms} ms  ${row.name}`);
  out('  by function (self time):');
  for (const row of summary.byFunction.slice(0, 12)) out(`    ${pct(row.share)}  ${row.ms} ms  ${row.name}`);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const target = process.argv[2];
  const file = target && statSync(target).isDirectory() ? newestProfile(target) : target;
  if (!file) throw new Error('usage: node bench/lib/profile.mjs <file.cpuprofile | folder>');
  printSummary(summarize(file));
}
