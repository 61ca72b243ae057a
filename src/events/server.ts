// The listener's HTTP front (Node's own http): Zoom webhooks, flow-script calls, /healthz and /metrics. Every
// request is checked before anything is stored; an accepted event is answered only after the inbox committed it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';
import type { EventSource } from '../ledger/types.js';
import { classifyZoomEvent, parseFlowBody, parseJson } from './events.js';
import type { Inbox } from './inbox.js';
import type { ListenLog } from './log.js';
import type { ListenMetrics } from './metrics.js';
import { secretsEqual, TIMESTAMP_TOLERANCE_S, urlValidationAnswer, verifySignature } from './signature.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface EventServerOptions {
  host: string;
  port: number;
  webhookPath: string;
  flowPath: string;
  /** ZOOM_WEBHOOK_SECRET_TOKEN; without it the webhook path is not served. */
  webhookSecret: string | null;
  /** ZCC_FLOW_SECRET; without it the flow path is not served. */
  flowSecret: string | null;
  inbox: Inbox;
  metrics: ListenMetrics;
  log: ListenLog;
  /** Wall-clock milliseconds, for the signature's timestamp window. */
  nowMs: () => number;
  health: () => { ok: boolean; [detail: string]: unknown };
  bodyLimit?: number;
}

class Rejection {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

export class EventServer {
  private readonly server: Server;
  private readonly recentSignatures = new Map<string, number>();
  private draining = false;

  constructor(private readonly options: EventServerOptions) {
    this.server = createServer((request, response) => {
      this.route(request, response).catch((error: unknown) => {
        options.log('error', 'request_failed', { path: request.url ?? '', error: (error as Error).message });
        if (!response.headersSent) send(response, 500, { error: 'internal error' });
        else response.destroy();
      });
    });
    // A slow client cannot hold a connection open for long.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      const refused = (error: NodeJS.ErrnoException) => reject(listenRefusal(error, this.options.host, this.options.port));
      this.server.once('error', refused);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', refused);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  /** Stops accepting connections and waits for requests in progress (each one's event is stored or refused). */
  async close(timeoutMs = 10_000): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.server.closeAllConnections();
    await closed;
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (this.draining) response.setHeader('Connection', 'close');
    const path = new URL(request.url ?? '/', 'http://listener.invalid').pathname;
    const { webhookPath, flowPath, webhookSecret, flowSecret } = this.options;
    if (path === webhookPath && webhookSecret !== null) return this.post(request, response, 'webhook', () => this.webhook(request, response, webhookSecret));
    if (path === flowPath && flowSecret !== null) return this.post(request, response, 'flow', () => this.flow(request, response, flowSecret));
    if (path === '/healthz') return this.get(request, response, () => this.healthz(response));
    if (path === '/metrics') return this.get(request, response, () => this.metrics(response));
    request.resume();
    send(response, 404, { error: 'not found' });
  }

  private async post(request: IncomingMessage, response: ServerResponse, source: EventSource, handler: () => Promise<void>): Promise<void> {
    if (request.method !== 'POST') return this.reject(request, response, source, new Rejection(405, 'method_not_allowed', { Allow: 'POST' }));
    try {
      await handler();
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      this.reject(request, response, source, error);
    }
  }

