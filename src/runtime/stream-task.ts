import type { ConsumedRecord, OffsetCommit, OutgoingRecord, TopicPartition } from '../log/types.js';
import { ProcessingError } from '../errors/index.js';
import { ProcessorNode, type RecordSink, type TaskContext } from '../processor/processor-node.js';
import { SinkNode } from '../processor/sink-node.js';
import type { Cancellable, Processor, ProcessorContext, PunctuationType, Punctuator, RecordMetadata, StreamRecord } from '../processor/types.js';
import type { Serde } from '../serde/serde.js';
import type { SourceNodeDef } from '../topology/nodes.js';
import type { Subtopology } from '../topology/subtopology.js';
import type { ResolvedAppConfig } from './config.js';
import { deadLetterRecord, deadLetterTopicOf, describeRecord, fatalRecordError, type ErrorStage } from './error-handling.js';
import type { Logger } from './logger.js';
import { PartitionGroup, PartitionQueue } from './partition-queue.js';
import { PunctuationQueue } from './punctuation-queue.js';
import { RecordCollector } from './record-collector.js';
import { checkTransition, type TaskState } from './task-state.js';
import type { TaskId } from './task-id.js';
import type { TaskStores } from '../state/task-stores.js';
import type { TransactionResult } from '../log/types.js';

export interface StreamTaskOptions {
  id: TaskId;
  applicationId: string;
  subtopology: Subtopology;
  /** The input partitions this task owns: partition p of each of its sub-topology's topics. */
  partitions: readonly TopicPartition[];
  config: ResolvedAppConfig;
  /** The wall clock (mocked in testTopology). */
  clock: () => number;
  partitionCounts: (topic: string) => number | undefined;
  logger: Logger;
  /** The task's state stores, opened by whoever creates the task (opening is async). */
  stores?: TaskStores;
  /** Read-only global stores (global tables) by name: every processor may read them. */
  globalStores?: ReadonlyMap<string, unknown>;
}

interface Source {
  readonly def: SourceNodeDef;
  readonly node: ProcessorNode;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
}

/** What a task hands to the commit: its output and the input offsets it has consumed. */
export interface TaskCommit {
  readonly records: readonly OutgoingRecord[];
  readonly offsets: readonly OffsetCommit[];
}

/** Counters a task keeps; the runtime sums them (and the metrics layer exports them). */
export interface TaskCounters {
  processed: number;
  dropped: Map<string, number>;
  deadLettered: number;
}

/**
 * The unit of work and of parallelism: sub-topology s on input partition p. It owns its
 * processors, buffers its fetched records, processes them synchronously in timestamp order, and
 * collects output until the runtime commits it. Driven by the runtime and by testTopology alike.
 */
export class StreamTask implements TaskContext {
  readonly id: TaskId;
  readonly applicationId: string;
  readonly partitions: readonly TopicPartition[];
  readonly counters: TaskCounters = { processed: 0, dropped: new Map(), deadLettered: 0 };
  private taskState: TaskState = 'created';
  private readonly group = new PartitionGroup<Source>();
  private readonly collector: RecordCollector;
  private readonly processorNodes: ProcessorNode[] = [];
  private readonly streamPunctuation = new PunctuationQueue();
  private readonly wallClockPunctuation = new PunctuationQueue();
  /** Next offset to commit per input partition, for partitions that moved since the last commit. */
  private consumed = new Map<PartitionQueue<Source>, number>();
  /** The same for the commit in flight (prepared, not yet reported committed). */
  private sealedConsumed = new Map<PartitionQueue<Source>, number>();
  private current: ConsumedRecord | null = null;
  private taskStreamTime = -Infinity;
  private commitRequested = false;

  constructor(private readonly options: StreamTaskOptions) {
    this.id = options.id;
    this.applicationId = options.applicationId;
    this.partitions = options.partitions;
    this.collector = new RecordCollector(options.partitionCounts);
    this.buildNodes();
  }

  get taskId(): string {
    return this.id;
  }

  get state(): TaskState {
    return this.taskState;
  }

  /** Records fetched but not processed yet. */
  get buffered(): number {
    return this.group.size;
  }

  /** Timestamp of the record process() would take next; Infinity when nothing is buffered. */
  nextTimestamp(): number {
    const queue = this.group.nextQueue();
    return queue === undefined ? Infinity : queue.peekTimestamp();
  }

  bufferedFor(topic: string, partition: number): number {
    return this.group.queue(topic, partition)?.size ?? 0;
  }

  /** Output records waiting for the next commit. */
  get uncommitted(): number {
    return this.collector.size;
  }

