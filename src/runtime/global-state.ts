import { join } from 'node:path';
import { IllegalStateError, SerdeError, TopicError, TopologyError } from '../errors/index.js';
import type { Log, LogConsumer, TopicPartition } from '../log/types.js';
import { openTaskStateBackend } from '../state/backend/index.js';
import { openMemoryBackend, type MemoryTaskStateBackend } from '../state/backend/memory-backend.js';
import type { BackendKind, TaskStateBackend } from '../state/backend/types.js';
import { WriteBatchStore } from '../state/internals/write-batch-store.js';
import { TypedKeyValueStore } from '../state/key-value-store.js';
import type { StoreDefinition } from '../state/store-definition.js';
import type { KeyValue, KeyValueStore } from '../state/store-types.js';
import type { Topology } from '../topology/topology.js';
import type { ResolvedAppConfig } from './config.js';
import type { Logger } from './logger.js';

/**
 * Global tables (`b.globalTable(topic)`): every instance keeps a full copy of the topic, all
 * partitions, in a local key-value store that any task may read. The topic is the store's
 * changelog; nothing else writes the store. These stores belong to no sub-topology: the runtime
 * fills them before tasks start and keeps them up to date while they run (Kafka Streams'
 * GlobalStateManager and GlobalStreamThread); testTopology writes records piped to the topic
 * straight into them.
 */

/** A store declared by `globalTable()`: marked so that no task opens its own copy. */
export interface GlobalStoreDefinition extends StoreDefinition {
  readonly kind: 'key-value';
  readonly changelog: { sourceTopic: string };
  readonly global: true;
}

export function isGlobalStore(def: StoreDefinition): def is GlobalStoreDefinition {
  return (def as Partial<GlobalStoreDefinition>).global === true;
}

export function globalStoresOf(topology: Topology): GlobalStoreDefinition[] {
  return [...topology.stores.values()].filter(isGlobalStore);
}

/** What processors see of a global store: reads only (as in Kafka Streams). */
class ReadOnlyGlobalStore<K, V> implements KeyValueStore<K, V> {
  constructor(private readonly inner: TypedKeyValueStore<K, V>) {}
  get name(): string {
    return this.inner.name;
  }
  get(key: K): V | undefined {
    return this.inner.get(key);
  }
  range(from?: K, to?: K): IterableIterator<KeyValue<K, V>> {
    return this.inner.range(from, to);
  }
  prefixScan<P>(prefix: P, prefixSerde?: { serialize(value: P, topic: string): Buffer }): IterableIterator<KeyValue<K, V>> {
    return this.inner.prefixScan(prefix, prefixSerde);
  }
  all(): IterableIterator<KeyValue<K, V>> {
    return this.inner.all();
  }
  approximateCount(): number {
    return this.inner.approximateCount();
  }
  put(): void {
    throw this.readOnly();
  }
  putIfAbsent(): V | undefined {
    throw this.readOnly();
  }
  delete(): V | undefined {
    throw this.readOnly();
  }
  private readOnly(): Error {
    return new IllegalStateError(`global store '${this.name}' is read-only: it changes only through its topic`);
  }
}

interface GlobalStore {
  readonly def: GlobalStoreDefinition;
  readonly batch: WriteBatchStore;
  readonly view: ReadOnlyGlobalStore<unknown, unknown>;
}

/**
 * The global stores of one instance over one backend: records of the global topics go in
 * (`apply`), and `flush` writes them with the offsets reached (checkpoints
 * `<topic>-<partition>`), atomically, so a restart reads on from there.
 */
export class GlobalStateStores {
  private readonly byName = new Map<string, GlobalStore>();
  private readonly byTopic = new Map<string, GlobalStore>();
  private readonly pending: Record<string, number> = {};
  /** Read-only typed stores by name, for the processors of every task. */
  readonly views = new Map<string, KeyValueStore<unknown, unknown>>();

  private constructor(
    private readonly backend: TaskStateBackend,
    defs: readonly GlobalStoreDefinition[],
  ) {
    for (const def of defs) {
      const batch = new WriteBatchStore(def.name, backend.store(def.name));
      const view = new ReadOnlyGlobalStore(new TypedKeyValueStore<unknown, unknown>(def.name, batch, def.keySerde, def.valueSerde, def.changelog.sourceTopic));
      const store = { def, batch, view };
      this.byName.set(def.name, store);
      this.byTopic.set(def.changelog.sourceTopic, store);
      this.views.set(def.name, view);
    }
  }

