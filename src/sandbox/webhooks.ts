// Zoom's webhook delivery, imitated: each event POSTed with Zoom's headers and v0 signature, success only for a 2xx
// within 3 s, retries after ≥500, timeouts and refused connections on Zoom's schedule (5, 20, 60 minutes, or shorter
// delays for tests), never after 3xx/4xx; the URL validation (CRC) request; and faults on demand (wrong secret, stale
// timestamp, a body whose bytes differ from JSON.stringify of its parse, drops, duplicates, reordering).
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Rng } from './random.js';
import type { SandboxEvent } from './events.js';

export const ZOOM_RETRY_DELAYS_MS = [5 * 60_000, 20 * 60_000, 60 * 60_000];

export interface WebhookSenderOptions {
  /** The receiver's webhook URL (plain http on loopback). */
  url: string;
  /** The event subscription's secret token. */
  secret: string;
  /** Clock for x-zm-request-timestamp (ms); the receiver checks it against its own. */
  now?: () => number;
  /** Waits before each retry; Zoom's are 5, 20 and 60 minutes. */
  retryDelaysMs?: readonly number[];
  /** A delivery not answered within this is a failure (Zoom: 3 s). */
  timeoutMs?: number;
}

export interface SendFaults {
  /** Sign with another secret. */
  wrongSecret?: boolean;
  /** Timestamp this many seconds in the past (negative: future). */
  skewSeconds?: number;
  /** Serialise with keys in reverse order and non-ASCII as \uXXXX: bytes differ from JSON.stringify(JSON.parse()). */
  oddSerialisation?: boolean;
  /** No signature header at all. */
  unsigned?: boolean;
}

export interface Attempt {
  /** HTTP status, or null for a timeout or a transport error. */
  status: number | null;
  error?: string;
  durationMs: number;
}

export interface DeliveryResult {
  delivered: boolean;
  attempts: Attempt[];
  /** The last answer's body (the CRC answer, an error). */
  body: string;
}

export interface DeliveryPlan {
  /** Share of events never delivered (Zoom lost them, or every retry failed). */
  dropShare?: number;
  /** Share of events delivered twice. */
  duplicateShare?: number;
  /** Send the duplicates at the same moment rather than one after the other. */
  concurrentDuplicates?: boolean;
  /** Shuffle the order (dispositions before notes, transcripts before their recordings...). */
  reorder?: boolean;
  /** Deliveries in flight at once. */
  concurrency?: number;
  seed?: number;
}

export interface DeliveryReport {
  sent: SandboxEvent[];
  dropped: SandboxEvent[];
  duplicated: SandboxEvent[];
  failed: { event: SandboxEvent; result: DeliveryResult }[];
}

export class WebhookSender {
  private readonly now: () => number;
  private readonly retryDelaysMs: readonly number[];
  private readonly timeoutMs: number;

  constructor(private readonly options: WebhookSenderOptions) {
    this.now = options.now ?? Date.now;
    this.retryDelaysMs = options.retryDelaysMs ?? ZOOM_RETRY_DELAYS_MS;
    this.timeoutMs = options.timeoutMs ?? 3000;
  }

