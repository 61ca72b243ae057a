// Zoom-style rate limits: a token bucket per label (burst = one second's worth) on real time, so a frozen test clock
// cannot stall it, and a per-label daily quota on the sandbox clock's UTC day.
export type RateLabel = 'Light' | 'Medium' | 'Heavy' | 'download';
export type DailyLabel = 'Light' | 'Medium' | 'Heavy';

export interface Refusal { status: 429; headers: Record<string, string>; body: { code: number; message: string } }

const QPS_MESSAGE = 'You have reached the maximum per-second rate limit for this API. Try again later.';
const DAILY_MESSAGE =
  'You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request.';

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; last: number }>();
  private readonly daily = new Map<string, { day: number; count: number }>();

  constructor(
    private readonly rates: Partial<Record<RateLabel, number>>,
    private readonly dailyLimits: Partial<Record<DailyLabel, number>>,
    private readonly nowMs: () => number,
  ) {}

  /** Counts the request; returns the 429 to send when it is over a limit. */
  check(label: string): Refusal | null {
    const category = label === 'download' ? 'Light' : label;
    const limit = this.dailyLimits[label as DailyLabel];
    let d: { day: number; count: number } | undefined;
    if (limit !== undefined) {
      const day = Math.floor(this.nowMs() / 86_400_000);
      d = this.daily.get(label);
      if (!d || d.day !== day) this.daily.set(label, (d = { day, count: 0 }));
      if (d.count >= limit) {
        return {
          status: 429,
          headers: {
            'X-RateLimit-Category': category,
            'X-RateLimit-Type': 'Daily-limit',
            'X-RateLimit-Limit': String(limit),
            'X-RateLimit-Remaining': '0',
            'Retry-After': new Date((day + 1) * 86_400_000).toISOString().replace('.000Z', 'Z'),
          },
          body: { code: 429, message: DAILY_MESSAGE },
        };
      }
    }
    const refusal = this.checkRate(label, category);
    // A request refused per second does not use up the day's quota.
    if (!refusal && d) d.count++;
    return refusal;
  }

  private checkRate(label: string, category: string): Refusal | null {
    const rate = this.rates[label as RateLabel];
    if (rate === undefined) return null;
    const now = performance.now();
    let b = this.buckets.get(label);
    if (!b) this.buckets.set(label, (b = { tokens: rate, last: now }));
    b.tokens = Math.min(rate, b.tokens + ((now - b.last) / 1000) * rate);
    b.last = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return null;
    }
    return {
      status: 429,
      headers: {
        'X-RateLimit-Category': category,
        'X-RateLimit-Type': 'QPS',
        'X-RateLimit-Limit': String(rate),
        'X-RateLimit-Remaining': '0',
        'Retry-After': '1',
      },
      body: { code: 429, message: QPS_MESSAGE },
    };
  }
}
