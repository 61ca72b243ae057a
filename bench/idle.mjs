// Idle night: everything in the window is already delivered. A run then costs only the list requests: 0 downloads,
// and wall time ≤ 1.1 × (list requests ÷ 10/s). The ledger is filled first by a run against an unthrottled sandbox
// with the same data on the same port (so every stored URL is the same); the measured run meets the night's limits
// and network.
import { parseArgs } from './lib/args.mjs';
import { LIMITS, measuredRun, minimumListRequests, NETWORK, stage } from './lib/night.mjs';
import { check, fmt, writeResult } from './lib/result.mjs';
import { profileFolder, reportProfile } from './lib/profiling.mjs';

const args = parseArgs();
const ENGAGEMENTS = args.number('engagements', 10_000);
// Media size does not matter here (nothing is downloaded in the measured run); small files keep the filling run short.
const SMALL_MEDIA = { mediaBytes: { min: 1_000, max: 4_000 } };

const filling = await stage(ENGAGEMENTS, { ...SMALL_MEDIA, rateLimits: {}, latencyMs: 0, bandwidth: undefined, streamBandwidth: undefined });
const port = Number(filling.sandbox.downloadHost.split(':').pop());
let first;
let minimum;
try {
  first = await measuredRun(filling, { concurrency: 16, zoom: { rateLimits: { Light: 1000, Medium: 1000, Heavy: 1000 }, downloadRate: 1000 } });
  minimum = await minimumListRequests(filling.sandbox);
} finally {
  await filling.sandbox.close();
}
console.log(`filled the ledger: ${first.result.totals.delivered} deliveries in ${fmt.s(first.result.wallMs)} (exit ${first.result.exitCode})`);

const measured = await stage(ENGAGEMENTS, { ...SMALL_MEDIA, port });
try {
  const profile = args.flag('profile') ? profileFolder('idle') : undefined;
  const { result, traffic } = await measuredRun({ ...measured, dir: filling.dir }, {}, { profile });
  const floorMs = (traffic.listRequests / LIMITS.Medium) * 1000;
  const ratio = result.wallMs / floorMs;
  // Against the fewest requests the night needs: what the tool's extra slice pages cost is counted too.
  const minimumFloorMs = (minimum.total / LIMITS.Medium) * 1000;
  const minimumRatio = result.wallMs / minimumFloorMs;
  console.log(`idle run: ${fmt.s(result.wallMs)}, ${traffic.listRequests} list requests (floor ${fmt.s(floorMs)}), ${traffic.downloads} downloads, ${result.totals.unchanged} unchanged, 429s ${JSON.stringify(traffic.throttled)}`);
  console.log(`the night needs at least ${minimum.total} list requests (${JSON.stringify(minimum.pages)}; floor ${fmt.s(minimumFloorMs)})`);
  console.log(`ratio ${fmt.x(ratio)} to its own list requests, ${fmt.x(minimumRatio)} to the fewest the night needs`);
  const profileSummary = profile ? reportProfile(profile) : null;
  writeResult('idle', {
    figures: { engagements: ENGAGEMENTS, network: NETWORK, fill: first.result, wallMs: result.wallMs, floorMs, ratio, minimum, minimumFloorMs, minimumRatio, traffic, run: result, profile: profileSummary },
    checks: [
      check('idle night: downloads', '0', traffic.downloads, 0, '<=', String(traffic.downloads)),
      check('idle night: wall ÷ (list requests ÷ rate)', '≤ 1.1×', ratio, 1.1, '<=', `${fmt.x(ratio)} (${fmt.s(result.wallMs)} for its ${traffic.listRequests} list requests at ${LIMITS.Medium}/s = ${fmt.s(floorMs)})`),
      check('idle night: wall ÷ (the fewest list requests the night needs ÷ rate)', '≤ 1.1×', minimumRatio, 1.1, '<=', `${fmt.x(minimumRatio)} (${minimum.total} list requests paged alone at ${LIMITS.Medium}/s = ${fmt.s(minimumFloorMs)})`),
    ],
  });
} finally {
  await measured.close();
  await filling.close();
}
