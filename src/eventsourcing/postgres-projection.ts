/**
 * Projections on PostgreSQL (the `pg` client, loaded only when a PostgreSQL projection opens).
 *
 * Layout: version N of the read model is the schema `<schema>_v<N>` (default schema
 * `projection_<name>`), holding the user's tables and `_tributary_offsets`; each writer's
 * connection has `search_path` set to its version, so `setup(db)` and `apply(db, ...)` use plain
 * table names. The catalog is two tables in `catalogSchema` (default `tributary`):
 * `projections` (name, live_version) and `projection_versions`.
 *
 * Locking: a live writer's transaction starts with `SELECT live_version ... FOR SHARE` on its
 * projection's catalog row, and the swap holds that row `FOR UPDATE` while it reads the live
 * version's offsets, lets the new version catch up to them, and flips `live_version`. So a live
 * writer either commits before the swap or sees it; creating a version (schema, offsets table,
 * setup) is one transaction too.
 */
import type { Client, Pool, PoolClient } from 'pg';
import { TributaryError } from '../errors/index.js';
import { brandProjection, checkProjectionOptions, type Projection, type ProjectionMeta, type ProjectionQueryParams } from './projection.js';
import { ApplyError, type ApplyBatch, type CommitOutcome, type ProjectionStore, type VersionInfo, type VersionState, type VersionWriter } from './projection-store.js';

/** The part of a `pg` client that setup, apply and queries get: `query(text, values)`. */
export interface PgClient {
  query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
}

/** What postgresProjection() takes. */
export interface PostgresProjectionOptions<K, E> {
  name: string;
  /** e.g. `postgres://user@127.0.0.1:5432/db` (anything `pg` accepts). */
  connectionString: string;
  /** Prefix of the versions' schemas (`<schema>_v1`, ...): lower-case letters, digits, '_'. Default `projection_<name>`. */
  schema?: string;
  /** Schema of the catalog tables, shared by projections. Default `tributary`. */
  catalogSchema?: string;
  /** Version of this code (setup and apply); bump it when they change, then run `tributary rebuild`. Default 1. */
  version?: number;
  /** Creates the read model's tables in a fresh schema (inside its creating transaction; search_path is set). */
  setup(db: PgClient): Promise<void> | void;
  /** Applies one event inside the batch's transaction, which also stores the offsets. */
  apply(db: PgClient, event: E, meta: ProjectionMeta<K>): Promise<void> | void;
  /** Named read-only queries, served as `GET /projections/<name>/queries/<query>?param=...`. */
  queries?: Record<string, (db: PgClient, params: ProjectionQueryParams) => Promise<unknown> | unknown>;
  /** The view may be rebuilt from a point in time (`tributary rebuild --from`). Default false. */
  replayFromTime?: boolean;
}

/**
 * A read model in PostgreSQL, kept exactly once in step with a topic.
 *
 * @example
 * const balances = postgresProjection<string, AccountEvent>({
 *   name: 'balances',
 *   connectionString: process.env.DATABASE_URL!,
 *   setup: (db) => db.query('CREATE TABLE balance (id TEXT PRIMARY KEY, amount BIGINT NOT NULL)'),
 *   apply: (db, e, meta) =>
 *     db.query('INSERT INTO balance VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET amount = balance.amount + excluded.amount', [meta.key, e.amount]),
 *   queries: { byId: async (db, p) => (await db.query('SELECT * FROM balance WHERE id = $1', [p.id])).rows[0] },
 * });
 */
export function postgresProjection<K = unknown, E = unknown>(options: PostgresProjectionOptions<K, E>): Projection<K, E> {
  const where = `postgresProjection(${JSON.stringify((options as { name?: unknown } | undefined)?.name)})`;
  checkProjectionOptions(where, options);
  if (typeof options.connectionString !== 'string' || options.connectionString.length === 0) throw new TributaryError(`${where}: 'connectionString' is required`);
  const schema = options.schema ?? `projection_${options.name.toLowerCase().replace(/-/g, '_')}`;
  const catalogSchema = options.catalogSchema ?? 'tributary';
  for (const [what, id] of [['schema', schema], ['catalogSchema', catalogSchema]] as const) {
    if (!/^[a-z_][a-z0-9_]{0,50}$/.test(id)) throw new TributaryError(`${where}: '${what}' must be lower-case letters, digits and '_' (at most 51), got ${JSON.stringify(id)}`);
  }
  const spec = { ...options, schema, catalogSchema };
  return brandProjection<K, E>({
    name: spec.name,
    backend: 'postgres',
    version: spec.version ?? 1,
    replayFromTime: spec.replayFromTime === true,
    queryNames: Object.keys(spec.queries ?? {}),
    openStore: () => PostgresProjectionStore.open(spec as ResolvedSpec),
  });
}

