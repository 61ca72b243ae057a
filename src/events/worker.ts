// Drains the event inbox: each entry becomes the artifacts it names (fetched from the REST API where the event does
// not carry them), planned against the ledger like a run's, claimed per key and destination, and pushed with the
// same engine as `run`. What is not ready yet is retried with backoff, then left for the nightly run.
import type { Artifact, ArtifactKind } from '../artifacts.js';
import type { Clock } from '../clock.js';
import type { Destination } from '../destinations/types.js';
import { ZoomUnavailableError } from '../errors.js';
import { CLAIM_LEASE_MS, deliveringVia, keepLeases } from '../ledger/claims.js';
import type { InboxEntry, LeaseHolder, Ledger } from '../ledger/types.js';
import { planBatch, type DestinationScope } from '../plan.js';
import { pushArtifact, type PushContext } from '../push.js';
import type { TokenProvider } from '../zoom/auth.js';
import type { ZoomClient } from '../zoom/client.js';
import { classifyFlowEvent, classifyZoomEvent, parseFlowBody, parseJson, type Classified } from './events.js';
import type { ListenLog } from './log.js';
import { resolveWork } from './resolve.js';

export interface WorkerOptions {
  ledger: Ledger;
  zoom: ZoomClient;
  auth: TokenProvider;
  clock: Clock;
  timezone: string;
  destinations: readonly Destination[];
  scopes: readonly DestinationScope[];
  kinds: readonly ArtifactKind[];
  maxAttempts: number;
  pendingTimeoutMs: number;
  /** Entries handled at once. */
  concurrency: number;
  /** Wait before each retry of an entry that is not done; after the last one it is left for the nightly run. */
  retryDelaysMs: readonly number[];
  /** How often the holder's claims and inbox leases are renewed (tests); LEASE_RENEW_MS unless set. */
  leaseRenewMs?: number;
  holder: LeaseHolder;
  /** Aborted when the worker stops for good: downloads in flight are abandoned and handed back. */
  abort: AbortController;
  metrics: WorkerMetrics;
  /** Told how many entries are in hand whenever that changes (health, when the worker runs in its own thread). */
  onBusy?: (entries: number) => void;
  log: ListenLog;
}

/** What the worker counts; the listener's metrics, or a relay to them from the worker's thread. */
export interface WorkerMetrics {
  delivery(kind: string, outcome: string): void;
}

/** Drains the inbox: the worker itself, or its stand-in on the main thread when it runs in a thread of its own. */
export interface InboxDrain {
  start(): void;
  wake(): void;
  readonly busy: number;
  stop(graceMs: number): Promise<{ handedBack: number }>;
}

/** 5 s, 15 s, 30 s, 1, 2, 5, 10, 20 and 30 min: about 70 minutes for a recording to finish processing. */
export const DEFAULT_RETRY_DELAYS_MS = [5, 15, 30, 60, 120, 300, 600, 1200, 1800].map((seconds) => seconds * 1000);
/** Finished entries (deletions recorded, outcomes) are kept this long, then pruned. */
const INBOX_RETENTION_MS = 30 * 86_400_000;
const PRUNE_EVERY_MS = 6 * 3_600_000;
const IDLE_POLL_MS = 1000;

interface EntryOutcome {
  delivered: number;
  unchanged: number;
  /** Why the entry is not done yet: not ready, failed, claimed by another holder. */
  waiting: string[];
}

export class Worker implements InboxDrain {
  private readonly inflight = new Set<Promise<void>>();
  private readonly push: PushContext;
  private stopping = false;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private loopDone: Promise<void> | null = null;
  private stopKeepingLeases: (() => void) | null = null;
  /**
   * Entries whose handling threw (a ledger busy or full while it was settled), by id, with the error: still leased to
   * this holder, which takes none of its own leases again, so they are deferred as soon as the ledger lets us.
   */
  private readonly stranded = new Map<number, string>();

  constructor(private readonly options: WorkerOptions) {
    const { zoom, auth, ledger, clock, timezone, abort } = options;
    this.push = { zoom, auth, ledger: deliveringVia(ledger, 'event'), clock, timezone, signal: abort.signal };
  }

  start(): void {
    this.stopKeepingLeases ??= keepLeases(this.options.ledger, this.options.holder, this.options.clock, this.options.leaseRenewMs);
    this.loopDone ??= this.loop();
  }

  /** New entries are in the inbox (or a slot is free). A wake while the loop is busy is kept for its next sleep. */
  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  get busy(): number {
    return this.inflight.size;
  }

