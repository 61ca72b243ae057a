// The one interface the engine uses to talk to the ledger. SQLite implements it today; nothing above this file may
// depend on SQLite specifics (a PostgreSQL ledger is planned behind the same interface).
import type { Artifact, ArtifactKind, SourceName } from '../artifacts.js';

export type RunMode = 'run' | 'backfill' | 'dry-run';
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

export interface Ledger {
  /** Takes the run lock or throws LedgerLockedError; a lock left by a dead process on this host is taken over. */
  acquireRunLock(owner: { pid: number; host: string; startedAt: string }): void;
  releaseRunLock(): void;

  startRun(run: { mode: RunMode; windowFrom: string; windowTo: string; startedAt: string }): number;
  finishRun(id: number, result: { outcome: RunOutcome; listingComplete: boolean; counts: RunCounts; bytes: number; finishedAt: string }): void;
  /** Marks runs still "running" from a dead process as crashed. */
  markAbandonedRuns(): number;
  recentRuns(limit: number): RunRecord[];
  /** The latest window end of any earlier non-dry run whose listing completed. */
  lastListedWindowEnd(): string | null;

  /** Chunks already listed and pushed by the latest unfinished run over exactly this window (to resume a backfill). */
  resumableChunks(windowFrom: string, windowTo: string): Set<string>;
  markChunkDone(runId: number, source: SourceName, chunkId: string): void;

  /**
   * Records what the listings said about each artifact (descriptor for later retries, pending state) and returns each
   * one's state: an artifact pending since before `pendingCutoff` becomes not_available.
   */
  rememberArtifacts(artifacts: readonly Artifact[], now: string, pendingCutoff: string): Map<string, ArtifactState>;
  /** The recorded state of each key (dry runs, which remember nothing). */
  artifactStates(keys: readonly string[]): Map<string, ArtifactState>;
  markArtifactState(keys: readonly string[], state: 'ready' | 'pending' | 'not_available', now: string): void;
  /** Pending artifacts (to re-check even outside the window). */
  pendingArtifacts(): StoredArtifact[];
  /** Artifacts that failed at some destination with fewer than maxAttempts attempts. */
  retryableArtifacts(maxAttempts: number): StoredArtifact[];

  /** Set-based diff input: the delivery state of many keys at one destination in one lookup. */
  deliveryStates(destination: string, keys: readonly string[]): Map<string, DeliveryState>;
  recordDeliveries(deliveries: readonly Delivery[]): void;
  recordFailure(failure: { destination: string; key: string; error: string; at: string }): void;

  counts(): { artifacts: number; deliveries: number; failed: number; pending: number };
  close(): void;
}

export type { ArtifactKind };
