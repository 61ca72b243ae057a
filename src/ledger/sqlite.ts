// The SQLite ledger (better-sqlite3, WAL). Lookups and writes are set-based: one statement over a JSON array of keys,
// batches in one transaction.
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Artifact, SourceName } from '../artifacts.js';
import { LedgerLockedError } from '../errors.js';
import { migrate } from './schema.js';
import type {
  Delivery,
  DeliveryState,
  ArtifactState,
  Ledger,
  RunCounts,
  RunMode,
  RunOutcome,
  RunRecord,
  StoredArtifact,
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

export interface OpenLedgerOptions {
  /** Open without writing anything (dry runs). A missing file is then an empty in-memory ledger. */
  readonly?: boolean;
}

export class SqliteLedger implements Ledger {
  private constructor(private readonly db: Database.Database) {}

  static open(file: string, options: OpenLedgerOptions = {}): SqliteLedger {
    if (options.readonly) {
      if (!existsSync(file)) {
        const memory = new Database(':memory:');
        migrate(memory);
        return new SqliteLedger(memory);
      }
      const db = new Database(file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      return new SqliteLedger(db);
    }
    mkdirSync(path.dirname(file), { recursive: true });
    // Created 0600 before SQLite sees it: the ledger names every artifact the company has.
    closeSync(openSync(file, 'a', 0o600));
    const db = new Database(file);
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return new SqliteLedger(db);
  }

  acquireRunLock(owner: { pid: number; host: string; startedAt: string }): void {
    this.db.transaction(() => {
      const held = this.db.prepare('SELECT pid, host, started_at FROM run_lock WHERE id = 1').get() as
        | { pid: number; host: string; started_at: string }
        | undefined;
      if (held && !(held.host === hostname() && !processAlive(held.pid))) {
        throw new LedgerLockedError(
          `another run holds the ledger (pid ${held.pid} on ${held.host}, since ${held.started_at}); wait for it to finish`,
        );
      }
      this.db
        .prepare('INSERT OR REPLACE INTO run_lock (id, pid, host, started_at) VALUES (1, ?, ?, ?)')
        .run(owner.pid, owner.host, owner.startedAt);
    }).immediate();
  }

  releaseRunLock(): void {
    this.db.prepare('DELETE FROM run_lock WHERE id = 1 AND pid = ?').run(process.pid);
  }

  startRun(run: { mode: RunMode; windowFrom: string; windowTo: string; startedAt: string }): number {
    const result = this.db
      .prepare(
        `INSERT INTO runs (mode, window_from, window_to, started_at, outcome, pid, host)
         VALUES (?, ?, ?, ?, 'running', ?, ?)`,
      )
      .run(run.mode, run.windowFrom, run.windowTo, run.startedAt, process.pid, hostname());
    return Number(result.lastInsertRowid);
  }

  finishRun(id: number, result: { outcome: RunOutcome; listingComplete: boolean; counts: RunCounts; bytes: number; finishedAt: string }): void {
    this.db
      .prepare(
        `UPDATE runs SET outcome = ?, listing_complete = ?, counts_json = ?, bytes = ?, finished_at = ? WHERE id = ?`,
      )
      .run(result.outcome, result.listingComplete ? 1 : 0, JSON.stringify(result.counts), result.bytes, result.finishedAt, id);
  }

  markAbandonedRuns(): number {
    const running = this.db
      .prepare(`SELECT id, pid, host FROM runs WHERE outcome = 'running'`)
      .all() as { id: number; pid: number; host: string }[];
    const abandoned = running.filter((run) => run.host === hostname() && run.pid !== process.pid && !processAlive(run.pid));
    const mark = this.db.prepare(`UPDATE runs SET outcome = 'crashed' WHERE id = ?`);
    this.db.transaction(() => abandoned.forEach((run) => mark.run(run.id)))();
    return abandoned.length;
  }

  recentRuns(limit: number): RunRecord[] {
    const rows = this.db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT ?').all(limit) as RunRow[];
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

  lastListedWindowEnd(): string | null {
    const row = this.db
      .prepare(`SELECT max(window_to) AS end FROM runs WHERE listing_complete = 1 AND mode != 'dry-run'`)
      .get() as { end: string | null };
    return row.end;
  }

  resumableChunks(windowFrom: string, windowTo: string): Set<string> {
    const latest = this.db
      .prepare(
        `SELECT id, outcome FROM runs WHERE window_from = ? AND window_to = ? AND mode != 'dry-run'
         AND outcome != 'running' ORDER BY id DESC LIMIT 1`,
      )
      .get(windowFrom, windowTo) as { id: number; outcome: RunOutcome } | undefined;
    if (!latest || latest.outcome === 'ok' || latest.outcome === 'failed') return new Set();
    const rows = this.db.prepare('SELECT source, chunk_id FROM chunks WHERE run_id = ?').all(latest.id) as {
      source: string;
      chunk_id: string;
    }[];
    return new Set(rows.map((row) => `${row.source}:${row.chunk_id}`));
  }

  markChunkDone(runId: number, source: SourceName, chunkId: string): void {
    this.db.prepare('INSERT OR IGNORE INTO chunks (run_id, source, chunk_id) VALUES (?, ?, ?)').run(runId, source, chunkId);
  }

  rememberArtifacts(artifacts: readonly Artifact[], now: string, pendingCutoff: string): Map<string, ArtifactState> {
    const upsert = this.db.prepare(
      `INSERT INTO artifacts (key, kind, engagement_id, listed_at, state, pending_since, first_seen, last_seen, descriptor_json)
       VALUES (@key, @kind, @engagementId, @listedAt, @state, @pendingSince, @now, @now, @descriptor)
       ON CONFLICT (key) DO UPDATE SET
         listed_at = excluded.listed_at,
         state = CASE WHEN excluded.state = 'pending'
                           AND (artifacts.state = 'not_available' OR artifacts.pending_since < @cutoff) THEN 'not_available'
                      ELSE excluded.state END,
         pending_since = CASE WHEN excluded.state = 'pending' THEN coalesce(artifacts.pending_since, excluded.pending_since)
                              ELSE NULL END,
         last_seen = excluded.last_seen,
         descriptor_json = excluded.descriptor_json`,
    );
    this.db.transaction(() => {
      for (const artifact of artifacts) {
        upsert.run({
          key: artifact.key,
          kind: artifact.kind,
          engagementId: artifact.engagementId,
          listedAt: artifact.listedAt,
          state: artifact.state,
          pendingSince: artifact.state === 'pending' ? now : null,
          now,
          cutoff: pendingCutoff,
          descriptor: JSON.stringify(artifact),
        });
      }
    })();
    return this.artifactStates(artifacts.map((artifact) => artifact.key));
  }

  artifactStates(keys: readonly string[]): Map<string, ArtifactState> {
    const rows = this.db
      .prepare(`SELECT key, state FROM artifacts WHERE key IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(keys)) as { key: string; state: ArtifactState }[];
    return new Map(rows.map((row) => [row.key, row.state]));
  }

  markArtifactState(keys: readonly string[], state: 'ready' | 'pending' | 'not_available', now: string): void {
    this.db
      .prepare(
        `UPDATE artifacts SET state = ?, last_seen = ? WHERE key IN (SELECT value FROM json_each(?))`,
      )
      .run(state, now, JSON.stringify(keys));
  }

  pendingArtifacts(): StoredArtifact[] {
    const rows = this.db
      .prepare(`SELECT descriptor_json, state, pending_since FROM artifacts WHERE state = 'pending'`)
      .all() as ArtifactRow[];
    return rows.map(toStoredArtifact);
  }

  retryableArtifacts(maxAttempts: number): StoredArtifact[] {
    const rows = this.db
      .prepare(
        `SELECT DISTINCT a.descriptor_json, a.state, a.pending_since FROM deliveries d JOIN artifacts a ON a.key = d.key
         WHERE d.status = 'failed' AND d.attempts < ?`,
      )
      .all(maxAttempts) as ArtifactRow[];
    return rows.map(toStoredArtifact);
  }

  deliveryStates(destination: string, keys: readonly string[]): Map<string, DeliveryState> {
    const rows = this.db
      .prepare(
        `SELECT key, status, fingerprint, size, sha256, location, attempts, last_error FROM deliveries
         WHERE destination = ? AND key IN (SELECT value FROM json_each(?))`,
      )
      .all(destination, JSON.stringify(keys)) as {
      key: string;
      status: 'delivered' | 'failed';
      fingerprint: string | null;
      size: number | null;
      sha256: string | null;
      location: string | null;
      attempts: number;
      last_error: string | null;
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
        },
      ]),
    );
  }

  recordDeliveries(deliveries: readonly Delivery[]): void {
    const upsert = this.db.prepare(
      `INSERT INTO deliveries (destination, key, status, fingerprint, size, sha256, location, delivered_at, attempts, last_error, last_attempt_at)
       VALUES (@destination, @key, 'delivered', @fingerprint, @size, @sha256, @location, @deliveredAt, 0, NULL, @deliveredAt)
       ON CONFLICT (destination, key) DO UPDATE SET status = 'delivered', fingerprint = excluded.fingerprint,
         size = excluded.size, sha256 = excluded.sha256, location = excluded.location,
         delivered_at = excluded.delivered_at, attempts = 0, last_error = NULL, last_attempt_at = excluded.last_attempt_at`,
    );
    this.db.transaction(() => deliveries.forEach((delivery) => upsert.run(delivery)))();
  }

  recordFailure(failure: { destination: string; key: string; error: string; at: string }): void {
    // A failed re-delivery of an edited note keeps the earlier copy's record: it is still delivered, just stale.
    this.db
      .prepare(
        `INSERT INTO deliveries (destination, key, status, attempts, last_error, last_attempt_at)
         VALUES (?, ?, 'failed', 1, ?, ?)
         ON CONFLICT (destination, key) DO UPDATE SET status = 'failed', attempts = deliveries.attempts + 1,
           last_error = excluded.last_error, last_attempt_at = excluded.last_attempt_at`,
      )
      .run(failure.destination, failure.key, failure.error.slice(0, 2000), failure.at);
  }

  counts(): { artifacts: number; deliveries: number; failed: number; pending: number } {
    const row = this.db
      .prepare(
        `SELECT (SELECT count(*) FROM artifacts) AS artifacts,
                (SELECT count(*) FROM deliveries WHERE status = 'delivered') AS deliveries,
                (SELECT count(*) FROM deliveries WHERE status = 'failed') AS failed,
                (SELECT count(*) FROM artifacts WHERE state = 'pending') AS pending`,
      )
      .get() as { artifacts: number; deliveries: number; failed: number; pending: number };
    return row;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toStoredArtifact(row: ArtifactRow): StoredArtifact {
  return { artifact: JSON.parse(row.descriptor_json) as Artifact, state: row.state, pendingSince: row.pending_since };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
