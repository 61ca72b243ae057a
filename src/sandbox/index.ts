// The built-in ZCC sandbox: a seeded, strict imitation of Zoom Contact Center's REST API (OAuth token, list
// endpoints, download URLs) on loopback, with faults and late data on demand and the truth a reconciliation
// must deliver. It shares no code with the client on purpose.
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { Api } from './api.js';
import { TokenStore } from './auth.js';
import type { Credentials } from './auth.js';
import { Catalog } from './catalog.js';
import { Content } from './content.js';
import { FaultBook } from './faults.js';
import type { Faults } from './faults.js';
import { Generator } from './generate.js';
import { IdCodec } from './ids.js';
import { Lister } from './lists.js';
import { ByteRate } from './media.js';
import { SandboxMutations } from './mutations.js';
import type { Mutations } from './mutations.js';
import { PageTokens } from './paging.js';
import { RateLimiter } from './ratelimit.js';
import { Renderer } from './render.js';
import { createHandler } from './server.js';
import type { RecordedRequest, SandboxStats } from './server.js';
import { Store } from './store.js';
import { SandboxEvents } from './events.js';
import type { EventCatalog } from './events.js';
import { SandboxEventStream } from './stream.js';
import type { EventStream } from './stream.js';
import { WebhookSender } from './webhooks.js';
import type { WebhookSenderOptions } from './webhooks.js';
import { SandboxTruth } from './truth.js';
import type { Truth } from './truth.js';

export type { Fault, FaultTarget, Faults } from './faults.js';
export type { Mutations } from './mutations.js';
export type { RecordedRequest, SandboxStats } from './server.js';
export type { Truth, TruthArtifact } from './truth.js';
export type { EventCatalog, SandboxEvent } from './events.js';
export type { EventStream, StreamConnect } from './stream.js';
export type { Attempt, DeliveryPlan, DeliveryReport, DeliveryResult, SendFaults, ValidationResult, WebhookSender, WebhookSenderOptions } from './webhooks.js';
export { ValidationFailedError, ZOOM_RETRY_DELAYS_MS } from './webhooks.js';
export { VirtualClock, wallClock, type SenderClock } from './sender-clock.js';

export interface SandboxOptions {
  seed?: number;
  engagementsPerDay?: number;
  days?: number;
  now?: () => Date;
  credentials?: Credentials;
  mediaBytes?: { min: number; max: number };
  rateLimits?: Partial<Record<'Light' | 'Medium' | 'Heavy' | 'download', number>>;
  dailyLimits?: Partial<Record<'Light' | 'Medium' | 'Heavy', number>>;
  bandwidth?: number;
  /** Bytes per second for each download response on its own (one TCP stream's throughput), within `bandwidth`. */
  streamBandwidth?: number;
  /** Every answer waits this long before its status line: the network round trip plus Zoom's own time. */
  latencyMs?: number;
  /** Makes the first recording of each day's first `perDay` (default 1) engagements `bytes` long. */
  largeRecordings?: { bytes: number; perDay?: number };
  host?: string;
  port?: number;
}

export interface Sandbox {
  readonly url: string;
  readonly apiBaseUrl: string;
  readonly oauthTokenUrl: string;
  readonly downloadHost: string;
  readonly credentials: Credentials;
  readonly faults: Faults;
  readonly mutate: Mutations;
  readonly truth: Truth;
  readonly requests: RecordedRequest[];
  readonly stats: SandboxStats;
  /** Events: the bodies Zoom would send for the data, a webhook sender, and the WebSocket stream at `wsUrl`. */
  readonly events: EventCatalog;
  readonly stream: EventStream;
  readonly wsUrl: string;
  webhooks(options: WebhookSenderOptions): WebhookSender;
  revokeTokens(): void;
  close(): Promise<void>;
}

export const SANDBOX_CREDENTIALS: Credentials = Object.freeze({
  accountId: 'sandbox-account-Zx81',
  clientId: 'sandboxClientId0001',
  clientSecret: 'sandbox-client-secret-do-not-use',
});

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const seed = (options.seed ?? 1) >>> 0;
  const perDay = options.engagementsPerDay ?? 40;
  const days = options.days ?? 30;
  const media = options.mediaBytes ?? { min: 20_000, max: 200_000 };
  if (!Number.isInteger(perDay) || perDay < 0 || perDay > 0xffffff) throw new Error('engagementsPerDay must be an integer in [0, 16777215]');
  if (!Number.isInteger(days) || days < 1) throw new Error('days must be a positive integer');
  if (!(media.min >= 0 && media.max >= media.min)) throw new Error('mediaBytes needs 0 <= min <= max');
  const large = options.largeRecordings ? { bytes: options.largeRecordings.bytes, perDay: options.largeRecordings.perDay ?? 1 } : undefined;
  if (large && !(Number.isSafeInteger(large.bytes) && large.bytes >= 0 && Number.isInteger(large.perDay) && large.perDay >= 0)) {
    throw new Error('largeRecordings needs a whole number of bytes and perDay >= 0');
  }
  const clock = options.now ?? (() => new Date());
  const nowMs = (): number => clock().getTime();
  const credentials = { ...(options.credentials ?? SANDBOX_CREDENTIALS) };

  const ids = new IdCodec(seed);
  const store = new Store(new Generator(seed, ids, new Catalog(seed, ids), large ? { ...media, large } : media), perDay, days, nowMs);
  const lister = new Lister(store);
  const content = new Content(store, seed);
  const tokens = new TokenStore(nowMs);
  const stream = new SandboxEventStream(tokens, nowMs);
  const faults = new FaultBook(() => lister.clearPins());
  const requests: RecordedRequest[] = [];
  const stats: SandboxStats = { requests: 0, byLabel: {}, status429: 0, bytesServed: 0, downloads: 0 };
  const closing = new AbortController();
  let url = '';
  let api: Api | null = null;

  const server = createServer(
    createHandler({
      credentials,
      url: () => url,
      nowMs,
      tokens,
      faults,
      limiter: new RateLimiter(options.rateLimits ?? {}, options.dailyLimits ?? {}, nowMs),
      api: () => {
        if (!api) throw new Error('sandbox not started');
        return api;
      },
      content,
      bandwidth: options.bandwidth ? new ByteRate(options.bandwidth) : null,
      streamBandwidth: options.streamBandwidth,
      latencyMs: options.latencyMs,
      requests,
      stats,
      closing: closing.signal,
    }),
  );
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('sandbox: no TCP address');
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const downloadHost = `${hostPart}:${address.port}`;
  url = `http://${downloadHost}`;
  stream.attach(server);
  api = new Api(store, lister, content, new Renderer(store, content, url), new PageTokens());

  return {
    url,
    apiBaseUrl: `${url}/v2`,
    oauthTokenUrl: `${url}/oauth/token`,
    downloadHost,
    credentials,
    faults,
    mutate: new SandboxMutations(store),
    truth: new SandboxTruth(store, lister, content),
    requests,
    stats,
    events: new SandboxEvents(store, lister, content, () => url),
    stream,
    wsUrl: `ws://${downloadHost}/ws`,
    webhooks: (senderOptions) => new WebhookSender(senderOptions),
    revokeTokens: () => tokens.revokeAll(),
    close: async () => {
      closing.abort();
      stream.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}
