// The one interface the engine uses to talk to the ledger. SQLite implements it today; nothing above this file may
// depend on SQLite specifics (a PostgreSQL ledger is planned behind the same interface).
import type { Artifact, ArtifactKind, SourceName } from '../artifacts.js';

export type RunMode = 'run' | 'backfill' | 'dry-run';

/** What a run listed (its kinds) and where it delivered (each destination with the kinds it takes). */
export interface RunScope {
  kinds: readonly ArtifactKind[];
  destinations: readonly { name: string; kinds: readonly ArtifactKind[] }[];
}
export type RunOutcome = 'running' | 'ok' | 'failed' | 'incomplete' | 'interrupted' | 'crashed';

export interface RunCounts {
  [kind: string]: Partial<Record<'seen' | 'delivered' | 'unchanged' | 'pending' | 'not_available' | 'failed', number>>;
}

export interface RunRecord {
  id: number;
  mode: RunMode;
  windowFrom: string;
  windowTo: string;
  startedAt: string;
  finishedAt: string | null;
  outcome: RunOutcome;
  listingComplete: boolean;
  counts: RunCounts;
  bytes: number;
}

export interface DeliveryState {
  status: 'delivered' | 'failed';
  fingerprint: string | null;
  size: number | null;
  sha256: string | null;
  location: string | null;
  attempts: number;
  lastError: string | null;
  /** The version (fingerprint) whose pushes failed and are counted in `attempts`; null when unknown. */
  failedFingerprint: string | null;
}

export interface Delivery {
  destination: string;
  key: string;
  fingerprint: string;
  size: number;
  sha256: string;
  location: string;
  deliveredAt: string;
}

export type ArtifactState = 'ready' | 'pending' | 'not_available';

export interface StoredArtifact {
  artifact: Artifact;
  state: ArtifactState;
  pendingSince: string | null;
}

/** A set of keys the ledger keeps instead of the process's memory (a run's keys seen so far grow with its window). */
export interface KeySet {
  /** Adds `keys`; returns those that were not in the set before. */
  addNew(keys: readonly string[]): Set<string>;
  has(key: string): boolean;
}

export interface Ledger extends ListenLedger {
  /**
   * Takes the run lock or throws LedgerLockedError, and keeps its heartbeat fresh until released or closed. A lock left
   * by a dead process on this host, or whose heartbeat stopped (any host), is taken over.
   */
  acquireRunLock(owner: { pid: number; host: string; startedAt: string }): void;
  releaseRunLock(): void;

  startRun(run: { mode: RunMode; windowFrom: string; windowTo: string; startedAt: string; scope: RunScope }): number;
  finishRun(id: number, result: { outcome: RunOutcome; listingComplete: boolean; counts: RunCounts; bytes: number; finishedAt: string }): void;
  /** Marks runs still "running" from a dead process as crashed. */
  markAbandonedRuns(): number;
  recentRuns(limit: number): RunRecord[];
  /**
   * E, where the next default window starts (less the lookback): the end of the latest nightly run whose listing
   * completed and covered `kinds`, carried on by completed runs (backfills too) that begin at or before it, so a
   * backfill of a later range never skips the nights before it that could not list. With no such nightly run, the
   * latest end of any completed run that covered `kinds`. Runs from before scopes were recorded cover every kind.
   */
  lastListedWindowEnd(kinds: readonly ArtifactKind[]): string | null;

  /**
   * Where the first nightly run that covered `kinds` began its window, whatever its outcome: while no run has
   * completed a listing (the first nights could not reach Zoom), the next night starts there, not at now − lookback.
   */
  firstNightlyWindowStart(kinds: readonly ArtifactKind[]): string | null;

  /**
   * Chunks already listed and pushed by the unfinished backfills from the same start with the same scope since the
   * last one of them that finished (their end may differ: a backfill without --to ends at the time it ran; a chunk's
   * id names its own bounds). All of them, not the latest only: a retry that listed nothing (Zoom refused, a kill at
   * its start) must not throw away what the one before it finished.
   */
  resumableChunks(windowFrom: string, scope: RunScope): Set<string>;
  markChunkDone(runId: number, source: SourceName, chunkId: string): void;