  /**
   * Stops taking entries, lets those in flight finish for up to `graceMs`, then abandons the rest and hands their
   * entries back to the inbox (the next start, or another worker, takes them again).
   */
  async stop(graceMs: number): Promise<{ handedBack: number }> {
    this.stopping = true;
    this.wake();
    await this.loopDone;
    const settled = Promise.allSettled([...this.inflight]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      settled.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.options.abort.abort();
      await settled;
    }
    this.stopKeepingLeases?.();
    return { handedBack: this.options.ledger.handBackInboxEntries(this.options.holder) };
  }

  private async loop(): Promise<void> {
    const { ledger, holder, clock, concurrency } = this.options;
    let prunedAt = 0;
    while (!this.stopping) {
      if (clock.now().getTime() - prunedAt > PRUNE_EVERY_MS) {
        prunedAt = clock.now().getTime();
        try {
          ledger.pruneInbox(iso(prunedAt - INBOX_RETENTION_MS));
        } catch (error) {
          this.options.log('warn', 'inbox_prune_failed', { error: (error as Error).message });
        }
      }
      const free = concurrency - this.inflight.size;
      if (free === 0) {
        // A task that finishes wakes the loop.
        await this.idle(IDLE_POLL_MS);
        continue;
      }
      const now = clock.now().getTime();
      this.deferStranded(now);
      let entries: InboxEntry[] = [];
      try {
        entries = ledger.takeInboxEntries(holder, iso(now), iso(now + CLAIM_LEASE_MS), free);
      } catch (error) {
        this.options.log('error', 'inbox_unreadable', { error: (error as Error).message });
      }
      for (const entry of entries) {
        this.track(
          this.handle(entry).catch((error: unknown) => {
            const message = (error as Error).message;
            this.options.log('error', 'inbox_entry_failed', { entry: entry.id, error: message });
            this.stranded.set(entry.id, message);
          }),
        );
      }
      if (entries.length === free) continue;
      await this.idle(this.untilNextDue(now));
    }
  }

  private deferStranded(now: number): void {
    for (const [id, error] of this.stranded) {
      try {
        this.options.ledger.deferInboxEntry(id, iso(now + (this.options.retryDelaysMs[0] ?? 0)), `not settled: ${error}`);
        this.stranded.delete(id);
      } catch {
        // Still unwritable: tried again on the next pass; its lease is renewed meanwhile, so nobody else takes it.
        return;
      }
    }
  }

  private track(task: Promise<void>): void {
    this.inflight.add(task);
    this.options.onBusy?.(this.inflight.size);
    void task.finally(() => {
      this.inflight.delete(task);
      this.options.onBusy?.(this.inflight.size);
      this.wake();
    });
  }

  /** How long until the next queued entry nobody holds is due, at most a second. */
  private untilNextDue(now: number): number {
    try {
      const next = this.options.ledger.inboxStatus().nextDueAt;
      return next ? Math.min(IDLE_POLL_MS, Math.max(Date.parse(next) - now, 5)) : IDLE_POLL_MS;
    } catch {
      // The loop reports ledger trouble when it takes entries.
      return IDLE_POLL_MS;
    }
  }

  /** Sleeps until woken (new event, a task done) or `wait` ms pass. */
  private async idle(wait: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = null;
  }

  private async handle(entry: InboxEntry): Promise<void> {
    const { ledger, clock, log } = this.options;
    const classified = classifyStored(entry);
    if (classified.outcome !== 'work') {
      ledger.finishInboxEntry(entry.id, `not handled (${classified.outcome})`, iso(clock.now().getTime()));
      return;
    }
    const { work } = classified;
    if (work.type === 'deletion') {
      // Recorded, not acted on: copies already delivered stay where they are.
      ledger.finishInboxEntry(entry.id, `deletion recorded: ${work.event} ${work.id}`, iso(clock.now().getTime()));
      log('info', 'deletion_recorded', { zoomEvent: work.event, id: work.id });
      return;
    }
    let outcome: EntryOutcome;
    try {
      const resolution = await resolveWork(this.options.zoom, work, clock);
      outcome = await this.deliver(resolution.artifacts.filter((artifact) => this.options.kinds.includes(artifact.kind)));
      outcome.waiting.push(...resolution.missing);
    } catch (error) {
      if (this.options.abort.signal.aborted) return;
      const reason = (error as Error).message;
      outcome = { delivered: 0, unchanged: 0, waiting: [error instanceof ZoomUnavailableError ? `Zoom unavailable: ${reason}` : reason] };
    }
    if (this.options.abort.signal.aborted) return;
    this.settle(entry, classified.event, outcome);
  }

