// The HTTP transport to Zoom: one got instance carrying auth, per-label pacing, retry with backoff and jitter, the
// token refresh-and-replay on 401/124, and the token-to-Zoom-hosts-only rule.
import got, { HTTPError, RequestError, type Got, type RetryObject } from 'got';
import type { Clock } from '../clock.js';
import { QuotaExhaustedError, ZoomApiError, ZoomUnavailableError } from '../errors.js';
import type { TokenProvider } from './auth.js';
import { parseRetryAfter, type RateLabel, type RatePacer } from './pacer.js';
import { assertTokenHost } from './hosts.js';

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
  replayed?: boolean;
}

const RETRY_STATUS = [408, 429, 500, 502, 503, 504, 521, 522, 524];

export class ZoomClient {
  readonly http: Got;

  constructor(readonly options: ZoomClientOptions) {
    const { auth, pacer, clock } = options;
    this.http = got.extend({
      timeout: { lookup: options.timeoutMs, connect: options.timeoutMs, response: options.timeoutMs, socket: options.timeoutMs },
      retry: {
        limit: options.retryLimit,
        methods: ['GET'],
        statusCodes: RETRY_STATUS,
        maxRetryAfter: options.maxWaitMs,
        calculateDelay: (retry) => this.retryDelay(retry),
      },
      signal: options.signal,
      hooks: {
        beforeRequest: [
          async (request) => {
            assertTokenHost(request.url as URL, options.downloadHosts, options.apiBaseUrl);
            const context = request.context as RequestContext;
            await pacer.acquire(context.label ?? 'Medium', options.signal);
            request.headers.authorization = `Bearer ${await auth.token()}`;
          },
        ],
        beforeRedirect: [
          (request) => {
            assertTokenHost(request.url as URL, options.downloadHosts, options.apiBaseUrl);
          },
        ],
        afterResponse: [
          async (response, retryWithMergedOptions) => {
            const context = response.request.options.context as RequestContext;
            if (isTokenRefused(response.statusCode, response.body) && !context.replayed) {
              const used = String(response.request.options.headers.authorization ?? '').replace(/^Bearer /, '');
              await auth.refresh(used);
              return retryWithMergedOptions({ context: { ...context, replayed: true } });
            }
            return response;
          },
        ],
      },
    });
    void clock;
  }

  /** GET a JSON document from the API; errors come back as the classes of errors.ts. */
  async getJson(path: string, query: URLSearchParams, label: RateLabel): Promise<unknown> {
    const url = `${this.options.apiBaseUrl.replace(/\/$/, '')}${path}?${query.toString()}`;
    try {
      const response = await this.http.get(url, { context: { label }, responseType: 'text' });
      try {
        return JSON.parse(response.body) as unknown;
      } catch {
        throw new ZoomApiError(`${path} answered ${response.statusCode} with a body that is not JSON`, response.statusCode, undefined, path);
      }
    } catch (error) {
      throw this.classify(error, path);
    }
  }

  classify(error: unknown, endpoint: string): Error {
    if (error instanceof HTTPError) {
      const status = error.response.statusCode;
      if (status === 429) {
        const until = parseRetryAfter(headerText(error.response.headers['retry-after']), this.options.clock.now().getTime());
        if (until !== null && until - this.options.clock.now().getTime() > this.options.maxWaitMs) {
          return new QuotaExhaustedError(headerText(error.response.headers['x-ratelimit-category']) ?? 'these', new Date(until));
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
      return new ZoomUnavailableError(`${endpoint}: ${error.code ?? ''} ${error.message}`.trim());
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  private retryDelay(retry: RetryObject): number {
    const { attemptCount, error, computedValue, retryAfter } = retry;
    const response = error.response;
    const label = ((error.options?.context as RequestContext | undefined)?.label ?? 'Medium') as RateLabel;
    if (response?.statusCode === 429) {
      const now = this.options.clock.now().getTime();
      const until = retryAfter !== undefined ? now + retryAfter : null;
      if (until !== null && until - now > this.options.maxWaitMs) return 0;
      if (attemptCount > this.options.retryLimit) return 0;
      const wait = until !== null ? Math.max(until - now, 0) : this.backoff(attemptCount);
      this.options.pacer.pause(label, now + wait);
      return Math.max(wait, 1);
    }
    if (computedValue === 0) return 0;
    return this.backoff(attemptCount);
  }

  /** Exponential backoff with full jitter, capped. */
  private backoff(attemptCount: number): number {
    const ceiling = Math.min(this.options.maxBackoffMs, 250 * 2 ** (attemptCount - 1));
    return Math.max(1, Math.round(ceiling / 2 + Math.random() * (ceiling / 2)));
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function parseZoomError(body: unknown): { code?: number; message?: string } {
  try {
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { code?: unknown; message?: unknown; errorCode?: unknown };
    const code = typeof parsed.code === 'number' ? parsed.code : typeof parsed.errorCode === 'number' ? parsed.errorCode : undefined;
    return { code, message: typeof parsed.message === 'string' ? parsed.message.slice(0, 300) : undefined };
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
