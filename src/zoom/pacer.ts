// Paces requests per rate-limit label so a run stays under Zoom's account limits instead of waiting for 429s, and
// pauses a whole label when one of its requests gets a 429.
import type { Clock } from '../clock.js';

export type RateLabel = 'Light' | 'Medium' | 'Heavy' | 'download';

interface LabelState {
  intervalMs: number;
  nextSlot: number;
  pausedUntil: number;
  throttled: number;
}

/** After a 429 the label's pace slows by this factor: the account's budget is shared with other apps. */
const SLOWDOWN_ON_429 = 0.8;

export class RatePacer {
  private readonly labels = new Map<RateLabel, LabelState>();

  constructor(
    rates: Partial<Record<RateLabel, number>>,
    private readonly clock: Clock,
  ) {
    for (const [label, perSecond] of Object.entries(rates) as [RateLabel, number][]) {
      this.labels.set(label, { intervalMs: 1000 / perSecond, nextSlot: 0, pausedUntil: 0, throttled: 0 });
    }
  }

  /** Waits for this label's next slot (and for any pause set by a 429). */
  async acquire(label: RateLabel, signal?: AbortSignal): Promise<void> {
    const state = this.labels.get(label);
    if (!state) return;
    for (;;) {
      const now = this.clock.now().getTime();
      const start = Math.max(now, state.nextSlot, state.pausedUntil);
      if (start <= now) {
        state.nextSlot = now + state.intervalMs;
        return;
      }
      // Reserve the slot before sleeping so concurrent callers queue behind it.
      if (state.pausedUntil <= now) {
        state.nextSlot = start + state.intervalMs;
        await this.clock.sleep(start - now, signal);
        return;
      }
      await this.clock.sleep(start - now, signal);
    }
  }

  /** Every request of `label` waits until `until`; the label's pace is slowed a little. */
  pause(label: RateLabel, until: number): void {
    const state = this.labels.get(label);
    if (!state) return;
    state.pausedUntil = Math.max(state.pausedUntil, until);
    state.intervalMs /= SLOWDOWN_ON_429;
    state.throttled++;
  }

  throttledCount(label: RateLabel): number {
    return this.labels.get(label)?.throttled ?? 0;
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
