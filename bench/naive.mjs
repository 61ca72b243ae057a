// Against a naive poller: the same night, limits and network for zcc-reconcile and for bench/baseline/naive-poller.mjs
// (each against its own fresh, identical sandbox, one after the other). Goal: zcc-reconcile ≥ 8× faster.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from './lib/args.mjs';
import { floor, measuredRun, NETWORK, stage, traffic, WINDOW } from './lib/night.mjs';
import { ROOT } from './lib/paths.mjs';
import { check, fmt, writeResult } from './lib/result.mjs';

const args = parseArgs();
const ENGAGEMENTS = args.number('engagements', 160);
const CONCURRENCY = args.number('concurrency', 8);

async function tool() {
  const staged = await stage(ENGAGEMENTS);
  try {
    return await measuredRun(staged, { concurrency: CONCURRENCY });
  } finally {
    await staged.close();
  }
}

async function naive() {
  const staged = await stage(ENGAGEMENTS);
  try {
    const before = await staged.sandbox.stats();
    const { credentials, apiBaseUrl, oauthTokenUrl } = staged.sandbox;
    const job = { apiBaseUrl, oauthTokenUrl, ...credentials, ...WINDOW };
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bench', 'baseline', 'naive-poller.mjs'), JSON.stringify(job)], { maxBuffer: 1 << 20 });
    const after = await staged.sandbox.stats();
    return { result: JSON.parse(stdout.trim().split('\n').pop()), traffic: traffic(before, after) };
  } finally {
    await staged.close();
  }
}

const ours = await tool();
console.log(`zcc-reconcile: ${fmt.s(ours.result.wallMs)}, ${ours.traffic.downloads} downloads, ${fmt.mb(ours.traffic.bytes)}, 429s ${JSON.stringify(ours.traffic.throttled)}`);
const theirs = await naive();
console.log(`naive poller:  ${fmt.s(theirs.result.wallMs)}, ${theirs.traffic.downloads} downloads, ${fmt.mb(theirs.traffic.bytes)}, 429s ${JSON.stringify(theirs.traffic.throttled)}`);
if (theirs.traffic.downloads !== ours.traffic.downloads) console.log(`  note: downloads differ (${theirs.traffic.downloads} vs ${ours.traffic.downloads})`);
const ratio = theirs.result.wallMs / ours.result.wallMs;
const f = floor(ours.traffic);
// No tool can be faster than the floor: naive ÷ floor is the largest speed-up this night and network allow.
const ceiling = theirs.result.wallMs / f.ms;
console.log(`speed-up: ${fmt.x(ratio)}; zcc-reconcile at ${fmt.x(ours.result.wallMs / f.ms)} of the floor (${fmt.s(f.ms)}, ${f.bound}-bound), so at most ${fmt.x(ceiling)} is possible here`);
writeResult('naive', {
  figures: { engagements: ENGAGEMENTS, concurrency: CONCURRENCY, network: NETWORK, ratio, ceiling, tool: ours, naive: theirs, floorMs: f.ms, floorBound: f.bound },
  checks: [
    check('against a naive poller (same night, limits, network)', '≥ 8× faster', ratio, 8, '>=', `${fmt.x(ratio)} (naive ${fmt.s(theirs.result.wallMs)} / zcc-reconcile ${fmt.s(ours.result.wallMs)}; the floor allows at most ${fmt.x(ceiling)})`),
  ],
});
