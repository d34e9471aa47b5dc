import type { App } from '../dsl/app.js';
import { FencedError, IllegalStateError, TopologyError, TributaryError } from '../errors/index.js';
import type { ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore } from '../state/store-types.js';
import { compositeKeyValueStore, compositeSessionStore, compositeWindowStore } from './queryable-stores.js';
import { join } from 'node:path';
import type { Log, LogConsumer, LogProducer, LogTransaction, OffsetCommit, TopicPartition, TransactionResult } from '../log/types.js';
import type { Topology } from '../topology/topology.js';
import { GlobalStateManager } from './global-state.js';
import { createLogger, type Logger } from './logger.js';
import { TaskManager } from './task-manager.js';
import { ensureTopics } from './topic-setup.js';

export interface StreamsRuntimeOptions {
  log: Log;
  logger?: Logger;
  /** The wall clock; injectable for tests. */
  clock?: () => number;
  /** Longest a poll waits for new records, in ms. Default 100. */
  pollMs?: number;
  /** Root of local state stores. Default `./.tributary/state`. */
  stateDir?: string;
  /**
   * 'shared': one transaction per commit for all tasks; 'per-task': one per task, fenced by a
   * transactional id per task. Default: 'shared' where the log fences by group generation.
   */
  commitMode?: 'shared' | 'per-task';
}

export type RuntimeState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface RuntimeStats {
  /** Records taken from the application's input topics (processed, or skipped by a handler); internal topics not counted. */
  recordsIn: number;
  /** Committed output records per output topic (internal repartition and changelog topics not counted). */
  recordsOut: Record<string, number>;
  /** Records skipped or dead-lettered, by reason. */
  dropped: Record<string, number>;
  commits: number;
  /** Changelog records replayed into local state at task start (only tails past checkpoints). */
  restored: number;
}

/**
 * Runs an application against a log: joins its consumer group, turns the assignment into
 * tasks, and loops poll -> process -> commit, where each commit writes the tasks' output and
 * their input offsets in one transaction (exactly-once). The Kafka Streams `KafkaStreams`.
 *
 * @example
 * const runtime = new StreamsRuntime(myApp, { log: openEmbeddedLog({ path: '.tributary/log.db' }) });
 * await runtime.start();
 * process.on('SIGTERM', () => runtime.close());
 */
export class StreamsRuntime {
  /** Settles when the runtime has stopped: resolves after close(), rejects on a fatal error. */
  readonly stopped: Promise<void>;
  private runtimeState: RuntimeState = 'created';
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly pollMs: number;
  private readonly commitMode: 'shared' | 'per-task';
  private readonly taskProducers = new Map<string, LogProducer>();
  private topology!: Topology;
  private tasks!: TaskManager;
  private global: GlobalStateManager | undefined;
  private consumer!: LogConsumer;
  private producer: LogProducer | undefined;
  private stopRequested = false;
  private lastActivityAt = 0;
  private commits = 0;
  private readonly paused = new Set<string>();
  private idleWaiters: { idleMs: number; resolve: () => void }[] = [];
  private resolveStopped!: () => void;
  private rejectStopped!: (err: unknown) => void;

  constructor(private readonly app: App, private readonly options: StreamsRuntimeOptions) {
    this.logger = options.logger ?? createLogger();
    this.clock = options.clock ?? Date.now;
    this.pollMs = options.pollMs ?? 100;
    this.commitMode = options.commitMode ?? (options.log.capabilities.generationFencing ? 'shared' : 'per-task');
    this.stopped = new Promise<void>((resolve, reject) => {
      this.resolveStopped = resolve;
      this.rejectStopped = reject;
    });
    // Callers that only use close() should not see an unhandled rejection.
    this.stopped.catch(() => undefined);
  }

  get state(): RuntimeState {
    return this.runtimeState;
  }

