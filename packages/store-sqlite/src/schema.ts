import type Database from 'better-sqlite3';
import { SqliteErrorCodes, sqliteError } from './errors.js';

/** Bumped with every change below; a database written by a newer version is refused. */
export const SCHEMA_VERSION = 1;

// Column notes:
// - events.seq is the append order; consumers keep their position as a seq.
// - events.time_ms orders queries (CloudEvents time may carry an offset, so strings do not sort).
// - deliveries holds only deliveries that finished an attempt or wait for one (retry, replay);
//   a delivery that is merely next in line for a consumer lives between its cursor and the tail.
const DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  subject TEXT,
  time_ms INTEGER NOT NULL,
  correlation_id TEXT NOT NULL,
  delivery_key TEXT UNIQUE,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type ON events (type, time_ms);
CREATE INDEX IF NOT EXISTS events_subject ON events (subject, time_ms) WHERE subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_correlation ON events (correlation_id);
CREATE INDEX IF NOT EXISTS events_time ON events (time_ms);
CREATE TABLE IF NOT EXISTS consumers (
  id TEXT PRIMARY KEY,
  types TEXT NOT NULL,
  cursor INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
  subscription TEXT NOT NULL,
  event_seq INTEGER NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER,
  last_error TEXT,
  result TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (subscription, event_seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event_seq);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (subscription, next_attempt_at)
  WHERE status IN ('pending', 'retrying', 'in_flight');
CREATE TABLE IF NOT EXISTS dead_letters (
  id TEXT PRIMARY KEY,
  subscription TEXT NOT NULL,
  event_seq INTEGER NOT NULL,
  event_type TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  dead_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_event ON dead_letters (event_seq);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, result TEXT, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  revision INTEGER NOT NULL,
  PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_revisions (namespace TEXT PRIMARY KEY, revision INTEGER NOT NULL) WITHOUT ROWID;
`;

export type Synchronous = 'full' | 'normal';

/**
 * Pragmas first, then the schema in one transaction. EXCLUSIVE locking must precede the first
 * access so the WAL works without shared memory and the lock is held until close.
 */
export function prepareDatabase(db: Database.Database, options: { maxSizeBytes?: number }): void {
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  // Reading the mode back takes the lock and surfaces NOTADB/BUSY here, not mid-append.
  const mode = db.pragma('journal_mode', { simple: true });
  if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, expected wal`);
  // COMMIT writes the WAL without syncing it: GroupCommit syncs the WAL (store.synchronous: full)
  // and runs checkpoints itself, with the fsyncs off the main thread (StoreFiles).
  db.pragma('synchronous = NORMAL');
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -32000');
  if (options.maxSizeBytes !== undefined) {
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.pragma(`max_page_count = ${Math.max(16, Math.floor(options.maxSizeBytes / pageSize))}`);
  }
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
      | { value: string }
      | undefined;
    const found = row ? Number(row.value) : 0;
    if (found > SCHEMA_VERSION) {
      throw sqliteError(
        SqliteErrorCodes.SCHEMA_TOO_NEW,
        `${db.name} was written by a newer @switchyard/store-sqlite (schema ${found}, this one knows ${SCHEMA_VERSION}); upgrade the runner`,
        { details: { path: db.name, schema: found } },
      );
    }
    db.exec(DDL);
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(
      String(SCHEMA_VERSION),
    );
  }).immediate();
}