  private settle(entry: InboxEntry, event: string, outcome: EntryOutcome): void {
    const { ledger, clock, retryDelaysMs, log } = this.options;
    const now = clock.now().getTime();
    const summary = `delivered ${outcome.delivered}, unchanged ${outcome.unchanged}`;
    if (outcome.waiting.length === 0) {
      ledger.finishInboxEntry(entry.id, summary, iso(now));
      return;
    }
    const reason = outcome.waiting.join('; ');
    const delay = retryDelaysMs[entry.attempts];
    if (delay !== undefined) {
      ledger.deferInboxEntry(entry.id, iso(now + delay), reason);
      log('info', 'event_retry', { zoomEvent: event, entry: entry.id, attempt: entry.attempts + 1, retryInMs: delay, reason });
      return;
    }
    ledger.finishInboxEntry(entry.id, `${summary}; left for the nightly run: ${reason}`, iso(now));
    log('warn', 'event_left_for_run', { zoomEvent: event, entry: entry.id, reason });
  }

  /** Plans the artifacts against the ledger exactly as a run does, then claims and pushes what needs pushing. */
  private async deliver(artifacts: Artifact[]): Promise<EntryOutcome> {
    const { ledger, clock, scopes, maxAttempts, pendingTimeoutMs, metrics } = this.options;
    const outcome: EntryOutcome = { delivered: 0, unchanged: 0, waiting: [] };
    if (artifacts.length === 0) return outcome;
    const now = clock.now().getTime();
    const states = ledger.rememberArtifacts(artifacts, iso(now), iso(now - pendingTimeoutMs));
    const keys = artifacts.map((artifact) => artifact.key);
    const deliveries = new Map(scopes.map((scope) => [scope.name, ledger.deliveryStates(scope.name, keys)]));
    for (const { artifact, destination, decision } of planBatch(artifacts, states, scopes, deliveries, maxAttempts)) {
      switch (decision.action) {
        case 'unchanged':
          outcome.unchanged++;
          metrics.delivery(artifact.kind, 'unchanged');
          break;
        case 'pending':
          outcome.waiting.push(`${artifact.key}: not ready at Zoom yet`);
          metrics.delivery(artifact.kind, 'pending');
          break;
        case 'not_available':
        case 'gave_up':
          metrics.delivery(artifact.kind, decision.action);
          break;
        case 'push':
          await this.claimAndPush(artifact, this.destination(destination), outcome);
          break;
      }
    }
    return outcome;
  }

  private async claimAndPush(artifact: Artifact, destination: Destination, outcome: EntryOutcome): Promise<void> {
    const { ledger, clock, holder, metrics, log } = this.options;
    const target = { destination: destination.name, key: artifact.key, fingerprint: artifact.fingerprint };
    const now = clock.now().getTime();
    const claim = ledger.claim(target, holder, 'event', iso(now), iso(now + CLAIM_LEASE_MS));
    if (claim === 'delivered') {
      outcome.unchanged++;
      metrics.delivery(artifact.kind, 'unchanged');
      return;
    }
    if (claim === 'held') {
      outcome.waiting.push(`${artifact.key} → ${destination.name}: being delivered by another holder`);
      metrics.delivery(artifact.kind, 'held');
      return;
    }
    try {
      const pushed = await pushArtifact(this.push, artifact, destination);
      if (this.options.abort.signal.aborted) return;
      if (pushed.ok) {
        outcome.delivered++;
        metrics.delivery(artifact.kind, 'delivered');
        log('info', 'artifact_delivered', { key: artifact.key, kind: artifact.kind, engagementId: artifact.engagementId, destination: destination.name, size: pushed.size, via: 'event' });
      } else {
        outcome.waiting.push(`${artifact.key} → ${destination.name}: ${pushed.error.message}`);
        metrics.delivery(artifact.kind, 'failed');
        log('warn', 'artifact_failed', { key: artifact.key, kind: artifact.kind, engagementId: artifact.engagementId, destination: destination.name, reason: pushed.error.message, via: 'event' });
      }
    } finally {
      ledger.release(target, holder);
    }
  }

  private destination(name: string): Destination {
    const found = this.options.destinations.find((destination) => destination.name === name);
    if (!found) throw new Error(`no destination named ${name}`);
    return found;
  }
}

function classifyStored(entry: InboxEntry): Classified {
  const body = parseJson(entry.body);
  if (entry.source === 'flow') {
    const flow = parseFlowBody(body);
    return 'refused' in flow ? { outcome: 'refused', reason: flow.refused } : classifyFlowEvent(flow, entry.receivedAt);
  }
  return classifyZoomEvent(body, entry.receivedAt);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