  /** In memory and synchronous, for testTopology. */
  static inMemory(defs: readonly GlobalStoreDefinition[]): GlobalStateStores {
    return new GlobalStateStores(openMemoryBackend(), defs);
  }

  /** In the app's state directory (`<stateDir>/<applicationId>/global`). */
  static async open(applicationId: string, defs: readonly GlobalStoreDefinition[], defaultBackend: BackendKind, stateDir: string): Promise<GlobalStateStores> {
    const kinds = new Set(defs.map((d) => d.backend ?? defaultBackend));
    if (kinds.size > 1) throw new TopologyError(`global stores ${defs.map((d) => `'${d.name}'`).join(', ')} use different backends (${[...kinds].join(', ')}); they share one backend`);
    const kind = [...kinds][0] ?? defaultBackend;
    const backend = await openTaskStateBackend({ kind, dir: join(stateDir, applicationId, 'global') });
    return new GlobalStateStores(backend, defs);
  }

  get topics(): string[] {
    return [...this.byTopic.keys()];
  }

  definitionOf(topic: string): GlobalStoreDefinition | undefined {
    return this.byTopic.get(topic)?.def;
  }

  /** Committed offsets: `<topic>-<partition>` -> next offset to read. */
  checkpoints(): Record<string, number> {
    return this.backend.readCheckpoints();
  }

