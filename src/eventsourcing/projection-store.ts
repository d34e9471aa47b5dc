/**
 * The port between projection runners (live and rebuild) and a read-model database. The SQLite
 * and PostgreSQL backends implement it; runners, rebuild and queries talk to nothing else.
 *
 * A store holds a *catalog* (which versions of the read model exist, and which one is live) and
 * the versions themselves, each a full copy of the read model's tables plus its own consumed
 * offsets (`_tributary_offsets`: the next offset to apply, per topic-partition). A version's
 * tables and offsets always change in one database transaction.
 */
import type { ProjectionMeta, ProjectionQueryParams } from './projection.js';

/** One event to apply, decoded. */
export interface ApplyRecord {
  value: unknown;
  meta: ProjectionMeta<unknown>;
}

/** Moves a partition's stored offset from `from` (the value the writer read) to `to`. */
export interface OffsetAdvance {
  topic: string;
  partition: number;
  from: number;
  to: number;
}

export interface ApplyBatch {
  records: readonly ApplyRecord[];
  offsets: readonly OffsetAdvance[];
  /**
   * Commit only while the version being written is the live one (the live runner): the
   * catalog is read inside the transaction, so a swap is noticed before anything is written.
   * A rebuild writes a version that is not live yet and passes false.
   */
  requireLive: boolean;
}

export type CommitOutcome =
  | { kind: 'committed' }
  /** A rebuild swapped another version in: nothing was written; move to `live`. */
  | { kind: 'not-live'; live: number | undefined }
  /** The stored offset was not `from`: another writer advanced it; nothing was written. */
  | { kind: 'stale'; topic: string; partition: number; stored: number | undefined; expected: number };

/** A handler threw for `records[index]`; the transaction was rolled back. */
export class ApplyError extends Error {
  constructor(
    readonly index: number,
    readonly error: unknown,
  ) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
    this.name = 'ApplyError';
  }
}

export type VersionState = 'building' | 'live' | 'retired' | 'dropped';

export interface VersionInfo {
  version: number;
  state: VersionState;
  /** The projection's `version` (of its code) that built this copy. */
  codeVersion: number;
  createdAt: number;
  /** Where a rebuild started: null for offset 0, else the ISO time given with --from. */
  replayFrom: string | null;
}

/** Writes one version: applies batches with their offsets, one transaction each. */
export interface VersionWriter {
  readonly version: number;
  /** Stored next offsets of the topic's partitions that have a row. */
  readOffsets(topic: string): Promise<Map<number, number>>;
  /** Adds offset rows for the partitions that have none (existing rows are kept). */
  initOffsets(topic: string, starts: ReadonlyMap<number, number>): Promise<void>;
  /** One transaction: the records, then compare-and-set of every offset row. Throws ApplyError when a handler throws. */
  commit(batch: ApplyBatch): Promise<CommitOutcome>;
  close(): Promise<void>;
}

export interface ProjectionStore {
  /** Where it lives, for messages: a file path, or a database and schema. */
  readonly location: string;
  /** The live version, or undefined when the read model was never created. */
  liveVersion(): Promise<number | undefined>;
  /** The live version, creating version 1 (set up, empty, at offset 0) when there is none. */
  ensureLive(codeVersion: number): Promise<number>;
  versions(): Promise<VersionInfo[]>;
  /** Creates and sets up a new version in state 'building', numbered one past every version so far. */
  createVersion(codeVersion: number, replayFrom: string | null): Promise<number>;
  openWriter(version: number): Promise<VersionWriter>;
  /** Stored next offsets of a version (for a rebuild's bound, lag and status). */
  readOffsets(version: number, topic: string): Promise<Map<number, number>>;
  /**
   * The atomic swap. Holds off every commit to the live version `from` (requireLive commits
   * wait), hands `finish` the offsets `from` is at then, and when `finish` resolves true (the new
   * version reached those offsets) makes `to` live before letting the writers go on; they then
   * see `not-live` and move to `to`. Resolves false, changing nothing, when `finish` does.
   */
  swap(from: number, to: number, topic: string, finish: (liveOffsets: Map<number, number>) => Promise<boolean>): Promise<boolean>;
  /** Marks a version dropped, waits `graceMs` for queries still reading it, then deletes it. */
  dropVersion(version: number, graceMs: number): Promise<void>;
  /** Runs a named query of the projection against the live version. */
  query(name: string, params: ProjectionQueryParams): Promise<unknown>;
  close(): Promise<void>;
}

/** Orders a catalog's versions for display: newest first. */
export function describeVersions(versions: readonly VersionInfo[]): string {
  return versions
    .slice()
    .sort((a, b) => b.version - a.version)
    .map((v) => `v${v.version} ${v.state}`)
    .join(', ');
}
