// The event inbox's front door: an accepted event is acknowledged only once it is committed to the ledger. Events
// that arrive together are committed together (one transaction, one sync), which keeps acknowledgements fast when
// many arrive at once.
import type { InboxEvent, Ledger } from '../ledger/types.js';

interface Waiting {
  event: InboxEvent;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** After a failed commit the inbox counts as failing this long, unless a commit succeeds first. */
export const INBOX_FAILURE_HOLD_MS = 60_000;

export class Inbox {
  private waiting: Waiting[] = [];
  private scheduled = false;
  /** When the last commit failed, if none has succeeded since. */
  private failedAt: number | null = null;

  constructor(
    private readonly ledger: Ledger,
    private readonly onStored: () => void,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /**
   * Whether events are being refused: a commit failed within INBOX_FAILURE_HOLD_MS and none succeeded since. A probe
   * write can succeed where an event's cannot (a full disk still takes a page into WAL space it already has).
   */
  failing(): boolean {
    return this.failedAt !== null && this.nowMs() - this.failedAt < INBOX_FAILURE_HOLD_MS;
  }

  /** Resolves once the event is durable in the ledger; rejects when it could not be stored. */
  accept(event: InboxEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ event, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.commit());
      }
    });
  }

  private commit(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.scheduled = false;
    try {
      this.ledger.enqueueEvents(batch.map((entry) => entry.event));
    } catch (error) {
      this.failedAt = this.nowMs();
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const entry of batch) entry.reject(failure);
      return;
    }
    this.failedAt = null;
    for (const entry of batch) entry.resolve();
    this.onStored();
  }
}