  /** Prepares topics, joins the group and starts the processing loop in the background. */
  async start(): Promise<void> {
    if (this.runtimeState !== 'created') throw new IllegalStateError(`start(): the runtime is ${this.runtimeState}, and can start only once`);
    this.runtimeState = 'starting';
    const { log } = this.options;
    const config = this.app.config;
    try {
      this.topology = this.app.topology();
      const partitionCounts = await ensureTopics(log, this.topology, config, this.logger);
      const stateDir = this.options.stateDir ?? join('.tributary', 'state');
      // Global tables are read to their end before any task runs.
      this.global = await GlobalStateManager.start({ log, topology: this.topology, config, stateDir, logger: this.logger });
      this.tasks = new TaskManager({
        topology: this.topology,
        config,
        clock: this.clock,
        partitionCounts,
        logger: this.logger,
        log,
        stateDir,
        globalStores: this.global?.views,
      });
      // Per-task commits use one producer per task (producerFor); the shared mode one for all.
      if (this.commitMode === 'shared') this.producer = log.producer({ transactionalId: config.processingGuarantee === 'exactly-once' ? this.app.applicationId : undefined });
      this.consumer = log.consumer({ groupId: this.app.applicationId, maxPollRecords: config.maxPollRecords, isolationLevel: 'read_committed' });
      const topics = this.topology.subtopologies.flatMap((s) => [...s.sourceTopics]);
      await this.consumer.subscribe(topics, {
        onAssigned: (tps) => this.onAssigned(tps),
        onRevoked: (tps) => this.onRevoked(tps),
      });
      // The first poll joins the group, so a second instance fails here, in start(), not later.
      const first = await this.consumer.poll(0);
      if (first.length > 0) this.tasks.route(first);
    } catch (err) {
      this.runtimeState = 'failed';
      await this.releaseQuietly();
      this.rejectStopped(err);
      throw err;
    }
    this.runtimeState = 'running';
    this.lastActivityAt = this.clock();
    this.logger.info(`application '${this.app.applicationId}' started`, { log: log.kind, subtopologies: this.topology.subtopologies.length });
    void this.loop();
  }

  /** Finishes the current batch, commits, leaves the group and stops. Safe to call twice. */
  async close(): Promise<void> {
    if (this.runtimeState === 'created') {
      this.runtimeState = 'stopped';
      this.resolveStopped();
      return;
    }
    this.stopRequested = true;
    await this.stopped.catch(() => undefined);
  }