type ResolvedSpec = PostgresProjectionOptions<unknown, unknown> & { schema: string; catalogSchema: string };

const CATALOG_FORMAT = 1;
const q = (id: string) => `"${id}"`;

async function loadPg(): Promise<typeof import('pg')> {
  const mod = (await import('pg')) as unknown as { default?: typeof import('pg') };
  return mod.default ?? (mod as unknown as typeof import('pg'));
}

async function rollbackQuietly(client: PgClient): Promise<void> {
  try {
    await client.query('ROLLBACK');
  } catch {
    /* the first error is the one to report */
  }
}

/** The catalog and versions of one PostgreSQL projection. */
export class PostgresProjectionStore implements ProjectionStore {
  readonly location: string;
  private readonly cat: string;

  private constructor(
    private readonly spec: ResolvedSpec,
    private readonly pool: Pool,
    private readonly pg: typeof import('pg'),
  ) {
    this.cat = q(spec.catalogSchema);
    this.location = `postgres schema ${spec.schema}_v<N> (catalog ${spec.catalogSchema})`;
  }

  static async open(spec: ResolvedSpec): Promise<PostgresProjectionStore> {
    const pg = await loadPg();
    // BIGINT offsets come back as numbers (they stay far below 2^53).
    const pool = new pg.Pool({ connectionString: spec.connectionString, max: 4 });
    pool.on('error', () => undefined);
    const store = new PostgresProjectionStore(spec, pool, pg);
    try {
      await store.init();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return store;
  }

  private async init(): Promise<void> {
    await this.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tributary-catalog:${this.spec.catalogSchema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.cat}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.cat}.projections (name TEXT PRIMARY KEY, schema TEXT NOT NULL, format INT NOT NULL, live_version INT)`);
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${this.cat}.projection_versions (name TEXT NOT NULL, version INT NOT NULL, state TEXT NOT NULL, code_version INT NOT NULL,
           created_at BIGINT NOT NULL, replay_from TEXT, swapped_at BIGINT, PRIMARY KEY (name, version))`,
      );
      await c.query(`INSERT INTO ${this.cat}.projections (name, schema, format) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, [this.spec.name, this.spec.schema, CATALOG_FORMAT]);
      const { rows } = await c.query(`SELECT schema FROM ${this.cat}.projections WHERE name = $1`, [this.spec.name]);
      if (rows[0].schema !== this.spec.schema) {
        throw new TributaryError(`projection '${this.spec.name}' lives in schemas ${rows[0].schema}_v<N>, not ${this.spec.schema}_v<N>: keep its 'schema' option, or drop its catalog rows`);
      }
    });
  }

  private versionSchema(version: number): string {
    return q(`${this.spec.schema}_v${version}`);
  }

  private async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await rollbackQuietly(client);
      throw err;
    } finally {
      client.release();
    }
  }

  async liveVersion(): Promise<number | undefined> {
    const { rows } = await this.pool.query(`SELECT live_version FROM ${this.cat}.projections WHERE name = $1`, [this.spec.name]);
    return rows[0]?.live_version ?? undefined;
  }

  async ensureLive(codeVersion: number): Promise<number> {
    const live = await this.liveVersion();
    if (live !== undefined) return live;
    return this.transaction(async (c) => {
      const { rows } = await c.query(`SELECT live_version FROM ${this.cat}.projections WHERE name = $1 FOR UPDATE`, [this.spec.name]);
      if (rows[0].live_version !== null) return rows[0].live_version as number;
      const version = await this.addVersion(c, 'live', codeVersion, null);
      await c.query(`UPDATE ${this.cat}.projections SET live_version = $1 WHERE name = $2`, [version, this.spec.name]);
      return version;
    });
  }

  async createVersion(codeVersion: number, replayFrom: string | null): Promise<number> {
    return this.transaction(async (c) => {
      await c.query(`SELECT 1 FROM ${this.cat}.projections WHERE name = $1 FOR UPDATE`, [this.spec.name]);
      return this.addVersion(c, 'building', codeVersion, replayFrom);
    });
  }

  /** Inside a transaction holding the catalog row: the next version's row, schema, offsets table and setup. */
  private async addVersion(c: PoolClient, state: VersionState, codeVersion: number, replayFrom: string | null): Promise<number> {
    const { rows } = await c.query(`SELECT COALESCE(MAX(version), 0) + 1 AS next FROM ${this.cat}.projection_versions WHERE name = $1`, [this.spec.name]);
    const version = rows[0].next as number;
    await c.query(`INSERT INTO ${this.cat}.projection_versions (name, version, state, code_version, created_at, replay_from) VALUES ($1, $2, $3, $4, $5, $6)`, [
      this.spec.name,
      version,
      state,
      codeVersion,
      Date.now(),
      replayFrom,
    ]);
    const schema = this.versionSchema(version);
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.query(`CREATE TABLE ${schema}._tributary_offsets (topic TEXT NOT NULL, partition INT NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (topic, partition))`);
    await c.query(`SET LOCAL search_path TO ${schema}`);
    try {
      await this.spec.setup(c);
    } catch (err) {
      throw new TributaryError(`projection '${this.spec.name}': setup of version ${version} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return version;
  }

