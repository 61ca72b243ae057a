// Floor ratio: a realistic night with Zoom's rate limits on; the wall time of the run against the floor
// max(list requests ÷ 10/s, downloads ÷ 20/s, bytes ÷ bandwidth). Goal: ≤ 1.15, at most one 429 per label.
import { parseArgs } from './lib/args.mjs';
import { floor, measuredRun, NETWORK, stage } from './lib/night.mjs';
import { check, fmt, writeResult } from './lib/result.mjs';
import { profileFolder, reportProfile } from './lib/profiling.mjs';

const args = parseArgs();
const ENGAGEMENTS = args.number('engagements', 1000);
const CONCURRENCY = args.number('concurrency', 8);

const staged = await stage(ENGAGEMENTS);
try {
  const profile = args.flag('profile') ? profileFolder('floor') : undefined;
  const { result, traffic } = await measuredRun(staged, { concurrency: CONCURRENCY }, { profile });
  if (result.exitCode !== 0) console.log(`  (the run exited ${result.exitCode}: ${JSON.stringify(result.failures)})`);
  const f = floor(traffic);
  const ratio = result.wallMs / f.ms;
  console.log(`night: ${ENGAGEMENTS} engagements, ${result.totals.delivered} artifacts delivered, concurrency ${CONCURRENCY}`);
  console.log(`requests: ${JSON.stringify(traffic.byLabel)}`);
  console.log(`bytes: ${fmt.mb(traffic.bytes)}; floor terms: list ${fmt.s(f.terms.list)}, downloads ${fmt.s(f.terms.downloads)}, bytes ${fmt.s(f.terms.bytes)}`);
  console.log(`wall ${fmt.s(result.wallMs)} / floor ${fmt.s(f.ms)} (${f.bound}) = ${fmt.x(ratio)}`);
  const worst429 = Math.max(0, ...Object.values(traffic.throttled));
  const profileSummary = profile ? reportProfile(profile) : null;
  // The same night with zoom.downloadRate unset, as shipped: Zoom documents no download limit, so the tool learns the
  // sandbox's from its first 429 and keeps to a share of it (src/zoom/pacer.ts).
  const unpaced = await stage(ENGAGEMENTS);
  let byDefault;
  try {
    byDefault = await measuredRun(unpaced, { concurrency: CONCURRENCY, zoom: { downloadRate: undefined } });
  } finally {
    await unpaced.close();
  }
  const defaultFloor = floor(byDefault.traffic);
  const defaultRatio = byDefault.result.wallMs / defaultFloor.ms;
  console.log(`the same night with zoom.downloadRate unset: wall ${fmt.s(byDefault.result.wallMs)} / floor ${fmt.s(defaultFloor.ms)} = ${fmt.x(defaultRatio)}; 429s ${JSON.stringify(byDefault.traffic.throttled)}`);
  writeResult('floor', {
    figures: {
      engagements: ENGAGEMENTS,
      concurrency: CONCURRENCY,
      network: NETWORK,
      wallMs: result.wallMs,
      floorMs: f.ms,
      floorBound: f.bound,
      floorTerms: f.terms,
      ratio,
      traffic,
      run: result,
      profile: profileSummary,
      downloadRateUnset: { wallMs: byDefault.result.wallMs, floorMs: defaultFloor.ms, ratio: defaultRatio, traffic: byDefault.traffic, exitCode: byDefault.result.exitCode },
    },
    checks: [
      check('floor ratio (realistic night, rate limits on; zoom.downloadRate set to the download limit)', '≤ 1.15×', ratio, 1.15, '<=', `${fmt.x(ratio)} (${fmt.s(result.wallMs)} / floor ${fmt.s(f.ms)}, ${f.bound}-bound; ${traffic.listRequests} list requests, ${traffic.downloads} downloads, ${fmt.mb(traffic.bytes)})`),
      check('floor ratio, the same night with zoom.downloadRate unset (the default)', '≤ 1.15×', defaultRatio, 1.15, '<=', `${fmt.x(defaultRatio)} (${fmt.s(byDefault.result.wallMs)} / floor ${fmt.s(defaultFloor.ms)}; 429s ${Object.entries(byDefault.traffic.throttled).map(([label, n]) => `${label} ${n}`).join(', ')})`),
      check('429s per label', '≤ 1', worst429, 1, '<=', Object.entries(traffic.throttled).map(([label, n]) => `${label} ${n}`).join(', ')),
      check('the run delivered everything', 'exit 0', result.exitCode, 0, '<=', `exit ${result.exitCode}`),
    ],
  });
} finally {
  await staged.close();
}
