import type Database from 'better-sqlite3';
import { TributaryError } from '../../errors/index.js';

/**
 * The embedded log's file format. `PRAGMA application_id` marks the file as a Tributary log and
 * `PRAGMA user_version` holds the schema version; record payloads carry their own version (the
 * batch magic byte, see record-batch-codec.ts). Opening a file with a newer version fails
 * clearly instead of misreading it; an older one is migrated step by step, in one transaction.
 *
 * Tables (version 1):
 * - `topics`: one row per topic; `topic_id` is never reused (AUTOINCREMENT), so a topic deleted
 *   and created again is a different topic to every cache.
 * - `partitions`: the next offset (log end) and log start offset of each partition; updated in
 *   the same transaction as the batch appended to it.
 * - `batches`: ONE row per appended batch per partition, keyed (topic_id, partition,
 *   last_offset), so a fetch from offset X is `last_offset >= X ORDER BY last_offset`.
 * - `group_offsets`: committed consumer-group offsets (the next offset to read).
 * - `groups` / `group_members`: each group's generation, and its one live member.
 * - `producers`: the epoch of each transactional id, bumped by every new producer (fencing).
 */
export const SCHEMA_VERSION = 1;
/** "Trib" in ASCII: the value of `PRAGMA application_id` in every Tributary log file. */
export const APPLICATION_ID = 0x54726962;

const SCHEMA_V1 = `
CREATE TABLE topics (
  topic_id       INTEGER PRIMARY KEY AUTOINCREMENT,
  name           TEXT    NOT NULL UNIQUE,
  partitions     INTEGER NOT NULL,
  cleanup_policy TEXT    NOT NULL,
  internal       INTEGER NOT NULL,
  created_at     INTEGER NOT NULL
);
CREATE TABLE partitions (
  topic_id         INTEGER NOT NULL,
  partition        INTEGER NOT NULL,
  log_start_offset INTEGER NOT NULL,
  next_offset      INTEGER NOT NULL,
  PRIMARY KEY (topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE batches (
  topic_id    INTEGER NOT NULL,
  partition   INTEGER NOT NULL,
  last_offset INTEGER NOT NULL,
  base_offset INTEGER NOT NULL,
  payload     BLOB    NOT NULL,
  PRIMARY KEY (topic_id, partition, last_offset)
) WITHOUT ROWID;
CREATE TABLE group_offsets (
  group_id         TEXT    NOT NULL,
  topic            TEXT    NOT NULL,
  partition        INTEGER NOT NULL,
  committed_offset INTEGER NOT NULL,
  committed_at     INTEGER NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
CREATE TABLE groups (
  group_id   TEXT    NOT NULL PRIMARY KEY,
  generation INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_members (
  group_id   TEXT    NOT NULL PRIMARY KEY,
  member_id  TEXT    NOT NULL,
  generation INTEGER NOT NULL,
  pid        INTEGER NOT NULL,
  hostname   TEXT    NOT NULL,
  started_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE producers (
  transactional_id TEXT    NOT NULL PRIMARY KEY,
  epoch            INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * Migrations: `MIGRATIONS[n]` takes a file from version n to n + 1. Empty today; a new format
 * adds an entry here and bumps SCHEMA_VERSION.
 */
const MIGRATIONS: Readonly<Record<number, string>> = {};

export type Durability = 'normal' | 'full';

/**
 * Page size of new files, fixed once the file exists. Measured with bench/embedded-log.ts: 4 KiB
 * beats 8 and 16 KiB. Batches are blobs of a few KB to a few hundred KB, mostly in overflow
 * pages; in a WITHOUT ROWID table the leaf that holds the start of each row is rewritten on every
 * append to its partition, and larger pages make that rewrite (and the slack of the last overflow
 * page) cost more than the shorter overflow chains save.
 */
const PAGE_SIZE = 4096;

/**
 * WAL pages after which a commit checkpoints on the main connection (64 MiB). The checkpointer
 * thread (checkpointer.ts) does the bulk of the copying long before; this is what lets the WAL
 * restart from its beginning under sustained load, and what checkpoints when no thread runs.
 */
const WAL_AUTOCHECKPOINT_PAGES = 16384;

/** Sets the connection's pragmas, then creates or checks the schema. */
export function openSchema(db: Database.Database, path: string, durability: Durability): void {
  // Before anything can take a lock: several processes may open the file at once.
  db.pragma('busy_timeout = 10000');
  db.pragma(`page_size = ${PAGE_SIZE}`); // only has an effect on a new, empty file
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') throw new TributaryError(`could not put the embedded log ${path} in WAL mode (got '${String(mode)}')`);
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  // Checkpoint less often than the default 1000 pages (fewer fsyncs on the main thread), and keep
  // the WAL file from staying huge after a burst.
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  db.pragma('journal_size_limit = 67108864');
  db.pragma('cache_size = -65536');
  db.pragma('foreign_keys = OFF');

  checkVersion(db, path);
  if (db.pragma('user_version', { simple: true }) === SCHEMA_VERSION) return;

  db.transaction(() => {
    const version = checkVersion(db, path); // again, under the write lock: another process may have won
    if (version === SCHEMA_VERSION) return;
    if (version === 0) {
      const tables = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number;
      if (tables > 0) throw notALog(path, 'it already has tables but no Tributary schema version');
      db.exec(SCHEMA_V1);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return;
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v];
      if (step === undefined) throw new TributaryError(`embedded log ${path}: no migration from format version ${v} to ${v + 1}`);
      db.exec(step);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function checkVersion(db: Database.Database, path: string): number {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  if (appId !== 0 && appId !== APPLICATION_ID) {
    throw notALog(path, `its application_id is 0x${(appId >>> 0).toString(16)}, not Tributary's 0x${APPLICATION_ID.toString(16)}`);
  }
  if (appId === 0 && version !== 0) throw notALog(path, `it has user_version ${version} but no Tributary application_id`);
  if (version > SCHEMA_VERSION) {
    throw new TributaryError(
      `embedded log ${path} has format version ${version}, but this Tributary only knows versions up to ${SCHEMA_VERSION}: ` +
        'upgrade Tributary to open it',
    );
  }
  return version;
}

function notALog(path: string, why: string): TributaryError {
  return new TributaryError(`${path} is not a Tributary embedded log: ${why}; use another path`);
}
