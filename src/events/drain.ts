// Builds the inbox worker from the config: its Zoom client, destinations and scopes. Used in the listener's own thread
// (tests, injected destinations) and in the worker thread the command runs it in.
import { setMaxListeners } from 'node:events';
import { Duration } from 'luxon';
import type { Clock } from '../clock.js';
import type { Config, ZoomSecrets } from '../config.js';
import { createDestinations, kindsOf, orderByLinks } from '../destinations/index.js';
import type { Destination } from '../destinations/types.js';
import { newLeaseHolder } from '../ledger/claims.js';
import type { Ledger } from '../ledger/types.js';
import type { ListenLog } from './log.js';
import { Worker, type WorkerMetrics } from './worker.js';
import { buildZoom } from '../zoom/build.js';

export interface DrainSettings {
  config: Config;
  secrets: ZoomSecrets;
  retryDelaysMs: readonly number[];
  /** How often the worker renews its leases (tests); LEASE_RENEW_MS unless set. */
  leaseRenewMs?: number;
}

export interface DrainDeps {
  ledger: Ledger;
  clock: Clock;
  metrics: WorkerMetrics;
  log: ListenLog;
  /** Replaces the configured destinations (tests, benchmarks). */
  destinations?: Destination[];
  onBusy?: (entries: number) => void;
}

export async function buildWorker(settings: DrainSettings, deps: DrainDeps): Promise<{ worker: Worker; close(): Promise<void> }> {
  const { config } = settings;
  const abort = new AbortController();
  // Every request and download of the worker listens to it.
  setMaxListeners(1000, abort.signal);
  const destinations = deps.destinations ?? (await createDestinations(config.destinations));
  const { zoom, auth } = buildZoom(config, settings.secrets, deps.clock, abort.signal);
  const scopes = orderByLinks(destinations).map((destination) => {
    const configured = config.destinations.find((entry) => entry.name === destination.name);
    return { name: destination.name, kinds: configured ? kindsOf(configured, config.kinds) : new Set(config.kinds) };
  });
  const worker = new Worker({
    ledger: deps.ledger,
    zoom,
    auth,
    clock: deps.clock,
    timezone: config.zoom.timezone,
    destinations,
    scopes,
    kinds: config.kinds,
    maxAttempts: config.maxAttempts,
    pendingTimeoutMs: Duration.fromISO(config.window.pendingTimeout).toMillis(),
    concurrency: config.concurrency,
    retryDelaysMs: settings.retryDelaysMs,
    leaseRenewMs: settings.leaseRenewMs,
    holder: newLeaseHolder('listen'),
    abort,
    metrics: deps.metrics,
    log: deps.log,
    onBusy: deps.onBusy,
  });
  return {
    worker,
    close: async () => {
      abort.abort();
      await Promise.allSettled(destinations.map((destination) => destination.close()));
    },
  };
}
