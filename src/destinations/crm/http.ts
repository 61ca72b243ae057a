// One got instance per CRM destination with the behaviour PRODUCT.md asks of all five: a 429 pauses every request to
// that destination until its Retry-After; an expired token is refreshed and the request replayed once; a refused
// credential or a spent daily allowance ends the destination's work for the run (DestinationUnavailableError) after
// at most a few requests, while other destinations go on. Each CRM only says how to read its answers (`classify`).
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import got, { HTTPError, RequestError, type Got, type OptionsInit, type Response } from 'got';
import { DestinationError, DestinationUnavailableError } from '../../errors.js';
import { foreignLine } from '../../foreign-text.js';
import { rememberSecret } from '../../redact.js';
import { parseRetryAfter } from '../../zoom/pacer.js';

/** What a CRM's answer means for the client as a whole (not for the one request). */
export type CrmSignal =
  /** Slow down: pause every request until `waitMs` has passed (null: the CRM did not say; back off). */
  | { type: 'rate-limit'; waitMs: number | null }
  /** The daily (or otherwise long) allowance is spent: stop for this run (or for `waitMs`, when the CRM says). */
  | { type: 'daily-limit'; message: string; waitMs?: number }
  /** The token expired or was revoked: get a new one and replay. */
  | { type: 'auth-expired' }
  /** The credentials themselves are refused. */
  | { type: 'auth-refused'; message: string };

export interface CrmAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface CrmHttpOptions {
  /** The destination's name (in errors). */
  name: string;
  /** The CRM's name: "Salesforce". */
  label: string;
  timeoutMs: number;
  retry: { limit: number; maxBackoffMs: number; maxRetryAfterMs: number };
  /** The auth header(s) for the next request; may fetch a token. */
  authorize(): Promise<Record<string, string>>;
  /** Forget the cached token (it expired). */
  invalidate(): void;
  /** How this CRM says "slow down", "stop for today", "token expired" or "credentials refused"; null: none of those. */
  classify(answer: CrmAnswer): CrmSignal | null;
  /** Spaces requests evenly to stay under the CRM's rate limit; unset: as fast as the engine asks. */
  requestsPerSecond?: number;
  now?: () => number;
}

const RETRY_STATUSES = [429, 500, 502, 503, 504];
/**
 * The retry of a write that is not an upsert (a POST that creates, a PATCH that appends): only a 429, which says the
 * CRM did not act. After a 5xx it may have (a gateway lost its answer), and the next run's lookup finds what landed.
 */
export const RETRY_ONLY_REFUSED = { statusCodes: [429] };
/** How many rate-limit answers one request waits out before it fails (each one also pauses the destination). */
const RATE_LIMIT_RETRIES = 20;
/** How long a stopped destination stays stopped when the CRM does not say (see `stopped`). */
const DAILY_STOP_MS = 3_600_000;
const REFUSED_STOP_MS = 15 * 60_000;

export class CrmHttp {
  readonly got: Got;
  private pausedUntil = 0;
  private nextSlot = 0;
  private stop_: { error: DestinationUnavailableError; until: number } | null = null;
  /** Answers that said "slow down" (and were waited out), so their retries are not counted as failures. */
  private readonly rateLimited = new WeakSet<object>();
  private readonly now: () => number;

  constructor(private readonly options: CrmHttpOptions) {
    this.now = options.now ?? Date.now;
    this.got = got.extend({
      timeout: { request: options.timeoutMs },
      throwHttpErrors: true,
      retry: {
        limit: options.retry.limit,
        methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'],
        statusCodes: RETRY_STATUSES,
        // Only failures where the CRM cannot have acted: a retried write after a reset could land twice.
        errorCodes: ['ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND'],
        maxRetryAfter: options.retry.maxRetryAfterMs,
        calculateDelay: ({ computedValue, error, attemptCount }) => {
          if (this.stopped || error.options.body instanceof Readable) return 0;
          // A rate-limit answer the destination waits out is not a failed attempt: a burst of them at the start of a
          // run (everyone queued behind one record lookup) must not use up one request's retries.
          if (error.response && this.rateLimited.has(error.response) && attemptCount <= RATE_LIMIT_RETRIES) {
            return Math.max(this.pausedUntil - this.now(), 1);
          }
          if (computedValue === 0) return 0;
          const backoff = Math.min(computedValue, options.retry.maxBackoffMs);
          return Math.max(backoff, this.pausedUntil - this.now(), 1);
        },
      },
      hooks: {
        beforeRequest: [
          async (request) => {
            if (this.stopped) throw this.stopped;
            await this.waitForSlot(request.signal ?? undefined);
            await this.waitForPause(request.signal ?? undefined);
            Object.assign(request.headers, await this.authorize());
          },
        ],
        afterResponse: [
          async (response, retryWithMergedOptions) => {
            const signal = this.read(response);
            if (!signal) return response;
            switch (signal.type) {
              case 'rate-limit': {
                const waitMs = signal.waitMs ?? Math.min(options.retry.maxBackoffMs, 1000);
                if (waitMs > options.retry.maxRetryAfterMs) {
                  this.stop(`${options.label} asks to wait ${Math.ceil(waitMs / 1000)} s (longer than retry.maxRetryAfter); the rest waits for the next run`, waitMs);
                } else {
                  this.pausedUntil = Math.max(this.pausedUntil, this.now() + waitMs);
                  this.rateLimited.add(response);
                }
                return response;
              }
              case 'daily-limit':
                this.stop(`${options.label} daily API limit reached (${signal.message}); the rest waits for the next run`, signal.waitMs ?? DAILY_STOP_MS);
                return response;
              case 'auth-refused':
                this.stop(`${options.label} refused the credentials: ${signal.message}`, REFUSED_STOP_MS);
                return response;
              case 'auth-expired': {
                options.invalidate();
                return retryWithMergedOptions({ headers: await this.authorize() });
              }
            }
          },
        ],
      },
    });
  }

