// Memory: peak RSS of the process running the reconciliation (the sandbox runs in another process) while it moves
// about 2 GB of media including one 1 GiB recording (goal ≤ 150 MB), and its growth from a 10k to a 100k engagement
// window (goal < 20 %). Peak RSS is the kernel's high-water mark (VmHWM) of the measured process.
import { parseArgs } from './lib/args.mjs';
import { launcherFlags } from './lib/launcher.mjs';
import { measuredRun, stage } from './lib/night.mjs';
import { check, fmt, writeResult } from './lib/result.mjs';

const args = parseArgs();
const CONCURRENCY = args.number('concurrency', 8);
// Node flags for the measured process: by default those bin/zcc-reconcile launches with; --node-options="" for none.
const NODE_OPTIONS = args.string('node-options', launcherFlags().join(' ')).split(' ').filter(Boolean);
const GiB = 2 ** 30;
const peak = (result) => result.vmHwm ?? result.peakRssSampled;
/** What the resident memory was made of at the sampled peak. */
const composition = (at) =>
  `V8 heap ${fmt.mib(at.heapUsed)} used of ${fmt.mib(at.heapTotal)}, buffers outside it ${fmt.mib(at.external)}` +
  (Number.isFinite(at.anon) ? `; resident anonymous ${fmt.mib(at.anon)}, file-backed (node's own code, libraries) ${fmt.mib(at.file)}` : '');

// 1. About 2 GB: one 1 GiB recording (the call across midnight) and ~1,400 engagements' ordinary media, as fast as
// the loopback allows (the worst case for buffers in flight).
const big = await stage(1400, { largeRecordings: { bytes: GiB }, rateLimits: {}, latencyMs: 0, bandwidth: undefined, streamBandwidth: undefined });
let moved;
try {
  moved = await measuredRun(big, { concurrency: CONCURRENCY, zoom: { rateLimits: { Light: 1000, Medium: 1000, Heavy: 1000 }, downloadRate: 1000 } }, { nodeOptions: NODE_OPTIONS });
} finally {
  await big.close();
}
console.log(`moved ${fmt.mb(moved.traffic.bytes)} (${moved.traffic.downloads} downloads) in ${fmt.s(moved.result.wallMs)}: peak RSS ${fmt.mib(peak(moved.result))} (sampled ${fmt.mib(moved.result.peakRssSampled)}), exit ${moved.result.exitCode}`);
console.log(`  at the sampled peak: ${composition(moved.result.atPeak)}`);

// 2. The same tool over a 10k and a 100k engagement window: notes and dispositions (every engagement's listing, plan,
// push and ledger rows; 2.3 artifacts per engagement), so the 100k window fits the time budget.
const KINDS = ['note', 'disposition'];
async function window(engagements) {
  const staged = await stage(engagements, { rateLimits: {}, latencyMs: 0, bandwidth: undefined, streamBandwidth: undefined });
  try {
    return await measuredRun(staged, { concurrency: CONCURRENCY, zoom: { rateLimits: { Light: 1000, Medium: 1000, Heavy: 1000 }, downloadRate: 1000 } }, { kinds: KINDS, nodeOptions: NODE_OPTIONS });
  } finally {
    await staged.close();
  }
}
const small = await window(10_000);
console.log(`10k window: ${small.result.totals.delivered} artifacts in ${fmt.s(small.result.wallMs)}: peak RSS ${fmt.mib(peak(small.result))}`);
const large = await window(100_000);
console.log(`100k window: ${large.result.totals.delivered} artifacts in ${fmt.s(large.result.wallMs)}: peak RSS ${fmt.mib(peak(large.result))}`);
const growth = peak(large.result) / peak(small.result) - 1;

writeResult('memory', {
  figures: {
    concurrency: CONCURRENCY,
    nodeOptions: NODE_OPTIONS,
    move: { bytes: moved.traffic.bytes, downloads: moved.traffic.downloads, peakRss: peak(moved.result), run: moved.result },
    window10k: { peakRss: peak(small.result), run: small.result },
    window100k: { peakRss: peak(large.result), run: large.result },
    growth,
  },
  checks: [
    check('memory: peak RSS moving 2 GB incl. a 1 GiB recording', '≤ 150 MB', peak(moved.result) / 1e6, 150, '<=', `${fmt.mb(peak(moved.result))} (${fmt.mb(moved.traffic.bytes)} moved)`),
    check('memory: peak RSS growth, 10k → 100k engagements', '< 20 %', growth * 100, 20, '<', `${(growth * 100).toFixed(1)} % (${fmt.mb(peak(small.result))} → ${fmt.mb(peak(large.result))})`),
  ],
});
