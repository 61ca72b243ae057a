// The SQLite ledger (better-sqlite3, WAL). Lookups and writes are set-based: one statement over a JSON array of keys,
// batches in one transaction.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ARTIFACT_KINDS, type Artifact, type ArtifactKind, type SourceName } from '../artifacts.js';
import { LedgerLockedError } from '../errors.js';
import { foreignLine } from '../foreign-text.js';
import { processAlive } from '../process-alive.js';
import { isRunHolder } from './claims.js';
import { migrate, SCHEMA_VERSION } from './schema.js';
import type {
  DeliveredCursor,
  DeliveredEntry,
  DeliveredFilter,
  FailingDelivery,
  LedgerSummary,
  PendingArtifact,
  Delivery,
  DeliveryState,
  ArtifactState,
  Ledger,
  RunCounts,
  RunMode,
  RunOutcome,
  RunRecord,
  RunScope,
  StoredArtifact,
  KeySet,
} from './types.js';
import type {
  ClaimResult,
  ClaimTarget,
  DeliveryPathCount,
  DeliveryVia,
  EventSource,
  InboxEntry,
  InboxEvent,
  InboxStatus,
  LeaseHolder,
  WebsocketGap,
} from './types.js';

interface RunRow {
  id: number;
  mode: RunMode;
  window_from: string;
  window_to: string;
  started_at: string;
  finished_at: string | null;
  outcome: RunOutcome;
  listing_complete: number;
  counts_json: string;
  bytes: number;
}

interface ArtifactRow {
  descriptor_json: string;
  state: StoredArtifact['state'];
  pending_since: string | null;
}

interface DeliveredRow {
  destination: string;
  key: string;
  size: number | null;
  sha256: string | null;
  location: string | null;
  delivered_at: string | null;
  listed_at: string | null;
  descriptor_json: string | null;
}

interface PagedArtifactRow extends ArtifactRow {
  cursor: number;
}

/**
 * Error text as the ledger keeps it: often another service's words (a CRM's answer), so secrets it echoes are removed
 * and control characters blanked before it is stored, where `status` would show it to anyone who can read the ledger.
 */
function storedText(text: string, max: number): string {
  return foreignLine(text, max);
}

/** Stored artifacts read per page when a run walks the pending or failing ones. */
const STORED_PAGE = 500;

/** Page cache per connection (KiB): the hot part of the key indexes of a million-row ledger, within the run's memory. */
const CACHE_KIB = 8192;

/**
 * Deferred writes (groupWrites): committed together after this long or this many, whichever comes first. Every commit
 * rewrites each page it touched, and the key indexes take random inserts, so a run committing release and delivery one
 * push at a time rewrote the same index pages over and over (100k pushes on a 1M-row ledger: claim + release + record
 * 9.3 s one by one, 5.2 s grouped). Only the writes are held: no transaction stays open, so another handle (a listener)
 * never waits longer than one commit for the lock.
 */
const GROUP_MS = 200;
const GROUP_WRITES = 2000;

/**
 * The run lock's holder refreshes its heartbeat this often; a lock whose heartbeat is older than the stale period is
 * free. Ten beats: a holder busy in one long synchronous step (a page of the diff) never looks gone.
 */
const RUN_LOCK_HEARTBEAT_MS = 30_000;
export const RUN_LOCK_STALE_MS = 10 * RUN_LOCK_HEARTBEAT_MS;

/** How long a statement waits for another connection's write lock before it fails with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;
/**
 * The same wait for the writes a caller is waiting on (an event's acknowledgement, a health probe): Zoom counts an
 * answer after 3 s as failed, so a 503 it retries later is better than a late 200, and the listener's loop is not held.
 */
const ANSWER_BUSY_TIMEOUT_MS = 2000;

/** Page cache of the TEMP schema (scratch key sets), KiB. */
const TEMP_CACHE_KIB = 2048;

/**
 * The engine's hot statements, one place (the ledger benchmark EXPLAINs exactly these). Query plans (EXPLAIN QUERY
 * PLAN, SQLite 3.53) on a ledger of 1M artifacts and 1M deliveries:
 *
 *   rememberedRows      SEARCH artifacts USING INDEX sqlite_autoindex_artifacts_1 (key=?)   -- per key of the page,
 *                       LIST SUBQUERY 1, SCAN json_each VIRTUAL TABLE INDEX 1:                 driven by json_each
 *   rememberArtifact    (an upsert: the conflict is found through the same unique index on key)
 *   artifactStates      SEARCH artifacts USING INDEX sqlite_autoindex_artifacts_1 (key=?), SCAN json_each
 *   deliveryStates      SEARCH deliveries USING INDEX sqlite_autoindex_deliveries_1 (destination=? AND key=?),
 *                       LIST SUBQUERY 1, SCAN json_each VIRTUAL TABLE INDEX 1:
 *   recordDelivery      (an upsert on the unique (destination, key) index)
 *   pendingArtifacts    SEARCH artifacts USING INDEX artifacts_pending (state=? AND rowid>?)   -- partial index, keyset
 *   retryableArtifacts  SEARCH d USING INDEX deliveries_failed (status=? AND attempts<?)   -- partial: failed only,
 *                       SEARCH a USING INDEX sqlite_autoindex_artifacts_1 (key=?), USE TEMP B-TREE FOR ORDER BY
 *                       (sorts the failed rows only)
 *   scratch key set     INSERT … SELECT value FROM json_each(?) ON CONFLICT DO NOTHING RETURNING key: SCAN json_each
 *                       into a TEMP WITHOUT ROWID table; has(): SEARCH temp.key_set_N USING PRIMARY KEY (key=?)
 *
 * No statement scans a table whose size grows with the ledger; each lookup costs O(page × log rows). What that costs
 * (2 cores, EPYC 2.6 GHz): a candidate is four B-tree descents (artifacts key index, artifacts row, deliveries
 * (destination, key) index, deliveries row). Profile of the ledger benchmark's diff (100k candidates, 1M rows; 2.8 s
 * sampled, 2026-11-25): rememberArtifacts 74 % (its COMMITs 32 %; the page read, 50k upserts and their descriptor JSON
 * 36 %; signatureOf 5 %), deliveryStates 19-22 %, planBatch 3 %. About 0.4-0.7 s of it is the fsyncs of the WAL
 * checkpoints that commits trigger (synchronous = OFF, or checkpointing from a second connection: diff 2.8-3.1 → 2.3-2.4 s,
 * record 1.6 → 1.0 s), and the rest is writing the 50k new or edited artifact rows (≈1.3 kB, random keys: batching
 * commits further saves little, each insert dirties its own index leaf).
 * Tried and measured, not kept: deliveries as a WITHOUT ROWID table on (destination, key) (one descent per lookup):
 * lookups no faster (the clustered tree of 300-byte rows built by random inserts is larger than index + heap), record
 * 100k 1.4 → 2.1-2.8 s, setup 51 → 60-67 s (branch ledger-experiment-without-rowid, with its migration and test).
 */