  /** The exact bytes, signature and headers of one delivery attempt. */
  sign(body: unknown, faults: SendFaults = {}): { bytes: Buffer; headers: Record<string, string> } {
    const text = typeof body === 'string' ? body : faults.oddSerialisation ? oddJson(body) : JSON.stringify(body);
    const bytes = Buffer.from(text, 'utf8');
    const timestamp = String(Math.floor(this.now() / 1000) - (faults.skewSeconds ?? 0));
    const secret = faults.wrongSecret ? `${this.options.secret}-wrong` : this.options.secret;
    const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(bytes).digest('hex')}`;
    const headers: Record<string, string> = {
      'user-agent': 'Zoom Marketplace/1.0a',
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(bytes.length),
      'x-zm-request-timestamp': timestamp,
      'x-zm-request-id': randomUUID().replace(/-/g, '_'),
      'x-zm-trackingid': `v=2.0;clid=us06;rid=${randomBytes(8).toString('hex')}`,
    };
    if (!faults.unsigned) headers['x-zm-signature'] = signature;
    return { bytes, headers };
  }

  /** One event with Zoom's retry schedule: resolves when delivered or when Zoom would give up. */
  async send(body: unknown, faults: SendFaults = {}): Promise<DeliveryResult> {
    const attempts: Attempt[] = [];
    for (let retry = 0; ; retry++) {
      // Each attempt is signed anew: a retry carries its own timestamp.
      const { status, text, error, durationMs } = await this.post(this.sign(body, faults));
      attempts.push(error === undefined ? { status, durationMs } : { status, error, durationMs });
      if (status !== null && status >= 200 && status < 300) return { delivered: true, attempts, body: text };
      const retryable = status === null || status >= 500;
      const delay = this.retryDelaysMs[retry];
      if (!retryable || delay === undefined) return { delivered: false, attempts, body: text };
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** The URL validation request; passes on a 200 within 3 s with the same plainToken and the right encryptedToken. */
  async crc(plainToken = randomBytes(16).toString('base64url')): Promise<{ passed: boolean; status: number | null; body: string }> {
    const body = { payload: { plainToken }, event_ts: this.now(), event: 'endpoint.url_validation' };
    const { status, text } = await this.post(this.sign(body));
    const expected = createHmac('sha256', this.options.secret).update(plainToken).digest('hex');
    let answer: { plainToken?: unknown; encryptedToken?: unknown } = {};
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      // Not JSON: fails below.
    }
    return { passed: status === 200 && answer.plainToken === plainToken && answer.encryptedToken === expected, status, body: text };
  }

  /** Many events under a plan of drops, duplicates and reordering. */
  async deliver(events: readonly SandboxEvent[], plan: DeliveryPlan = {}): Promise<DeliveryReport> {
    const rng = new Rng(plan.seed ?? 1);
    const report: DeliveryReport = { sent: [], dropped: [], duplicated: [], failed: [] };
    const queue: { event: SandboxEvent; copies: number }[] = [];
    for (const event of events) {
      if (rng.chance(plan.dropShare ?? 0)) {
        report.dropped.push(event);
        continue;
      }
      const duplicate = rng.chance(plan.duplicateShare ?? 0);
      if (duplicate) report.duplicated.push(event);
      queue.push({ event, copies: duplicate ? 2 : 1 });
    }
    if (plan.reorder) {
      for (let i = queue.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [queue[i], queue[j]] = [queue[j]!, queue[i]!];
      }
    }
    const deliverOne = async ({ event, copies }: { event: SandboxEvent; copies: number }) => {
      const sends = plan.concurrentDuplicates
        ? // A second copy signed a second earlier: other signature, same event (two of Zoom's senders at once).
          await Promise.all(Array.from({ length: copies }, (_, copy) => this.send(event.body, { skewSeconds: copy })))
        : await sequential(copies, () => this.send(event.body));
      const failure = sends.find((result) => !result.delivered);
      if (failure && !sends.some((result) => result.delivered)) report.failed.push({ event, result: failure });
      else report.sent.push(event);
    };
    let next = 0;
    const workers = Array.from({ length: Math.max(1, plan.concurrency ?? 4) }, async () => {
      while (next < queue.length) await deliverOne(queue[next++]!);
    });
    await Promise.all(workers);
    return report;
  }

  private post(signed: { bytes: Buffer; headers: Record<string, string> }): Promise<{ status: number | null; text: string; error?: string; durationMs: number }> {
    const started = performance.now();
    const url = new URL(this.options.url);
    return new Promise((resolve) => {
      const request = httpRequest(
        { host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: 'POST', headers: signed.headers, timeout: this.timeoutMs, agent: false },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? null, text: Buffer.concat(chunks).toString('utf8'), durationMs: performance.now() - started }));
          response.on('error', (error) => resolve({ status: null, text: '', error: error.message, durationMs: performance.now() - started }));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timeout: no answer within the delivery timeout')));
      request.on('error', (error) => resolve({ status: null, text: '', error: error.message, durationMs: performance.now() - started }));
      request.end(signed.bytes);
    });
  }
}

async function sequential<T>(count: number, task: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < count; i++) results.push(await task());
  return results;
}

/** JSON with every object's keys reversed and non-ASCII characters escaped: the same value, other bytes. */
export function oddJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(oddJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined).reverse();
    return `{ ${entries.map(([key, item]) => `${escape(key)}: ${oddJson(item)}`).join(', ')} }`;
  }
  return typeof value === 'string' ? escape(value) : JSON.stringify(value) ?? 'null';
}

function escape(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
