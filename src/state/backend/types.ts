/**
 * The bytes-level state backend of a task: the port that the typed stores (KeyValueStore,
 * WindowStore, SessionStore, see DESIGN.md "State") are built on, and that every backend
 * ('memory', 'sqlite', 'level') implements.
 *
 * A task (one sub-topology on one partition) owns several named stores; its backend keeps all
 * of them together so that their data and the task's changelog checkpoints are written in one
 * atomic step. Keys and values are Buffers; keys are ordered by unsigned bytes
 * (`Buffer.compare`), as in Kafka Streams over RocksDB. Reads are synchronous (they run on the
 * processing hot path); writes reach the backend only at commit, in one atomic {@link
 * TaskStateBackend.write}.
 *
 * @example
 * ```ts
 * const backend = await openTaskStateBackend({ kind: 'sqlite', dir: '.tributary/state/order-stats/0_1' });
 * const totals = backend.store('customer-totals');
 * const restoreFrom = backend.readCheckpoints()['order-stats-customer-totals-changelog-1'] ?? 0;
 * totals.get(Buffer.from('c-42'));                          // sync
 * for (const { key, value } of totals.range({ gte: Buffer.from('c-') })) { ... }
 * await backend.write(
 *   [{ store: 'customer-totals', key: Buffer.from('c-42'), value: Buffer.from('{"n":3}') }],
 *   [],
 *   { 'order-stats-customer-totals-changelog-1': 1043 },
 * );
 * ```
 */

/** Which implementation keeps a task's state. */
export type BackendKind = 'memory' | 'sqlite' | 'level';

/** One key and its value, as a scan yields them. */
export interface BytesEntry {
  key: Buffer;
  value: Buffer;
}

/**
 * Bounds on keys, level-style; all optional. Keys compare as unsigned bytes. When both a
 * strict and a non-strict bound are given on one side, the tighter one applies (a key must
 * satisfy every bound given). `reverse` yields from the highest key down; `limit` caps the
 * number of entries (the lowest ones, or the highest when reversed); a negative limit or
 * `Infinity` means none, 0 yields nothing.
 */
export interface KeyRange {
  gte?: Buffer;
  gt?: Buffer;
  lte?: Buffer;
  lt?: Buffer;
  reverse?: boolean;
  limit?: number;
}

/** A put (`value` is a Buffer) or a delete (`value` is null) of one key of one store. */
export interface StoreWrite {
  store: string;
  key: Buffer;
  /** null deletes the key. */
  value: Buffer | null;
}

/** Deletes every key of a store in [from, to): used to drop whole expired segments of window stores at once. */
export interface RangeDelete {
  store: string;
  from: Buffer;
  to: Buffer;
}

/**
 * One named store of a task's backend, read synchronously. It sees what the last completed
 * {@link TaskStateBackend.write} left; it never sees uncommitted writes (those live in the
 * task's write batch above it).
 *
 * Buffers returned by `get` and the scans belong to the caller to read, not to change: the
 * memory backend hands out the bytes it holds.
 */
export interface KeyValueBytesStore {
  readonly name: string;
  /** The value of `key`, or undefined. Synchronous on every backend. */
  get(key: Buffer): Buffer | undefined;
  /**
   * Sync ordered scan: a lazy, single-use iterable. Run it to its end or leave it early
   * (`break`, or `return()` on its iterator) before the next `write()`: an open scan makes
   * `write()` fail with IllegalStateError. 'level' cannot iterate synchronously: it throws
   * UnsupportedOperationError saying to use the sqlite or memory backend, or rangeAsync.
   */
  range(range?: KeyRange): Iterable<BytesEntry>;
  /**
   * Async ordered scan, on every backend, which may stay open across `write()`s. On 'memory'
   * and 'level' it reads a snapshot taken when the scan starts (its first `next()`); on
   * 'sqlite' it reads pages of a few hundred entries, each consistent, in key order without
   * repeats, and a write that lands between two pages shows in the later ones.
   */
  rangeAsync(range?: KeyRange): AsyncIterable<BytesEntry>;
  /** The number of keys in the store. Exact on all three backends (each keeps a counter). */
  approximateCount(): number;
}

/**
 * The state of one task: its named stores and its changelog checkpoints, written together.
 * Calls after `close()` throw ClosedError.
 */
export interface TaskStateBackend {
  readonly kind: BackendKind;
  /** Whether the state outlives the process ('sqlite', 'level'), so restore can start from the checkpoints. */
  readonly persistent: boolean;
  /** Opens or creates the store `name` (a non-empty string). The same name gives the same store. */
  store(name: string): KeyValueBytesStore;
  /**
   * Applies puts/deletes (in order; a later write of a key wins), range deletes (applied first),
   * and checkpoint offsets, atomically: after a crash either all of it is there or none.
   * Stores named here are created if needed. Checkpoints merge: each changelog given gets the
   * offset given, others keep theirs. Arguments are checked before anything is applied (a bad
   * key is a TypeError and changes nothing). Calls run one after another in call order.
   */
  write(writes: readonly StoreWrite[], rangeDeletes: readonly RangeDelete[], checkpoints: Readonly<Record<string, number>>): Promise<void>;
  /** Checkpoints as last written (changelog "topic-partition" -> next offset to restore from); {} when none. A fresh object. */
  readCheckpoints(): Record<string, number>;
  /** Waits for writes under way, then releases the files. Idempotent. */
  close(): Promise<void>;
  /** Removes everything (state and checkpoints) on disk, e.g. when the checkpoint is ahead of the changelog. Closes. */
  destroy(): Promise<void>;
}

/** Options of {@link openTaskStateBackend}. */
export interface OpenBackendOptions {
  kind: BackendKind;
  /** directory for this task's state (created if missing); ignored by memory */
  dir: string;
}
