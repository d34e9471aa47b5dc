import { join } from 'node:path';
import { TopologyError } from '../errors/index.js';
import type { ConsumedRecord, OutgoingRecord } from '../log/types.js';
import { openTaskStateBackend } from './backend/index.js';
import { openMemoryBackend, type MemoryTaskStateBackend } from './backend/memory-backend.js';
import type { BackendKind, StoreWrite, TaskStateBackend, RangeDelete } from './backend/types.js';
import { changelogKeyOf } from './internals/key-codec.js';
import { WriteBatchStore } from './internals/write-batch-store.js';
import { TypedKeyValueStore } from './key-value-store.js';
import { TypedSessionStore } from './session-store.js';
import { changelogTopicOf, writesOwnChangelog, type StoreDefinition } from './store-definition.js';
import { defaultSegmentInterval, TypedWindowStore } from './window-store.js';

/** One store of a task, with what commit and restore need to know about it. */
export interface TaskStore {
  readonly def: StoreDefinition;
  /** Where its changes are logged (or the source topic it copies); undefined when not logged. */
  readonly changelogTopic: string | undefined;
  /** `<topic>-<partition>`, the checkpoint name. */
  readonly checkpointKey: string | undefined;
  readonly batch: WriteBatchStore;
  readonly typed: TypedKeyValueStore<unknown, unknown> | TypedWindowStore<unknown, unknown> | TypedSessionStore<unknown, unknown>;
  /** Physical key of a changelog record's key (restore). */
  physicalKey(changelogKey: Buffer): Buffer;
  /** Changelog key of a physical key (commit). */
  changelogKey(physicalKey: Buffer): Buffer;
}

export interface OpenTaskStoresOptions {
  applicationId: string;
  taskId: string;
  partition: number;
  stores: readonly StoreDefinition[];
  defaultBackend: BackendKind;
  /** Root of local state; a task's files go to `<stateDir>/<applicationId>/<taskId>`. */
  stateDir: string;
}

/** A restore needs: read this changelog partition from `from` to its end into the store. */
export interface RestoreTarget {
  store: TaskStore;
  topic: string;
  partition: number;
  from: number;
}

/**
 * The state stores of one task over one backend: typed stores for processors, a write batch
 * per store, changelog records at commit, and the atomic write of batch + checkpoints after
 * the commit succeeded. After a crash the local state therefore matches some committed
 * changelog offset, and restore replays only the tail.
 */
export class TaskStores {
  private readonly byName = new Map<string, TaskStore>();

  private constructor(
    private readonly backend: TaskStateBackend,
    private readonly partition: number,
    readonly dir: string,
  ) {}

  static async open(options: OpenTaskStoresOptions): Promise<TaskStores> {
    const kinds = new Set(options.stores.map((s) => s.backend ?? options.defaultBackend));
    if (kinds.size > 1) throw new TopologyError(`task ${options.taskId}: its stores use different backends (${[...kinds].join(', ')}); stores of one task share one backend`);
    const kind = [...kinds][0] ?? options.defaultBackend;
    if (kind === 'level') {
      // Session stores and join buffers scan while processing; classic-level only reads keys synchronously.
      const needScans = options.stores.filter((s) => s.kind === 'session' || s.retainDuplicates === true);
      if (needScans.length > 0) {
        throw new TopologyError(
          `stores ${needScans.map((s) => `'${s.name}'`).join(', ')} need ordered scans while processing, which classic-level cannot do synchronously: use stateBackend 'sqlite' (the default) or 'memory'`,
        );
      }
    }
    const dir = join(options.stateDir, options.applicationId, options.taskId);
    const backend = await openTaskStateBackend({ kind, dir });
    const stores = new TaskStores(backend, options.partition, dir);
    for (const def of options.stores) stores.add(options.applicationId, def);
    return stores;
  }

  /** In-memory stores opened synchronously, for testTopology. */
  static openInMemory(options: Omit<OpenTaskStoresOptions, 'defaultBackend' | 'stateDir'>): TaskStores {
    const stores = new TaskStores(openMemoryBackend(), options.partition, '');
    for (const def of options.stores) stores.add(options.applicationId, def);
    return stores;
  }

  get persistent(): boolean {
    return this.backend.persistent;
  }

  get kind(): BackendKind {
    return this.backend.kind;
  }

  store(name: string): TaskStore | undefined {
    return this.byName.get(name);
  }

  all(): TaskStore[] {
    return [...this.byName.values()];
  }

  /** Logged stores and where their restore starts (their checkpoint, or 0). */
  restoreTargets(): RestoreTarget[] {
    const checkpoints = this.backend.readCheckpoints();
    const out: RestoreTarget[] = [];
    for (const store of this.byName.values()) {
      if (store.changelogTopic === undefined) continue;
      out.push({ store, topic: store.changelogTopic, partition: this.partition, from: checkpoints[store.checkpointKey!] ?? 0 });
    }
    return out;
  }

  /**
   * Writes restored changelog records straight to the backend, with the checkpoint after them.
   * A store with `restoreRecord` folds each record into the key's current value instead.
   */
  async applyRestored(store: TaskStore, records: readonly ConsumedRecord[], nextOffset: number): Promise<void> {
    const fold = store.def.restoreRecord;
    const writes: StoreWrite[] = [];
    if (fold === undefined) {
      for (const r of records) {
        if (r.key === null) continue;
        writes.push({ store: store.def.name, key: store.physicalKey(r.key), value: r.value });
      }
    } else {
      // Later records of a key in this slice fold into what earlier ones made, not the backend's value.
      const latest = new Map<string, StoreWrite>();
      const committed = this.backend.store(store.def.name);
      for (const r of records) {
        if (r.key === null) continue;
        const key = store.physicalKey(r.key);
        const id = key.toString('latin1');
        const seen = latest.get(id);
        const current = seen === undefined ? committed.get(key) : (seen.value ?? undefined);
        latest.set(id, { store: store.def.name, key, value: fold(current, r) });
      }
      for (const w of latest.values()) writes.push(w);
    }
    await this.backend.write(writes, [], { [store.checkpointKey!]: nextOffset });
  }

