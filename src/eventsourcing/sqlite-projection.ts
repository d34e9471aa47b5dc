/**
 * Projections on SQLite (better-sqlite3), the default backend.
 *
 * Layout: `file` is the catalog (which versions exist, which one is live); version N of the read
 * model is the file beside it with `.v<N>` before the extension (`accounts.db` -> `accounts.v1.db`),
 * holding the user's tables and `_tributary_offsets`. So `setup(db)` and `apply(db, ...)` use
 * plain table names, and a rebuild writes a whole new file while the live one keeps serving.
 *
 * Locking: a writer takes the version file's write lock (BEGIN IMMEDIATE, retried without
 * blocking the event loop) and only then reads the catalog; a swap holds the live file's write
 * lock while it updates the catalog. So a live writer either commits before the swap or sees it.
 */
import Database from 'better-sqlite3';
import { mkdirSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { TributaryError } from '../errors/index.js';
import { brandProjection, checkProjectionOptions, type Projection, type ProjectionMeta, type ProjectionQueryParams } from './projection.js';
import { ApplyError, type ApplyBatch, type CommitOutcome, type ProjectionStore, type VersionInfo, type VersionState, type VersionWriter } from './projection-store.js';

type Db = Database.Database;

/** What sqliteProjection() takes. */
export interface SqliteProjectionOptions<K, E> {
  /** Names the projection (its consumer group, CLI and HTTP paths). */
  name: string;
  /** The catalog file; versions go beside it (`accounts.db` -> `accounts.v1.db`, `accounts.v2.db`). Relative to the working directory. */
  file: string;
  /** Version of this code (setup and apply); bump it when they change, then run `tributary rebuild`. Default 1. */
  version?: number;
  /** Creates the read model's tables in a fresh, empty version (inside its creating transaction). */
  setup(db: Db): void;
  /** Applies one event; synchronous; runs inside the batch's transaction, which also stores the offsets. */
  apply(db: Db, event: E, meta: ProjectionMeta<K>): void;
  /** Named read-only queries, served as `GET /projections/<name>/queries/<query>?param=...`. */
  queries?: Record<string, (db: Db, params: ProjectionQueryParams) => unknown>;
  /** The view may be rebuilt from a point in time (`tributary rebuild --from`): it does not need older events. Default false. */
  replayFromTime?: boolean;
}

/**
 * A read model in SQLite files, kept exactly once in step with a topic.
 *
 * @example
 * const balances = sqliteProjection<string, AccountEvent>({
 *   name: 'balances',
 *   file: '.tributary/read-models/balances.db',
 *   setup: (db) => db.exec('CREATE TABLE balance (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)'),
 *   apply: (db, e, meta) => {
 *     db.prepare('INSERT INTO balance VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET amount = amount + excluded.amount').run(meta.key, e.amount);
 *   },
 *   queries: { byId: (db, p) => db.prepare('SELECT * FROM balance WHERE id = ?').get(p.id) },
 * });
 * b.stream('account-events', { value: serdes.json<AccountEvent>() }).project(balances);
 */
export function sqliteProjection<K = unknown, E = unknown>(options: SqliteProjectionOptions<K, E>): Projection<K, E> {
  const where = `sqliteProjection(${JSON.stringify((options as { name?: unknown } | undefined)?.name)})`;
  checkProjectionOptions(where, options);
  if (typeof options.file !== 'string' || options.file.length === 0) throw new TributaryError(`${where}: 'file' must be a path to the catalog file`);
  const spec = { ...options };
  return brandProjection<K, E>({
    name: spec.name,
    backend: 'sqlite',
    version: spec.version ?? 1,
    replayFromTime: spec.replayFromTime === true,
    queryNames: Object.keys(spec.queries ?? {}),
    openStore: async () => new SqliteProjectionStore(spec as SqliteProjectionOptions<unknown, unknown>),
  });
}

const CATALOG_FORMAT = 1;
const BUSY_RETRY_MS = 5;
const BUSY_DEADLINE_MS = 120_000;

function openDb(path: string, mustExist: boolean): Db {
  const db = new Database(path, { fileMustExist: mustExist });
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a killed process (not a power cut).
  db.pragma('synchronous = NORMAL');
  return db;
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === 'SQLITE_LOCKED';
}

/** BEGIN IMMEDIATE, waiting for the write lock with timers rather than SQLite's blocking busy handler. */
async function beginImmediate(db: Db, what: string): Promise<void> {
  const deadline = Date.now() + BUSY_DEADLINE_MS;
  for (;;) {
    try {
      db.exec('BEGIN IMMEDIATE');
      return;
    } catch (err) {
      if (!isBusy(err) || Date.now() > deadline) throw err instanceof Error && isBusy(err) ? new TributaryError(`${what}: the database stayed locked for ${BUSY_DEADLINE_MS / 1000} s`, { cause: err, retriable: true }) : err;
      await new Promise((r) => setTimeout(r, BUSY_RETRY_MS));
    }
  }
}

function rollbackQuietly(db: Db): void {
  try {
    if (db.inTransaction) db.exec('ROLLBACK');
  } catch {
    /* the first error is the one to report */
  }
}

/** The catalog and versions of one SQLite projection. */
export class SqliteProjectionStore implements ProjectionStore {
  readonly location: string;
  private readonly catalog: Db;
  private readonly readers = new Map<number, Db>();

  constructor(private readonly spec: SqliteProjectionOptions<unknown, unknown>) {
    this.location = resolve(spec.file);
    mkdirSync(dirname(this.location), { recursive: true });
    this.catalog = openDb(this.location, false);
    this.catalog.pragma('busy_timeout = 10000');
    this.catalog.exec(`
      CREATE TABLE IF NOT EXISTS tributary_projection (name TEXT PRIMARY KEY, format INTEGER NOT NULL, live_version INTEGER);
      CREATE TABLE IF NOT EXISTS tributary_projection_versions (
        version INTEGER PRIMARY KEY, state TEXT NOT NULL, code_version INTEGER NOT NULL,
        created_at INTEGER NOT NULL, replay_from TEXT, swapped_at INTEGER);
    `);
    this.catalog.prepare('INSERT OR IGNORE INTO tributary_projection (name, format, live_version) VALUES (?, ?, NULL)').run(spec.name, CATALOG_FORMAT);
    const names = this.catalog.prepare('SELECT name FROM tributary_projection').pluck().all() as string[];
    if (names.length !== 1) throw new TributaryError(`${this.location} is the catalog of projection(s) ${names.filter((n) => n !== spec.name).join(', ')}, not of '${spec.name}': give each projection its own file`);
  }

  /** Path of version N: `accounts.db` -> `accounts.v3.db`. */
  versionPath(version: number): string {
    const ext = extname(this.location);
    const stem = basename(this.location, ext);
    return join(dirname(this.location), `${stem}.v${version}${ext}`);
  }

  async liveVersion(): Promise<number | undefined> {
    return this.readLive();
  }

  private readLive(): number | undefined {
    const v = this.catalog.prepare('SELECT live_version FROM tributary_projection WHERE name = ?').pluck().get(this.spec.name) as number | null | undefined;
    return v ?? undefined;
  }

  async ensureLive(codeVersion: number): Promise<number> {
    const live = this.readLive();
    if (live !== undefined) return live;
    const version = this.catalog.transaction(() => {
      const again = this.readLive();
      if (again !== undefined) return { version: again, created: false };
      const next = this.nextVersion();
      this.catalog.prepare('INSERT INTO tributary_projection_versions (version, state, code_version, created_at, replay_from) VALUES (?, ?, ?, ?, NULL)').run(next, 'live', codeVersion, Date.now());
      this.catalog.prepare('UPDATE tributary_projection SET live_version = ? WHERE name = ?').run(next, this.spec.name);
      return { version: next };
    }).immediate();
    // Set up outside the catalog transaction; setting up is idempotent (done once, under the file's lock).
    (await this.openVersionDb(version.version, true)).close();
    return version.version;
  }

  private nextVersion(): number {
    const max = this.catalog.prepare('SELECT MAX(version) FROM tributary_projection_versions').pluck().get() as number | null;
    return (max ?? 0) + 1;
  }

  async versions(): Promise<VersionInfo[]> {
    const rows = this.catalog.prepare('SELECT version, state, code_version, created_at, replay_from FROM tributary_projection_versions ORDER BY version').all() as {
      version: number;
      state: VersionState;
      code_version: number;
      created_at: number;
      replay_from: string | null;
    }[];
    return rows.map((r) => ({ version: r.version, state: r.state, codeVersion: r.code_version, createdAt: r.created_at, replayFrom: r.replay_from }));
  }

  async createVersion(codeVersion: number, replayFrom: string | null): Promise<number> {
    const version = this.catalog.transaction(() => {
      const next = this.nextVersion();
      this.catalog.prepare('INSERT INTO tributary_projection_versions (version, state, code_version, created_at, replay_from) VALUES (?, ?, ?, ?, ?)').run(next, 'building', codeVersion, Date.now(), replayFrom);
      return next;
    }).immediate();
    (await this.openVersionDb(version, true)).close();
    return version;
  }

  /**
   * Opens version N's file, setting it up first when it has not been: the offsets table, the
   * version row and the user's setup(db), in one transaction (a crash leaves it not set up).
   */
  private async openVersionDb(version: number, create: boolean): Promise<Db> {
    // A file left by a crash before its setup committed is empty: it is set up now. (A set-up
    // file keeps its tables and offsets, which always agree, so reusing one is safe.)
    const path = this.versionPath(version);
    const db = openDb(path, !create);
    try {
      if (hasTable(db, '_tributary_version')) return db;
      await beginImmediate(db, `setting up ${path}`);
      try {
        if (!hasTable(db, '_tributary_version')) {
          db.exec(`
            CREATE TABLE _tributary_offsets (topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL, PRIMARY KEY (topic, partition));
            CREATE TABLE _tributary_version (projection TEXT NOT NULL, version INTEGER NOT NULL, format INTEGER NOT NULL);
          `);
          db.prepare('INSERT INTO _tributary_version VALUES (?, ?, ?)').run(this.spec.name, version, CATALOG_FORMAT);
          const result = this.spec.setup(db) as unknown;
          if (isThenable(result)) throw new TributaryError(`projection '${this.spec.name}': setup(db) must be synchronous on SQLite (better-sqlite3 is synchronous)`);
        }
        db.exec('COMMIT');
      } catch (err) {
        rollbackQuietly(db);
        throw new TributaryError(`projection '${this.spec.name}': setup of version ${version} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  async openWriter(version: number): Promise<VersionWriter> {
    const db = await this.openVersionDb(version, false);
    return new SqliteVersionWriter(db, version, this.spec, () => this.readLive());
  }

  async readOffsets(version: number, topic: string): Promise<Map<number, number>> {
    return readOffsetRows(this.reader(version), topic);
  }

  /** A cached read connection to a version (offsets, queries). */
  private reader(version: number): Db {
    let db = this.readers.get(version);
    if (db === undefined) {
      db = new Database(this.versionPath(version), { fileMustExist: true });
      db.pragma('query_only = ON');
      this.readers.set(version, db);
    }
    return db;
  }

  private dropReader(version: number): void {
    this.readers.get(version)?.close();
    this.readers.delete(version);
  }

  async swap(from: number, to: number, topic: string, finish: (liveOffsets: Map<number, number>) => Promise<boolean>): Promise<boolean> {
    const live = openDb(this.versionPath(from), true);
    try {
      // Holding the live file's write lock, its offsets cannot move and no live writer commits.
      await beginImmediate(live, `swapping in version ${to} of projection '${this.spec.name}'`);
      try {
        const offsets = readOffsetRows(live, topic);
        if (!(await finish(offsets))) return false;
        this.catalog.transaction(() => {
          const current = this.readLive();
          if (current !== from) throw new TributaryError(`projection '${this.spec.name}': version ${current} became live during the rebuild; this rebuild (version ${to}) is abandoned`);
          const now = Date.now();
          this.catalog.prepare('UPDATE tributary_projection_versions SET state = ?, swapped_at = ? WHERE version = ?').run('retired', now, from);
          this.catalog.prepare('UPDATE tributary_projection_versions SET state = ?, swapped_at = ? WHERE version = ?').run('live', now, to);
          this.catalog.prepare('UPDATE tributary_projection SET live_version = ? WHERE name = ?').run(to, this.spec.name);
        }).immediate();
        return true;
      } finally {
        rollbackQuietly(live);
      }
    } finally {
      live.close();
    }
  }

  async dropVersion(version: number, graceMs: number): Promise<void> {
    if (this.readLive() === version) throw new TributaryError(`projection '${this.spec.name}': version ${version} is live and cannot be dropped`);
    this.catalog.prepare('UPDATE tributary_projection_versions SET state = ? WHERE version = ?').run('dropped', version);
    if (graceMs > 0) await new Promise((r) => setTimeout(r, graceMs));
    this.dropReader(version);
    // Open connections (a live runner that has not noticed the swap yet) keep the unlinked file until they close.
    for (const suffix of ['', '-wal', '-shm']) rmSync(this.versionPath(version) + suffix, { force: true });
  }

  async query(name: string, params: ProjectionQueryParams): Promise<unknown> {
    const fn = this.spec.queries?.[name];
    if (fn === undefined) throw new TributaryError(`projection '${this.spec.name}' has no query '${name}'`);
    // The live version is resolved per query; a version dropped under us is resolved again.
    for (let attempt = 0; ; attempt++) {
      const live = this.readLive();
      if (live === undefined) throw new TributaryError(`projection '${this.spec.name}' has no read model yet: run the application first`);
      for (const v of [...this.readers.keys()]) if (v !== live) this.dropReader(v);
      let db: Db;
      try {
        db = this.reader(live);
      } catch (err) {
        if (attempt < 5) continue;
        throw err;
      }
      return fn(db, params);
    }
  }

  async close(): Promise<void> {
    for (const v of [...this.readers.keys()]) this.dropReader(v);
    this.catalog.close();
  }
}

function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

function readOffsetRows(db: Db, topic: string): Map<number, number> {
  const rows = db.prepare('SELECT partition, next_offset FROM _tributary_offsets WHERE topic = ?').all(topic) as { partition: number; next_offset: number }[];
  return new Map(rows.map((r) => [r.partition, r.next_offset]));
}

function isThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Writes one SQLite version: each batch is one IMMEDIATE transaction with the offsets' compare-and-set. */
class SqliteVersionWriter implements VersionWriter {
  private readonly casOffset: Database.Statement;
  private readonly storedOffset: Database.Statement;
  private readonly insertOffset: Database.Statement;

  constructor(
    private readonly db: Db,
    readonly version: number,
    private readonly spec: SqliteProjectionOptions<unknown, unknown>,
    private readonly readLive: () => number | undefined,
  ) {
    this.casOffset = db.prepare('UPDATE _tributary_offsets SET next_offset = ? WHERE topic = ? AND partition = ? AND next_offset = ?');
    this.storedOffset = db.prepare('SELECT next_offset FROM _tributary_offsets WHERE topic = ? AND partition = ?').pluck();
    this.insertOffset = db.prepare('INSERT OR IGNORE INTO _tributary_offsets (topic, partition, next_offset) VALUES (?, ?, ?)');
  }

  async readOffsets(topic: string): Promise<Map<number, number>> {
    return readOffsetRows(this.db, topic);
  }

  async initOffsets(topic: string, starts: ReadonlyMap<number, number>): Promise<void> {
    await beginImmediate(this.db, `projection '${this.spec.name}'`);
    try {
      for (const [partition, offset] of starts) this.insertOffset.run(topic, partition, offset);
      this.db.exec('COMMIT');
    } catch (err) {
      rollbackQuietly(this.db);
      throw err;
    }
  }

  async commit(batch: ApplyBatch): Promise<CommitOutcome> {
    const { db } = this;
    await beginImmediate(db, `projection '${this.spec.name}'`);
    try {
      if (batch.requireLive) {
        const live = this.readLive();
        if (live !== this.version) {
          db.exec('ROLLBACK');
          return { kind: 'not-live', live };
        }
      }
      const apply = this.spec.apply;
      const records = batch.records;
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        let result: unknown;
        try {
          result = apply(db, r.value, r.meta);
        } catch (err) {
          throw new ApplyError(i, err);
        }
        if (result !== undefined && isThenable(result)) {
          throw new ApplyError(i, new TributaryError(`apply(db, event, meta) must be synchronous on SQLite: it returned a promise`));
        }
      }
      for (const o of batch.offsets) {
        if (this.casOffset.run(o.to, o.topic, o.partition, o.from).changes !== 1) {
          const stored = this.storedOffset.get(o.topic, o.partition) as number | undefined;
          db.exec('ROLLBACK');
          return { kind: 'stale', topic: o.topic, partition: o.partition, stored, expected: o.from };
        }
      }
      db.exec('COMMIT');
      return { kind: 'committed' };
    } catch (err) {
      rollbackQuietly(db);
      throw err;
    }
  }

  async close(): Promise<void> {
    rollbackQuietly(this.db);
    this.db.close();
  }
}
