// The HTTP transport to Zoom: one got instance carrying auth, per-label pacing, got's retry (backoff with jitter, 429s
// through the pacer), the token refresh-and-replay on 401/124, and the token-to-Zoom-hosts-only rule.
import got, { HTTPError, RequestError, type Got, type RetryObject } from 'got';
import type { Clock } from '../clock.js';
import { ArtifactError, ListingIncompleteError, QuotaExhaustedError, ZoomApiError, ZoomRequestError, ZoomUnavailableError } from '../errors.js';
import { foreignLine } from '../foreign-text.js';
import type { TokenProvider } from './auth.js';
import { assertTokenHost } from './hosts.js';
import type { RateLabel, RatePacer } from './pacer.js';
import { isQuotaSpent, readRateLimit } from './rate-limit.js';
import { requestSignal } from './request-signal.js';

export interface ZoomClientOptions {
  apiBaseUrl: string;
  downloadHosts: readonly string[];
  auth: TokenProvider;
  pacer: RatePacer;
  clock: Clock;
  timeoutMs: number;
  retryLimit: number;
  maxBackoffMs: number;
  maxWaitMs: number;
  /** Aborts every request when the run is stopped. */
  signal?: AbortSignal;
}

interface RequestContext extends Record<string, unknown> {
  label: RateLabel;
  /** Token replays so far (see replayToken). */
  replays?: number;
}

