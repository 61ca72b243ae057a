// Zoom's event WebSocket, imitated at /ws on the sandbox's port: the token goes in the query string (a header alone
// gets "token is empty"), the first frame is build_connection, each {"module":"heartbeat"} is answered, events go out
// as {"module":"message","content":"<JSON text>"} to whoever is connected (nothing is replayed after a reconnect),
// and connections can be dropped or refused on demand.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TokenStore } from './auth.js';

export interface StreamConnect {
  at: number;
  ok: boolean;
  reason: string;
}

export interface EventStream {
  /** Sends one event body to every connected client; returns how many got it (0: the event is lost). */
  publish(body: unknown, options?: { contentAsObject?: boolean }): number;
  /** Closes every connection abruptly (no close frame), as a network failure would. */
  dropConnections(): void;
  /** The next `count` connections are refused with build_connection success:false, even with a valid token. */
  refuseNext(count: number, content?: string): void;
  /** Stop answering heartbeats (a silent server). */
  silent: boolean;
  readonly connections: number;
  readonly connects: readonly StreamConnect[];
  readonly heartbeats: number;
  close(): void;
}

export class SandboxEventStream implements EventStream {
  silent = false;
  private readonly server = new WebSocketServer({ noServer: true });
  private readonly clients = new Set<WebSocket>();
  private readonly log: StreamConnect[] = [];
  private refusals: { count: number; content: string } = { count: 0, content: 'Invalid Token' };
  private answered = 0;

  constructor(
    private readonly tokens: TokenStore,
    private readonly nowMs: () => number,
    private readonly path = '/ws',
  ) {}

  attach(http: Server): void {
    http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(request.url ?? '/', 'http://sandbox.invalid');
      if (url.pathname !== this.path) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.server.handleUpgrade(request, socket, head, (client) => this.connected(client, url));
    });
  }

  get connections(): number {
    return this.clients.size;
  }

  get connects(): readonly StreamConnect[] {
    return this.log;
  }

  get heartbeats(): number {
    return this.answered;
  }

  publish(body: unknown, options: { contentAsObject?: boolean } = {}): number {
    const content = options.contentAsObject ? body : typeof body === 'string' ? body : JSON.stringify(body);
    const frame = JSON.stringify({ module: 'message', content });
    let sent = 0;
    for (const client of this.clients) {
      if (client.readyState !== client.OPEN) continue;
      client.send(frame);
      sent++;
    }
    return sent;
  }

  dropConnections(): void {
    for (const client of this.clients) client.terminate();
    this.clients.clear();
  }

  refuseNext(count: number, content = 'Invalid Token'): void {
    this.refusals = { count, content };
  }

  close(): void {
    this.dropConnections();
    this.server.close();
  }

  private connected(client: WebSocket, url: URL): void {
    const token = url.searchParams.get('access_token') ?? '';
    const subscription = url.searchParams.get('subscriptionId') ?? '';
    let refusal: string | null = null;
    if (!subscription) refusal = 'subscriptionId is empty';
    else if (!token) refusal = 'token is empty';
    else if (this.tokens.check(`Bearer ${token}`) !== 'ok') refusal = 'Invalid Token';
    else if (this.refusals.count > 0) {
      this.refusals.count--;
      refusal = this.refusals.content;
    }
    this.log.push({ at: this.nowMs(), ok: refusal === null, reason: refusal ?? 'connected' });
    if (refusal !== null) {
      client.send(JSON.stringify({ module: 'build_connection', success: false, content: refusal, header: {} }));
      client.close();
      return;
    }
    // A new connection for the subscription closes the one already open (one connection per subscription).
    for (const other of this.clients) other.close(1000, 'another connection opened');
    this.clients.clear();
    this.clients.add(client);
    client.send(JSON.stringify({ module: 'build_connection', success: true, content: 'connection established', header: {} }));
    client.on('message', (data) => {
      let frame: { module?: unknown } = {};
      try {
        frame = JSON.parse(String(data)) as { module?: unknown };
      } catch {
        return;
      }
      if (frame.module === 'heartbeat' && !this.silent) {
        this.answered++;
        client.send(JSON.stringify({ module: 'heartbeat', success: true, content: 'live', header: {} }));
      }
    });
    client.on('close', () => this.clients.delete(client));
    client.on('error', () => this.clients.delete(client));
  }
}