  /**
   * Records what the listings said about each artifact (descriptor for later retries, pending state) and returns each
   * one's state: an artifact pending since before `pendingCutoff` becomes not_available.
   */
  rememberArtifacts(artifacts: readonly Artifact[], now: string, pendingCutoff: string): Map<string, ArtifactState>;
  /** What rememberArtifacts would return for these artifacts, writing nothing (dry runs). */
  previewArtifacts(artifacts: readonly Artifact[], pendingCutoff: string): Map<string, ArtifactState>;
  /** The recorded state of each key. */
  artifactStates(keys: readonly string[]): Map<string, ArtifactState>;
  markArtifactState(keys: readonly string[], state: 'ready' | 'pending' | 'not_available', now: string): void;
  /** Pending artifacts (to re-check even outside the window), read a page at a time as the caller iterates. */
  pendingArtifacts(): Iterable<StoredArtifact>;
  /**
   * Artifacts that failed at some destination with fewer than maxAttempts attempts, read a page at a time as the caller
   * iterates (the caller may write to the ledger between items); one failing at several destinations may come again.
   */
  retryableArtifacts(maxAttempts: number): Iterable<StoredArtifact>;

  /**
   * From now on this handle may hold deliveries, failures, releases and chunk checkpoints (in order) and commit them
   * together, at the latest a fraction of a second later, or at flush(), finishRun() or close(). A crash loses at most
   * that fraction of a second: its deliveries are pushed again by the next run (destination writes are idempotent by
   * key), and a released key looks held meanwhile. deliveryStates() and the pending and retryable walks commit them first.
   */
  groupWrites(): void;
  /** Commits the held writes now. */
  flush(): void;

  /** A new, empty key set, private to this ledger handle and gone when it closes (nothing is persisted). */
  scratchKeySet(): KeySet;

  /** Set-based diff input: the delivery state of many keys at one destination in one lookup. */
  deliveryStates(destination: string, keys: readonly string[]): Map<string, DeliveryState>;
  recordDeliveries(deliveries: readonly Delivery[]): void;
  /**
   * Records a failed push, to retry next run. `countsAsAttempt: false` when the destination, not the artifact, was
   * the problem (its credentials refused, its daily allowance spent): the artifact keeps its full set of attempts.
   */
  recordFailure(failure: { destination: string; key: string; error: string; at: string; fingerprint?: string; countsAsAttempt?: boolean }): void;

  counts(): { artifacts: number; deliveries: number; failed: number; pending: number };
  close(): void;

  // --- The operator's views: status, verify, doctor (read-mostly; requeueDeliveries is verify --repair's one write).
  /** Totals for `status`: artifacts by state, deliveries by outcome, overall and per kind. */
  ledgerSummary(maxAttempts: number): LedgerSummary;
  /** Failed deliveries, most attempts first, with their last error; `total` counts them all. */
  failingDeliveries(limit: number): { total: number; items: FailingDelivery[] };
  /** Artifacts pending since before `olderThan` (ISO), oldest first; `total` counts them all. */
  stalePending(olderThan: string, limit: number): { total: number; items: PendingArtifact[] };
  /** Bytes the ledger takes on disk, or null where that means nothing (a server database). */
  storageBytes(): number | null;
  /**
   * One page of delivered entries after `after`, the last entry of the previous page (keyset paging, for verify): in
   * (destination, key) order, or with a window in (destination, listed time) order.
   */
  deliveredPage(filter: DeliveredFilter, after: DeliveredCursor | null, limit: number): DeliveredEntry[];
  /** Turns delivered entries back into failed ones with no attempts spent, so the next run re-delivers them. */
  requeueDeliveries(entries: readonly { destination: string; key: string; reason: string }[], at: string): number;
  /** The schema version stored in the ledger and the latest this build knows. */
  schemaInfo(): { version: number; latest: number };
  /** Who holds the run lock, or null when nobody does (also when the lock was left by a holder that is gone). */
  runLockHolder(): { pid: number; host: string; startedAt: string } | null;
}

export interface LedgerSummary {
  artifacts: number;
  pending: number;
  notAvailable: number;
  delivered: number;
  /** Failed deliveries still retried by later runs (attempts < maxAttempts). */
  failing: number;
  /** Failed deliveries that reached maxAttempts and are no longer retried. */
  gaveUp: number;
  byKind: Record<string, { artifacts: number; pending: number; notAvailable: number; delivered: number; failing: number; gaveUp: number }>;
}

export interface FailingDelivery {
  destination: string;
  key: string;
  kind: string;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: string | null;
}

export interface PendingArtifact {
  key: string;
  kind: string;
  engagementId: string;
  listedAt: string;
  pendingSince: string;
}

export interface DeliveredFilter {
  destinations?: readonly string[];
  kinds?: readonly ArtifactKind[];
  /** Bounds on the artifact's listed time, [from, to). */
  from?: string;
  to?: string;
}

/** Where a page of delivered entries ends (a window's pages continue from the entry's listed time and artifact). */
export interface DeliveredCursor {
  destination: string;
  key: string;
  listedAt: string | null;
}

export interface DeliveredEntry extends DeliveredCursor {
  size: number | null;
  sha256: string | null;
  location: string | null;
  deliveredAt: string | null;
  /** The stored descriptor, or null when the ledger has none for the key. */
  artifact: Artifact | null;
}

