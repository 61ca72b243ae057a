// `demo --live`: both halves of the recommended design against the built-in sandbox. A listener on loopback receives
// Zoom's events for one day of the sandbox's data from the sandbox's webhook sender, which drops 10% of them (and
// sends some twice, out of order); then the nightly run over the same day must deliver exactly what the dropped
// events carried. Like `demo`, the only place product code meets the sandbox.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { parseConfig } from './config.js';
import { startListener } from './events/listener.js';
import { SqliteLedger } from './ledger/sqlite.js';
import { runReconciliation, type RunEvent, type RunResult } from './run.js';

export interface LiveDemoOptions {
  cwd: string;
  onEvent?: (event: RunEvent) => void;
  /** The sandbox's size; the command uses the plain demo's 60. */
  engagementsPerDay?: number;
  dropShare?: number;
}

export interface LiveDemoResult {
  run: RunResult;
  window: { from: Date; to: Date };
  events: { total: number; dropped: number; duplicated: number; failed: number };
  /** Artifacts of the window, as the sandbox knows them. */
  artifacts: number;
  /** Distinct artifacts the listener delivered. */
  viaEvents: number;
  /** Artifact keys the dropped events carried, and the keys the nightly run delivered. */
  droppedKeys: string[];
  caughtKeys: string[];
  caughtExactly: boolean;
  summary: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SEED = 7;

export async function runLiveDemo(options: LiveDemoOptions): Promise<LiveDemoResult> {
  const { startSandbox } = await import('./sandbox/index.js');
  // As in `demo`: the sandbox stands at the start of this hour. The day of events is the 24 hours before it.
  const sandboxNow = Math.floor(Date.now() / HOUR) * HOUR;
  const window = { from: new Date(sandboxNow - DAY), to: new Date(sandboxNow) };
  const sandbox = await startSandbox({ seed: SEED, engagementsPerDay: options.engagementsPerDay ?? 60, days: 3, now: () => new Date(sandboxNow) });
  try {
    const folder = freshFolder(options.cwd);
    const raw = {
      zoom: {
        apiBaseUrl: sandbox.apiBaseUrl,
        oauthTokenUrl: sandbox.oauthTokenUrl,
        downloadHosts: [sandbox.downloadHost],
        // A day of events arrives here in a second; at Zoom's own rates (20/10/5 a second) fetching what they name
        // would take a while. The sandbox has no rate limits.
        rateLimits: { Light: 200, Medium: 100, Heavy: 50 },
      },
      // The nightly run's default window is then exactly the day the events covered.
      window: { lookback: 'P1D' },
      ledger: { path: './zcc-ledger.sqlite' },
      destinations: [{ name: 'archive', type: 'filesystem', path: './archive' }],
      listen: { port: 0 },
    };
    writeFileSync(path.join(folder, 'zcc-reconcile.json'), `${JSON.stringify(raw, null, 2)}\n`);
    const parsed = parseConfig(raw);
    const ledgerPath = path.join(folder, 'zcc-ledger.sqlite');
    const config = {
      ...parsed,
      ledger: { path: ledgerPath },
      destinations: [{ name: 'archive', type: 'filesystem' as const, path: path.join(folder, 'archive') }],
    };

    // The listener's time moves from the sandbox's (signatures stay fresh, deferred entries come due); the nightly
    // run's stands at it, so its window is the events' day to the second.
    const started = Date.now();
    const listenerClock: Clock = { now: () => new Date(sandboxNow + (Date.now() - started)), sleep: systemClock.sleep };
    const runClock: Clock = { now: () => new Date(sandboxNow), sleep: systemClock.sleep };
    const secret = randomBytes(24).toString('base64url');
    const listener = await startListener({
      config,
      secrets: sandbox.credentials,
      webhookSecret: secret,
      flowSecret: null,
      clock: listenerClock,
      // Short retries: what is not ready within seconds is left for the nightly run, as it would be after an hour.
      tuning: { port: 0, retryDelaysMs: [250, 500, 1000] },
    });
    const events = sandbox.events.forWindow(window);
    let report;
    try {
      const sender = sandbox.webhooks({ url: listener.webhookUrl!, secret, now: () => listenerClock.now().getTime() });
      report = await sender.deliver(events, {
        dropShare: options.dropShare ?? 0.1,
        duplicateShare: 0.05,
        concurrentDuplicates: true,
        reorder: true,
        concurrency: 8,
        seed: SEED,
      });
      await drained(() => listener.inboxStatus().depth === 0, 60_000);
    } finally {
      await listener.close();
    }

    const caughtKeys: string[] = [];
    const run = await runReconciliation({
      config,
      secrets: sandbox.credentials,
      clock: runClock,
      onEvent: (event) => {
        if (event.type === 'delivered') caughtKeys.push(event.key);
        options.onEvent?.(event);
      },
    });
    const droppedKeys = [...new Set(report.dropped.flatMap((event) => event.keys))].sort();
    caughtKeys.sort();
    const result = {
      run,
      window,
      events: { total: events.length, dropped: report.dropped.length, duplicated: report.duplicated.length, failed: report.failed.length },
      artifacts: sandbox.truth.artifacts(window).length,
      viaEvents: deliveredViaEvents(ledgerPath),
      droppedKeys,
      caughtKeys,
      caughtExactly: droppedKeys.length === caughtKeys.length && droppedKeys.every((key, index) => key === caughtKeys[index]),
    };
    return { ...result, summary: summarise(result, listener.webhookUrl!, folder) };
  } finally {
    await sandbox.close();
  }
}

/** ./demo-live/, its ledger and archive from an earlier live demo removed: each one starts from nothing. */
function freshFolder(cwd: string): string {
  const folder = path.resolve(cwd, 'demo-live');
  for (const name of ['archive', 'zcc-ledger.sqlite', 'zcc-ledger.sqlite-wal', 'zcc-ledger.sqlite-shm']) {
    rmSync(path.join(folder, name), { recursive: true, force: true });
  }
  mkdirSync(folder, { recursive: true });
  return folder;
}

async function drained(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await systemClock.sleep(50);
}

function deliveredViaEvents(ledgerPath: string): number {
  const ledger = SqliteLedger.open(ledgerPath, { readonly: true });
  try {
    return ledger
      .deliveriesByPath(new Date(0).toISOString())
      .filter((row) => row.via === 'event')
      .reduce((sum, row) => sum + row.artifacts, 0);
  } finally {
    ledger.close();
  }
}

function summarise(result: Omit<LiveDemoResult, 'summary'>, webhookUrl: string, folder: string): string {
  const { events, window } = result;
  const share = events.total === 0 ? 0 : Math.round((100 * events.dropped) / events.total);
  const day = `[${window.from.toISOString()}, ${window.to.toISOString()})`;
  const caught = result.caughtExactly
    ? `${result.caughtKeys.length} artifacts caught: exactly the ${result.droppedKeys.length} the dropped events carried.`
    : `${result.caughtKeys.length} artifacts caught, but the dropped events carried ${result.droppedKeys.length}: they differ (a bug; please report it).`;
  return [
    `Live demo: the sandbox sent Zoom's events for ${day} to a listener at ${webhookUrl}, after the URL validation:`,
    `  ${events.total} events, ${events.dropped} dropped (${share}%), ${events.duplicated} sent twice at the same moment, all out of order${events.failed ? `, ${events.failed} failed` : ''}.`,
    `Through events: ${result.viaEvents} of the day's ${result.artifacts} artifacts delivered by the listener as they arrived.`,
    `The nightly run (the report above): ${caught}`,
    `Files: ${path.join(folder, 'archive')}; ledger: ${path.join(folder, 'zcc-ledger.sqlite')}. The split per day:`,
    `  zcc-reconcile status --config ${path.join(folder, 'zcc-reconcile.json')}`,
  ].join('\n');
}
