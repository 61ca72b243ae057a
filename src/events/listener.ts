// `listen`, wired: the ledger (with its event inbox), the Zoom client, the destinations, the worker that drains the
// inbox, the HTTP server and the optional WebSocket client. A second source feeding the same push engine as `run`.
import { setMaxListeners } from 'node:events';
import { systemClock, type Clock } from '../clock.js';
import type { Config, ZoomSecrets } from '../config.js';
import type { Destination } from '../destinations/types.js';
import { ConfigError } from '../errors.js';
import { SqliteLedger } from '../ledger/sqlite.js';
import type { InboxStatus, Ledger } from '../ledger/types.js';
import { Inbox } from './inbox.js';
import { silentLog, type ListenLog } from './log.js';
import { ListenMetrics } from './metrics.js';
import { EventServer } from './server.js';
import { EventSocket } from './websocket.js';
import { buildWorker } from './drain.js';
import { ThreadedWorker } from './threaded.js';
import { DEFAULT_RETRY_DELAYS_MS, type InboxDrain } from './worker.js';
import { buildZoom } from '../zoom/build.js';
import { SOCKET_URL_EXPECTED, socketTokenMayGoTo } from '../zoom/hosts.js';

export interface ListenRequest {
  config: Config;
  secrets: ZoomSecrets;
  /** ZOOM_WEBHOOK_SECRET_TOKEN; null serves no webhook path. */
  webhookSecret: string | null;
  /** ZCC_FLOW_SECRET; null serves no flow path. */
  flowSecret: string | null;
  clock?: Clock;
  /** Replaces the configured destinations (tests, benchmarks); the worker then runs on the main thread. */
  destinations?: Destination[];
  /**
   * Runs the inbox worker in a thread of its own (the command does), so downloads never delay an acknowledgement.
   * Needs the built dist/ and the system clock.
   */
  workerThread?: boolean;
  log?: ListenLog;
  /** Overrides for tests: retry delays and lease renewals of the worker, WebSocket timings, port. */
  tuning?: {
    retryDelaysMs?: readonly number[];
    leaseRenewMs?: number;
    heartbeatMs?: number;
    reconnectBackoff?: { minMs: number; maxMs: number };
    port?: number;
  };
}

export interface Listener {
  readonly url: string;
  readonly webhookUrl: string | null;
  readonly flowUrl: string | null;
  readonly metrics: ListenMetrics;
  readonly ledger: Ledger;
  inboxStatus(): InboxStatus;
  websocketConnected(): boolean | null;
  /** Stops accepting, finishes in-flight work for up to `graceMs` and hands back the rest; closes everything. */
  close(graceMs?: number): Promise<{ handedBack: number }>;
}