  private async get(request: IncomingMessage, response: ServerResponse, handler: () => void | Promise<void>): Promise<void> {
    request.resume();
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
      return;
    }
    await handler();
  }

  private async metrics(response: ServerResponse): Promise<void> {
    const text = await this.options.metrics.render();
    if (response.headersSent || response.destroyed) return;
    response.writeHead(200, { 'Content-Type': this.options.metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
    response.end(text);
  }

  private async webhook(request: IncomingMessage, response: ServerResponse, secret: string): Promise<void> {
    const started = performance.now();
    const body = await readBody(request, this.options.bodyLimit ?? BODY_LIMIT_BYTES);
    const verdict = verifySignature(
      { timestamp: header(request, 'x-zm-request-timestamp'), signature: header(request, 'x-zm-signature'), body },
      secret,
      this.options.nowMs(),
    );
    if (!verdict.ok) throw new Rejection(401, verdict.reason);
    requireJson(request);
    const json = parseJson(body.toString('utf8'));
    if (json === undefined) throw new Rejection(400, 'invalid_json');
    const event = (json as { event?: unknown } | null)?.event;
    if (event === 'endpoint.url_validation') {
      const plainToken = (json as { payload?: { plainToken?: unknown } }).payload?.plainToken;
      if (typeof plainToken !== 'string' || plainToken.length === 0 || plainToken.length > 512) throw new Rejection(400, 'bad_url_validation');
      this.options.metrics.eventAccepted('webhook', 'endpoint.url_validation');
      this.options.log('info', 'url_validation_answered', { source: 'webhook' });
      send(response, 200, urlValidationAnswer(secret, plainToken));
      return;
    }
    // An identical delivery (same signature) inside the timestamp window is a replay or a doubled send: say yes once.
    const signature = header(request, 'x-zm-signature') ?? '';
    if (this.seenRecently(signature)) {
      this.options.metrics.eventAccepted('webhook', 'duplicate');
      send(response, 200, { status: 'duplicate' });
      return;
    }
    const receivedAt = new Date(this.options.nowMs()).toISOString();
    const classified = classifyZoomEvent(json, receivedAt);
    if (classified.outcome === 'refused') throw new Rejection(400, classified.reason);
    if (classified.outcome === 'ignored') {
      this.options.metrics.eventAccepted('webhook', 'ignored');
      this.options.log('info', 'event_ignored', { source: 'webhook', zoomEvent: classified.event.slice(0, 100) });
      send(response, 200, { status: 'ignored' });
      return;
    }
    this.remember(signature);
    try {
      await this.store(response, 'webhook', classified.event, body.toString('utf8'), receivedAt, started, header(request, 'x-zm-trackingid'));
    } catch (error) {
      this.recentSignatures.delete(signature);
      throw error;
    }
  }

  private async flow(request: IncomingMessage, response: ServerResponse, secret: string): Promise<void> {
    const started = performance.now();
    const given = /^Bearer\s+(\S+)\s*$/i.exec(header(request, 'authorization') ?? '')?.[1];
    if (given === undefined || !secretsEqual(given, secret)) {
      request.resume();
      throw new Rejection(401, given === undefined ? 'missing_bearer' : 'bad_bearer', { 'WWW-Authenticate': 'Bearer' });
    }
    const body = await readBody(request, this.options.bodyLimit ?? BODY_LIMIT_BYTES);
    requireJson(request);
    const json = parseJson(body.toString('utf8'));
    if (json === undefined) throw new Rejection(400, 'invalid_json');
    const flow = parseFlowBody(json);
    if ('refused' in flow) throw new Rejection(400, flow.refused);
    const receivedAt = new Date(this.options.nowMs()).toISOString();
    await this.store(response, 'flow', 'flow', JSON.stringify(flow), receivedAt, started, undefined);
  }

  private async store(
    response: ServerResponse,
    source: EventSource,
    event: string,
    body: string,
    receivedAt: string,
    started: number,
    trackingId: string | undefined,
  ): Promise<void> {
    try {
      await this.options.inbox.accept({ source, event, body, receivedAt });
    } catch (error) {
      // Zoom retries a 5xx; nothing was acknowledged.
      this.options.log('error', 'event_not_stored', { source, zoomEvent: event, error: (error as Error).message });
      throw new Rejection(503, 'inbox_unavailable');
    }
    send(response, 200, { status: 'accepted' });
    this.options.metrics.acknowledged((performance.now() - started) / 1000);
    this.options.metrics.eventAccepted(source, event);
    this.options.log('info', 'event_accepted', { source, zoomEvent: event, trackingId: trackingId?.slice(0, 100) });
  }

  private reject(request: IncomingMessage, response: ServerResponse, source: EventSource, rejection: Rejection): void {
    this.options.metrics.eventRejected(source, rejection.reason);
    this.options.log('warn', 'event_rejected', { source, reason: rejection.reason, status: rejection.status, remote: request.socket.remoteAddress ?? null });
    if (rejection.status === 413) response.setHeader('Connection', 'close');
    else request.resume();
    send(response, rejection.status, { error: rejection.reason }, rejection.headers);
  }

  private seenRecently(signature: string): boolean {
    const until = this.recentSignatures.get(signature);
    return until !== undefined && until > this.options.nowMs();
  }

  private remember(signature: string): void {
    const now = this.options.nowMs();
    if (this.recentSignatures.size > 50_000) {
      for (const [key, until] of this.recentSignatures) if (until <= now) this.recentSignatures.delete(key);
    }
    this.recentSignatures.set(signature, now + 2 * TIMESTAMP_TOLERANCE_S * 1000);
  }

  private healthz(response: ServerResponse): void {
    const health = this.options.health();
    send(response, health.ok ? 200 : 503, { status: health.ok ? 'ok' : 'unhealthy', ...health });
  }
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function requireJson(request: IncomingMessage): void {
  const type = (header(request, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new Rejection(415, 'not_json');
}

function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(header(request, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new Rejection(413, 'body_too_large'));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Stop collecting but keep the socket: the 413 goes out with Connection: close.
      request.off('data', onData);
      request.off('end', onEnd);
      request.resume();
      reject(new Rejection(413, 'body_too_large'));
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', reject);
  });
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (response.headersSent || response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

/** Where the listener cannot listen is a config error (exit 2) naming the key to change. */
function listenRefusal(error: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (error.code) {
    case 'EADDRINUSE':
      return new ConfigError('listen.port', port, `a free port on ${host} (another process listens on ${port})`);
    case 'EACCES':
      return new ConfigError('listen.port', port, `a port this user may listen on (ports below 1024 need privileges)`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new ConfigError('listen.host', host, 'an address of this machine, such as 127.0.0.1 or 0.0.0.0');
    default:
      return error;
  }
}
