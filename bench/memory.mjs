// Memory: peak RSS of the process running the reconciliation (the sandbox runs in another process) while it moves
// about 2 GB of media including one 1 GiB recording (goal ≤ 150 MB), and its growth from a 10k to a 100k engagement
// window (goal < 20 %). Peak RSS is the kernel's high-water mark (VmHWM) of the measured process. The same 2 GB is
// also moved into a real S3 store (s3rver on loopback, in its own process), as a company archiving to S3 would run it:
// the AWS SDK and the upload's part buffers come on top (--no-s3 skips it).
import path from 'node:path';
import { parseArgs } from './lib/args.mjs';
import { launcherFlags } from './lib/launcher.mjs';
import { measuredRun, stage } from './lib/night.mjs';
import { check, fmt, writeResult } from './lib/result.mjs';
import { startS3rver } from './lib/stores.mjs';

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
const LOOPBACK = { rateLimits: {}, latencyMs: 0, bandwidth: undefined, streamBandwidth: undefined };
const UNLIMITED = { rateLimits: { Light: 1000, Medium: 1000, Heavy: 1000 }, downloadRate: 1000 };

/** The 2 GB night in a fresh sandbox, moved into the drain destination, or into what `startStore(folder)` starts. */
async function moveTwoGb(startStore) {
  const staged = await stage(1400, { largeRecordings: { bytes: GiB }, ...LOOPBACK });
  const store = startStore ? await startStore(staged.dir) : null;
  try {
    const destinations = store ? { destinations: store.destinations } : {};
    return await measuredRun(staged, { concurrency: CONCURRENCY, zoom: UNLIMITED, ...destinations }, { nodeOptions: NODE_OPTIONS });
  } finally {
    await store?.stop();
    await staged.close();
  }
}

/** s3rver for moveTwoGb, with its credentials in the environment the measured process inherits (the SDK's chain). */
async function s3Store(folder) {
  const server = await startS3rver(path.join(folder, 's3rver'), 'archive');
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  const endpoint = `http://127.0.0.1:${server.port}`;
  return { ...server, destinations: [{ name: 's3', type: 's3', bucket: 'archive', prefix: 'zcc/', region: 'us-east-1', endpoint, forcePathStyle: true }] };
}

const moved = await moveTwoGb();
console.log(`moved ${fmt.mb(moved.traffic.bytes)} (${moved.traffic.downloads} downloads) in ${fmt.s(moved.result.wallMs)}: peak RSS ${fmt.mib(peak(moved.result))} (sampled ${fmt.mib(moved.result.peakRssSampled)}), exit ${moved.result.exitCode}`);
console.log(`  at the sampled peak: ${composition(moved.result.atPeak)}`);

const intoS3 = args.flag('no-s3') ? null : await moveTwoGb(s3Store);
if (intoS3) {
  console.log(`into S3: ${fmt.mb(intoS3.traffic.bytes)} (${intoS3.result.totals.delivered} delivered) in ${fmt.s(intoS3.result.wallMs)}: peak RSS ${fmt.mib(peak(intoS3.result))}, exit ${intoS3.result.exitCode}`);
  console.log(`  at the sampled peak: ${composition(intoS3.result.atPeak)}`);
}

// 2. The same tool over a 10k and a 100k engagement window: notes and dispositions (every engagement's listing, plan,
// push and ledger rows; 2.3 artifacts per engagement), so the 100k window fits the time budget.
const KINDS = ['note', 'disposition'];
async function window(engagements) {
  const staged = await stage(engagements, LOOPBACK);
  try {
    return await measuredRun(staged, { concurrency: CONCURRENCY, zoom: UNLIMITED }, { kinds: KINDS, nodeOptions: NODE_OPTIONS });
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
    intoS3: intoS3 && { bytes: intoS3.traffic.bytes, peakRss: peak(intoS3.result), run: intoS3.result },
    window10k: { peakRss: peak(small.result), run: small.result },
    window100k: { peakRss: peak(large.result), run: large.result },
    growth,
  },
  checks: [
    check('memory: peak RSS moving 2 GB incl. a 1 GiB recording', '≤ 150 MB', peak(moved.result) / 1e6, 150, '<=', `${fmt.mb(peak(moved.result))} (${fmt.mb(moved.traffic.bytes)} moved)`),
    ...(intoS3
      ? [check('memory: the same 2 GB into S3 (s3rver on loopback)', '≤ 150 MB', peak(intoS3.result) / 1e6, 150, '<=', `${fmt.mb(peak(intoS3.result))} (${fmt.mb(intoS3.traffic.bytes)} moved, exit ${intoS3.result.exitCode})`)]
      : []),
    check('memory: peak RSS growth, 10k → 100k engagements', '< 20 %', growth * 100, 20, '<', `${(growth * 100).toFixed(1)} % (${fmt.mb(peak(small.result))} → ${fmt.mb(peak(large.result))})`),
  ],
});