export const ENGINE_SQL = {
  rememberedRows: `SELECT key, state, pending_since, signature FROM artifacts WHERE key IN (SELECT value FROM json_each(?))`,
  rememberArtifact: `INSERT INTO artifacts (key, kind, engagement_id, listed_at, state, pending_since, first_seen, last_seen, signature, descriptor_json)
       VALUES (@key, @kind, @engagementId, @listedAt, @state, @pendingSince, @now, @now, @signature, @descriptor)
       ON CONFLICT (key) DO UPDATE SET
         listed_at = excluded.listed_at,
         state = CASE WHEN excluded.state = 'pending'
                           AND (artifacts.state = 'not_available' OR artifacts.pending_since < @cutoff) THEN 'not_available'
                      ELSE excluded.state END,
         pending_since = CASE WHEN excluded.state = 'pending' THEN coalesce(artifacts.pending_since, excluded.pending_since)
                              ELSE NULL END,
         last_seen = excluded.last_seen,
         signature = excluded.signature,
         descriptor_json = excluded.descriptor_json
       RETURNING state`,
  artifactStates: `SELECT key, state FROM artifacts WHERE key IN (SELECT value FROM json_each(?))`,
  deliveryStates: `SELECT key, status, fingerprint, size, sha256, location, attempts, last_error, failed_fingerprint FROM deliveries
         WHERE destination = ? AND key IN (SELECT value FROM json_each(?))`,
  recordDelivery: `INSERT INTO deliveries (destination, key, status, fingerprint, size, sha256, location, delivered_at, attempts, last_error, last_attempt_at)
       VALUES (@destination, @key, 'delivered', @fingerprint, @size, @sha256, @location, @deliveredAt, 0, NULL, @deliveredAt)
       ON CONFLICT (destination, key) DO UPDATE SET status = 'delivered', fingerprint = excluded.fingerprint,
         size = excluded.size, sha256 = excluded.sha256, location = excluded.location,
         delivered_at = excluded.delivered_at, attempts = 0, last_error = NULL, last_attempt_at = excluded.last_attempt_at,
         failed_fingerprint = NULL`,
  // Attempts add up while the same version fails; another version (an edited note) starts counting again.
  recordFailure: `INSERT INTO deliveries (destination, key, status, attempts, last_error, last_attempt_at, failed_fingerprint)
         VALUES (?, ?, 'failed', ?, ?, ?, ?)
         ON CONFLICT (destination, key) DO UPDATE SET status = 'failed',
           attempts = CASE WHEN excluded.failed_fingerprint IS NULL OR deliveries.failed_fingerprint IS NULL
                                OR deliveries.failed_fingerprint = excluded.failed_fingerprint
                           THEN deliveries.attempts + excluded.attempts ELSE excluded.attempts END,
           failed_fingerprint = coalesce(excluded.failed_fingerprint, deliveries.failed_fingerprint),
           last_error = excluded.last_error, last_attempt_at = excluded.last_attempt_at`,
  pendingArtifacts: `SELECT id AS cursor, descriptor_json, state, pending_since FROM artifacts
         WHERE state = 'pending' AND id > ? ORDER BY id LIMIT ?`,
  retryableArtifacts: `SELECT d.id AS cursor, a.descriptor_json, a.state, a.pending_since FROM deliveries d JOIN artifacts a ON a.key = d.key
         WHERE d.status = 'failed' AND d.attempts < ? AND d.id > ? ORDER BY d.id LIMIT ?`,
} as const;

interface RememberedRow {
  key: string;
  state: ArtifactState;
  pending_since: string | null;
  signature: string;
}

/**
 * What a listing says about an artifact that its stored row must follow: when it is equal, the row (and its descriptor)
 * is not rewritten. Engagement metadata alone (a renamed queue) is not in it: the stored descriptor keeps the first.
 */
function signatureOf(artifact: Artifact): string {
  const source = artifact.body?.type === 'download' ? artifact.body.url : artifact.body ? 'inline' : '';
  return [artifact.kind, artifact.state, artifact.fingerprint, artifact.listedAt, artifact.occurredAt, artifact.extension, artifact.contentType, artifact.engagementId, source].join('\n');
}

/**
 * The state an artifact keeps when listing it again changes nothing in its row (same signature, same state), or
 * null when the row must be written. Mirrors the CASEs of ENGINE_SQL.rememberArtifact.
 */
function unchangedState(row: RememberedRow, artifact: Artifact, signature: string, pendingCutoff: string): ArtifactState | null {
  if (row.signature !== signature) return null;
  if (artifact.state === 'ready') return row.state === 'ready' ? 'ready' : null;
  if (row.state === 'not_available') return 'not_available';
  return row.state === 'pending' && row.pending_since !== null && row.pending_since >= pendingCutoff ? 'pending' : null;
}

/** The state ENGINE_SQL.rememberArtifact gives an artifact listed with this state (its CASE, for a dry run). */
function stateAfterListing(row: RememberedRow | undefined, artifact: Artifact, pendingCutoff: string): ArtifactState {
  if (artifact.state !== 'pending' || !row) return artifact.state;
  return row.state === 'not_available' || (row.pending_since !== null && row.pending_since < pendingCutoff) ? 'not_available' : 'pending';
}

export interface OpenLedgerOptions {
  /** Open without writing anything (dry runs). A missing file is then an empty in-memory ledger. */
  readonly?: boolean;
  /**
   * With `readonly`: a ledger of an older schema is read through an upgraded copy in a temp folder (removed on close),
   * since the engine's statements need the current schema and a dry run must not upgrade the ledger itself.
   */
  currentSchema?: boolean;
}

export class SqliteLedger implements Ledger {
  /** Statements prepared once per connection, by their SQL text. */
  private readonly statements = new Map<string, Database.Statement>();

  private keySets = 0;
  /** Set while this connection holds the run lock: the holder and the timer that keeps its heartbeat fresh. */
  private lockOwner: { pid: number; host: string } | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private grouping = false;
  /** Writes held for the next commit, in order. */
  private deferred: (() => void)[] = [];
  private commitTimer: NodeJS.Timeout | null = null;
  /** A timed commit that failed; the next write or flush throws it (a timer has nobody to throw to). */
  private deferredFailure: Error | null = null;