  get needsCommit(): boolean {
    return this.consumed.size > 0 || this.collector.size > 0 || this.commitRequested;
  }

  get wantsEarlyCommit(): boolean {
    return this.commitRequested || this.collector.size >= this.options.config.maxUncommittedRecords;
  }

  sentCounts(): ReadonlyMap<string, number> {
    return this.collector.sentCounts();
  }

  /** Records taken per input topic since the task started (processed or skipped by a handler). */
  takenCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const q of this.group.all()) out.set(q.topic, (out.get(q.topic) ?? 0) + q.taken);
    return out;
  }

  /** created -> restoring: the stores are being brought up to date. */
  initialize(): void {
    this.transition('restoring');
  }

  /** restoring -> running: state has caught up; processors are initialised now, so init() sees restored stores. */
  completeRestoration(): void {
    this.transition('running');
    for (const node of this.processorNodes) node.init();
  }

  addRecords(topic: string, partition: number, records: readonly ConsumedRecord[]): void {
    const queue = this.group.queue(topic, partition);
    if (queue === undefined) throw new Error(`task ${this.id} does not own ${topic}-${partition}`);
    this.group.addRecords(queue, records);
  }

  /**
   * Processes up to `max` buffered records, synchronously, or fewer once maxUncommittedRecords
   * output records wait for a commit, or once the next record is later than `upToTimestamp`
   * (at least one record is taken), or, with `stopWhenDrained`, once one of its partitions has
   * nothing buffered left. Returns how many were taken.
   * Under the 'fail' handlers an error is thrown naming the record; the task must then be closed.
   */
  process(max: number, upToTimestamp = Infinity, stopWhenDrained = false): number {
    let n = 0;
    const maxUncommitted = this.options.config.maxUncommittedRecords;
    // Stops early once enough output waits, so the runtime commits before memory grows.
    while (n < max && this.collector.size < maxUncommitted) {
      const queue = this.group.nextQueue();
      if (queue === undefined) break;
      if (n > 0 && queue.peekTimestamp() > upToTimestamp) break;
      const record = queue.take();
      this.group.taken();
      this.processRecord(queue, record);
      n++;
      // the caller decides whether the others may go on without this partition (TaskIdling)
      if (stopWhenDrained && queue.size === 0) break;
    }
    return n;
  }

  /** Runs wall-clock punctuators due at `now`. */
  punctuateWallClock(now: number): boolean {
    return this.wallClockPunctuation.punctuate(now, this.runPunctuator);
  }

  nextWallClockPunctuation(): number {
    return this.wallClockPunctuation.nextDue();
  }

  get stores(): TaskStores | undefined {
    return this.options.stores;
  }

  /**
   * Step one of a commit: output, changelog records and input offsets, to write atomically.
   * They are sealed: processing may go on (into a fresh batch) while the commit is in flight, and
   * the next prepareCommit() comes only after postCommit() or discardUncommitted().
   */
  prepareCommit(): TaskCommit {
    // held aggregation updates go downstream first, upstream nodes before their children
    for (const node of this.processorNodes) node.beforeCommit();
    const offsets: OffsetCommit[] = [];
    for (const [queue, offset] of this.consumed) offsets.push({ topic: queue.topic, partition: queue.partition, offset });
    this.sealedConsumed = this.consumed;
    this.consumed = new Map();
    for (const q of this.group.all()) q.seal();
    this.commitRequested = false;
    const records = this.collector.seal();
    const stores = this.options.stores;
    if (stores === undefined) return { records, offsets };
    const changelog = stores.seal(Math.max(0, this.taskStreamTime));
    return { records: changelog.length === 0 ? records : [...records, ...changelog], offsets };
  }

  /**
   * Step two: the transaction committed. Returns the state flush (batches and checkpoints to
   * the local backend) for the caller to await; the local state may lag the changelog after a
   * crash here, never lead it.
   */
  postCommit(result?: TransactionResult): Promise<void> {
    const { endOffsets, sourceOffsets } = this.commitOffsets(result);
    const stores = this.options.stores;
    if (stores === undefined) return Promise.resolve();
    return stores.flush(endOffsets, sourceOffsets);
  }

  /** postCommit() with the state flush done at once (in-memory stores; testTopology). */
  postCommitSync(result?: TransactionResult): void {
    const { endOffsets, sourceOffsets } = this.commitOffsets(result);
    this.options.stores?.flushSync(endOffsets, sourceOffsets);
  }

  private commitOffsets(result?: TransactionResult): { endOffsets: Map<string, number>; sourceOffsets: Map<string, number> } {
    const sourceOffsets = new Map<string, number>();
    for (const [queue, offset] of this.sealedConsumed) sourceOffsets.set(`${queue.topic}-${queue.partition}`, offset);
    this.collector.committed();
    for (const q of this.group.all()) q.markCommitted();
    this.sealedConsumed = new Map();
    const endOffsets = new Map<string, number>();
    for (const e of result?.endOffsets ?? []) endOffsets.set(`${e.topic}-${e.partition}`, e.offset);
    return { endOffsets, sourceOffsets };
  }

  /**
   * Drops everything since the last commit (a failed or fenced commit, or a dirty close):
   * output, consumed offsets and buffered input. The runtime re-reads from the committed offsets.
   */
  discardUncommitted(): void {
    for (const q of this.group.all()) q.forgetUncommitted();
    for (const node of this.processorNodes) node.discardUncommitted();
    this.collector.discard();
    this.options.stores?.discard();
    this.consumed.clear();
    this.sealedConsumed.clear();
    this.group.clear();
    this.commitRequested = false;
  }

  /** Closes processors and releases the stores; uncommitted state writes are dropped. */
  async closeAndRelease(): Promise<void> {
    this.close();
    this.options.stores?.discard();
    await this.options.stores?.close();
  }

  close(): void {
    if (this.taskState === 'closed') return;
    this.transition('closed');
    for (const node of this.processorNodes) {
      try {
        node.close();
      } catch (err) {
        this.options.logger.warn(`task ${this.id}: processor '${node.name}' failed to close`, { error: err });
      }
    }
    this.group.clear();
  }

  // --- TaskContext, shared by the task's processor nodes ---

  recordMetadata(): RecordMetadata | null {
    return this.current;
  }

  streamTime(): number {
    return this.taskStreamTime;
  }

  wallClockTime(): number {
    return this.options.clock();
  }

  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator, nodeName: string): Cancellable {
    if (type === 'stream-time') return this.streamPunctuation.schedule(0, intervalMs, punctuator, nodeName);
    if (type === 'wall-clock') return this.wallClockPunctuation.schedule(this.options.clock() + intervalMs, intervalMs, punctuator, nodeName);
    throw new RangeError(`schedule(): type must be 'stream-time' or 'wall-clock', got ${JSON.stringify(type)}`);
  }

  requestCommit(): void {
    this.commitRequested = true;
  }

  recordDropped(reason: string): void {
    this.counters.dropped.set(reason, (this.counters.dropped.get(reason) ?? 0) + 1);
  }

  get recordCacheSize(): number {
    return this.options.config.recordCacheSize;
  }

  forwardHeld(nodeName: string, forward: () => void): void {
    const mark = this.collector.size;
    const saved = this.current;
    this.current = null;
    try {
      forward();
    } catch (err) {
      this.collector.truncate(mark);
      if (this.options.config.errors.processing === 'fail') throw fatalHeldUpdateError(this.id, nodeName, err);
      // a held update stands for many input records: there is no one record to dead-letter
      this.options.logger.warn(`a held update of '${nodeName}' (recordCacheSize) failed downstream; skipped`, { task: this.id, error: err instanceof Error ? err.message : String(err) });
      this.counters.dropped.set('processing-error', (this.counters.dropped.get('processing-error') ?? 0) + 1);
    } finally {
      this.current = saved;
    }
  }

  stateStore(name: string): unknown {
    return this.options.stores?.store(name)?.typed ?? this.options.globalStores?.get(name);
  }

  // --- internals ---

  private processRecord(queue: PartitionQueue<Source>, record: ConsumedRecord): void {
    const source = queue.source;
    let key: unknown;
    let value: unknown;
    try {
      key = record.key === null ? null : source.keySerde.deserialize(record.key, record.topic, record.headers);
      value = record.value === null ? null : source.valueSerde.deserialize(record.value, record.topic, record.headers);
    } catch (err) {
      this.consumed.set(queue, record.offset + 1);
      this.onRecordError('deserialization', err, record);
      return;
    }
    const extractor = source.def.timestampExtractor;
    const timestamp = extractor === undefined ? record.timestamp : extractor({ key, value, timestamp: record.timestamp, topic: record.topic }, this.taskStreamTime);
    this.current = record;
    const mark = this.collector.size;
    try {
      source.node.process({ key, value, timestamp, headers: record.headers });
    } catch (err) {
      // Output of a failed record is cut off, so it is never half-written.
      this.collector.truncate(mark);
      this.current = null;
      this.consumed.set(queue, record.offset + 1);
      this.onRecordError('processing', err, record);
      return;
    }
    this.current = null;
    this.consumed.set(queue, record.offset + 1);
    this.counters.processed++;
    if (timestamp > this.taskStreamTime) {
      this.taskStreamTime = timestamp;
      if (!this.streamPunctuation.isEmpty) this.streamPunctuation.punctuate(timestamp, this.runPunctuator);
    }
  }

  private onRecordError(stage: ErrorStage, err: unknown, record: ConsumedRecord): void {
    const handling = this.options.config.errors[stage];
    if (handling === 'fail') throw fatalRecordError(stage, err, record, this.id);
    const message = err instanceof Error ? err.message : String(err);
    const dlq = deadLetterTopicOf(handling);
    if (dlq !== undefined) {
      this.collector.send(deadLetterRecord(dlq, stage, err, record, this.id));
      this.counters.deadLettered++;
      this.options.logger.warn(`${stage} error: record ${describeRecord(record)} sent to dead-letter topic '${dlq}'`, { task: this.id, error: message });
    } else {
      this.options.logger.warn(`${stage} error: record ${describeRecord(record)} skipped`, { task: this.id, error: message });
    }
    const reason = `${stage}-error`;
    this.counters.dropped.set(reason, (this.counters.dropped.get(reason) ?? 0) + 1);
  }

  private readonly runPunctuator = (punctuator: Punctuator, timestamp: number, nodeName: string): void => {
    const mark = this.collector.size;
    const saved = this.current;
    this.current = null;
    try {
      punctuator(timestamp);
    } catch (err) {
      this.collector.truncate(mark);
      if (this.options.config.errors.processing === 'fail') {
        throw fatalPunctuatorError(this.id, nodeName, err);
      }
      this.options.logger.warn(`punctuator of '${nodeName}' failed; skipped`, { task: this.id, error: err });
      this.counters.dropped.set('punctuator-error', (this.counters.dropped.get('punctuator-error') ?? 0) + 1);
    } finally {
      this.current = saved;
    }
  };

  private transition(to: TaskState): void {
    checkTransition(this.id, this.taskState, to);
    this.taskState = to;
  }

  private buildNodes(): void {
    const sinks = new Map<string, RecordSink>();
    const nodes = new Map<string, ProcessorNode>();
    const sourcesByTopic = new Map<string, Source>();
    const globalNames = this.options.globalStores === undefined ? [] : [...this.options.globalStores.keys()];
    for (const def of this.options.subtopology.nodes) {
      if (def.kind === 'source') {
        const node = new ProcessorNode(def.name, passThrough(), this);
        nodes.set(def.name, node);
        this.processorNodes.push(node);
        const source: Source = { def, node, keySerde: def.keySerde, valueSerde: def.valueSerde };
        for (const topic of def.topics) sourcesByTopic.set(topic, source);
      } else if (def.kind === 'processor') {
        const processor = def.supplier();
        if (processor === null || typeof processor !== 'object' || typeof processor.process !== 'function') {
          throw new TypeError(`processor supplier of '${def.name}' must return an object with a process(record) method`);
        }
        const stores = globalNames.length === 0 ? def.stores : [...def.stores, ...globalNames];
        const node = new ProcessorNode(def.name, processor as Processor<unknown, unknown, unknown, unknown>, this, stores);
        nodes.set(def.name, node);
        this.processorNodes.push(node);
        for (const p of def.parents) nodes.get(p)!.addChild(node);
      } else {
        const sink = new SinkNode(def.name, def.topic, def.keySerde, def.valueSerde, def.partitioner, this.collector, this);
        sinks.set(def.name, sink);
        for (const p of def.parents) nodes.get(p)!.addChild(sink);
      }
    }
    for (const tp of this.partitions) {
      const source = sourcesByTopic.get(tp.topic);
      if (source === undefined) throw new Error(`task ${this.id}: no source reads topic '${tp.topic}'`);
      this.group.add(new PartitionQueue<Source>(tp.topic, tp.partition, source));
    }
  }
}

function passThrough(): Processor<unknown, unknown, unknown, unknown> {
  let ctx: ProcessorContext<unknown, unknown>;
  return {
    init: (c) => {
      ctx = c;
    },
    process: (r: StreamRecord<unknown, unknown>) => ctx.forward(r),
  };
}

function fatalPunctuatorError(taskId: string, nodeName: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`task ${taskId}: punctuator of '${nodeName}' failed: ${message}`, { cause: err });
}

function fatalHeldUpdateError(taskId: string, nodeName: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new ProcessingError(
    `task ${taskId}: an update of '${nodeName}' held by the record cache (recordCacheSize) failed downstream at the commit: ${message}. ` +
      `Nothing after the last commit was written. To skip such updates set errors.processing to 'continue' in the app config`,
    { cause: err },
  );
}