export async function startListener(request: ListenRequest): Promise<Listener> {
  const { config } = request;
  const clock = request.clock ?? systemClock;
  const log = request.log ?? silentLog;
  if (request.webhookSecret === null && request.flowSecret === null && config.listen.websocket.subscriptionId === null) {
    throw new ConfigError(
      'environment variable ZOOM_WEBHOOK_SECRET_TOKEN',
      undefined,
      'the webhook secret token of your Marketplace app (or ZCC_FLOW_SECRET, or listen.websocket.subscriptionId): listen has nothing to listen to',
    );
  }
  // The config schema refuses such a URL; this guards a config built in code as well.
  const { url: socketUrl, subscriptionId: socketSubscription } = config.listen.websocket;
  if (socketSubscription !== null && !socketTokenMayGoTo(new URL(socketUrl), config.zoom.downloadHosts, config.zoom.apiBaseUrl)) {
    throw new ConfigError('listen.websocket.url', socketUrl, SOCKET_URL_EXPECTED);
  }
  const ledger = openLedger(config.ledger.path);
  // Stops the WebSocket's token requests when the listener closes.
  const abort = new AbortController();
  setMaxListeners(1000, abort.signal);
  let socket: EventSocket | null = null;
  let server: EventServer | null = null;
  let drain: InboxDrain | null = null;
  let closeDrain: () => Promise<void> = async () => {};
  let workerRunning: () => boolean = () => true;
  try {
    const metrics = new ListenMetrics(() => {
      const status = safeStatus(ledger);
      return {
        inboxDepth: status?.depth ?? 0,
        lastEventSeconds: status?.lastReceivedAt ? Date.parse(status.lastReceivedAt) / 1000 : null,
        websocketConnected: socket ? (socket.isConnected ? 1 : 0) : null,
      };
    }, { websocket: config.listen.websocket.subscriptionId !== null });
    const settings = { config, secrets: request.secrets, retryDelaysMs: request.tuning?.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS, leaseRenewMs: request.tuning?.leaseRenewMs };
    if (request.workerThread && !request.destinations) {
      const threaded = await ThreadedWorker.start(settings, config.ledger.path, metrics, log);
      // The worker's connection checkpoints; acknowledging an event never waits for that sync.
      ledger.leaveCheckpointsToOthers();
      drain = threaded;
      workerRunning = () => threaded.running;
    } else {
      const built = await buildWorker(settings, { ledger, clock, metrics, log, destinations: request.destinations });
      drain = built.worker;
      closeDrain = built.close;
    }
    const worker = drain;
    const inbox = new Inbox(ledger, () => worker.wake());
    server = new EventServer({
      host: config.listen.host,
      port: request.tuning?.port ?? config.listen.port,
      webhookPath: config.listen.webhookPath,
      flowPath: config.listen.flowPath,
      webhookSecret: request.webhookSecret,
      flowSecret: request.flowSecret,
      inbox,
      metrics,
      log,
      nowMs: () => clock.now().getTime(),
      health: () => {
        const status = safeStatus(ledger);
        return {
          ok: status !== null && !inbox.failing() && ledgerWritable(ledger) && workerRunning(),
          inboxDepth: status?.depth ?? null,
          lastEventAt: status?.lastReceivedAt ?? null,
          working: worker.busy,
          websocket: socket ? (socket.isConnected ? 'connected' : 'disconnected') : 'off',
        };
      },
    });
    const url = await server.listen();
    // Whatever an earlier listener accepted and did not finish is drained first: nothing accepted is lost.
    worker.start();
    const subscriptionId = config.listen.websocket.subscriptionId;
    if (subscriptionId !== null) {
      const { auth } = buildZoom(config, request.secrets, clock, abort.signal);
      socket = new EventSocket({
        url: config.listen.websocket.url,
        subscriptionId,
        auth,
        inbox,
        ledger,
        clock,
        metrics,
        log,
        heartbeatMs: request.tuning?.heartbeatMs,
        backoff: request.tuning?.reconnectBackoff,
      });
      socket.start();
    }
    const started = server;
    let closing: Promise<{ handedBack: number }> | null = null;
    return {
      url,
      webhookUrl: request.webhookSecret !== null ? `${url}${config.listen.webhookPath}` : null,
      flowUrl: request.flowSecret !== null ? `${url}${config.listen.flowPath}` : null,
      metrics,
      ledger,
      inboxStatus: () => ledger.inboxStatus(),
      websocketConnected: () => (socket ? socket.isConnected : null),
      close: (graceMs = 10_000) =>
        (closing ??= (async () => {
          await Promise.all([started.close(), socket?.close()]);
          const result = await worker.stop(graceMs);
          await closeDrain();
          abort.abort();
          ledger.close();
          return result;
        })()),
    };
  } catch (error) {
    abort.abort();
    await socket?.close();
    await server?.close(0).catch(() => undefined);
    await drain?.stop(0).catch(() => undefined);
    await closeDrain();
    ledger.close();
    throw error;
  }
}

function openLedger(file: string): SqliteLedger {
  try {
    return SqliteLedger.open(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError('ledger.path', file, `a file the tool can create and write (${code})`);
  }
}

function safeStatus(ledger: Ledger): InboxStatus | null {
  try {
    return ledger.inboxStatus();
  } catch {
    return null;
  }
}

/** A committed write (a row added and removed): it fails when the ledger cannot be written. */
function ledgerWritable(ledger: Ledger): boolean {
  try {
    ledger.probeWrite();
    return true;
  } catch {
    return false;
  }
}
