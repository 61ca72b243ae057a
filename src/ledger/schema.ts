// The ledger's schema as numbered migrations; `user_version` holds the number applied.
import type BetterSqlite3 from 'better-sqlite3';

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    mode TEXT NOT NULL,
    window_from TEXT NOT NULL,
    window_to TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT NOT NULL,
    listing_complete INTEGER NOT NULL DEFAULT 0,
    counts_json TEXT NOT NULL DEFAULT '{}',
    bytes INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    host TEXT
  );
  CREATE INDEX runs_window ON runs (window_from, window_to, id);

  CREATE TABLE chunks (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    source TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    PRIMARY KEY (run_id, source, chunk_id)
  ) WITHOUT ROWID;

  -- artifacts and deliveries are rowid tables with a unique index on their key, not WITHOUT ROWID tables: their rows
  -- (a descriptor of about 1 kB, a delivery of about 300 bytes) are too large to cluster on random keys; new rows
  -- append, and only the small key index takes the random inserts. last_seen is when the listing last changed the row.
  CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    engagement_id TEXT NOT NULL,
    listed_at TEXT NOT NULL,
    state TEXT NOT NULL,
    pending_since TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    -- What a listing says that matters (kind, state, fingerprint, times, URL): equal means the row needs no write.
    signature TEXT NOT NULL DEFAULT '',
    descriptor_json TEXT NOT NULL
  );
  CREATE INDEX artifacts_pending ON artifacts (state) WHERE state = 'pending';

  CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    destination TEXT NOT NULL,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT,
    size INTEGER,
    sha256 TEXT,
    location TEXT,
    delivered_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_attempt_at TEXT,
    UNIQUE (destination, key)
  );
  CREATE INDEX deliveries_failed ON deliveries (status, attempts) WHERE status = 'failed';

  CREATE TABLE run_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL
  );
  `,
  // listen: the event inbox (accepted events, drained by the worker), per-key delivery claims shared by listen and
  // run, WebSocket disconnected intervals, and the path each delivery came through.
  `
  CREATE TABLE event_inbox (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before TEXT,
    lease_owner TEXT,
    lease_host TEXT,
    lease_pid INTEGER,
    lease_until TEXT,
    last_error TEXT,
    outcome TEXT,
    finished_at TEXT
  );
  CREATE INDEX event_inbox_queued ON event_inbox (not_before, id) WHERE state = 'queued';

  CREATE TABLE claims (
    destination TEXT NOT NULL,
    key TEXT NOT NULL,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    via TEXT NOT NULL,
    lease_until TEXT NOT NULL,
    PRIMARY KEY (destination, key)
  ) WITHOUT ROWID;

  CREATE TABLE websocket_gaps (
    id INTEGER PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    disconnected_at TEXT NOT NULL,
    reconnected_at TEXT,
    reason TEXT
  );
  CREATE INDEX websocket_gaps_open ON websocket_gaps (subscription_id) WHERE reconnected_at IS NULL;

  ALTER TABLE deliveries ADD COLUMN via TEXT NOT NULL DEFAULT 'reconcile';
  `,
  // The run lock's holder proves it is alive: a lock whose heartbeat stopped is stale from any host. A lock held while
  // this migration runs gets a fresh heartbeat, so it is honoured for one staleness period before it can be taken.
  `
  ALTER TABLE run_lock ADD COLUMN heartbeat_at TEXT;
  UPDATE run_lock SET heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
  `,
  // status counts the artifacts given up as not available per kind from this index, as it counts the pending ones,
  // instead of reading every row of the table; verify over a window reads that window's artifacts by listed time
  // instead of every delivery of the ledger.
  `
  CREATE INDEX artifacts_not_available ON artifacts (state) WHERE state = 'not_available';
  CREATE INDEX artifacts_listed ON artifacts (listed_at);
  `,
  // What each run listed and delivered to (its kinds, its destinations and theirs): a run over fewer kinds does not
  // move the next night's window for the others, and a backfill resumes only the chunks of a run with the same scope.
  // The fingerprint whose pushes failed: attempts count that version's, and an edited version starts again.
  `
  ALTER TABLE runs ADD COLUMN scope_json TEXT;
  ALTER TABLE deliveries ADD COLUMN failed_fingerprint TEXT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: BetterSqlite3.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`the ledger's schema is version ${current}, newer than this zcc-reconcile knows (${SCHEMA_VERSION}); upgrade the tool`);
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
