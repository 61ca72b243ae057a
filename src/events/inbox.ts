// The event inbox's front door: an accepted event is acknowledged only once it is committed to the ledger. Events
// that arrive together are committed together (one transaction, one sync), which keeps acknowledgements fast when
// many arrive at once.
import type { InboxEvent, Ledger } from '../ledger/types.js';

interface Waiting {
  event: InboxEvent;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class Inbox {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly ledger: Ledger,
    private readonly onStored: () => void,
  ) {}

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
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const entry of batch) entry.reject(failure);
      return;
    }
    for (const entry of batch) entry.resolve();
    this.onStored();
  }
}
