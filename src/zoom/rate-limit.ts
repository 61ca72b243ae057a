// What a 429 says: how long to wait (Retry-After as seconds or a date), whether it is the daily quota, and the
// label's limit. Zoom sends these headers inconsistently (zcc-api.md §2.3), so every one is optional.
import { parseRetryAfter } from './pacer.js';

type Headers = Record<string, string | string[] | undefined>;

export interface RateLimitAnswer {
  /** Milliseconds to wait from `now`, or null when Zoom did not say. */
  waitMs: number | null;
  /** The daily quota (X-RateLimit-Type: Daily-limit), as opposed to the per-second limit. */
  daily: boolean;
  /** X-RateLimit-Limit: the label's limit (per second for QPS answers). */
  limit: number | null;
  category: string | null;
}

/**
 * Zoom's daily-limit message ("You have reached the maximum daily rate limit for this API…"): some daily 429s come
 * without X-RateLimit-Type or Retry-After (zcc-api.md §2.3, §9), and only their message tells them from a per-second one.
 */
const DAILY_MESSAGE = /maximum daily rate limit/i;

/** What a 429 says, from its headers and, where they are missing, its body's message. */
export function readRateLimit(headers: Headers, now: number, message = ''): RateLimitAnswer {
  const daily = /daily/i.test(header(headers, 'x-ratelimit-type') ?? '') || DAILY_MESSAGE.test(message);
  let until = parseRetryAfter(header(headers, 'retry-after'), now);
  // A daily quota without a Retry-After resets at midnight UTC.
  if (until === null && daily) {
    const today = new Date(now);
    until = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1);
  }
  const limit = Number(header(headers, 'x-ratelimit-limit'));
  return {
    waitMs: until === null ? null : Math.max(0, until - now),
    daily,
    limit: Number.isFinite(limit) && limit > 0 ? limit : null,
    category: header(headers, 'x-ratelimit-category') ?? null,
  };
}

/** A wait the run cannot sit out (longer than zoom.maxWait): the daily quota, in practice. */
export function isQuotaSpent(answer: RateLimitAnswer, maxWaitMs: number): boolean {
  return answer.waitMs !== null && answer.waitMs > maxWaitMs;
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
