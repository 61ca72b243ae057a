// Zoom's webhook delivery, imitated: each event POSTed with Zoom's headers and v0 signature, success only for a 2xx
// within 3 s, retries after ≥500, timeouts and refused connections on Zoom's schedule (5, 20, 60 minutes after each
// failed attempt, on a wall or virtual clock), never after 3xx/4xx; the URL validation (CRC) before the first event;
// and faults on demand (delivery-plan.ts: drops, duplicates, reordering, delays, wrong secret, stale timestamp, a body
// whose bytes differ from JSON.stringify of its parse).
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { planEvents, type DeliveryPlan, type PlannedDelivery, type SendFaults } from './delivery-plan.js';
import type { SandboxEvent } from './events.js';
import { wallClock, type SenderClock } from './sender-clock.js';

export type { DeliveryPlan, SendFaults } from './delivery-plan.js';

export const ZOOM_RETRY_DELAYS_MS = [5 * 60_000, 20 * 60_000, 60 * 60_000];

export interface WebhookSenderOptions {
  /** The receiver's webhook URL (plain http on loopback). */
  url: string;
  /** The event subscription's secret token. */
  secret: string;
  /** Schedules retries and delays; a VirtualClock runs Zoom's real schedule instantly. Default: the wall clock. */
  clock?: SenderClock;
  /** Clock for x-zm-request-timestamp (ms); the receiver checks it against its own. Default: `clock`. */
  now?: () => number;
  /** Waits before each retry; Zoom's are 5, 20 and 60 minutes. */
  retryDelaysMs?: readonly number[];
  /** A delivery not answered within this (real) time is a failure (Zoom: 3 s). */
  timeoutMs?: number;
}

export interface Attempt {
  /** When it was made, on the sender's clock (ms). */
  at: number;
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

export interface ValidationResult {
  passed: boolean;
  status: number | null;
  body: string;
}

export interface DeliveryReport {
  /** The URL validation that preceded the events (null when the plan skipped it). */
  validation: ValidationResult | null;
  sent: SandboxEvent[];
  dropped: SandboxEvent[];
  duplicated: SandboxEvent[];
  delayed: SandboxEvent[];
  tampered: SandboxEvent[];
  failed: { event: SandboxEvent; result: DeliveryResult }[];
}

/** Zoom does not send events to an endpoint that failed its URL validation. */
export class ValidationFailedError extends Error {
  constructor(readonly result: ValidationResult) {
    super(`the endpoint failed Zoom's URL validation (status ${result.status ?? 'none'}): no events sent`);
  }
}

export class WebhookSender {
  private readonly clock: SenderClock;
  private readonly now: () => number;
  private readonly retryDelaysMs: readonly number[];
  private readonly timeoutMs: number;
  private validation: Promise<ValidationResult> | null = null;

  constructor(private readonly options: WebhookSenderOptions) {
    const clock = options.clock ?? wallClock;
    this.clock = clock;
    this.now = options.now ?? (() => clock.now());
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
  send(body: unknown, faults: SendFaults = {}): Promise<DeliveryResult> {
    return this.sendThrough(body, faults, (attempt) => attempt());
  }

  /** `gate` runs each attempt (a slot of the sender's concurrency); the waits between attempts hold no slot. */
  private async sendThrough(body: unknown, faults: SendFaults, gate: Gate): Promise<DeliveryResult> {
    const attempts: Attempt[] = [];
    for (let retry = 0; ; retry++) {
      const { at, status, text, error, durationMs } = await gate(async () => {
        const at = this.clock.now();
        // Each attempt is signed anew: a retry carries its own timestamp.
        return { at, ...(await this.post(this.sign(body, faults))) };
      });
      attempts.push(error === undefined ? { at, status, durationMs } : { at, status, error, durationMs });
      if (status !== null && status >= 200 && status < 300) return { delivered: true, attempts, body: text };
      // Only a server error or no answer at all is retried; a redirect or any 4xx is final.
      const retryable = status === null || status >= 500;
      const delay = this.retryDelaysMs[retry];
      if (!retryable || delay === undefined) return { delivered: false, attempts, body: text };
      await this.clock.sleep(delay);
    }
  }

  /** The URL validation request; passes on a 200 within 3 s with the same plainToken and the right encryptedToken. */
  async crc(plainToken = randomBytes(16).toString('base64url')): Promise<ValidationResult> {
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

  /** Validates the endpoint once, as saving the event subscription does; later calls return the first result. */
  start(): Promise<ValidationResult> {
    this.validation ??= this.crc();
    return this.validation;
  }

  /**
   * Many events under a plan of faults, after the URL validation (unless `plan.validate` is false). Throws
   * ValidationFailedError, sending nothing, when the endpoint fails it.
   */
  async deliver(events: readonly SandboxEvent[], plan: DeliveryPlan = {}): Promise<DeliveryReport> {
    let validation: ValidationResult | null = null;
    if (plan.validate !== false) {
      validation = await this.start();
      if (!validation.passed) throw new ValidationFailedError(validation);
    }
    const { queue, ...chosen } = planEvents(events, plan);
    const report: DeliveryReport = { validation, ...chosen, sent: [], failed: [] };
    // Like Zoom, an event waiting for its retry (or its delay) holds no delivery slot: the others go out meanwhile.
    const gate = slots(Math.max(1, plan.concurrency ?? 4));
    const deliverOne = async ({ event, copies, delayMs, faults }: PlannedDelivery) => {
      if (delayMs > 0) await this.clock.sleep(delayMs);
      const sends =
        copies === 2 && plan.concurrentDuplicates
          ? await this.twoSendersAtOnce(event.body, faults, gate)
          : await sequential(copies, () => this.sendThrough(event.body, faults, gate));
      const failure = sends.find((result) => !result.delivered);
      if (failure && !sends.some((result) => result.delivered)) report.failed.push({ event, result: failure });
      else report.sent.push(event);
    };
    await Promise.all(queue.map(deliverOne));
    return report;
  }

  /**
   * One event from two of Zoom's senders at the same moment: the second copy starts with the first one's first
   * attempt, outside this sender's slots, signed a second earlier (same event, another signature).
   */
  private twoSendersAtOnce(body: unknown, faults: SendFaults, gate: Gate): Promise<DeliveryResult[]> {
    let started: () => void = () => {};
    const firstAttempt = new Promise<void>((resolve) => (started = resolve));
    const signalling: Gate = (attempt) =>
      gate(() => {
        started();
        return attempt();
      });
    const other = { ...faults, skewSeconds: (faults.skewSeconds ?? 0) + 1 };
    return Promise.all([
      this.sendThrough(body, faults, signalling),
      firstAttempt.then(() => this.sendThrough(body, other, (attempt) => attempt())),
    ]);
  }

  private post(signed: { bytes: Buffer; headers: Record<string, string> }): Promise<{ status: number | null; text: string; error?: string; durationMs: number }> {
    return this.clock.during(() => {
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
    });
  }
}

type Gate = <T>(attempt: () => Promise<T>) => Promise<T>;

/** At most `count` attempts at once, the others queued in order (so a reordered plan goes out in its order). */
function slots(count: number): Gate {
  let free = count;
  const waiting: (() => void)[] = [];
  return async (attempt) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await attempt();
    } finally {
      const next = waiting.shift();
      // The slot passes straight to the next in line.
      if (next) next();
      else free++;
    }
  };
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
