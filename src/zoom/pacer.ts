// Paces requests per rate-limit label so a run stays under Zoom's account limits instead of waiting for 429s. A 429
// pauses its whole label (not just the request that got it) and slows the label down, so a run meets only a few.
// Elapsed time is measured on a monotonic clock: the run's wall clock can jump (NTP) or, in tests, stand still.
import type { Clock } from '../clock.js';

export type RateLabel = 'Light' | 'Medium' | 'Heavy' | 'download';

interface LabelState {
  /** Milliseconds between requests; 0 = not paced. */
  intervalMs: number;
  nextSlot: number;
  pausedUntil: number;
  /** The per-second limit Zoom last announced (X-RateLimit-Limit), if any. */
  announced: number | null;
  /** When recent requests were let through, to know the rate that met a 429. */
  recent: number[];
  throttled: number;
}

/**
 * After a 429 that announced the label's limit, the label keeps to this fraction of its share of it (zoom.rateShare
 * says how much of the account's budget this tool may use): a little under, so that requests spaced evenly never
 * reach the limit in any one-second window, however Zoom aligns its windows.
 */
const ANNOUNCED_MARGIN = 0.95;

export interface RatePacerOptions {
  /** The share of an announced limit this tool may use (zoom.rateShare); 1 by default. */
  share?: number;
  monotonic?: () => number;
}
const MIN_RATE = 1;
const RECENT_MS = 1000;
const MIN_SPAN_MS = 100;

export class RatePacer {
  private readonly labels = new Map<RateLabel, LabelState>();

  private readonly monotonic: () => number;
  private readonly announcedShare: number;

  constructor(
    rates: Partial<Record<RateLabel, number>>,
    private readonly clock: Clock,
    options: RatePacerOptions = {},
  ) {
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.announcedShare = ANNOUNCED_MARGIN * (options.share ?? 1);
    for (const [label, perSecond] of Object.entries(rates) as [RateLabel, number][]) {
      this.state(label).intervalMs = 1000 / perSecond;
    }
  }

  /** Waits for this label's next slot, and for any pause a 429 set meanwhile. */
  async acquire(label: RateLabel, signal?: AbortSignal): Promise<void> {
    const state = this.state(label);
    for (;;) {
      const now = this.monotonic();
      if (state.pausedUntil > now) {
        await this.clock.sleep(state.pausedUntil - now, signal);
        continue;
      }
      const slot = Math.max(now, state.nextSlot);
      state.nextSlot = slot + state.intervalMs;
      if (slot > now) {
        await this.clock.sleep(slot - now, signal);
        // A 429 paused the label while this request waited: it queues again behind the pause.
        if (state.pausedUntil > this.monotonic()) continue;
      }
      this.remember(state);
      return;
    }
  }

  /**
   * Every request of `label` waits until `until` (epoch ms on the run's clock). The first 429 of a burst also slows the
   * label: to a share of the limit Zoom announced, else to half the rate that met the 429.
   */
  pause(label: RateLabel, until: number): void {
    const state = this.state(label);
    const now = this.monotonic();
    state.throttled++;
    const inBurst = state.pausedUntil > now;
    state.pausedUntil = Math.max(state.pausedUntil, now + Math.max(0, until - this.clock.now().getTime()));
    // Waiters re-queue after the pause in the order they wake; slots reserved before it are void.
    state.nextSlot = state.pausedUntil;
    if (inBurst) return;
    const current = state.intervalMs > 0 ? 1000 / state.intervalMs : Number.POSITIVE_INFINITY;
    const ceiling = state.announced !== null ? state.announced * this.announcedShare : null;
    const rate = ceiling !== null && current > ceiling ? ceiling : Math.min(current, this.recentRate(state, now)) / 2;
    state.intervalMs = 1000 / Math.max(MIN_RATE, rate);
  }

  /** Zoom said what the label's per-second limit is (X-RateLimit-Limit); the next pause slows to a share of it. */
  announceLimit(label: RateLabel, perSecond: number): void {
    if (Number.isFinite(perSecond) && perSecond > 0) this.state(label).announced = perSecond;
  }

  throttledCount(label: RateLabel): number {
    return this.labels.get(label)?.throttled ?? 0;
  }

  /** Requests per second this label is paced at now (Infinity when not paced). */
  rate(label: RateLabel): number {
    const interval = this.labels.get(label)?.intervalMs ?? 0;
    return interval > 0 ? 1000 / interval : Number.POSITIVE_INFINITY;
  }

  private state(label: RateLabel): LabelState {
    let state = this.labels.get(label);
    if (!state) {
      state = { intervalMs: 0, nextSlot: 0, pausedUntil: 0, announced: null, recent: [], throttled: 0 };
      this.labels.set(label, state);
    }
    return state;
  }

  private remember(state: LabelState): void {
    const now = this.monotonic();
    state.recent.push(now);
    if (state.recent.length > 2000 || (state.recent[0] ?? now) < now - RECENT_MS) {
      state.recent = state.recent.filter((at) => at >= now - RECENT_MS);
    }
  }

  /** Requests per second over the last second, or over the time since the first of them when that is shorter. */
  private recentRate(state: LabelState, now: number): number {
    const recent = state.recent.filter((at) => at >= now - RECENT_MS);
    const span = Math.max(MIN_SPAN_MS, now - (recent[0] ?? now));
    return (recent.length * 1000) / span;
  }
}

/** Retry-After is seconds or an HTTP/ISO date; returns the epoch ms it points to, or null. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return now + Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : date;
}