  /**
   * One record of a global topic: upsert, or delete for a null value; null keys are skipped.
   * Throws a SerdeError (and changes nothing) when the key or value does not deserialize.
   */
  apply(topic: string, partition: number, offset: number, key: Buffer | null, value: Buffer | null): void {
    const store = this.byTopic.get(topic);
    if (store === undefined) throw new IllegalStateError(`topic '${topic}' feeds no global store`);
    this.pending[`${topic}-${partition}`] = offset + 1;
    if (key === null) return;
    try {
      store.def.keySerde.deserialize(key, topic);
      if (value !== null) store.def.valueSerde.deserialize(value, topic);
    } catch (err) {
      throw new SerdeError(`global table '${store.def.name}': record ${topic}-${partition}@${offset} does not deserialize: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    store.batch.put(key, value);
  }

  /** Writes what was applied, with the offsets reached, atomically. */
  async flush(): Promise<void> {
    const batch = this.collect();
    if (batch !== undefined) await this.backend.write(batch.writes, [], batch.checkpoints);
  }

  /** flush() at once (the memory backend of testTopology). */
  flushSync(): void {
    const batch = this.collect();
    if (batch !== undefined) (this.backend as MemoryTaskStateBackend).writeSync(batch.writes, [], batch.checkpoints);
  }

  async close(): Promise<void> {
    for (const s of this.byName.values()) s.batch.discard();
    await this.backend.close();
  }

  /** Throws everything away (local state ahead of its topic); the instance is closed after. */
  async destroy(): Promise<void> {
    await this.backend.destroy();
  }

  private collect(): { writes: { store: string; key: Buffer; value: Buffer | null }[]; checkpoints: Record<string, number> } | undefined {
    const writes: { store: string; key: Buffer; value: Buffer | null }[] = [];
    for (const s of this.byName.values()) if (s.batch.size > 0) for (const w of s.batch.drain().writes) writes.push(w);
    const checkpoints = { ...this.pending };
    for (const k of Object.keys(this.pending)) delete this.pending[k];
    if (writes.length === 0 && Object.keys(checkpoints).length === 0) return undefined;
    return { writes, checkpoints };
  }
}

export interface GlobalStateManagerOptions {
  log: Log;
  topology: Topology;
  config: ResolvedAppConfig;
  stateDir: string;
  logger: Logger;
}

/**
 * Keeps the global stores of a running instance: before any task starts, reads every partition
 * of every global topic from the local checkpoint (or the start) to its end; then, while tasks
 * run, `update()` applies what has arrived since. Reads with `assign()`, in no consumer group.
 */
export class GlobalStateManager {
  /** Records applied while restoring at start. */
  restoredRecords = 0;
  private consumer: LogConsumer | undefined;

  private constructor(
    private stores: GlobalStateStores,
    private readonly options: GlobalStateManagerOptions,
    private readonly defs: readonly GlobalStoreDefinition[],
  ) {}

  /** Opens and fully restores the global stores; undefined when the topology has none. */
  static async start(options: GlobalStateManagerOptions): Promise<GlobalStateManager | undefined> {
    const defs = globalStoresOf(options.topology);
    if (defs.length === 0) return undefined;
    const existing = new Set(await options.log.admin.listTopics());
    const missing = defs.map((d) => d.changelog.sourceTopic).filter((t) => !existing.has(t));
    if (missing.length > 0) {
      throw new TopicError(
        `global table topic${missing.length > 1 ? 's' : ''} ${missing.map((t) => `'${t}'`).join(', ')} of application '${options.topology.applicationId}' ` +
          `do${missing.length > 1 ? '' : 'es'} not exist: create ${missing.length > 1 ? 'them' : 'it'} first, e.g. tributary topics --create ${missing[0]} --partitions 1`,
      );
    }
    const stores = await GlobalStateStores.open(options.topology.applicationId, defs, options.config.stateBackend, options.stateDir);
    const manager = new GlobalStateManager(stores, options, defs);
    try {
      await manager.restore();
    } catch (err) {
      await manager.close().catch(() => undefined);
      throw err;
    }
    return manager;
  }

  /** Read-only stores by name, for tasks. */
  get views(): ReadonlyMap<string, KeyValueStore<unknown, unknown>> {
    return this.stores.views;
  }

  /** Applies the records that arrived since the last call (no wait). Returns how many. */
  async update(): Promise<number> {
    const consumer = this.consumer;
    if (consumer === undefined) return 0;
    const records = await consumer.poll(0);
    if (records.length === 0) return 0;
    for (const r of records) this.applyOne(r.topic, r.partition, r.offset, r.key, r.value);
    await this.stores.flush();
    return records.length;
  }

  async close(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    try {
      await consumer?.close();
    } finally {
      await this.stores.close();
    }
  }

  private async restore(): Promise<void> {
    const { log, logger } = this.options;
    const started = Date.now();
    const partitions: (TopicPartition & { low: number; high: number })[] = [];
    for (const topic of this.stores.topics) {
      for (const p of await log.admin.offsets(topic)) partitions.push({ topic, partition: p.partition, low: p.low, high: p.high });
    }
    let checkpoints = this.stores.checkpoints();
    const ahead = partitions.filter((p) => (checkpoints[`${p.topic}-${p.partition}`] ?? 0) > p.high);
    if (ahead.length > 0) {
      logger.warn(`global state is ahead of its topics (${ahead.map((p) => `${p.topic}-${p.partition}`).join(', ')}); wiping it and reading them from the start`);
      await this.stores.destroy();
      this.stores = await GlobalStateStores.open(this.options.topology.applicationId, this.defs, this.options.config.stateBackend, this.options.stateDir);
      checkpoints = {};
    }
    const consumer = log.consumer({ maxPollRecords: 10_000, isolationLevel: 'read_committed' });
    this.consumer = consumer;
    consumer.assign(partitions.map((p) => ({ topic: p.topic, partition: p.partition })));
    for (const p of partitions) consumer.seek(p, Math.max(p.low, checkpoints[`${p.topic}-${p.partition}`] ?? 0));
    const remaining = new Set(partitions.filter((p) => consumer.position(p) < p.high));
    while (remaining.size > 0) {
      const records = await consumer.poll(100);
      for (const r of records) this.applyOne(r.topic, r.partition, r.offset, r.key, r.value);
      this.restoredRecords += records.length;
      await this.stores.flush();
      for (const p of [...remaining]) if (consumer.position(p) >= p.high) remaining.delete(p);
    }
    if (this.restoredRecords > 0) {
      logger.info(`restored ${this.restoredRecords} record(s) into global store(s) ${this.defs.map((d) => d.name).join(', ')} in ${Date.now() - started} ms`);
    }
  }

  private applyOne(topic: string, partition: number, offset: number, key: Buffer | null, value: Buffer | null): void {
    try {
      this.stores.apply(topic, partition, offset, key, value);
    } catch (err) {
      if (!(err instanceof SerdeError) || this.options.config.errors.deserialization === 'fail') throw err;
      // 'continue' or a dead-letter topic: a global record has no task to dead-letter it from; skip it.
      this.options.logger.warn(`${err.message}; skipped`);
    }
  }
}
