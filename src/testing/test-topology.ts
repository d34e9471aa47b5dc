import type { App } from '../dsl/app.js';
import type { ConsumedRecord, OutgoingRecord } from '../log/types.js';
import { GlobalStateStores, globalStoresOf } from '../runtime/global-state.js';
import { silentLogger, type Logger } from '../runtime/logger.js';
import { StreamTask } from '../runtime/stream-task.js';
import { taskId } from '../runtime/task-id.js';
import { TaskStores } from '../state/task-stores.js';
import { serdes } from '../serde/builtin.js';
import type { Serde } from '../serde/serde.js';
import type { Topology } from '../topology/topology.js';
import { toHeaders, type PipeOptions, type TestRecord } from './test-records.js';

export interface TestTopologyOptions {
  /** The initial wall-clock time (epoch ms or a Date); default 0, so tests are deterministic. */
  startTime?: number | Date;
  /** Where warnings (skipped records) go; silent by default. */
  logger?: Logger;
}

export interface TopicSerdes<K, V> {
  key?: Serde<K>;
  value?: Serde<V>;
}

/**
 * Runs a topology in-process with no broker, deterministically, through the real task code:
 * every topic has one partition, every piped record is processed and committed at once, and
 * records written to repartition topics flow on to the tasks that read them.
 *
 * @example
 * const t = testTopology(myApp);
 * t.input('orders').pipe('c1', { amount: 10 });
 * assert.deepEqual(t.output('large-orders').readAll(), []);
 */
export function testTopology(app: App, options: TestTopologyOptions = {}): TopologyTestDriver {
  return new TopologyTestDriver(app, options);
}

export class TopologyTestDriver {
  readonly topology: Topology;
  private readonly tasks: StreamTask[] = [];
  private readonly taskByTopic = new Map<string, StreamTask>();
  private readonly topics = new Map<string, OutgoingRecord[]>();
  private readonly readPositions = new Map<string, number>();
  private readonly nextOffset = new Map<string, number>();
  /** Global tables: records piped to their topics go straight into these stores. */
  private readonly global: GlobalStateStores | undefined;
  private wallClock: number;
  private closed = false;

  constructor(private readonly app: App, options: TestTopologyOptions) {
    this.topology = app.topology();
    const start = options.startTime;
    this.wallClock = start === undefined ? 0 : typeof start === 'number' ? start : start.getTime();
    const globals = globalStoresOf(this.topology);
    this.global = globals.length === 0 ? undefined : GlobalStateStores.inMemory(globals);
    for (const s of this.topology.subtopologies) {
      const task = new StreamTask({
        id: taskId(s.id, 0),
        applicationId: app.applicationId,
        subtopology: s,
        partitions: s.sourceTopics.map((topic) => ({ topic, partition: 0 })),
        config: app.config,
        clock: () => this.wallClock,
        partitionCounts: () => 1,
        logger: options.logger ?? silentLogger,
        globalStores: this.global?.views,
        stores: (() => {
          const defs = this.topology.storesOf(s);
          return defs.length === 0 ? undefined : TaskStores.openInMemory({ applicationId: app.applicationId, taskId: taskId(s.id, 0), partition: 0, stores: defs });
        })(),
      });
      this.tasks.push(task);
      for (const topic of s.sourceTopics) this.taskByTopic.set(topic, task);
    }
    for (const task of this.tasks) {
      task.initialize();
      task.completeRestoration();
    }
  }

  /** A topic to pipe records into; serdes default to those its source declared. */
  input<K = any, V = any>(topic: string, topicSerdes: TopicSerdes<K, V> = {}): TestInputTopic<K, V> {
    this.checkOpen();
    const task = this.taskByTopic.get(topic);
    const globalDef = this.global?.definitionOf(topic);
    if ((task === undefined && globalDef === undefined) || this.topology.isInternalTopic(topic)) {
      const reads = [...this.topology.sourceTopics, ...(this.global?.topics ?? [])];
      throw new Error(`topic '${topic}' is not read by application '${this.app.applicationId}' (it reads: ${reads.join(', ')})`);
    }
    const source = [...this.topology.nodes.values()].find((n) => n.kind === 'source' && n.topics.includes(topic));
    const keySerde = topicSerdes.key ?? globalDef?.keySerde ?? (source?.kind === 'source' ? source.keySerde : serdes.string());
    const valueSerde = topicSerdes.value ?? globalDef?.valueSerde ?? (source?.kind === 'source' ? source.valueSerde : serdes.json());
    return new TestInputTopic<K, V>(this, topic, keySerde, valueSerde);
  }

  /** A topic to read results from; serdes default to those of the sink that writes it. */
  output<K = any, V = any>(topic: string, topicSerdes: TopicSerdes<K, V> = {}): TestOutputTopic<K, V> {
    this.checkOpen();
    const sink = [...this.topology.nodes.values()].find((n) => n.kind === 'sink' && n.topic === topic);
    const keySerde = topicSerdes.key ?? (sink?.kind === 'sink' ? sink.keySerde : (this.app.config.defaultKeySerde ?? serdes.string()));
    const valueSerde = topicSerdes.value ?? (sink?.kind === 'sink' ? sink.valueSerde : (this.app.config.defaultValueSerde ?? serdes.json()));
    return new TestOutputTopic<K, V>(this, topic, keySerde, valueSerde);
  }

