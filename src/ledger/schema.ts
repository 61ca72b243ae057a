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

  CREATE TABLE artifacts (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    engagement_id TEXT NOT NULL,
    listed_at TEXT NOT NULL,
    state TEXT NOT NULL,
    pending_since TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    descriptor_json TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX artifacts_pending ON artifacts (state) WHERE state = 'pending';

  CREATE TABLE deliveries (
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
    PRIMARY KEY (destination, key)
  ) WITHOUT ROWID;
  CREATE INDEX deliveries_failed ON deliveries (status, attempts) WHERE status = 'failed';

  CREATE TABLE run_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL
  );
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