  /** Sends a request and turns got's errors into one line naming the CRM, the request and its answer. */
  async send<T = string>(options: OptionsInit & { url: string }, parse?: (body: string) => T): Promise<{ response: Response<string>; value: T }> {
    try {
      const response = (await this.got({ ...options, responseType: 'text', resolveBodyOnly: false, isStream: false } as OptionsInit)) as Response<string>;
      return { response, value: parse ? parse(response.body) : (response.body as T) };
    } catch (error) {
      throw this.explain(error, options);
    }
  }

  /**
   * The stop in force, if any. A stop ends (a long-running `listen` goes on; a nightly run is long over): after the
   * CRM's wait for a long Retry-After, an hour for a daily limit, 15 minutes for refused credentials (they may have
   * been rotated); the token source then starts afresh.
   */
  private get stopped(): DestinationUnavailableError | null {
    if (this.stop_ && this.now() >= this.stop_.until) {
      this.stop_ = null;
      this.options.invalidate();
    }
    return this.stop_?.error ?? null;
  }

  /** Rejects at once while the destination is stopped; the engine calls it before any work. */
  check(): void {
    if (this.stopped) throw this.stopped;
  }

  /** A 429 seen outside got's retries (a streamed upload, which cannot be replayed) still pauses everyone. */
  pauseFor(waitMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + waitMs);
  }

  private async waitForSlot(signal?: AbortSignal): Promise<void> {
    if (!this.options.requestsPerSecond) return;
    const now = this.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + 1000 / this.options.requestsPerSecond;
    if (slot > now) await sleep(slot - now, undefined, { signal });
  }

  async waitForPause(signal?: AbortSignal): Promise<void> {
    const waitMs = this.pausedUntil - this.now();
    if (waitMs > 0) await sleep(waitMs, undefined, { signal });
  }

  /** The token source's refusal (credentials refused, token endpoint gone) stops the destination, like a 401. */
  private async authorize(): Promise<Record<string, string>> {
    try {
      const headers = await this.options.authorize();
      // The CRM's access token (issued at run time, so no environment name reveals it) stays out of output and ledger.
      for (const value of Object.values(headers)) rememberSecret(value);
      return headers;
    } catch (error) {
      if (error instanceof DestinationUnavailableError) this.stopFor(error, REFUSED_STOP_MS);
      throw error;
    }
  }

  private stop(message: string, forMs: number): void {
    // The message quotes the CRM's own words.
    this.stopFor(new DestinationUnavailableError(this.options.name, foreignLine(message, 500)), forMs);
  }

  private stopFor(error: DestinationUnavailableError, forMs: number): void {
    if (!this.stopped) this.stop_ = { error, until: this.now() + forMs };
  }

  private read(response: Response): CrmSignal | null {
    const body = typeof response.body === 'string' ? response.body : Buffer.isBuffer(response.body) ? response.body.toString('utf8') : '';
    return this.options.classify({ statusCode: response.statusCode, headers: response.headers, body });
  }

  explain(error: unknown, options: { method?: string; url: string | URL }): Error {
    // got wraps what a hook throws (the token source's refusal) in a RequestError: the cause is the real answer.
    const cause = causeOf(error);
    if (cause instanceof DestinationUnavailableError) {
      this.stopFor(cause, REFUSED_STOP_MS);
      return this.stopped ?? cause;
    }
    // got runs no afterResponse hook on a replayed request's answer: a fresh token refused shows up only here.
    if (error instanceof HTTPError) {
      const signal = this.read(error.response);
      if (signal?.type === 'auth-expired') this.stop(`${this.options.label} refused a fresh token (${error.response.statusCode})`, REFUSED_STOP_MS);
      else if (signal?.type === 'auth-refused') this.stop(`${this.options.label} refused the credentials: ${signal.message}`, REFUSED_STOP_MS);
      else if (signal?.type === 'daily-limit') this.stop(`${this.options.label} daily API limit reached (${signal.message}); the rest waits for the next run`, signal.waitMs ?? DAILY_STOP_MS);
    }
    if (this.stopped) return this.stopped;
    if (error instanceof DestinationError) return error;
    const method = (options.method ?? 'GET').toUpperCase();
    const where = `${method} ${pathOf(options.url)}`;
    if (error instanceof HTTPError) {
      const body = foreignLine(String(error.response.body ?? ''), 300);
      return new DestinationError(this.options.name, `${this.options.label} answered ${error.response.statusCode} to ${where}: ${body}`, { cause: error });
    }
    if (error instanceof RequestError) {
      return new DestinationError(this.options.name, `${this.options.label} ${where} failed: ${error.code ?? error.message}`, { cause: error });
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}

function causeOf(error: unknown): unknown {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof DestinationError) return current;
    current = current.cause;
  }
  return current;
}

function pathOf(url: string | URL): string {
  try {
    return new URL(String(url)).pathname;
  } catch {
    return String(url);
  }
}

/** The HTTP status behind an error from `CrmHttp` (got's HTTPError, possibly wrapped as a cause), or undefined. */
export function statusOf(error: unknown): number | undefined {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    if (current instanceof HTTPError) return current.response.statusCode;
  }
  return undefined;
}

/** Retry-After as seconds or an HTTP date → milliseconds from now, or null. */
export function retryAfterMs(headers: CrmAnswer['headers'], now = Date.now()): number | null {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  const until = parseRetryAfter(value, now);
  return until === null ? null : Math.max(0, until - now);
}
