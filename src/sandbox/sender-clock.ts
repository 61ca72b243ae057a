// The clock the webhook sender schedules on. The wall clock waits for real; the virtual clock runs Zoom's 5, 20 and
// 60 minute retry schedule instantly: time jumps to the next timer whenever no delivery attempt is in flight, so each
// attempt happens at exactly its scheduled virtual moment however long the HTTP exchange really took.

export interface SenderClock {
  /** Milliseconds since the epoch on this clock. */
  now(): number;
  /** Resolves after `ms` of this clock's time. */
  sleep(ms: number): Promise<void>;
  /** Runs one delivery attempt; a virtual clock stands still meanwhile (an attempt takes no virtual time). */
  during<T>(attempt: () => Promise<T>): Promise<T>;
}

export const wallClock: SenderClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms))),
  during: (attempt) => attempt(),
};

interface Timer {
  at: number;
  order: number;
  wake: () => void;
}

export class VirtualClock implements SenderClock {
  private current: number;
  private readonly timers: Timer[] = [];
  private inFlight = 0;
  private order = 0;
  private ticking = false;

  constructor(start: number = Date.now()) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Timers not due yet: the part of a schedule still ahead. */
  get waiting(): number {
    return this.timers.length;
  }

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.timers.push({ at: this.current + Math.max(0, ms), order: this.order++, wake: resolve });
      this.tick();
    });
  }

  async during<T>(attempt: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await attempt();
    } finally {
      this.inFlight--;
      this.tick();
    }
  }

  /**
   * Checks after the current turn of the event loop: by then every sleeper woken last time has started its attempt
   * (its continuation is a chain of microtasks), so "nothing in flight" really means everybody is waiting.
   */
  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    setImmediate(() => {
      this.ticking = false;
      this.advance();
    });
  }

  private advance(): void {
    if (this.inFlight > 0 || this.timers.length === 0) return;
    this.timers.sort((a, b) => a.at - b.at || a.order - b.order);
    this.current = Math.max(this.current, this.timers[0]!.at);
    const due = this.timers.filter((timer) => timer.at <= this.current);
    this.timers.splice(0, due.length);
    for (const timer of due) timer.wake();
    // Woken sleepers that start nothing (their event is done) must not leave the other timers stranded.
    this.tick();
  }
}