const RETRY_STATUS = [408, 429, 500, 502, 503, 504, 521, 522, 524];
const RETRY_CODES = [
  'ETIMEDOUT', 'ECONNRESET', 'EADDRINUSE', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND', 'ENETUNREACH', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ECONNABORTED', 'ERR_BODY_PARSE_FAILURE', 'ERR_HTTP_CONTENT_LENGTH_MISMATCH', 'ERR_READING_RESPONSE_STREAM',
];
/** Failures that mean Zoom could not be reached at all: after the retries the run stops (exit 3). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);
const MAX_REPLAYS = 2;

export class ZoomClient {
  readonly http: Got;

  constructor(readonly options: ZoomClientOptions) {
    const { auth, pacer } = options;
    this.http = got.extend({
      timeout: { lookup: options.timeoutMs, connect: options.timeoutMs, response: options.timeoutMs, socket: options.timeoutMs },
      strictContentLength: true,
      retry: {
        limit: options.retryLimit,
        methods: ['GET'],
        statusCodes: RETRY_STATUS,
        errorCodes: RETRY_CODES,
        maxRetryAfter: options.maxWaitMs,
        calculateDelay: (retry) => this.retryDelay(retry),
      },
      hooks: {
        beforeRequest: [
          async (request) => {
            assertTokenHost(request.url as URL, options.downloadHosts, options.apiBaseUrl);
            await pacer.acquire(contextOf(request).label, options.signal);
            request.headers.authorization = `Bearer ${await auth.token()}`;
          },
        ],
        beforeRedirect: [
          (request) => {
            // got drops Authorization on a cross-host redirect; this refuses the redirect itself.
            assertTokenHost(request.url as URL, options.downloadHosts, options.apiBaseUrl);
          },
        ],
        afterResponse: [
          async (response, retryWithMergedOptions) => {
            if (!isTokenRefused(response.statusCode, response.body)) return response;
            const context = contextOf(response.request.options);
            const replays = await this.replayToken(context, response.request.options.headers.authorization);
            // preserveHooks: the replay must meet this hook too, should its new token expire in turn (replays bound it).
            return replays === null ? response : retryWithMergedOptions({ context: { ...context, replays }, preserveHooks: true });
          },
        ],
      },
    });
  }

  /** GET a JSON document from the API; errors come back as the classes of errors.ts. */
  async getJson(path: string, query: URLSearchParams, label: RateLabel): Promise<unknown> {
    const url = `${this.options.apiBaseUrl.replace(/\/$/, '')}${path}?${query.toString()}`;
    const request = requestSignal(this.options.signal);
    try {
      // A body that is not JSON (a proxy's error page, a cut-off answer) fails parsing, and got retries it.
      const response = await this.http.get(url, { context: { label }, responseType: 'json', signal: request.signal });
      return response.body;
    } catch (error) {
      throw this.classify(error, path);
    } finally {
      request.release();
    }
  }

  /**
   * Zoom refused the token a request carried: get a new one (one fetch per refused token, however many requests carried
   * it) and return the replay count to record, or null to give up. A request replays once per expiry it meets, at most
   * twice, so a token Zoom refuses as soon as it is issued cannot loop. Shared by JSON calls and download streams.
   */
  async replayToken(context: { replays?: number }, authorization: unknown): Promise<number | null> {
    const replays = context.replays ?? 0;
    if (replays >= MAX_REPLAYS) return null;
    await this.options.auth.refresh(String(authorization ?? '').replace(/^Bearer /, ''));
    return replays + 1;
  }

  /** Any failure of a request, as one of the classes of errors.ts (which decide retry-next-run and exit codes). */
  classify(error: unknown, endpoint: string): Error {
    const own = ownError(error);
    if (own) return own;
    if (error instanceof HTTPError) {
      const status = error.response.statusCode;
      if (status === 429) {
        const now = this.options.clock.now().getTime();
        const answer = readRateLimit(error.response.headers, now, parseZoomError(error.response.body).message);
        if (isQuotaSpent(answer, this.options.maxWaitMs)) {
          return new QuotaExhaustedError(answer.category ?? contextOf(error.options).label, new Date(now + (answer.waitMs ?? 0)));
        }
      }
      const body = parseZoomError(error.response.body);
      return new ZoomApiError(
        `${endpoint} answered HTTP ${status}${body.code !== undefined ? ` code ${body.code}` : ''}: ${body.message ?? 'no message'}`,
        status,
        body.code,
        endpoint,
      );
    }
    if (error instanceof RequestError) {
      if (UNREACHABLE.has(error.code)) return new ZoomUnavailableError(`${endpoint}: Zoom is unreachable (${error.code})`);
      if (error.code === 'ERR_BODY_PARSE_FAILURE') {
        return new ZoomApiError(`${endpoint} answered with a body that is not JSON`, error.response?.statusCode ?? 0, undefined, endpoint);
      }
      return new ZoomRequestError(`${endpoint}: ${error.code}: ${withoutUrl(error.message)}`, endpoint);
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  private retryDelay({ attemptCount, error, computedValue }: RetryObject): number {
    // A token replay (afterResponse) goes at once.
    if (error.name === 'RetryError') return 1;
    const response = error.response;
    if (response?.statusCode === 429) {
      if (attemptCount > this.options.retryLimit) return 0;
      const now = this.options.clock.now().getTime();
      const answer = readRateLimit(response.headers, now, parseZoomError(response.body).message);
      // The daily quota: no retry; classify() turns the 429 into QuotaExhaustedError, which ends the run.
      if (isQuotaSpent(answer, this.options.maxWaitMs)) return 0;
      const label = contextOf(error.options).label;
      if (answer.limit !== null && !answer.daily) this.options.pacer.announceLimit(label, answer.limit);
      this.options.pacer.pause(label, now + (answer.waitMs ?? this.backoff(attemptCount)));
      // The pacer holds this request, and every other request of its label, until the pause ends.
      return 1;
    }
    if (computedValue === 0) return 0;
    return this.backoff(attemptCount);
  }

  /** Exponential backoff with full jitter, capped by zoom.retry.maxBackoff. */
  private backoff(attemptCount: number): number {
    const ceiling = Math.min(this.options.maxBackoffMs, 250 * 2 ** Math.max(0, attemptCount - 1));
    return Math.max(1, Math.round(ceiling / 2 + Math.random() * (ceiling / 2)));
  }
}

function contextOf(options: { context?: unknown } | undefined): RequestContext {
  const context = (options?.context ?? {}) as Partial<RequestContext>;
  return { ...context, label: context.label ?? 'Medium' };
}

/** Errors of ours thrown inside a got hook (a refused host, refused credentials) come back wrapped in a RequestError. */
function ownError(error: unknown): Error | null {
  const candidate = error instanceof RequestError && !(error instanceof HTTPError) ? error.cause : error;
  const ours =
    candidate instanceof ZoomUnavailableError ||
    candidate instanceof ArtifactError ||
    candidate instanceof ZoomApiError ||
    candidate instanceof ZoomRequestError ||
    candidate instanceof ListingIncompleteError;
  return ours ? (candidate as Error) : null;
}

function withoutUrl(message: string): string {
  return message.replace(/\s*(?:in )?"?https?:\/\/\S+/g, '').slice(0, 300);
}

export function parseZoomError(body: unknown): { code?: number; message?: string } {
  try {
    const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
    const parsed = (typeof text === 'string' ? JSON.parse(text) : text) as { code?: unknown; message?: unknown; errorCode?: unknown } | null;
    if (parsed === null || typeof parsed !== 'object') return {};
    const code = typeof parsed.code === 'number' ? parsed.code : typeof parsed.errorCode === 'number' ? parsed.errorCode : undefined;
    return { code, message: typeof parsed.message === 'string' ? foreignLine(parsed.message, 300) : undefined };
  } catch {
    return {};
  }
}

/** Zoom says the token is bad: 401 with code 124 or errorCode 401, or (older deployments) 400 with code 124. */
export function isTokenRefused(status: number, body: unknown): boolean {
  if (status !== 401 && status !== 400) return false;
  const { code } = parseZoomError(body);
  return code === 124 || (status === 401 && code === 401);
}