  async versions(): Promise<VersionInfo[]> {
    const { rows } = await this.pool.query(`SELECT version, state, code_version, created_at, replay_from FROM ${this.cat}.projection_versions WHERE name = $1 ORDER BY version`, [this.spec.name]);
    return rows.map((r) => ({ version: r.version, state: r.state, codeVersion: r.code_version, createdAt: Number(r.created_at), replayFrom: r.replay_from }));
  }

  async openWriter(version: number): Promise<VersionWriter> {
    const client = new this.pg.Client({ connectionString: this.spec.connectionString });
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query(`SET search_path TO ${this.versionSchema(version)}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return new PostgresVersionWriter(client, version, this.spec, this.versionSchema(version), this.cat);
  }

  async readOffsets(version: number, topic: string): Promise<Map<number, number>> {
    const { rows } = await this.pool.query(`SELECT partition, next_offset FROM ${this.versionSchema(version)}._tributary_offsets WHERE topic = $1`, [topic]);
    return new Map(rows.map((r) => [r.partition as number, Number(r.next_offset)]));
  }

  async swap(from: number, to: number, topic: string, finish: (liveOffsets: Map<number, number>) => Promise<boolean>): Promise<boolean> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Blocks live writers (FOR SHARE) until the swap is done; they then see the new version.
      const { rows } = await client.query(`SELECT live_version FROM ${this.cat}.projections WHERE name = $1 FOR UPDATE`, [this.spec.name]);
      if (rows[0]?.live_version !== from) {
        throw new TributaryError(`projection '${this.spec.name}': version ${rows[0]?.live_version} became live during the rebuild; this rebuild (version ${to}) is abandoned`);
      }
      const offsets = await client.query(`SELECT partition, next_offset FROM ${this.versionSchema(from)}._tributary_offsets WHERE topic = $1`, [topic]);
      const live = new Map(offsets.rows.map((r) => [r.partition as number, Number(r.next_offset)]));
      if (!(await finish(live))) {
        await client.query('ROLLBACK');
        return false;
      }
      const now = Date.now();
      await client.query(`UPDATE ${this.cat}.projection_versions SET state = 'retired', swapped_at = $1 WHERE name = $2 AND version = $3`, [now, this.spec.name, from]);
      await client.query(`UPDATE ${this.cat}.projection_versions SET state = 'live', swapped_at = $1 WHERE name = $2 AND version = $3`, [now, this.spec.name, to]);
      await client.query(`UPDATE ${this.cat}.projections SET live_version = $1 WHERE name = $2`, [to, this.spec.name]);
      await client.query('COMMIT');
      return true;
    } catch (err) {
      await rollbackQuietly(client);
      throw err;
    } finally {
      client.release();
    }
  }

  async dropVersion(version: number, graceMs: number): Promise<void> {
    if ((await this.liveVersion()) === version) throw new TributaryError(`projection '${this.spec.name}': version ${version} is live and cannot be dropped`);
    await this.pool.query(`UPDATE ${this.cat}.projection_versions SET state = 'dropped' WHERE name = $1 AND version = $2`, [this.spec.name, version]);
    if (graceMs > 0) await new Promise((r) => setTimeout(r, graceMs));
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.versionSchema(version)} CASCADE`);
  }