  private constructor(
    private readonly db: Database.Database,
    private readonly onClose: () => void = () => {},
  ) {
    // Scratch tables (key sets) spill to a temp file beyond this, instead of growing with the window in memory.
    db.pragma(`temp.cache_size = -${TEMP_CACHE_KIB}`);
  }

  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  static open(file: string, options: OpenLedgerOptions = {}): SqliteLedger {
    if (options.readonly) {
      if (!existsSync(file)) {
        const memory = new Database(':memory:');
        migrate(memory);
        return new SqliteLedger(memory);
      }
      const db = new Database(file, { readonly: true, fileMustExist: true });
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const version = db.pragma('user_version', { simple: true }) as number;
      if (!options.currentSchema || version >= SCHEMA_VERSION) return new SqliteLedger(db);
      // VACUUM INTO reads a consistent snapshot (the WAL included) and writes a compact copy; memory stays flat.
      removeViewsOfDeadProcesses();
      const folder = mkdtempSync(path.join(tmpdir(), `${VIEW_PREFIX}${process.pid}-`));
      const copy = path.join(folder, 'ledger.sqlite');
      try {
        db.prepare('VACUUM INTO ?').run(copy);
        db.close();
        const upgraded = new Database(copy);
        migrate(upgraded);
        return new SqliteLedger(upgraded, () => rmSync(folder, { recursive: true, force: true }));
      } catch (error) {
        if (db.open) db.close();
        rmSync(folder, { recursive: true, force: true });
        throw error;
      }
    }
    mkdirSync(path.dirname(file), { recursive: true });
    // Created 0600 before SQLite sees it: the ledger names every artifact the company has.
    closeSync(openSync(file, 'a', 0o600));
    const db = new Database(file);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`cache_size = -${CACHE_KIB}`);
    // Checkpoint every ~40 MB of WAL instead of every 4 MB: a page written by many small commits is copied back once.
    db.pragma('wal_autocheckpoint = 10000');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return new SqliteLedger(db);
  }

  groupWrites(): void {
    this.grouping = true;
  }

  flush(): void {
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = null;
    const writes = this.deferred;
    this.deferred = [];
    if (writes.length > 0) this.db.transaction(() => writes.forEach((write) => write())).immediate();
    if (this.deferredFailure) {
      const failure = this.deferredFailure;
      this.deferredFailure = null;
      throw failure;
    }
  }

  /** A write that does not answer anything: held for the next grouped commit when writes are grouped. */
  private writeLater(write: () => void): void {
    if (this.deferredFailure) this.flush();
    if (!this.grouping) {
      this.db.transaction(write)();
      return;
    }
    this.deferred.push(write);
    if (this.deferred.length >= GROUP_WRITES) {
      this.flush();
      return;
    }
    this.commitTimer ??= setTimeout(() => {
      try {
        this.flush();
      } catch (error) {
        this.deferredFailure = error as Error;
      }
    }, GROUP_MS);
    this.commitTimer.unref();
  }

  acquireRunLock(owner: { pid: number; host: string; startedAt: string }): void {
    this.db.transaction(() => {
      const held = this.heldRunLock();
      if (held && !runLockStale(held, Date.now()) && !leftByEarlierSelf(held)) {
        throw new LedgerLockedError(
          `another run holds the ledger (pid ${held.pid} on ${held.host}, since ${held.started_at}); wait for it to finish`,
        );
      }
      // The holder that left the lock behind left its run marked running too.
      if (held) this.sql(`UPDATE runs SET outcome = 'crashed' WHERE outcome = 'running' AND pid = ? AND host = ?`).run(held.pid, held.host);
      this
        .sql('INSERT OR REPLACE INTO run_lock (id, pid, host, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?)')
        .run(owner.pid, owner.host, owner.startedAt, new Date().toISOString());
    }).immediate();
    this.lockOwner = owner;
    this.heartbeat = setInterval(() => this.beatRunLock(), RUN_LOCK_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  releaseRunLock(): void {
    const owner = this.lockOwner;
    this.stopHeartbeat();
    if (owner) this.sql('DELETE FROM run_lock WHERE id = 1 AND pid = ? AND host = ?').run(owner.pid, owner.host);
  }

  /** The lock's row as stored. A read-only view may open a ledger from before the heartbeat (schema 2): none then. */
  private heldRunLock(): RunLockRow | undefined {
    const heartbeat = this.schemaInfo().version >= 3 ? 'heartbeat_at' : 'NULL AS heartbeat_at';
    return this.sql(`SELECT pid, host, started_at, ${heartbeat} FROM run_lock WHERE id = 1`).get() as RunLockRow | undefined;
  }

  private beatRunLock(): void {
    if (!this.lockOwner) return;
    try {
      this
        .sql('UPDATE run_lock SET heartbeat_at = ? WHERE id = 1 AND pid = ? AND host = ?')
        .run(new Date().toISOString(), this.lockOwner.pid, this.lockOwner.host);
    } catch {
      // Busy past the timeout: the next beat tries again, well before the lock could look stale.
    }
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.lockOwner = null;
  }

  startRun(run: { mode: RunMode; windowFrom: string; windowTo: string; startedAt: string; scope: RunScope }): number {
    const result = this
      .sql(
        `INSERT INTO runs (mode, window_from, window_to, started_at, outcome, pid, host, scope_json)
         VALUES (?, ?, ?, ?, 'running', ?, ?, ?)`,
      )
      .run(run.mode, run.windowFrom, run.windowTo, run.startedAt, process.pid, hostname(), scopeText(run.scope));
    return Number(result.lastInsertRowid);
  }

  finishRun(id: number, result: { outcome: RunOutcome; listingComplete: boolean; counts: RunCounts; bytes: number; finishedAt: string }): void {
    // A run recorded as finished has every delivery of it recorded.
    this.flush();
    this
      .sql(
        `UPDATE runs SET outcome = ?, listing_complete = ?, counts_json = ?, bytes = ?, finished_at = ? WHERE id = ?`,
      )
      .run(result.outcome, result.listingComplete ? 1 : 0, JSON.stringify(result.counts), result.bytes, result.finishedAt, id);
  }

  markAbandonedRuns(): number {
    // Called holding the run lock: no other run can be going, so one still "running" is one that died (whatever its
    // pid is now: a container restarts under the same one).
    if (!this.lockOwner) throw new Error('markAbandonedRuns needs the run lock');
    return this.sql(`UPDATE runs SET outcome = 'crashed' WHERE outcome = 'running'`).run().changes;
  }

  recentRuns(limit: number): RunRecord[] {
    const rows = this.sql('SELECT * FROM runs ORDER BY id DESC LIMIT ?').all(limit) as RunRow[];
    return rows.map((row) => ({
      id: row.id,
      mode: row.mode,
      windowFrom: row.window_from,
      windowTo: row.window_to,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      outcome: row.outcome,
      listingComplete: row.listing_complete === 1,
      counts: JSON.parse(row.counts_json) as RunCounts,
      bytes: row.bytes,
    }));
  }

  lastListedWindowEnd(kinds: readonly ArtifactKind[]): string | null {
    // One row per night and per backfill: read whole, ordered by start.
    const complete = (
      this
        .sql(`SELECT mode, window_from, window_to, scope_json FROM runs WHERE listing_complete = 1 AND mode != 'dry-run' ORDER BY window_from`)
        .all() as { mode: RunMode; window_from: string; window_to: string; scope_json: string | null }[]
    ).filter((run) => listedEvery(run.scope_json, kinds));
    const latestEnd = (runs: typeof complete) => runs.reduce<string | null>((end, run) => (end === null || run.window_to > end ? run.window_to : end), null);
    let end = latestEnd(complete.filter((run) => run.mode === 'run'));
    if (end === null) return latestEnd(complete);
    for (const run of complete) if (run.window_from <= end && run.window_to > end) end = run.window_to;
    return end;
  }

  firstNightlyWindowStart(kinds: readonly ArtifactKind[]): string | null {
    // Read only while no run has completed a listing: a few rows.
    const nights = this.sql(`SELECT window_from, scope_json FROM runs WHERE mode = 'run' ORDER BY window_from`).all() as {
      window_from: string;
      scope_json: string | null;
    }[];
    return nights.find((night) => listedEvery(night.scope_json, kinds))?.window_from ?? null;
  }

  resumableChunks(windowFrom: string, scope: RunScope): Set<string> {
    const rows = this
      .sql(
        `SELECT DISTINCT c.source, c.chunk_id FROM chunks c JOIN runs r ON r.id = c.run_id
         WHERE r.window_from = @from AND r.mode = 'backfill' AND r.scope_json = @scope AND r.outcome NOT IN ('running', 'ok', 'failed')
           AND r.id > coalesce((SELECT max(id) FROM runs WHERE window_from = @from AND mode = 'backfill' AND scope_json = @scope
                                 AND outcome IN ('ok', 'failed')), 0)`,
      )
      .all({ from: windowFrom, scope: scopeText(scope) }) as { source: string; chunk_id: string }[];
    return new Set(rows.map((row) => `${row.source}:${row.chunk_id}`));
  }

  markChunkDone(runId: number, source: SourceName, chunkId: string): void {
    // Held like the deliveries before it, so a chunk is never recorded done ahead of what was delivered in it.
    this.writeLater(() => this.sql('INSERT OR IGNORE INTO chunks (run_id, source, chunk_id) VALUES (?, ?, ?)').run(runId, source, chunkId));
  }

  rememberArtifacts(artifacts: readonly Artifact[], now: string, pendingCutoff: string): Map<string, ArtifactState> {
    const states = new Map<string, ArtifactState>();
    this.db.transaction(() => {
      // One read for the page; an artifact listed again unchanged (every night, for the lookback) is not rewritten.
      const stored = new Map(
        (this.sql(ENGINE_SQL.rememberedRows).all(JSON.stringify(artifacts.map((artifact) => artifact.key))) as RememberedRow[]).map(
          (row) => [row.key, row],
        ),
      );
      const upsert = this.sql(ENGINE_SQL.rememberArtifact);
      for (const artifact of artifacts) {
        const signature = signatureOf(artifact);
        const row = stored.get(artifact.key);
        const kept = row ? unchangedState(row, artifact, signature, pendingCutoff) : null;
        if (kept) {
          states.set(artifact.key, kept);
          continue;
        }
        const written = upsert.get({
          key: artifact.key,
          kind: artifact.kind,
          engagementId: artifact.engagementId,
          listedAt: artifact.listedAt,
          state: artifact.state,
          pendingSince: artifact.state === 'pending' ? now : null,
          now,
          cutoff: pendingCutoff,
          signature,
          descriptor: JSON.stringify(artifact),
        }) as { state: ArtifactState };
        states.set(artifact.key, written.state);
      }
    })();
    return states;
  }

  previewArtifacts(artifacts: readonly Artifact[], pendingCutoff: string): Map<string, ArtifactState> {
    const stored = new Map(
      (this.sql(ENGINE_SQL.rememberedRows).all(JSON.stringify(artifacts.map((artifact) => artifact.key))) as RememberedRow[]).map(
        (row) => [row.key, row],
      ),
    );
    return new Map(artifacts.map((artifact) => [artifact.key, stateAfterListing(stored.get(artifact.key), artifact, pendingCutoff)]));
  }

  artifactStates(keys: readonly string[]): Map<string, ArtifactState> {
    const rows = this
      .sql(ENGINE_SQL.artifactStates)
      .all(JSON.stringify(keys)) as { key: string; state: ArtifactState }[];
    return new Map(rows.map((row) => [row.key, row.state]));
  }

  markArtifactState(keys: readonly string[], state: 'ready' | 'pending' | 'not_available', now: string): void {
    this
      .sql(
        `UPDATE artifacts SET state = ?, last_seen = ? WHERE key IN (SELECT value FROM json_each(?))`,
      )
      .run(state, now, JSON.stringify(keys));
  }

  *pendingArtifacts(): Generator<StoredArtifact> {
    this.flush();
    yield* this.pages((after) => this.sql(ENGINE_SQL.pendingArtifacts).all(after, STORED_PAGE) as PagedArtifactRow[]);
  }

  *retryableArtifacts(maxAttempts: number): Generator<StoredArtifact> {
    this.flush();
    yield* this.pages((after) => this.sql(ENGINE_SQL.retryableArtifacts).all(maxAttempts, after, STORED_PAGE) as PagedArtifactRow[]);
  }

  /** Keyset paging: each page is read whole before its items are yielded, so no statement stays open in between. */
  private *pages(page: (after: number) => PagedArtifactRow[]): Generator<StoredArtifact> {
    for (let after = 0; ; ) {
      const rows = page(after);
      for (const row of rows) yield toStoredArtifact(row);
      if (rows.length < STORED_PAGE) return;
      after = rows[rows.length - 1]!.cursor;
    }
  }

  scratchKeySet(): KeySet {
    // A TEMP table lives in this connection's temp file: invisible to other connections, dropped on close.
    const table = `temp.key_set_${++this.keySets}`;
    this.db.exec(`CREATE TABLE ${table} (key TEXT PRIMARY KEY) WITHOUT ROWID`);
    const add = this.db
      .prepare(`INSERT INTO ${table} (key) SELECT value FROM json_each(?) WHERE true ON CONFLICT DO NOTHING RETURNING key`)
      .pluck();
    const has = this.db.prepare(`SELECT 1 FROM ${table} WHERE key = ?`).pluck();
    return {
      addNew: (keys) => (keys.length === 0 ? new Set() : new Set(add.all(JSON.stringify(keys)) as string[])),
      has: (key) => has.get(key) !== undefined,
    };
  }

  deliveryStates(destination: string, keys: readonly string[]): Map<string, DeliveryState> {
    this.flush();
    const rows = this
      .sql(ENGINE_SQL.deliveryStates)
      .all(destination, JSON.stringify(keys)) as {
      key: string;
      status: 'delivered' | 'failed';
      fingerprint: string | null;
      size: number | null;
      sha256: string | null;
      location: string | null;
      attempts: number;
      last_error: string | null;
      failed_fingerprint: string | null;
    }[];
    return new Map(
      rows.map((row) => [
        row.key,
        {
          status: row.status,
          fingerprint: row.fingerprint,
          size: row.size,
          sha256: row.sha256,
          location: row.location,
          attempts: row.attempts,
          lastError: row.last_error,
          failedFingerprint: row.failed_fingerprint,
        },
      ]),
    );
  }

  recordDeliveries(deliveries: readonly Delivery[]): void {
    const upsert = this.sql(ENGINE_SQL.recordDelivery);
    const rows = [...deliveries];
    this.writeLater(() => rows.forEach((delivery) => upsert.run(delivery)));
  }

  recordFailure(failure: { destination: string; key: string; error: string; at: string; fingerprint?: string; countsAsAttempt?: boolean }): void {
    // A failed re-delivery of an edited note keeps the earlier copy's record: it is still delivered, just stale.
    const statement = this.sql(ENGINE_SQL.recordFailure);
    const attempts = failure.countsAsAttempt === false ? 0 : 1;
    this.writeLater(() => statement.run(failure.destination, failure.key, attempts, storedText(failure.error, 2000), failure.at, failure.fingerprint ?? null));
  }

  counts(): { artifacts: number; deliveries: number; failed: number; pending: number } {
    const row = this
      .sql(
        `SELECT (SELECT count(*) FROM artifacts) AS artifacts,
                (SELECT count(*) FROM deliveries WHERE status = 'delivered') AS deliveries,
                (SELECT count(*) FROM deliveries WHERE status = 'failed') AS failed,
                (SELECT count(*) FROM artifacts WHERE state = 'pending') AS pending`,
      )
      .get() as { artifacts: number; deliveries: number; failed: number; pending: number };
    return row;
  }

  close(): void {
    this.stopHeartbeat();
    try {
      if (this.db.open) this.flush();
    } finally {
      if (this.db.open) this.db.close();
      this.onClose();
    }
  }

  // --- The operator's views (status, verify, doctor). Kept apart from the engine's methods above on purpose.

  /**
   * Counts per kind without reading a descriptor or sorting a million rows. A key starts with its kind, so one kind's
   * keys are the range [`kind/`, `kind0`) of the key indexes ('0' follows '/'), counted by
   * SEARCH artifacts USING COVERING INDEX sqlite_autoindex_artifacts_1 (key>? AND key<?) (the same on deliveries, per
   * destination); the few rows pending, not available or failed come from their partial indexes. A GROUP BY over the
   * tables read every ~1.3 kB row instead (1M artifacts: 3.1-3.5 s; these: 0.3 s).
   */
  ledgerSummary(maxAttempts: number): LedgerSummary {
    const kindOf = `substr(key, 1, instr(key, '/') - 1)`;
    const countArtifacts = this.sql(`SELECT count(*) FROM artifacts WHERE key >= ? AND key < ?`).pluck();
    const countDeliveries = this.sql(`SELECT count(*) FROM deliveries WHERE destination = ? AND key >= ? AND key < ?`).pluck();
    const destinations = this.deliveryDestinations();
    const totals = ARTIFACT_KINDS.map((kind) => {
      const range = [`${kind}/`, `${kind}0`] as const;
      const delivered = destinations.reduce((sum, destination) => sum + (countDeliveries.get(destination, ...range) as number), 0);
      return { kind, artifacts: countArtifacts.get(...range) as number, deliveries: delivered };
    });
    const waiting = this
      .sql(
        `SELECT ${kindOf} AS kind, 'pending' AS state, count(*) AS n FROM artifacts WHERE state = 'pending' GROUP BY 1
         UNION ALL
         SELECT ${kindOf} AS kind, 'not_available' AS state, count(*) AS n FROM artifacts WHERE state = 'not_available' GROUP BY 1`,
      )
      .all() as { kind: string; state: string; n: number }[];
    const failed = this
      .sql(
        `SELECT ${kindOf} AS kind, sum(attempts < @max) AS failing, sum(attempts >= @max) AS gaveUp
         FROM deliveries WHERE status = 'failed' GROUP BY 1`,
      )
      .all({ max: maxAttempts }) as { kind: string; failing: number; gaveUp: number }[];
    const failedByKind = new Map(failed.map((row) => [row.kind, row]));
    // A delivery row is either delivered or failed: delivered = all − failed.
    const deliveryRows = totals
      .filter(({ deliveries }) => deliveries > 0)
      .map(({ kind, deliveries }) => {
        const { failing = 0, gaveUp = 0 } = failedByKind.get(kind) ?? {};
        return { kind, delivered: deliveries - failing - gaveUp, failing, gaveUp };
      });
    const summary: LedgerSummary = { artifacts: 0, pending: 0, notAvailable: 0, delivered: 0, failing: 0, gaveUp: 0, byKind: {} };
    const row = (kind: string) =>
      (summary.byKind[kind] ??= { artifacts: 0, pending: 0, notAvailable: 0, delivered: 0, failing: 0, gaveUp: 0 });
    for (const { kind, artifacts } of totals.filter((total) => total.artifacts > 0)) {
      row(kind).artifacts += artifacts;
      summary.artifacts += artifacts;
    }
    for (const { kind, state, n } of waiting) {
      const entry = row(kind);
      if (state === 'pending') {
        entry.pending += n;
        summary.pending += n;
      } else if (state === 'not_available') {
        entry.notAvailable += n;
        summary.notAvailable += n;
      }
    }
    for (const { kind, delivered, failing, gaveUp } of deliveryRows) {
      const entry = row(kind);
      entry.delivered += delivered;
      entry.failing += failing;
      entry.gaveUp += gaveUp;
      summary.delivered += delivered;
      summary.failing += failing;
      summary.gaveUp += gaveUp;
    }
    return summary;
  }

  failingDeliveries(limit: number): { total: number; items: FailingDelivery[] } {
    const { total } = this.sql(`SELECT count(*) AS total FROM deliveries WHERE status = 'failed'`).get() as { total: number };
    const rows = this
      .sql(
        `SELECT destination, key, substr(key, 1, instr(key, '/') - 1) AS kind, attempts, last_error, last_attempt_at
         FROM deliveries WHERE status = 'failed' ORDER BY attempts DESC, last_attempt_at DESC, key LIMIT ?`,
      )
      .all(limit) as { destination: string; key: string; kind: string; attempts: number; last_error: string | null; last_attempt_at: string | null }[];
    return {
      total,
      items: rows.map((r) => ({
        destination: r.destination,
        key: r.key,
        kind: r.kind,
        attempts: r.attempts,
        lastError: r.last_error,
        lastAttemptAt: r.last_attempt_at,
      })),
    };
  }

  stalePending(olderThan: string, limit: number): { total: number; items: PendingArtifact[] } {
    const where = `state = 'pending' AND pending_since < ?`;
    const { total } = this.sql(`SELECT count(*) AS total FROM artifacts WHERE ${where}`).get(olderThan) as { total: number };
    const rows = this
      .sql(
        `SELECT key, kind, engagement_id, listed_at, pending_since FROM artifacts WHERE ${where}
         ORDER BY pending_since, key LIMIT ?`,
      )
      .all(olderThan, limit) as { key: string; kind: string; engagement_id: string; listed_at: string; pending_since: string }[];
    return {
      total,
      items: rows.map((r) => ({ key: r.key, kind: r.kind, engagementId: r.engagement_id, listedAt: r.listed_at, pendingSince: r.pending_since })),
    };
  }

  storageBytes(): number | null {
    const file = this.db.name;
    if (!file || file === ':memory:' || !existsSync(file)) return null;
    const size = (name: string) => (existsSync(name) ? statSync(name).size : 0);
    return size(file) + size(`${file}-wal`);
  }

  /**
   * Delivered entries in pages. Without a window: every delivery in (destination, key) order. With a window (from or
   * to), per destination the window's artifacts in (listed_at, id) order, through the artifacts_listed index (CROSS
   * JOIN keeps artifacts the outer loop; left to itself the planner walked a destination's every delivery)
   * (SEARCH a USING INDEX artifacts_listed ((listed_at,rowid)>(?,?) AND listed_at<?), SEARCH d USING INDEX
   * sqlite_autoindex_deliveries_1 (destination=? AND key=?)): a night's verify reads that night, not the whole ledger
   * (a one-day window of a 1M-row ledger took over 120 s when every delivery was read).
   */
  deliveredPage(filter: DeliveredFilter, after: DeliveredCursor | null, limit: number): DeliveredEntry[] {
    const kinds = filter.kinds ? JSON.stringify(filter.kinds) : null;
    let rows: DeliveredRow[];
    if (filter.from === undefined && filter.to === undefined) {
      rows = this
        .sql(
          `SELECT d.destination, d.key, d.size, d.sha256, d.location, d.delivered_at, a.listed_at, a.descriptor_json
           FROM deliveries d LEFT JOIN artifacts a ON a.key = d.key
           WHERE d.status = 'delivered'
             AND (@afterDestination IS NULL OR (d.destination, d.key) > (@afterDestination, @afterKey))
             AND (@destinations IS NULL OR d.destination IN (SELECT value FROM json_each(@destinations)))
             AND (@kinds IS NULL OR substr(d.key, 1, instr(d.key, '/') - 1) IN (SELECT value FROM json_each(@kinds)))
           ORDER BY d.destination, d.key LIMIT @limit`,
        )
        .all({
          afterDestination: after?.destination ?? null,
          afterKey: after?.key ?? null,
          destinations: filter.destinations ? JSON.stringify(filter.destinations) : null,
          kinds,
          limit,
        }) as DeliveredRow[];
    } else {
      const inWindow = this.sql(
        `SELECT d.destination, d.key, d.size, d.sha256, d.location, d.delivered_at, a.listed_at, a.descriptor_json
         FROM artifacts a CROSS JOIN deliveries d ON d.destination = @destination AND d.key = a.key
         WHERE (a.listed_at, a.id) > (@afterListedAt, @afterId) AND a.listed_at < @to
           AND d.status = 'delivered'
           AND (@kinds IS NULL OR substr(a.key, 1, instr(a.key, '/') - 1) IN (SELECT value FROM json_each(@kinds)))
         ORDER BY a.listed_at, a.id LIMIT @limit`,
      );
      const destinations = (filter.destinations ? [...new Set(filter.destinations)].sort() : this.deliveryDestinations()).filter(
        (destination) => after === null || destination >= after.destination,
      );
      rows = [];
      for (const destination of destinations) {
        const resume = after !== null && destination === after.destination;
        rows.push(
          ...(inWindow.all({
            destination,
            to: filter.to ?? '\uffff',
            // (from, 0) is before every artifact listed at `from`: the first page starts at the window's start.
            afterListedAt: resume ? (after.listedAt ?? '') : (filter.from ?? ''),
            afterId: resume ? this.artifactId(after.key) : 0,
            kinds,
            limit: limit - rows.length,
          }) as DeliveredRow[]),
        );
        if (rows.length >= limit) break;
      }
    }
    return rows.map((r) => ({
      destination: r.destination,
      key: r.key,
      size: r.size,
      sha256: r.sha256,
      location: r.location,
      deliveredAt: r.delivered_at,
      listedAt: r.listed_at,
      artifact: r.descriptor_json === null ? null : (JSON.parse(r.descriptor_json) as Artifact),
    }));
  }

  private artifactId(key: string): number {
    return (this.sql(`SELECT id FROM artifacts WHERE key = ?`).pluck().get(key) as number | undefined) ?? 0;
  }

  /** The destinations with deliveries, in order, one index probe each (not a scan of the deliveries). */
  private deliveryDestinations(): string[] {
    const next = this.sql(`SELECT min(destination) FROM deliveries WHERE destination > ?`).pluck();
    const destinations: string[] = [];
    for (let current = next.get('') as string | null; current !== null; current = next.get(current) as string | null) destinations.push(current);
    return destinations;
  }

  requeueDeliveries(entries: readonly { destination: string; key: string; reason: string }[], at: string): number {
    // attempts = 0: a file lost at the destination is not the artifact's fault, so it gets its full retry budget.
    const update = this.sql(
      `UPDATE deliveries SET status = 'failed', attempts = 0, last_error = ?, last_attempt_at = ?
       WHERE destination = ? AND key = ? AND status = 'delivered'`,
    );
    let changed = 0;
    this.db.transaction(() => {
      for (const entry of entries) changed += update.run(storedText(entry.reason, 2000), at, entry.destination, entry.key).changes;
    })();
    return changed;
  }

  schemaInfo(): { version: number; latest: number } {
    return { version: this.db.pragma('user_version', { simple: true }) as number, latest: SCHEMA_VERSION };
  }

  /** The run holding the lock now, or null: a lock its holder left behind (dead, or silent too long) is held by nobody. */
  runLockHolder(): { pid: number; host: string; startedAt: string } | null {
    const held = this.heldRunLock();
    if (!held || runLockStale(held, Date.now())) return null;
    return { pid: held.pid, host: held.host, startedAt: held.started_at };
  }

  // --- listen: event inbox, claims, delivery paths, WebSocket gaps (the ListenLedger half of the interface).

  /**
   * This connection stops checkpointing the WAL, so its commits never wait for a sync to disk; another connection to
   * the same file (the listener's worker thread) keeps checkpointing. SQLite only: not part of the Ledger interface.
   */
  leaveCheckpointsToOthers(): void {
    this.db.pragma('wal_autocheckpoint = 0');
  }

  enqueueEvents(events: readonly InboxEvent[]): void {
    const insert = this.sql(
      // Due at once: not_before orders the queue (the partial index), so taking entries never sorts the table.
      `INSERT INTO event_inbox (source, event, body, received_at, not_before) VALUES (@source, @event, @body, @receivedAt, @receivedAt)`,
    );
    this.answering(() => this.db.transaction(() => events.forEach((event) => insert.run(event))).immediate());
  }

  takeInboxEntries(holder: LeaseHolder, now: string, leaseUntil: string, limit: number): InboxEntry[] {
    return this.db.transaction(() => {
      const candidates = this
        .sql(
          `SELECT id, source, event, body, received_at, attempts, lease_owner, lease_host, lease_pid, lease_until
           FROM event_inbox WHERE state = 'queued' AND not_before <= ? ORDER BY not_before, id LIMIT ?`,
        )
        .all(now, Math.max(limit * 4, 16)) as InboxRow[];
      // An entry this holder leased is in its hands already; one a live other holder leased is in theirs.
      const free = (row: InboxRow) => row.lease_owner !== holder.id && !leaseLive(row.lease_owner, row.lease_host, row.lease_pid, row.lease_until, holder, now);
      const taken = candidates.filter(free).slice(0, limit);
      const lease = this.sql(
        `UPDATE event_inbox SET lease_owner = ?, lease_host = ?, lease_pid = ?, lease_until = ? WHERE id = ?`,
      );
      for (const row of taken) lease.run(holder.id, holder.host, holder.pid, leaseUntil, row.id);
      return taken.map((row) => ({
        id: row.id,
        source: row.source,
        event: row.event,
        body: row.body,
        receivedAt: row.received_at,
        attempts: row.attempts,
      }));
    }).immediate();
  }

  finishInboxEntry(id: number, outcome: string, at: string): void {
    this
      .sql(
        `UPDATE event_inbox SET state = 'done', outcome = ?, finished_at = ?, lease_owner = NULL, lease_host = NULL,
           lease_pid = NULL, lease_until = NULL WHERE id = ?`,
      )
      .run(storedText(outcome, 2000), at, id);
  }

  deferInboxEntry(id: number, retryAt: string, error: string): void {
    this
      .sql(
        `UPDATE event_inbox SET attempts = attempts + 1, not_before = ?, last_error = ?, lease_owner = NULL,
           lease_host = NULL, lease_pid = NULL, lease_until = NULL WHERE id = ?`,
      )
      .run(retryAt, storedText(error, 2000), id);
  }

  handBackInboxEntries(holder: LeaseHolder): number {
    return this
      .sql(
        `UPDATE event_inbox SET lease_owner = NULL, lease_host = NULL, lease_pid = NULL, lease_until = NULL
         WHERE state = 'queued' AND lease_owner = ?`,
      )
      .run(holder.id).changes;
  }

  inboxStatus(): InboxStatus {
    const row = this
      .sql(
        `SELECT (SELECT count(*) FROM event_inbox WHERE state = 'queued') AS depth,
                (SELECT received_at FROM event_inbox ORDER BY id DESC LIMIT 1) AS lastReceivedAt,
                (SELECT min(not_before) FROM event_inbox WHERE state = 'queued' AND lease_owner IS NULL) AS nextDueAt`,
      )
      .get() as InboxStatus;
    return row;
  }

  probeWrite(): void {
    // A no-op UPDATE dirties no page and commits nothing: this one writes the table's page to the WAL.
    this.answering(() =>
      this.db.transaction(() => {
        const probe = this
          .sql(`INSERT INTO event_inbox (source, event, body, received_at, state) VALUES ('flow', 'healthz-probe', '', '', 'done')`)
          .run();
        this.sql('DELETE FROM event_inbox WHERE id = ?').run(probe.lastInsertRowid);
      }).immediate(),
    );
  }

  /** Runs a write someone is waiting on with the shorter busy timeout. */
  private answering<T>(write: () => T): T {
    this.db.pragma(`busy_timeout = ${ANSWER_BUSY_TIMEOUT_MS}`);
    try {
      return write();
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  pruneInbox(finishedBefore: string): number {
    return this.db.prepare(`DELETE FROM event_inbox WHERE state = 'done' AND finished_at < ?`).run(finishedBefore).changes;
  }

  claim(target: ClaimTarget, holder: LeaseHolder, via: DeliveryVia, now: string, leaseUntil: string): ClaimResult {
    return this.db.transaction((): ClaimResult => {
      const held = this
        .sql('SELECT owner, host, pid, lease_until FROM claims WHERE destination = ? AND key = ?')
        .get(target.destination, target.key) as { owner: string; host: string; pid: number; lease_until: string } | undefined;
      // Not re-entrant: the same holder pushing the same key from two tasks at once is exactly what claims prevent.
      // A run claims only while it holds the run lock, which one run holds at a time: another run's claim was left by
      // one that ended without releasing it (killed, perhaps under this very pid: a container restarted at once).
      const leftByEndedRun = isRunHolder(holder.id) && held !== undefined && isRunHolder(held.owner) && held.owner !== holder.id;
      if (held && (held.owner === holder.id || (!leftByEndedRun && leaseLive(held.owner, held.host, held.pid, held.lease_until, holder, now)))) return 'held';
      // Re-read under the claim: another holder may have delivered this fingerprint since the caller planned.
      const delivered = this
        .sql(`SELECT fingerprint FROM deliveries WHERE destination = ? AND key = ? AND status = 'delivered'`)
        .get(target.destination, target.key) as { fingerprint: string | null } | undefined;
      if (delivered && delivered.fingerprint === target.fingerprint) return 'delivered';
      this
        .sql(
          `INSERT OR REPLACE INTO claims (destination, key, owner, host, pid, via, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(target.destination, target.key, holder.id, holder.host, holder.pid, via, leaseUntil);
      return 'claimed';
    }).immediate();
  }

  release(target: Pick<ClaimTarget, 'destination' | 'key'>, holder: LeaseHolder): void {
    // Held (when grouped) behind the delivery it follows: until both commit, others see the key as held, not as free.
    const statement = this.sql('DELETE FROM claims WHERE destination = ? AND key = ? AND owner = ?');
    this.writeLater(() => statement.run(target.destination, target.key, holder.id));
  }

  renewLeases(holder: LeaseHolder, until: string): void {
    this.db.transaction(() => {
      this.sql('UPDATE claims SET lease_until = ? WHERE owner = ?').run(until, holder.id);
      this.sql(`UPDATE event_inbox SET lease_until = ? WHERE state = 'queued' AND lease_owner = ?`).run(until, holder.id);
    }).immediate();
  }

  recordDeliveriesVia(deliveries: readonly Delivery[], via: DeliveryVia): void {
    const stamp = this.sql('UPDATE deliveries SET via = ? WHERE destination = ? AND key = ?');
    const upsert = this.sql(ENGINE_SQL.recordDelivery);
    const rows = [...deliveries];
    this.writeLater(() => {
      for (const delivery of rows) {
        upsert.run(delivery);
        stamp.run(via, delivery.destination, delivery.key);
      }
    });
  }

  deliveriesByPath(since: string): DeliveryPathCount[] {
    return this
      .sql(
        `SELECT substr(delivered_at, 1, 10) AS day, via, count(DISTINCT key) AS artifacts FROM deliveries
         WHERE status = 'delivered' AND delivered_at >= ? GROUP BY day, via ORDER BY day, via`,
      )
      .all(since) as DeliveryPathCount[];
  }

  openWebsocketGap(subscriptionId: string, at: string, reason: string): void {
    this.db.transaction(() => {
      const open = this
        .sql('SELECT 1 FROM websocket_gaps WHERE subscription_id = ? AND reconnected_at IS NULL')
        .get(subscriptionId);
      if (open) return;
      this
        .sql('INSERT INTO websocket_gaps (subscription_id, disconnected_at, reason) VALUES (?, ?, ?)')
        .run(subscriptionId, at, storedText(reason, 500));
    }).immediate();
  }

  closeWebsocketGaps(subscriptionId: string, at: string): void {
    this
      .sql('UPDATE websocket_gaps SET reconnected_at = ? WHERE subscription_id = ? AND reconnected_at IS NULL')
      .run(at, subscriptionId);
  }

  websocketGaps(since: string): WebsocketGap[] {
    const rows = this
      .sql(
        `SELECT subscription_id, disconnected_at, reconnected_at, reason FROM websocket_gaps
         WHERE reconnected_at IS NULL OR reconnected_at >= ? ORDER BY disconnected_at`,
      )
      .all(since) as { subscription_id: string; disconnected_at: string; reconnected_at: string | null; reason: string | null }[];
    return rows.map((row) => ({
      subscriptionId: row.subscription_id,
      disconnectedAt: row.disconnected_at,
      reconnectedAt: row.reconnected_at,
      reason: row.reason,
    }));
  }
}

/** Whether a run with this stored scope listed every one of `kinds` (a run from before scopes were stored did). */
function listedEvery(scopeJson: string | null, kinds: readonly ArtifactKind[]): boolean {
  if (scopeJson === null) return true;
  const listed = (JSON.parse(scopeJson) as RunScope).kinds;
  return kinds.every((kind) => listed.includes(kind));
}

/** A scope as stored: kinds and destinations sorted, so equal scopes are equal text. */
function scopeText(scope: RunScope): string {
  const sorted = (kinds: readonly ArtifactKind[]) => [...kinds].sort();
  const destinations = [...scope.destinations]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((destination) => ({ name: destination.name, kinds: sorted(destination.kinds) }));
  return JSON.stringify({ kinds: sorted(scope.kinds), destinations });
}

function toStoredArtifact(row: ArtifactRow): StoredArtifact {
  return { artifact: JSON.parse(row.descriptor_json) as Artifact, state: row.state, pendingSince: row.pending_since };
}

interface RunLockRow {
  pid: number;
  host: string;
  started_at: string;
  heartbeat_at: string | null;
}

/** The temp folders of upgraded read-only copies: `zcc-ledger-view-<pid>-<random>`. */
const VIEW_PREFIX = 'zcc-ledger-view-';

/** A copy whose process is gone (killed, or a second Ctrl-C before it closed): it names every artifact; remove it. */
function removeViewsOfDeadProcesses(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = name.startsWith(VIEW_PREFIX) ? Number(name.slice(VIEW_PREFIX.length).split('-')[0]) : NaN;
    if (Number.isInteger(pid) && pid > 0 && !processAlive(pid)) rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
  }
}

/** When this process started: every thread of it agrees, unlike a counter kept per module instance. */
const PROCESS_STARTED_MS = Date.now() - process.uptime() * 1000;

/**
 * A lock under this process's own pid on this host whose last heartbeat came before this process started was left by
 * a process that died and whose pid this one now has (a container restarted at once: pid 1, the same host name). Its
 * pid looks alive. (The heartbeat is the real time of the holder's last beat; a run's start may be a test's clock.)
 */
function leftByEarlierSelf(held: RunLockRow): boolean {
  if (held.host !== hostname() || held.pid !== process.pid || held.heartbeat_at === null) return false;
  return Date.parse(held.heartbeat_at) < PROCESS_STARTED_MS;
}

/**
 * A lock left by a holder that is gone: on this host its process is dead; from any host (another container, a pid
 * reused by an unrelated process) its heartbeat stopped more than RUN_LOCK_STALE_MS ago. A lock without a heartbeat
 * (schema 2) is judged by the pid alone.
 */
function runLockStale(held: RunLockRow, now: number): boolean {
  if (held.host === hostname() && !processAlive(held.pid)) return true;
  return held.heartbeat_at !== null && now - Date.parse(held.heartbeat_at) > RUN_LOCK_STALE_MS;
}

// --- listen helpers.

interface InboxRow {
  id: number;
  source: EventSource;
  event: string;
  body: string;
  received_at: string;
  attempts: number;
  lease_owner: string | null;
  lease_host: string | null;
  lease_pid: number | null;
  lease_until: string | null;
}

/**
 * Whether a claim or lease still binds `asker`. Its own are never in the way. A lease binds until it runs out (its
 * holder renews it while alive), except that on this host a holder whose process is gone frees it at once. A live
 * process with the holder's pid proves nothing: after a restart in a container it is often a new holder with the same
 * pid (1), or an unrelated process, and the dead holder's leases then run out instead of binding for ever.
 */
function leaseLive(owner: string | null, host: string | null, pid: number | null, until: string | null, asker: LeaseHolder, now: string): boolean {
  if (owner === null || owner === asker.id) return false;
  if (until === null || until <= now) return false;
  return !(host === hostname() && pid !== null && pid !== asker.pid && !processAlive(pid));
}
