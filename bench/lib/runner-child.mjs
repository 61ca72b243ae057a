// The measured process: one reconciliation against the sandbox, timed, with its peak RSS. It delivers into a drain
// destination (bytes are read, nothing is kept), or with `configuredDestinations` into the destinations its config
// names, built as the run command builds them. The job comes as JSON in argv[2]; the result goes back over IPC.
import { dist } from './paths.mjs';
import { sampleRss, vmHwm } from './memory.mjs';

const job = JSON.parse(process.argv[2] ?? '{}');
const stopSampling = sampleRss(job.sampleMs ?? 20);
const rssBeforeImport = process.memoryUsage.rss();

try {
  const [{ runReconciliation }, { parseConfig }, { DrainDestination }] = await Promise.all([
    import(dist('run.js')),
    import(dist('config.js')),
    import('./drain-destination.mjs'),
  ]);
  const config = parseConfig(job.config);
  const destination = job.configuredDestinations ? null : new DrainDestination(config.destinations[0].name);
  const started = performance.now();
  const result = await runReconciliation({
    config,
    secrets: job.secrets,
    from: job.from,
    to: job.to,
    kinds: job.kinds,
    destinations: destination ? [destination] : undefined,
  });
  const wallMs = performance.now() - started;
  const totals = {};
  for (const row of result.tally.counts.values()) {
    for (const [outcome, n] of Object.entries(row)) totals[outcome] = (totals[outcome] ?? 0) + n;
  }
  const { rss: peakRssSampled, ...atPeak } = stopSampling();
  process.send({
    type: 'done',
    result: {
      wallMs,
      exitCode: result.exitCode,
      listingComplete: result.listingComplete,
      incomplete: result.incomplete,
      stopped: result.stopped ? result.stopped.message : null,
      totals,
      kinds: result.tally.toJSON(),
      bytesDelivered: result.tally.bytesDelivered,
      bytesDrained: destination ? destination.bytesReceived : null,
      failures: result.tally.failures.slice(0, 5),
      rssBeforeImport,
      peakRssSampled,
      atPeak,
      vmHwm: vmHwm(),
    },
  }, () => process.exit(0));
} catch (error) {
  process.send({ type: 'done', error: error instanceof Error ? error.stack ?? error.message : String(error) }, () => process.exit(1));
}