  /** Moves the wall clock and runs the wall-clock punctuators that fall due. */
  advanceWallClockTime(ms: number): void {
    this.checkOpen();
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advanceWallClockTime(): ms must be a non-negative number, got ${ms}`);
    this.wallClock += ms;
    for (const task of this.tasks) task.punctuateWallClock(this.wallClock);
    this.commitAndDeliver();
  }

  get wallClockTime(): number {
    return this.wallClock;
  }

  /**
   * A state store by name, to read what the topology holds (a KeyValueStore, WindowStore or
   * SessionStore; reads see committed state, which here is everything piped so far).
   */
  store<S = unknown>(name: string): S {
    this.checkOpen();
    for (const task of this.tasks) {
      const store = task.stateStore(name);
      if (store !== undefined) return store as S;
    }
    throw new Error(`no store named '${name}' (stores: ${[...this.topology.stores.keys()].join(', ') || 'none'})`);
  }

  /** Records skipped or dead-lettered by the error handlers, by reason. */
  droppedRecords(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const task of this.tasks) for (const [reason, n] of task.counters.dropped) out[reason] = (out[reason] ?? 0) + n;
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.tasks) task.close();
  }

  /** @internal */
  pipeBytes(topic: string, key: Buffer | null, value: Buffer | null, timestamp: number | undefined, headers: Record<string, string | Buffer> | undefined): void {
    this.checkOpen();
    const record = this.append({ topic, key, value, timestamp: timestamp ?? this.wallClock, headers: toHeaders(headers) });
    if (this.global?.definitionOf(topic) !== undefined) {
      // A global table's topic: the store is updated at once, as Kafka Streams' TopologyTestDriver does.
      this.global.apply(topic, 0, record.offset, key, value);
      this.global.flushSync();
      return;
    }
    if (!this.taskByTopic.has(topic)) throw new Error(`topic '${topic}' is not read by the topology`);
    this.deliver(record);
    this.commitAndDeliver();
  }

  /** @internal */
  readFrom(topic: string): OutgoingRecord[] {
    const all = this.topics.get(topic) ?? [];
    const from = this.readPositions.get(topic) ?? 0;
    this.readPositions.set(topic, all.length);
    return all.slice(from);
  }

  /** @internal */
  unread(topic: string): number {
    return (this.topics.get(topic)?.length ?? 0) - (this.readPositions.get(topic) ?? 0);
  }

  private append(record: OutgoingRecord): ConsumedRecord {
    const offset = this.nextOffset.get(record.topic) ?? 0;
    this.nextOffset.set(record.topic, offset + 1);
    const list = this.topics.get(record.topic) ?? [];
    list.push(record);
    this.topics.set(record.topic, list);
    return { topic: record.topic, partition: 0, offset, key: record.key, value: record.value, timestamp: record.timestamp, headers: record.headers };
  }

  private deliver(record: ConsumedRecord): void {
    const task = this.taskByTopic.get(record.topic);
    if (task === undefined) return;
    task.addRecords(record.topic, 0, [record]);
    task.process(Number.MAX_SAFE_INTEGER);
  }

  /** Commits every task after each step, as Kafka Streams' TopologyTestDriver does, feeding internal topics on. */
  private commitAndDeliver(): void {
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (const task of this.tasks) {
        if (!task.needsCommit) continue;
        const { records } = task.prepareCommit();
        const written = records.map((r) => this.append(r));
        task.postCommitSync();
        for (const r of written) {
          if (this.taskByTopic.has(r.topic)) {
            this.deliver(r);
            moved = true;
          }
        }
      }
      if (!moved) return;
    }
    throw new Error('testTopology: records kept flowing between internal topics for 10000 rounds; is there a loop?');
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('this test driver is closed');
  }
}

export class TestInputTopic<K, V> {
  /** @internal */
  constructor(
    private readonly driver: TopologyTestDriver,
    readonly topic: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
  ) {}

  /** Pipes one record through the topology (processed and committed before this returns). */
  pipe(key: K | null, value: V | null, options: PipeOptions = {}): void {
    const k = key === null || key === undefined ? null : this.keySerde.serialize(key, this.topic);
    const v = value === null || value === undefined ? null : this.valueSerde.serialize(value, this.topic);
    this.driver.pipeBytes(this.topic, k, v, options.timestamp, options.headers);
  }

  /** Pipes a record with a null key. */
  pipeValue(value: V | null, options: PipeOptions = {}): void {
    this.pipe(null, value, options);
  }

  pipeKeyValues(pairs: Iterable<readonly [K | null, V | null]>, options: PipeOptions = {}): void {
    for (const [k, v] of pairs) this.pipe(k, v, options);
  }
}

export class TestOutputTopic<K, V> {
  /** @internal */
  constructor(
    private readonly driver: TopologyTestDriver,
    readonly topic: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
  ) {}

  /** Every record written since the last read, in order; reading consumes them. */
  readAll(): TestRecord<K | null, V | null>[] {
    return this.driver.readFrom(this.topic).map((r) => ({
      key: r.key === null ? null : this.keySerde.deserialize(r.key, this.topic, r.headers),
      value: r.value === null ? null : this.valueSerde.deserialize(r.value, this.topic, r.headers),
      timestamp: r.timestamp,
      headers: r.headers,
    }));
  }

  readValues(): (V | null)[] {
    return this.readAll().map((r) => r.value);
  }

  readKeyValues(): [K | null, V | null][] {
    return this.readAll().map((r) => [r.key, r.value]);
  }

  /** The latest value per key (a null value removes the key), as a table would hold them. */
  readKeyValuesToMap(): Map<K | null, V> {
    const map = new Map<K | null, V>();
    for (const r of this.readAll()) {
      if (r.value === null) map.delete(r.key);
      else map.set(r.key, r.value);
    }
    return map;
  }

  get size(): number {
    return this.driver.unread(this.topic);
  }

  isEmpty(): boolean {
    return this.size === 0;
  }
}