  /**
   * Resolves once every record that arrived has been processed and committed and no new record
   * came for `idleMs`. Used by `tributary run --until-idle` and by tests.
   */
  waitUntilIdle(idleMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.idleWaiters.push({ idleMs, resolve });
      this.stopped.then(() => resolve(), reject);
    });
  }

  /**
   * A read-only handle on a state store of this instance by name, across its tasks (local
   * interactive queries). Key-value stores give a ReadOnlyKeyValueStore, window stores a
   * ReadOnlyWindowStore, session stores a ReadOnlySessionStore. Reads include what tasks have processed but not yet committed.
   */
  store<S = ReadOnlyKeyValueStore<unknown, unknown>>(name: string): S {
    if (this.topology === undefined) throw new IllegalStateError('store(): start() the runtime first');
    const def = this.topology.stores.get(name);
    if (def === undefined) throw new TopologyError(`no store named '${name}' (stores: ${[...this.topology.stores.keys()].join(', ') || 'none'})`);
    // A global table's store is one copy for the whole instance (every task sees the same one).
    const global = this.global?.views.get(name);
    if (global !== undefined) return global as S;
    const typed = () => this.tasks.activeTasks().map((t) => t.stateStore(name)).filter((s) => s !== undefined);
    if (def.kind === 'key-value') return compositeKeyValueStore(name, typed as () => ReadOnlyKeyValueStore<unknown, unknown>[]) as S;
    if (def.kind === 'window') return compositeWindowStore(name, typed as () => ReadOnlyWindowStore<unknown, unknown>[]) as S;
    return compositeSessionStore(name, typed as () => ReadOnlySessionStore<unknown, unknown>[]) as S;
  }

  stats(): RuntimeStats {
    if (this.tasks === undefined) return { recordsIn: 0, recordsOut: {}, dropped: {}, commits: 0, restored: 0 };
    const s = this.tasks.stats();
    // In and out count the application's own input and output topics, not its internal ones.
    const external = (topic: string) => !this.topology.isInternalTopic(topic);
    const recordsIn = [...s.taken].filter(([topic]) => external(topic)).reduce((n, [, v]) => n + v, 0);
    const recordsOut = Object.fromEntries([...s.sent].filter(([topic]) => external(topic)));
    return { recordsIn, recordsOut, dropped: Object.fromEntries(s.dropped), commits: this.commits, restored: this.tasks.restoredRecords };
  }

  private async loop(): Promise<void> {
    const config = this.app.config;
    let nextCommitAt = this.clock() + config.commitIntervalMs;
    try {
      while (!this.stopRequested) {
        const active = this.tasks.activeTasks();
        let buffered = false;
        let nextPunctuation = Infinity;
        for (const t of active) {
          if (t.buffered > 0) buffered = true;
          const due = t.nextWallClockPunctuation();
          if (due < nextPunctuation) nextPunctuation = due;
        }
        const now = this.clock();
        const wait = buffered ? 0 : Math.max(0, Math.min(this.pollMs, nextCommitAt - now, nextPunctuation - now));
        const records = await this.consumer.poll(wait);
        if (records.length > 0) {
          this.tasks.route(records);
          this.lastActivityAt = this.clock();
        }
        if (this.global !== undefined && (await this.global.update()) > 0) this.lastActivityAt = this.clock();
        this.processInTimestampOrder(config.maxPollRecords * Math.max(1, this.tasks.activeTasks().length));
        let early = false;
        for (const task of this.tasks.activeTasks()) {
          task.punctuateWallClock(this.clock());
          if (task.wantsEarlyCommit) early = true;
        }
        this.applyBackpressure();
        if (early || this.clock() >= nextCommitAt) {
          await this.commit();
          nextCommitAt = this.clock() + config.commitIntervalMs;
        }
        this.notifyIdle();
      }
      this.runtimeState = 'stopping';
      await this.commit();
      await this.consumer.close();
      await this.tasks.closeAll();
      await this.global?.close();
      await this.closeIdleProducers();
      await this.producer?.close();
      this.runtimeState = 'stopped';
      this.logger.info(`application '${this.app.applicationId}' stopped`, { ...this.stats() });
      this.resolveStopped();
    } catch (err) {
      this.runtimeState = 'failed';
      this.logger.error(`application '${this.app.applicationId}' failed: ${err instanceof Error ? err.message : String(err)}`);
      // Leave the group without committing: what was not committed will be processed again.
      if (this.tasks !== undefined) for (const t of this.tasks.activeTasks()) t.discardUncommitted();
      await this.tasks?.closeAll().catch(() => undefined);
      await this.releaseQuietly();
      this.rejectStopped(err);
    }
  }

  /**
   * Processes buffered records of all tasks merged by timestamp: the task with the earliest next
   * record runs until its records pass the next task's earliest. Tasks that write the same
   * repartition topic then write it in event-time order, so a backlog does not turn into late
   * records downstream (independent threads per task, as in Kafka Streams, interleave by speed).
   */
  private processInTimestampOrder(budget: number): void {
    const tasks = this.tasks.activeTasks().filter((t) => t.buffered > 0);
    while (budget > 0 && tasks.length > 0) {
      let first = -1;
      let firstTs = Infinity;
      let secondTs = Infinity;
      for (let i = 0; i < tasks.length; i++) {
        const ts = tasks[i]!.nextTimestamp();
        if (ts < firstTs) {
          secondTs = firstTs;
          firstTs = ts;
          first = i;
        } else if (ts < secondTs) secondTs = ts;
      }
      if (first === -1) break;
      const task = tasks[first]!;
      const n = task.process(budget, secondTs);
      budget -= n;
      if (n === 0 || task.buffered === 0) tasks.splice(first, 1);
    }
  }

  /** One transaction: every task's output and input offsets, or nothing. */
  private async commit(): Promise<void> {
    const committed = this.commitMode === 'shared' ? await this.commitShared() : await this.commitPerTask();
    if (!committed) return;
    this.commits++;
    this.lastActivityAt = this.clock();
  }

  /** Every task's output and offsets in one transaction (the log fences stale members itself). */
  private async commitShared(): Promise<boolean> {
    const { tasks, records, offsets } = this.tasks.prepareCommit();
    if (tasks.length === 0) return false;
    const txn = this.producer!.beginTransaction();
    if (records.length > 0) txn.send(records);
    if (offsets.length > 0) txn.sendOffsets(this.consumer.groupMetadata(), offsets);
    const result = await this.commitOrRecover(txn);
    if (result === undefined) return false;
    for (const t of tasks) await t.postCommit(result);
    return true;
  }

  /**
   * One transaction per task, each with its own transactional id `<applicationId>-<taskId>`:
   * a zombie instance still holding a task is fenced by the id even where the log cannot fence
   * by group generation (Kafka Streams' first exactly-once design).
   */
  private async commitPerTask(): Promise<boolean> {
    const due = this.tasks.activeTasks().filter((t) => t.needsCommit);
    if (due.length === 0) return false;
    const group = this.consumer.groupMetadata();
    const results = await Promise.all(
      due.map(async (task) => {
        const { records, offsets } = task.prepareCommit();
        const txn = this.producerFor(task.id).beginTransaction();
        if (records.length > 0) txn.send(records);
        if (offsets.length > 0) txn.sendOffsets(group, offsets);
        return { task, result: await this.commitOrRecover(txn) };
      }),
    );
    if (results.some((r) => r.result === undefined)) return false;
    for (const { task, result } of results) await task.postCommit(result);
    return true;
  }

  /** Commits; on a retriable failure rewinds every task to its last commit and returns undefined. */
  private async commitOrRecover(txn: LogTransaction): Promise<TransactionResult | undefined> {
    try {
      return await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      if (err instanceof FencedError) {
        throw new FencedError(`application '${this.app.applicationId}' was taken over by another instance; this one stops without committing: ${err.message}`, { cause: err });
      }
      if (err instanceof TributaryError && err.retriable) {
        this.logger.warn('commit failed; rewinding to the last commit and retrying', { error: err });
        await this.rewindToCommitted();
        return undefined;
      }
      throw err;
    }
  }

  private producerFor(taskId: string): LogProducer {
    let producer = this.taskProducers.get(taskId);
    if (producer === undefined) {
      producer = this.options.log.producer({ transactionalId: `${this.app.applicationId}-${taskId}` });
      this.taskProducers.set(taskId, producer);
    }
    return producer;
  }

  /** Closes the transactional producers of tasks this instance no longer runs. */
  private async closeIdleProducers(): Promise<void> {
    const active = new Set<string>(this.tasks.activeTasks().map((t) => t.id));
    for (const [id, producer] of this.taskProducers) {
      if (active.has(id)) continue;
      this.taskProducers.delete(id);
      await producer.close();
    }
  }

  /** Drops all uncommitted work and re-reads from the committed offsets (a failed, retriable commit). */
  private async rewindToCommitted(): Promise<void> {
    const assigned = this.consumer.assignment();
    await this.tasks.closeAll();
    const committed = await this.consumer.committed(assigned);
    for (const c of committed) this.consumer.seek(c, c.offset);
    await this.tasks.assign(assigned, this.committedLookup(committed));
  }

  private committedLookup(committed: readonly OffsetCommit[]): (topic: string, partition: number) => number | undefined {
    const map = new Map(committed.map((c) => [`${c.topic}\u0000${c.partition}`, c.offset]));
    return (topic, partition) => map.get(`${topic}\u0000${partition}`);
  }

  private async onAssigned(partitions: TopicPartition[]): Promise<void> {
    const committed = await this.consumer.committed(partitions);
    const created = await this.tasks.assign(partitions, this.committedLookup(committed));
    if (created.length > 0) this.logger.info(`assigned ${created.length} task(s): ${created.map((t) => t.id).join(', ')}`);
  }

  private async onRevoked(partitions: TopicPartition[]): Promise<void> {
    if (this.runtimeState === 'failed') return;
    await this.commit();
    await this.tasks.revoke(partitions);
    await this.closeIdleProducers();
  }

  /** Pauses a partition whose task has too much waiting, resumes it when half has drained. */
  private applyBackpressure(): void {
    const max = this.app.config.maxBufferedRecordsPerPartition;
    for (const task of this.tasks.activeTasks()) {
      for (const tp of task.partitions) {
        const key = `${tp.topic}\u0000${tp.partition}`;
        const n = task.bufferedFor(tp.topic, tp.partition);
        if (n >= max && !this.paused.has(key)) {
          this.consumer.pause([tp]);
          this.paused.add(key);
        } else if (n <= max / 2 && this.paused.has(key)) {
          this.consumer.resume([tp]);
          this.paused.delete(key);
        }
      }
    }
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0) return;
    for (const t of this.tasks.activeTasks()) if (t.buffered > 0 || t.needsCommit) return;
    const quiet = this.clock() - this.lastActivityAt;
    const ready = this.idleWaiters.filter((w) => quiet >= w.idleMs);
    if (ready.length === 0) return;
    this.idleWaiters = this.idleWaiters.filter((w) => quiet < w.idleMs);
    for (const w of ready) w.resolve();
  }

  private async releaseQuietly(): Promise<void> {
    try {
      await this.consumer?.close();
    } catch {
      /* already failing: the first error is the one to report */
    }
    try {
      await this.tasks?.closeAll();
      await this.global?.close();
      if (this.tasks !== undefined) await this.closeIdleProducers();
      await this.producer?.close();
    } catch {
      /* as above */
    }
  }
}