  async query(name: string, params: ProjectionQueryParams): Promise<unknown> {
    const fn = this.spec.queries?.[name];
    if (fn === undefined) throw new TributaryError(`projection '${this.spec.name}' has no query '${name}'`);
    const client = await this.pool.connect();
    try {
      for (let attempt = 0; ; attempt++) {
        const live = await this.liveVersion();
        if (live === undefined) throw new TributaryError(`projection '${this.spec.name}' has no read model yet: run the application first`);
        try {
          await client.query('BEGIN READ ONLY');
          await client.query(`SET LOCAL search_path TO ${this.versionSchema(live)}`);
          const result = await fn(client, params);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await rollbackQuietly(client);
          // The version was dropped after we resolved it (a swap): resolve it again.
          const code = (err as { code?: unknown } | null)?.code;
          if ((code === '42P01' || code === '3F000') && attempt < 5 && (await this.liveVersion()) !== live) continue;
          throw err;
        }
      }
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Writes one PostgreSQL version over its own connection (search_path = the version's schema). */
class PostgresVersionWriter implements VersionWriter {
  constructor(
    private readonly client: Client,
    readonly version: number,
    private readonly spec: ResolvedSpec,
    private readonly schema: string,
    private readonly cat: string,
  ) {}

  async readOffsets(topic: string): Promise<Map<number, number>> {
    const { rows } = await this.client.query(`SELECT partition, next_offset FROM ${this.schema}._tributary_offsets WHERE topic = $1`, [topic]);
    return new Map(rows.map((r) => [r.partition as number, Number(r.next_offset)]));
  }

  async initOffsets(topic: string, starts: ReadonlyMap<number, number>): Promise<void> {
    if (starts.size === 0) return;
    const partitions = [...starts.keys()];
    const offsets = partitions.map((p) => starts.get(p)!);
    await this.client.query(
      `INSERT INTO ${this.schema}._tributary_offsets (topic, partition, next_offset) SELECT $1, p, o FROM unnest($2::int[], $3::bigint[]) AS t(p, o) ON CONFLICT DO NOTHING`,
      [topic, partitions, offsets],
    );
  }

  async commit(batch: ApplyBatch): Promise<CommitOutcome> {
    const { client } = this;
    await client.query('BEGIN');
    try {
      if (batch.requireLive) {
        const { rows } = await client.query(`SELECT live_version FROM ${this.cat}.projections WHERE name = $1 FOR SHARE`, [this.spec.name]);
        const live = (rows[0]?.live_version ?? undefined) as number | undefined;
        if (live !== this.version) {
          await client.query('ROLLBACK');
          return { kind: 'not-live', live };
        }
      }
      const apply = this.spec.apply;
      const records = batch.records;
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        try {
          await apply(client, r.value, r.meta);
        } catch (err) {
          throw new ApplyError(i, err);
        }
      }
      for (const o of batch.offsets) {
        const result = await client.query(`UPDATE ${this.schema}._tributary_offsets SET next_offset = $1 WHERE topic = $2 AND partition = $3 AND next_offset = $4`, [o.to, o.topic, o.partition, o.from]);
        if (result.rowCount !== 1) {
          const stored = await client.query(`SELECT next_offset FROM ${this.schema}._tributary_offsets WHERE topic = $1 AND partition = $2`, [o.topic, o.partition]);
          await client.query('ROLLBACK');
          const value = stored.rows[0]?.next_offset;
          return { kind: 'stale', topic: o.topic, partition: o.partition, stored: value === undefined ? undefined : Number(value), expected: o.from };
        }
      }
      await client.query('COMMIT');
      return { kind: 'committed' };
    } catch (err) {
      await rollbackQuietly(client);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
