// The client of Zoom's event WebSocket: connect with a fresh token in the query string, send the JSON heartbeat every
// 30 s, hand each event frame to the inbox, and reconnect with backoff (and a new token) whenever the connection
// fails, goes silent or the token is refused. Every disconnected interval is recorded in the ledger: Zoom does not
// replay what it sent meanwhile, the nightly run covers it.
import WebSocket, { type RawData } from 'ws';
import type { Clock } from '../clock.js';
import type { Ledger } from '../ledger/types.js';
import { foreignLine } from '../foreign-text.js';
import type { TokenProvider } from '../zoom/auth.js';
import { classifyZoomEvent } from './events.js';
import type { Inbox } from './inbox.js';
import type { ListenLog } from './log.js';
import type { ListenMetrics } from './metrics.js';

export interface EventSocketOptions {
  url: string;
  subscriptionId: string;
  auth: TokenProvider;
  inbox: Inbox;
  ledger: Ledger;
  clock: Clock;
  metrics: ListenMetrics;
  log: ListenLog;
  heartbeatMs?: number;
  /** No frame for this long (heartbeat answers included): the connection is dead. */
  silenceMs?: number;
  backoff?: { minMs: number; maxMs: number };
}

type Frame = { module?: unknown; success?: unknown; content?: unknown };

export class EventSocket {
  private socket: WebSocket | null = null;
  private stopped = false;
  private connected = false;
  private failures = 0;
  private token: string | null = null;
  private heartbeat: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly heartbeatMs: number;
  private readonly silenceMs: number;
  private readonly backoff: { minMs: number; maxMs: number };

  constructor(private readonly options: EventSocketOptions) {
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.silenceMs = options.silenceMs ?? Math.round(this.heartbeatMs * 1.5);
    this.backoff = options.backoff ?? { minMs: 1000, maxMs: 60_000 };
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    // Not connected from here until Zoom accepts the connection (an open gap, such as the one the last stop left, runs on).
    this.options.ledger.openWebsocketGap(this.options.subscriptionId, this.now(), 'listener starting');
    void this.connect();
  }

  async close(): Promise<void> {
    if (!this.stopped) this.options.ledger.openWebsocketGap(this.options.subscriptionId, this.now(), 'listener stopped');
    this.stopped = true;
    clearTimeout(this.retry);
    this.stopTimers();
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.close(1000, 'listener stopping');
      setTimeout(() => {
        socket.terminate();
        resolve();
      }, 2000).unref();
    });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { auth, subscriptionId, log } = this.options;
    let token: string;
    try {
      // A fresh token for every connection: the previous one may be what the socket was closed for.
      token = this.token === null ? await auth.token() : await auth.refresh(this.token);
    } catch (error) {
      if (this.stopped) return;
      log('error', 'websocket_token_failed', { error: (error as Error).message });
      this.options.ledger.openWebsocketGap(subscriptionId, this.now(), 'no token');
      this.scheduleReconnect('token_unavailable');
      return;
    }
    // Stopped while the token came: no socket now, and nothing written to a ledger that may be closed.
    if (this.stopped) return;
    this.token = token;
    const url = new URL(this.options.url);
    url.searchParams.set('subscriptionId', subscriptionId);
    url.searchParams.set('access_token', token);
    const socket = new WebSocket(url, { handshakeTimeout: 15_000 });
    this.socket = socket;
    let reason = 'closed';
    socket.on('open', () => {
      this.armWatchdog(socket);
      this.heartbeat = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ module: 'heartbeat' }));
      }, this.heartbeatMs);
    });
    socket.on('message', (data: RawData) => {
      this.armWatchdog(socket);
      const refused = this.onFrameGuarded(data);
      if (refused) {
        reason = refused;
        socket.terminate();
      }
    });
    socket.on('error', (error) => {
      // The URL holds the token; only the error's code goes to the log.
      reason = `error: ${(error as NodeJS.ErrnoException).code ?? error.name}`;
    });
    socket.on('close', (code) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.stopTimers();
      this.connected = false;
      if (!this.stopped) {
        // Opens a gap, or extends the one still open (a reconnect that failed).
        this.options.ledger.openWebsocketGap(subscriptionId, this.now(), `${reason} (code ${code})`);
        log('warn', 'websocket_disconnected', { subscriptionId, reason, code });
        this.scheduleReconnect(reason.startsWith('error') ? 'error' : reason);
      }
    });
  }

  /** onFrame, where an error it did not foresee costs that frame only: thrown out of a socket callback, it would end the process. */
  private onFrameGuarded(data: RawData): string | null {
    try {
      return this.onFrame(data);
    } catch (error) {
      this.options.metrics.eventRejected('websocket', 'internal_error');
      this.options.log('error', 'event_rejected', { source: 'websocket', reason: 'internal_error', error: (error as Error).message });
      return null;
    }
  }

  /** Handles one frame; returns a reason when the connection must be dropped. */
  private onFrame(data: RawData): string | null {
    const { metrics, log, subscriptionId } = this.options;
    let frame: Frame;
    try {
      frame = JSON.parse(rawText(data)) as Frame;
    } catch {
      metrics.eventRejected('websocket', 'invalid_json');
      return null;
    }
    switch (frame.module) {
      case 'build_connection':
        if (frame.success === true) {
          this.connected = true;
          this.failures = 0;
          this.options.ledger.closeWebsocketGaps(subscriptionId, this.now());
          log('info', 'websocket_connected', { subscriptionId });
          return null;
        }
        log('warn', 'websocket_refused', { subscriptionId, content: typeof frame.content === 'string' ? foreignLine(frame.content, 200) : null });
        return 'token_refused';
      case 'message':
        this.onEvent(frame.content);
        return null;
      default:
        // Heartbeat answers and modules we do not know.
        return null;
    }
  }

  private onEvent(content: unknown): void {
    const { metrics, log, inbox } = this.options;
    const body = typeof content === 'string' ? content : JSON.stringify(content ?? null);
    let json: unknown;
    try {
      json = typeof content === 'string' ? JSON.parse(content) : content;
    } catch {
      metrics.eventRejected('websocket', 'invalid_json');
      return;
    }
    const receivedAt = this.now();
    const classified = classifyZoomEvent(json, receivedAt);
    if (classified.outcome === 'refused') {
      metrics.eventRejected('websocket', classified.reason);
      log('warn', 'event_rejected', { source: 'websocket', reason: classified.reason });
      return;
    }
    if (classified.outcome === 'ignored') {
      metrics.eventAccepted('websocket', 'ignored');
      return;
    }
    inbox.accept({ source: 'websocket', event: classified.event, body, receivedAt }).then(
      () => {
        metrics.eventAccepted('websocket', classified.event);
        log('info', 'event_accepted', { source: 'websocket', zoomEvent: classified.event });
      },
      (error: unknown) => log('error', 'event_not_stored', { source: 'websocket', zoomEvent: classified.event, error: (error as Error).message }),
    );
  }

  private armWatchdog(socket: WebSocket): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => socket.terminate(), this.silenceMs);
  }

  private stopTimers(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.watchdog);
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped) return;
    this.failures++;
    this.options.metrics.websocketReconnect(reason);
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** (this.failures - 1));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.retry = setTimeout(() => void this.connect(), delay);
  }

  private now(): string {
    return this.options.clock.now().toISOString();
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
