/**
 * Projections: the read side of CQRS. A projection folds the events of one topic into a read
 * model in a database (SQLite through better-sqlite3, or PostgreSQL), and stores the offsets it
 * consumed in the same database transaction, so each event is applied exactly once whatever
 * crashes or rebalances. Attach one with `stream.project(projection)`; see sqliteProjection()
 * and postgresProjection() for the two backends.
 */
import { TopologyError } from '../errors/index.js';
import type { Headers } from '../log/types.js';
import type { ProjectionStore } from './projection-store.js';

/** What a handler learns about the event it applies, besides the event itself. */
export interface ProjectionMeta<K = unknown> {
  topic: string;
  partition: number;
  offset: number;
  /** The record's timestamp, epoch ms. */
  timestamp: number;
  /** The deserialized record key. */
  key: K;
  headers: Headers;
  /**
   * True while a rebuild replays history that the live copy of the read model has applied
   * already: skip side effects (emails, webhooks) then, or they fire twice.
   */
  replaying: boolean;
  /** The version (copy) of the read model being written: 1, then one more per rebuild. */
  version: number;
}

/** Query-string parameters of `GET /projections/<name>/queries/<query>?a=1&b=2`. */
export type ProjectionQueryParams = Record<string, string>;

const PROJECTION_BRAND = Symbol.for('tributary.projection');

/**
 * A read model definition, made by sqliteProjection() or postgresProjection() and attached to a
 * stream with `stream.project(projection)`. The type parameters are the stream's key and value
 * (the event) types.
 */
export interface Projection<K = unknown, E = unknown> {
  readonly [PROJECTION_BRAND]: true;
  /** Names the projection: its consumer group `<applicationId>-projection-<name>`, the CLI, HTTP paths. */
  readonly name: string;
  readonly backend: 'sqlite' | 'postgres';
  /** The version of the projection's code (setup and apply); recorded with each copy it builds. */
  readonly version: number;
  /** Whether `tributary rebuild --from <datetime>` may replay only from a point in time. */
  readonly replayFromTime: boolean;
  /** Names of the queries served as `GET /projections/<name>/queries/<query>`. */
  readonly queryNames: readonly string[];
  /** @internal Phantom field that carries the key and event types; always undefined. */
  readonly types?: { key: K; event: E };
  /** @internal Opens the projection's database (its catalog and versions). */
  openStore(): Promise<ProjectionStore>;
}

/** True for what sqliteProjection() / postgresProjection() return. */
export function isProjection(value: unknown): value is Projection<unknown, unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PROJECTION_BRAND] === true;
}

/** @internal Stamps a backend's projection object with the brand. */
export function brandProjection<K, E>(fields: Omit<Projection<K, E>, typeof PROJECTION_BRAND>): Projection<K, E> {
  return { [PROJECTION_BRAND]: true, ...fields };
}

/** Checks the options both backends share; `where` names the call in messages. */
export function checkProjectionOptions(where: string, spec: { name?: unknown; version?: unknown; setup?: unknown; apply?: unknown; queries?: unknown }): void {
  if (typeof spec !== 'object' || spec === null) throw new TopologyError(`${where}: pass { name, setup, apply, ... }`);
  if (typeof spec.name !== 'string' || !/^[a-zA-Z0-9_-]{1,48}$/.test(spec.name)) {
    throw new TopologyError(`${where}: 'name' must be 1-48 letters, digits, '_' or '-', got ${JSON.stringify(spec.name)}`);
  }
  if (spec.version !== undefined && (!Number.isSafeInteger(spec.version) || (spec.version as number) < 1)) {
    throw new TopologyError(`${where}: 'version' must be a positive integer, got ${JSON.stringify(spec.version)}`);
  }
  if (typeof spec.setup !== 'function') throw new TopologyError(`${where}: 'setup' must be a function (db) => void that creates the read model's tables`);
  if (typeof spec.apply !== 'function') throw new TopologyError(`${where}: 'apply' must be a function (db, event, meta) => void`);
  if (spec.queries !== undefined) {
    if (typeof spec.queries !== 'object' || spec.queries === null) throw new TopologyError(`${where}: 'queries' must be an object of functions (db, params) => rows`);
    for (const [name, fn] of Object.entries(spec.queries)) {
      if (!/^[a-zA-Z0-9_-]+$/.test(name)) throw new TopologyError(`${where}: query name ${JSON.stringify(name)} must be letters, digits, '_' or '-'`);
      if (typeof fn !== 'function') throw new TopologyError(`${where}: query '${name}' must be a function (db, params) => rows`);
    }
  }
}