  /**
   * Step one of a commit: every store's writes so far are set aside for it (writes after this go
   * to a fresh batch, so processing can go on while the commit is in flight). Returns the
   * changelog records of the sealed writes (stores with their own changelog topic).
   */
  seal(timestamp: number): OutgoingRecord[] {
    for (const store of this.byName.values()) store.batch.seal();
    return this.changelogRecords(timestamp);
  }

  /** Changelog records of the sealed writes (stores with their own changelog topic). */
  changelogRecords(timestamp: number): OutgoingRecord[] {
    const out: OutgoingRecord[] = [];
    for (const store of this.byName.values()) {
      if (store.def.changelog !== 'internal' || store.batch.sealedSize === 0) continue;
      const topic = store.changelogTopic!;
      store.batch.forEachSealed((key, value) => {
        out.push({ topic, partition: this.partition, key: store.changelogKey(key), value, timestamp, headers: {} });
      });
    }
    return out;
  }

  /**
   * Step two of a commit: the sealed batches reach the backend with the new checkpoints, atomically.
   * `endOffsets` are the changelog end offsets the transaction reported; `sourceOffsets` the
   * consumed offsets of input topics that serve as changelogs.
   */
  async flush(endOffsets: ReadonlyMap<string, number>, sourceOffsets: ReadonlyMap<string, number>): Promise<void> {
    const batch = this.collect(endOffsets, sourceOffsets);
    if (batch !== undefined) await this.backend.write(batch.writes, batch.rangeDeletes, batch.checkpoints);
  }

  /** flush() at once, on the memory backend (testTopology's synchronous commits). */
  flushSync(endOffsets: ReadonlyMap<string, number>, sourceOffsets: ReadonlyMap<string, number>): void {
    const batch = this.collect(endOffsets, sourceOffsets);
    if (batch !== undefined) (this.backend as MemoryTaskStateBackend).writeSync(batch.writes, batch.rangeDeletes, batch.checkpoints);
  }

  private collect(endOffsets: ReadonlyMap<string, number>, sourceOffsets: ReadonlyMap<string, number>): { writes: StoreWrite[]; rangeDeletes: RangeDelete[]; checkpoints: Record<string, number> } | undefined {
    const writes: StoreWrite[] = [];
    const rangeDeletes: RangeDelete[] = [];
    const checkpoints: Record<string, number> = {};
    for (const store of this.byName.values()) {
      if (store.checkpointKey !== undefined) {
        const offset = writesOwnChangelog(store.def) ? endOffsets.get(store.checkpointKey) : sourceOffsets.get(store.checkpointKey);
        if (offset !== undefined) checkpoints[store.checkpointKey] = offset;
      }
      // drained even when empty: the sealed batch is cleared for the next commit, and range
      // deletes come through when no key was written
      const drained = store.batch.drainSealed();
      for (const w of drained.writes) writes.push(w);
      for (const d of drained.rangeDeletes) rangeDeletes.push(d);
    }
    if (writes.length === 0 && rangeDeletes.length === 0 && Object.keys(checkpoints).length === 0) return undefined;
    return { writes, rangeDeletes, checkpoints };
  }

  /** Drops every uncommitted write, sealed or not (a failed commit, a dirty close). */
  discard(): void {
    for (const store of this.byName.values()) store.batch.discard();
  }

  /** Wipes local state (a checkpoint ahead of its changelog), then reopens empty. */
  async wipe(options: OpenTaskStoresOptions): Promise<TaskStores> {
    await this.backend.destroy();
    return TaskStores.open(options);
  }

  async close(): Promise<void> {
    await this.backend.close();
  }

  private add(applicationId: string, def: StoreDefinition): void {
    const changelogTopic = changelogTopicOf(applicationId, def);
    const checkpointKey = changelogTopic === undefined ? undefined : `${changelogTopic}-${this.partition}`;
    const batch = new WriteBatchStore(def.name, this.backend.store(def.name));
    // A store folded from its changelog does not hold the topic's values: its serdes get a name of their own.
    const serdeTopic = (def.restoreRecord === undefined ? changelogTopic : undefined) ?? `${applicationId}-${def.name}`;
    let store: TaskStore;
    if (def.kind === 'key-value') {
      store = {
        def,
        changelogTopic,
        checkpointKey,
        batch,
        typed: new TypedKeyValueStore(def.name, batch, def.keySerde, def.valueSerde, serdeTopic),
        physicalKey: (k) => k,
        changelogKey: (k) => k,
      };
    } else {
      const retention = def.retentionMs ?? 24 * 3600_000;
      const segment = defaultSegmentInterval(retention);
      const typed =
        def.kind === 'window'
          ? new TypedWindowStore(def.name, batch, def.keySerde, def.valueSerde, serdeTopic, retention, segment, def.retainDuplicates === true)
          : new TypedSessionStore(def.name, batch, def.keySerde, def.valueSerde, serdeTopic, retention, segment);
      store = {
        def,
        changelogTopic,
        checkpointKey,
        batch,
        typed,
        physicalKey: (k) => (def.kind === 'window' ? TypedWindowStore.physicalKey(k, segment) : TypedSessionStore.physicalKey(k, segment)),
        changelogKey: changelogKeyOf,
      };
    }
    this.byName.set(def.name, store);
  }
}