export type { ArtifactKind };

// --- listen: the event inbox, per-key delivery claims, the path of each delivery, WebSocket gaps. `Ledger` extends
// this; a server database implements the same methods (leases instead of pid checks across hosts).

/** How a delivery came about: the real-time path (`listen`) or the nightly reconciliation (`run`). */
export type DeliveryVia = 'event' | 'reconcile';

/**
 * Who holds a claim or an inbox lease. A lease binds others until it runs out, and its holder renews it while alive;
 * a holder on this host whose process is gone holds nothing at once.
 */
export interface LeaseHolder {
  id: string;
  host: string;
  pid: number;
}

export type EventSource = 'webhook' | 'websocket' | 'flow';

export interface InboxEvent {
  source: EventSource;
  /** The event name (`contact_center.recording_completed`, or `flow` for flow scripts). */
  event: string;
  /** The verified body as received (webhooks, WebSocket) or as normalised (flow events). */
  body: string;
  receivedAt: string;
}

export interface InboxEntry extends InboxEvent {
  id: number;
  attempts: number;
}

export interface InboxStatus {
  /** Entries not finished yet (due now or deferred). */
  depth: number;
  lastReceivedAt: string | null;
  /** When the earliest queued entry nobody holds is due (now or later), if any. */
  nextDueAt: string | null;
}

export interface ClaimTarget {
  destination: string;
  key: string;
  fingerprint: string;
}

/**
 * `claimed`: the caller may push and must release. `held`: another live holder is pushing this key there now.
 * `delivered`: the ledger already has this fingerprint delivered there; nothing to do.
 */
export type ClaimResult = 'claimed' | 'held' | 'delivered';

export interface DeliveryPathCount {
  /** UTC day of the delivery, YYYY-MM-DD. */
  day: string;
  via: DeliveryVia;
  /** Distinct artifact keys delivered that day through that path (at any destination). */
  artifacts: number;
}

export interface WebsocketGap {
  subscriptionId: string;
  disconnectedAt: string;
  /** Null while the socket is still down (or the listener stopped before reconnecting). */
  reconnectedAt: string | null;
  reason: string | null;
}

export interface ListenLedger {
  /**
   * Stores accepted events in one transaction; once this returns they survive a crash of the process (WAL commit).
   * Not fsynced per commit: a power loss can lose the last moments, which the nightly run then covers.
   */
  enqueueEvents(events: readonly InboxEvent[]): void;
  /** Leases up to `limit` entries that are due and not held by a live holder, oldest first. */
  takeInboxEntries(holder: LeaseHolder, now: string, leaseUntil: string, limit: number): InboxEntry[];
  /** The entry is done (delivered, nothing to do, deletion recorded, or left for the nightly run). */
  finishInboxEntry(id: number, outcome: string, at: string): void;
  /** The entry goes back to the queue, due again at `retryAt`, with one more attempt counted. */
  deferInboxEntry(id: number, retryAt: string, error: string): void;
  /** Gives back every entry `holder` leased, unchanged (a stopping worker hands back its in-flight work). */
  handBackInboxEntries(holder: LeaseHolder): number;
  inboxStatus(): InboxStatus;
  /** Commits a write that leaves nothing behind; throws when the ledger cannot be written (health checks). */
  probeWrite(): void;
  /** Deletes finished entries finished before `finishedBefore` (the inbox is a queue, not an archive). */
  pruneInbox(finishedBefore: string): number;

  /** Claims one key at one destination before pushing it, so no two holders (listen, run) push it at once. */
  claim(target: ClaimTarget, holder: LeaseHolder, via: DeliveryVia, now: string, leaseUntil: string): ClaimResult;
  release(target: Pick<ClaimTarget, 'destination' | 'key'>, holder: LeaseHolder): void;
  /** Moves the end of every claim and inbox lease `holder` holds to `until` (a live holder keeps its leases). */
  renewLeases(holder: LeaseHolder, until: string): void;

  /** recordDeliveries, also recording which path delivered them. */
  recordDeliveriesVia(deliveries: readonly Delivery[], via: DeliveryVia): void;
  /** Per UTC day since `since` (ISO), how many artifacts each path delivered: events vs. the reconciliation. */
  deliveriesByPath(since: string): DeliveryPathCount[];

  /** A WebSocket subscription went down at `at`. */
  openWebsocketGap(subscriptionId: string, at: string, reason: string): void;
  /** The subscription is connected again: every open gap of it ends at `at`. */
  closeWebsocketGaps(subscriptionId: string, at: string): void;
  websocketGaps(since: string): WebsocketGap[];
}
