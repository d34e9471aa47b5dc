import type { App } from '../dsl/app.js';
import { FencedError, IllegalStateError, StaleMemberError, TopologyError, TributaryError } from '../errors/index.js';
import type { ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore } from '../state/store-types.js';
import { compositeKeyValueStore, compositeSessionStore, compositeWindowStore } from './queryable-stores.js';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Log, LogConsumer, LogProducer, LogTransaction, OffsetCommit, TopicPartition, TransactionResult } from '../log/types.js';
import type { Topology } from '../topology/topology.js';
import type { TaskState } from './task-state.js';
import { GlobalStateManager } from './global-state.js';
import { ProjectionHost } from '../eventsourcing/projection-host.js';
import { createLogger, type Logger } from './logger.js';
import type { StreamTask } from './stream-task.js';
import { processId } from './process-id.js';
import { TaskManager } from './task-manager.js';
import { taskId, type TaskId } from './task-id.js';
import { ensureTopics } from './topic-setup.js';
import { TaskIdling } from './task-idling.js';

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
  /**
   * How long the log may keep failing with retriable errors (brokers unreachable) before the
   * runtime gives up and stops with an error; meanwhile it retries from the last commit.
   * Default 300000 (5 minutes, as Kafka Streams' task.timeout.ms).
   */
  maxOutageMs?: number;
  /**
   * Whether processing goes on while a commit is in flight (default true): the commit's output,
   * changelog writes and offsets are sealed, and the next records are processed into a fresh
   * batch while the transaction travels, instead of the loop waiting for the broker. Only one
   * commit is in flight at a time; a failed one rewinds the work done meanwhile with it.
   */
  pipelineCommits?: boolean;
}

/** A commit whose transaction was started; `finish` applies its outcome to the tasks. */
interface InflightCommit {
  /** Settles (never rejects) once the transaction committed or failed, with what to do next. */
  readonly outcome: Promise<() => Promise<boolean>>;
  readonly startedAt: number;
  /** When the transaction came back (performance.now()); the commit's latency ends here, not at settle. */
  finishedAt: number;
  done: boolean;
}

/** How long a fenced task's partitions wait before this instance takes the task back (if still assigned). */
const FENCED_TASK_RETRY_MS = 3000;
/** The poll wait while a task waits for records of one of its partitions. */
const TASK_IDLE_POLL_MS = 20;
/**
 * Longest the loop runs without letting timers and I/O in. A log that always has records ready
 * (the embedded log) never makes poll() wait, so without this, HTTP probes, metric scrapes and
 * the application's own timers would not run while a backlog lasts.
 */
const YIELD_EVERY_MS = 50;

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
  /** Records taken per topic the application reads, its internal repartition topics included. */
  consumed: Record<string, number>;
  /** Committed records per topic written, internal topics (repartition, changelog) and dead-letter topics included. */
  produced: Record<string, number>;
  /** Polls in which the group changed this instance's assignment (the first join counts). */
  rebalances: number;
  /** Transactions aborted (a failed or fenced commit; the tasks then restart from their last commit). */
  transactionAborts: number;
}

/** Where a runtime is, for readiness probes and the operations layer (see StreamsRuntime.status()). */
export interface RuntimeStatus {
  state: RuntimeState;
  /** Running, and every task assigned to this instance has restored its state. */
  ready: boolean;
  /** Why it is not ready; absent when ready. */
  reason?: string;
  /** Tasks of this instance: restoring ones (being created) and active ones. */
  tasks: { id: string; state: TaskState }[];
  /** Changelog records replayed since start, and changelog offsets still to replay by the restoring tasks. */
  restore: { restored: number; remaining: number };
}

/**
 * Told by the runtime as it works, at batch boundaries only (never per record): the metrics
 * layer (src/ops) observes latencies this way. Register with StreamsRuntime.observe().
 */
export interface RuntimeObserver {
  /** One processing pass over the buffered records took `seconds` for `records` records. */
  processed?(seconds: number, records: number): void;
  /** A commit that wrote something took `seconds` (one shared transaction, or all the per-task ones). */
  committed?(seconds: number): void;
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
  private readonly pipelineCommits: boolean;
  /** The commit in flight while processing goes on; settled before anything else touches the tasks. */
  private inflight: InflightCommit | undefined;
  private readonly taskProducers = new Map<string, LogProducer>();
  private topology!: Topology;
  private tasks!: TaskManager;
  private global: GlobalStateManager | undefined;
  private projections: ProjectionHost | undefined;
  private consumer!: LogConsumer;
  private idling!: TaskIdling;
  private producer: LogProducer | undefined;
  private stopRequested = false;
  private lastActivityAt = 0;
  private commits = 0;
  private readonly paused = new Set<string>();
  private readonly maxOutageMs: number;
  private rewindPending = false;
  private outageSince: number | undefined;
  private retryDelayMs = 0;
  /** Partitions of tasks fenced by another instance, paused until taken back or revoked. */
  private readonly fencedPartitions = new Map<string, { tp: TopicPartition; retryAt: number }>();
  private idleWaiters: { idleMs: number; resolve: () => void }[] = [];
  private readonly observers = new Set<RuntimeObserver>();
  private rebalances = 0;
  private assignmentChanged = false;
  private transactionAborts = 0;
  private resolveStopped!: () => void;
  private rejectStopped!: (err: unknown) => void;

  constructor(private readonly app: App, private readonly options: StreamsRuntimeOptions) {
    this.logger = options.logger ?? createLogger();
    this.clock = options.clock ?? Date.now;
    this.pollMs = options.pollMs ?? 100;
    this.maxOutageMs = options.maxOutageMs ?? 300_000;
    this.pipelineCommits = options.pipelineCommits ?? true;
    // At-least-once needs no fencing: one plain producer and member offset commits for all tasks.
    const exactlyOnce = app.config.processingGuarantee === 'exactly-once';
    this.commitMode = options.commitMode ?? (!exactlyOnce || options.log.capabilities.generationFencing ? 'shared' : 'per-task');
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
      const topology = this.topology;
      const partitionCounts = await this.retryWhileUnreachable('create the topics', () => ensureTopics(log, topology, config, this.logger));
      const stateDir = this.options.stateDir ?? join('.tributary', 'state');
      // Global tables are read to their end before any task runs.
      this.global = await this.retryWhileUnreachable('read the global tables', () => GlobalStateManager.start({ log, topology, config, stateDir, logger: this.logger }));
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
      // Per-task commits use one producer per task (producerFor); the shared mode one for all, named per process.
      if (this.commitMode === 'shared') {
        const exactlyOnce = config.processingGuarantee === 'exactly-once';
        this.producer = log.producer({ transactionalId: exactlyOnce ? `${this.app.applicationId}-${processId(stateDir, this.app.applicationId)}` : undefined });
      }
      this.consumer = log.consumer({
        groupId: this.app.applicationId,
        maxPollRecords: config.maxPollRecords,
        isolationLevel: 'read_committed',
        // a task's partitions go to one member, sticky to the members that hold its state
        grouping: {
          groups: this.topology.subtopologies.map((s) => ({ id: s.id, topics: [...s.sourceTopics] })),
          localUnits: () => this.localTasks(stateDir),
        },
      });
      // the restore consumer's own set-up overlaps the group join below
      this.tasks.warmRestoreConsumer();
      this.idling = new TaskIdling({ log, consumer: () => this.consumer, maxTaskIdleMs: config.maxTaskIdleMs, clock: this.clock, logger: this.logger });
      const topics = this.topology.subtopologies.flatMap((s) => [...s.sourceTopics]);
      const consumer = this.consumer;
      await this.retryWhileUnreachable('join the group', () =>
        consumer.subscribe(topics, {
          onAssigned: (tps) => this.onAssigned(tps),
          onRevoked: (tps) => this.onRevoked(tps),
          onLost: (tps) => this.onLost(tps),
        }),
      );
      // The first poll joins the group, so a second instance fails here, in start(), not later.
      // A busy or restarting broker (a join that timed out, a hand-over that could not reach it)
      // is not a reason to exit: the loop rewinds to the last commit and retries, as it does later.
      try {
        const first = await this.consumer.poll(0);
        this.countRebalance();
        if (first.length > 0) this.tasks.route(first);
      } catch (err) {
        if (!isRetriable(err)) throw err;
        this.logger.warn('could not join the group yet; retrying from the last commit', { error: (err as Error).message });
        this.outageSince = this.clock();
        this.rewindPending = true;
      }
      this.projections = await this.retryWhileUnreachable('start the projections', () => ProjectionHost.start({ log, topology, config, logger: this.logger }));
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
   * Resolves once every record that arrived has been processed and committed, no new record
   * came for `idleMs`, and every projection has applied all the records of its topic's
   * partitions. Used by `tributary run --until-idle` and by tests.
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

  get applicationId(): string {
    return this.app.applicationId;
  }

  /** The log this runtime runs on. */
  get log(): Log {
    return this.options.log;
  }

  /** The compiled topology, once start() has built it. */
  compiledTopology(): Topology | undefined {
    return this.topology;
  }

  /**
   * Where the runtime is: its state, its tasks (restoring or running) and whether it is ready,
   * i.e. running with every assigned task restored (what `/ready` answers).
   */
  status(): RuntimeStatus {
    const tasks = this.tasks?.taskStates() ?? [];
    const restore = this.tasks?.restoreProgress() ?? { restored: 0, remaining: 0 };
    const restoring = tasks.filter((t) => t.state !== 'running');
    let reason: string | undefined;
    if (this.runtimeState === 'running' || this.runtimeState === 'starting') {
      if (restoring.length > 0) reason = `${restoring.length} task(s) restoring (${restoring.map((t) => t.id).join(', ')}), ${restore.remaining} changelog record(s) to go`;
      else if (this.runtimeState === 'starting') reason = 'the runtime is starting';
    } else {
      reason = `the runtime is ${this.runtimeState}`;
    }
    return { state: this.runtimeState, ready: reason === undefined, ...(reason === undefined ? {} : { reason }), tasks, restore };
  }

  /** Approximate entries per state store of this instance (global stores included). */
  storeSizes(): Record<string, number> {
    if (this.tasks === undefined) return {};
    const sizes = this.tasks.storeSizes();
    for (const [name, view] of this.global?.views ?? []) {
      const counted = (view as Partial<ReadOnlyKeyValueStore<unknown, unknown>>).approximateCount?.();
      if (counted !== undefined) sizes.set(name, counted);
    }
    return Object.fromEntries(sizes);
  }

  /** Registers an observer of processing and commit latencies; returns the function that removes it. */
  observe(observer: RuntimeObserver): () => void {
    this.observers.add(observer);
    return () => void this.observers.delete(observer);
  }

  /** Ids (`<subtopology>_<partition>`) of the tasks this instance runs now. */
  taskIds(): string[] {
    return this.tasks === undefined ? [] : this.tasks.activeTasks().map((t) => t.id);
  }

  stats(): RuntimeStats {
    if (this.tasks === undefined) return { recordsIn: 0, recordsOut: {}, dropped: {}, commits: 0, restored: 0, consumed: {}, produced: {}, rebalances: 0, transactionAborts: 0 };
    const s = this.tasks.stats();
    // In and out count the application's own input and output topics, not its internal ones.
    const external = (topic: string) => !this.topology.isInternalTopic(topic);
    const recordsIn = [...s.taken].filter(([topic]) => external(topic)).reduce((n, [, v]) => n + v, 0);
    const recordsOut = Object.fromEntries([...s.sent].filter(([topic]) => external(topic)));
    return {
      recordsIn,
      recordsOut,
      dropped: Object.fromEntries(s.dropped),
      commits: this.commits,
      restored: this.tasks.restoredRecords,
      consumed: Object.fromEntries(s.taken),
      produced: Object.fromEntries(s.sent),
      rebalances: this.rebalances,
      transactionAborts: this.transactionAborts,
    };
  }

  private async loop(): Promise<void> {
    const config = this.app.config;
    let nextCommitAt = this.clock() + config.commitIntervalMs;
    let yieldedAt = performance.now();
    try {
      while (!this.stopRequested) {
        try {
          // a pipelined commit that came back: its outcome reaches the tasks (state flush, fencing)
          if (this.inflight?.done) await this.settleCommit();
          // after a failed commit (or a failure reaching the log): back to the last commit first
          if (this.rewindPending) {
            await this.rewindToCommitted();
            this.rewindPending = false;
            this.outageSince = undefined;
            this.retryDelayMs = 0;
          }
          const active = this.tasks.activeTasks();
          let buffered = false;
          let waiting = false;
          let nextPunctuation = Infinity;
          for (const t of active) {
            if (t.buffered > 0) {
              if (this.idling.mayProcess(t)) buffered = true;
              else waiting = true;
            }
            const due = t.nextWallClockPunctuation();
            if (due < nextPunctuation) nextPunctuation = due;
          }
          const now = this.clock();
          // a task waiting for another partition's records (TaskIdling) looks again soon
          const idle = waiting ? Math.min(this.pollMs, TASK_IDLE_POLL_MS) : this.pollMs;
          const wait = buffered ? 0 : Math.max(0, Math.min(idle, nextCommitAt - now, nextPunctuation - now));
          const records = await this.consumer.poll(wait);
          this.countRebalance();
          if (this.projections?.failure !== undefined) throw this.projections.failure;
          await this.retakeFencedTasks();
          if (records.length > 0) {
            this.tasks.route(records);
            this.lastActivityAt = this.clock();
          }
          if (this.global !== undefined && (await this.global.update()) > 0) this.lastActivityAt = this.clock();
          const started = this.observers.size > 0 ? performance.now() : 0;
          const processed = this.processInTimestampOrder(config.maxPollRecords * Math.max(1, this.tasks.activeTasks().length));
          if (processed > 0 && this.observers.size > 0) {
            const seconds = (performance.now() - started) / 1000;
            for (const o of this.observers) o.processed?.(seconds, processed);
          }
          let early = false;
          for (const task of this.tasks.activeTasks()) {
            task.punctuateWallClock(this.clock());
            if (task.wantsEarlyCommit) early = true;
          }
          this.applyBackpressure();
          if (early || this.clock() >= nextCommitAt) {
            if (this.pipelineCommits) await this.commitInBackground();
            else await this.commit();
            nextCommitAt = this.clock() + config.commitIntervalMs;
          }
          await this.notifyIdle();
          if (performance.now() - yieldedAt >= YIELD_EVERY_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            yieldedAt = performance.now();
          }
        } catch (err) {
          // fenced means another instance owns the work now: never retried as an outage
          if (!isRetriable(err)) throw err;
          await this.retryLater(err);
        }
      }
      this.runtimeState = 'stopping';
      // each step said at debug level: a stop that hangs names the step it hangs in
      const step = (what: string) => this.logger.debug(`stopping: ${what}`);
      step('closing the projections');
      await this.projections?.close();
      step('last commit');
      await this.commit();
      step('leaving the group');
      await this.consumer.close();
      step('closing the tasks');
      await this.tasks.closeAll();
      await this.tasks.closeRestoreConsumer();
      await this.global?.close();
      step('closing the producers');
      await this.closeIdleProducers();
      await this.producer?.close();
      this.runtimeState = 'stopped';
      this.logger.info(`application '${this.app.applicationId}' stopped`, { ...this.stats() });
      this.resolveStopped();
    } catch (err) {
      this.runtimeState = 'failed';
      this.logger.error(`application '${this.app.applicationId}' failed: ${err instanceof Error ? err.message : String(err)}`);
      // Leave the group without committing: what was not committed will be processed again.
      // A commit in flight is let finish first (its outcome no longer matters), not raced by closing.
      await this.inflight?.outcome;
      this.inflight = undefined;
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
  private processInTimestampOrder(budget: number): number {
    const initialBudget = budget;
    const tasks = this.tasks.activeTasks().filter((t) => t.buffered > 0 && this.idling.mayProcess(t));
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
      // a task of several partitions stops when one runs dry: it may have to wait for it
      const n = task.process(budget, secondTs, task.partitions.length > 1);
      budget -= n;
      if (n === 0 || task.buffered === 0 || !this.idling.mayProcess(task)) tasks.splice(first, 1);
    }
    return initialBudget - budget;
  }

  /** One transaction: every task's output and input offsets, or nothing. Returns once it is done. */
  private async commit(): Promise<void> {
    await this.commitInBackground();
    await this.settleCommit();
  }

  /**
   * Starts a commit and returns while its transaction is in flight, so the loop processes on;
   * the previous one is settled first (one commit in flight at a time, in order).
   */
  private async commitInBackground(): Promise<void> {
    await this.settleCommit();
    if (this.rewindPending) return;
    this.inflight = this.beginCommit();
  }

  /** Waits for the commit in flight, if any, and applies its outcome. */
  private async settleCommit(): Promise<void> {
    const inflight = this.inflight;
    if (inflight === undefined) return;
    this.inflight = undefined;
    const finish = await inflight.outcome;
    const finishing = performance.now();
    if (!(await finish())) return;
    // the transaction's time plus the state flush, not the processing done while it was in flight
    const flushMs = performance.now() - finishing;
    this.commits++;
    this.lastActivityAt = this.clock();
    if (this.observers.size > 0) {
      const seconds = (inflight.finishedAt - inflight.startedAt + flushMs) / 1000;
      for (const o of this.observers) o.committed?.(seconds);
    }
  }

  /**
   * Seals what the tasks did since the last commit (synchronously: processing after this goes
   * into the next commit) and starts its transaction(s). Undefined when there is nothing to commit.
   */
  private beginCommit(): InflightCommit | undefined {
    const startedAt = performance.now();
    const outcome = this.commitMode === 'shared' ? this.beginShared() : this.beginPerTask();
    if (outcome === undefined) return undefined;
    const inflight: InflightCommit = { outcome, startedAt, finishedAt: startedAt, done: false };
    void outcome.then(() => {
      inflight.done = true;
      inflight.finishedAt = performance.now();
    });
    return inflight;
  }

  /** Every task's output and offsets in one transaction (the log fences stale members itself). */
  private beginShared(): Promise<() => Promise<boolean>> | undefined {
    const { tasks, records, offsets } = this.tasks.prepareCommit();
    if (tasks.length === 0) return undefined;
    const txn = this.producer!.beginTransaction();
    if (records.length > 0) txn.send(records);
    const group = this.consumer.groupMetadata();
    if (offsets.length > 0) txn.sendOffsets(group, offsets);
    return txn.commit().then(
      (result) => async () => {
        this.logger.debug(`committed ${records.length} record(s)`, { generation: group.generationId, offsets: offsets.map((o) => `${o.topic}-${o.partition}:${o.offset}`).join(',') });
        for (const t of tasks) await t.postCommit(result);
        return true;
      },
      (err: unknown) => async () => {
        await this.recoverFailedCommit(txn, err);
        return false;
      },
    );
  }

  /**
   * One transaction per task, each with its own transactional id `<applicationId>-<taskId>`:
   * a zombie instance still holding a task is fenced by the id even where the log cannot fence
   * by group generation (Kafka Streams' first exactly-once design).
   */
  private beginPerTask(): Promise<() => Promise<boolean>> | undefined {
    const due = this.tasks.activeTasks().filter((t) => t.needsCommit);
    if (due.length === 0) return undefined;
    const group = this.consumer.groupMetadata();
    // each async body runs up to its first await now: every task is sealed before this returns
    const attempts = due.map(async (task) => {
      const { records, offsets } = task.prepareCommit();
      let txn: LogTransaction | undefined;
      try {
        txn = this.producerFor(task.id).beginTransaction();
        if (records.length > 0) txn.send(records);
        if (offsets.length > 0) txn.sendOffsets(group, offsets);
        return { task, offsets, result: await txn.commit(), error: undefined as unknown };
      } catch (error) {
        if (txn !== undefined) this.transactionAborts++;
        await txn?.abort().catch(() => undefined);
        return { task, offsets, result: undefined, error };
      }
    });
    return Promise.all(attempts).then((results) => () => this.finishPerTask(results));
  }

  private async finishPerTask(results: { task: StreamTask; offsets: readonly OffsetCommit[]; result: TransactionResult | undefined; error: unknown }[]): Promise<boolean> {
    // A fenced task moved to another instance: drop it (its work is redone there from the last
    // commit), keep the others. Other retriable failures rewind every task; the rest is fatal.
    const fenced = results.filter((r) => r.error instanceof FencedError);
    // with one member per group (embedded log), whoever fenced a task took the whole application over
    if (fenced.length > 0 && this.options.log.capabilities.exclusiveGroupMember !== false) {
      const err = fenced[0]!.error as FencedError;
      throw new FencedError(`application '${this.app.applicationId}' was taken over by another instance; this one stops without committing: ${err.message}`, { cause: err });
    }
    for (const { task, error } of fenced) await this.dropFencedTask(task, error as FencedError);
    const failed = results.find((r) => r.error !== undefined && !(r.error instanceof FencedError));
    if (failed !== undefined) {
      const err = failed.error;
      if (err instanceof TributaryError && err.retriable) {
        this.requestRewind(err);
        return false;
      }
      throw err;
    }
    for (const { task, result } of results) if (result !== undefined) await task.postCommit(result);
    if (results.some((r) => r.result !== undefined)) {
      const offsets = results.filter((r) => r.result !== undefined).flatMap((r) => r.offsets.map((o) => `${o.topic}-${o.partition}:${o.offset}`));
      this.logger.debug(`committed ${results.length - fenced.length} task(s)`, { offsets: offsets.join(',') });
    }
    return fenced.length < results.length;
  }

  /**
   * A task whose transactional id another instance registered: that instance owns it now (this
   * one missed a rebalance: paused, or slow). Its uncommitted work is dropped and its partitions
   * are paused; if the group still gives them to this instance after `fencedTaskRetryMs`, the task
   * is taken back through the normal hand-over (which fences the other one in turn).
   */
  private async dropFencedTask(task: StreamTask, error: FencedError): Promise<void> {
    this.logger.warn(`task ${task.id} was fenced: another instance took it over; dropping its uncommitted work`, { error: error.message });
    task.discardUncommitted();
    const partitions = [...task.partitions];
    await this.tasks.revoke(partitions);
    const producer = this.taskProducers.get(task.id);
    this.taskProducers.delete(task.id);
    await producer?.close().catch(() => undefined);
    const assigned = new Set(this.consumer.assignment().map((tp) => `${tp.topic}\u0000${tp.partition}`));
    const mine = partitions.filter((tp) => assigned.has(`${tp.topic}\u0000${tp.partition}`));
    if (mine.length > 0) this.consumer.pause(mine);
    for (const tp of mine) this.fencedPartitions.set(`${tp.topic}\u0000${tp.partition}`, { tp, retryAt: this.clock() + FENCED_TASK_RETRY_MS });
  }

  /** Takes back fenced tasks whose partitions the group still gives this instance. */
  private async retakeFencedTasks(): Promise<void> {
    if (this.fencedPartitions.size === 0) return;
    const assigned = new Set(this.consumer.assignment().map((tp) => `${tp.topic}\u0000${tp.partition}`));
    const due: TopicPartition[] = [];
    for (const [key, { tp, retryAt }] of this.fencedPartitions) {
      // gone, or already taken back by a rebalance: a second hand-over would seek a running task back
      if (!assigned.has(key) || this.tasks.taskFor(tp.topic, tp.partition) !== undefined) this.fencedPartitions.delete(key);
      else if (this.clock() >= retryAt) due.push(tp);
    }
    if (due.length === 0) return;
    this.logger.info(`taking back ${due.length} partition(s) of fenced tasks still assigned to this instance`);
    await this.handOver(due);
  }

  /** A shared commit failed: aborts it; a retriable failure rewinds every task to its last commit, the rest is fatal. */
  private async recoverFailedCommit(txn: LogTransaction, err: unknown): Promise<void> {
    this.transactionAborts++;
    await txn.abort().catch(() => undefined);
    // On a shared log, a commit refused because the group rebalanced while it was open (KIP-447)
    // wrote nothing: the member rejoins and redoes its tasks from the last commit, as Kafka
    // Streams does on TaskMigratedException. At least once, any fenced commit means the same.
    const sharedLog = this.options.log.capabilities.exclusiveGroupMember === false;
    if (sharedLog && (err instanceof StaleMemberError || (err instanceof FencedError && this.app.config.processingGuarantee === 'at-least-once'))) {
      this.requestRewind(err);
      return;
    }
    if (err instanceof FencedError) {
      throw new FencedError(`application '${this.app.applicationId}' was taken over by another instance; this one stops without committing: ${err.message}`, { cause: err });
    }
    if (err instanceof TributaryError && err.retriable) {
      this.requestRewind(err);
      return;
    }
    throw err;
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

  /**
   * Drops all uncommitted work and takes the assigned tasks over again from their last commit.
   * Per-task commits: the tasks' producers are made anew first. A failed commit's outcome may be
   * unknown (the broker may still be completing it), and offsets read before it completed would be
   * the old ones: registering the transactional id again waits for that transaction to end.
   */
  private async rewindToCommitted(): Promise<void> {
    await this.settleCommit();
    for (const t of this.tasks.activeTasks()) t.discardUncommitted();
    await this.tasks.closeAll();
    if (this.commitMode === 'per-task') {
      const producers = [...this.taskProducers.values()];
      this.taskProducers.clear();
      await Promise.all(producers.map((p) => p.close().catch(() => undefined)));
    }
    await this.handOver(this.consumer.assignment());
  }

  /**
   * A start-up step that needs the log: retried with a growing wait while the failure is
   * retriable (the log unreachable or busy), for at most `maxOutageMs`, like the loop's outages.
   */
  private async retryWhileUnreachable<T>(what: string, step: () => Promise<T>): Promise<T> {
    const since = this.clock();
    for (let delay = 250; ; delay = Math.min(5000, delay * 2)) {
      try {
        return await step();
      } catch (err) {
        const lasted = this.clock() - since;
        if (!isRetriable(err) || lasted + delay > this.maxOutageMs) throw err;
        this.logger.warn(`cannot ${what} yet; retrying in ${delay} ms`, { error: (err as Error).message, outageMs: lasted });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** A retriable failure: the next loop iteration rewinds to the last commit before anything else. */
  private requestRewind(err: unknown): void {
    this.logger.warn('commit failed; rewinding to the last commit and retrying', { error: err instanceof Error ? err.message : String(err) });
    this.rewindPending = true;
  }

  /**
   * The log could not be reached (a broker restarting, a network blip): wait, growing the wait up
   * to 5 s, and try again from the last commit; give up once the outage lasted `maxOutageMs`.
   */
  private async retryLater(err: TributaryError): Promise<void> {
    const now = this.clock();
    this.outageSince ??= now;
    const lasted = now - this.outageSince;
    if (lasted > this.maxOutageMs) {
      throw new TributaryError(`the log has been failing for ${Math.round(lasted / 1000)} s (longer than maxOutageMs ${this.maxOutageMs}); giving up: ${err.message}`, { cause: err });
    }
    this.retryDelayMs = Math.min(5000, Math.max(250, this.retryDelayMs * 2));
    this.logger.warn(`cannot reach the log; retrying in ${this.retryDelayMs} ms from the last commit`, { error: err.message, outageMs: lasted });
    this.rewindPending = true;
    await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs));
  }

  private committedLookup(committed: readonly OffsetCommit[]): (topic: string, partition: number) => number | undefined {
    const map = new Map(committed.map((c) => [`${c.topic}\u0000${c.partition}`, c.offset]));
    return (topic, partition) => map.get(`${topic}\u0000${partition}`);
  }

  private async onAssigned(partitions: TopicPartition[]): Promise<void> {
    this.assignmentChanged = true;
    await this.handOver(partitions);
  }

  /**
   * Takes over the tasks of newly assigned partitions. Per-task commits: first register each
   * task's transactional id, which fences the previous owner and ends the transaction it left
   * open; only then are the committed offsets final, so they are read after, and the consumer
   * seeks to them (its own start positions were read before the fencing). Then the stores restore.
   */
  private async handOver(partitions: TopicPartition[]): Promise<void> {
    await this.settleCommit();
    for (const tp of partitions) {
      const key = `${tp.topic}\u0000${tp.partition}`;
      if (this.fencedPartitions.delete(key)) this.consumer.resume([tp]);
    }
    if (this.commitMode === 'per-task') {
      const ids = new Set<string>();
      for (const tp of partitions) {
        const s = this.topology.subtopologyOf(tp.topic);
        if (s !== undefined && this.tasks.taskFor(tp.topic, tp.partition) === undefined) ids.add(taskId(s.id, tp.partition));
      }
      await Promise.all([...ids].map((id) => this.producerFor(id).ready()));
    }
    const committed = await this.consumer.committed(partitions);
    for (const c of committed) this.consumer.seek(c, c.offset);
    // A partition with no commit yet starts from its beginning (auto.offset.reset 'earliest'), and
    // must be sought there too: after a rewind or a fenced task's retake the consumer's position
    // lies past records whose output was just dropped, and reading on from it would lose them.
    const uncommitted = partitions.filter((tp) => !committed.some((c) => c.topic === tp.topic && c.partition === tp.partition));
    const fromStart: string[] = [];
    for (const topic of new Set(uncommitted.map((tp) => tp.topic))) {
      const low = new Map((await this.options.log.admin.offsets(topic)).map((o) => [o.partition, o.low]));
      for (const tp of uncommitted) {
        if (tp.topic !== topic) continue;
        this.consumer.seek(tp, low.get(tp.partition) ?? 0);
        fromStart.push(`${tp.topic}-${tp.partition}:${low.get(tp.partition) ?? 0}`);
      }
    }
    this.logger.debug(`hand-over of ${partitions.length} partition(s)`, { committed: committed.map((c) => `${c.topic}-${c.partition}:${c.offset}`).join(','), fromStart: fromStart.join(',') });
    const created = await this.tasks.assign(partitions, this.committedLookup(committed));
    if (created.length > 0) this.logger.info(`assigned ${created.length} task(s): ${created.map((t) => t.id).join(', ')}`);
  }

  private async onRevoked(partitions: TopicPartition[]): Promise<void> {
    if (this.runtimeState === 'failed') return;
    if (!this.stopRequested) this.assignmentChanged = true;
    await this.commit();
    // after the commit, which may itself find a task fenced and mark its partitions
    for (const tp of partitions) this.fencedPartitions.delete(`${tp.topic}\u0000${tp.partition}`);
    await this.tasks.revoke(partitions);
    await this.closeIdleProducers();
  }

  /**
   * This instance dropped out of the group and joined again as a new member: its tasks may have
   * run elsewhere meanwhile, so their uncommitted work is dropped, not committed (on a log that
   * fences by generation the commit would be accepted, and would commit stale work). The tasks
   * given back come through onAssigned and start again from the committed offsets.
   */
  private async onLost(partitions: TopicPartition[]): Promise<void> {
    if (this.runtimeState === 'failed') return;
    if (!this.stopRequested) this.assignmentChanged = true;
    await this.settleCommit();
    const lost = new Set<StreamTask>();
    for (const tp of partitions) {
      const task = this.tasks.taskFor(tp.topic, tp.partition);
      if (task !== undefined) lost.add(task);
      this.fencedPartitions.delete(`${tp.topic}\u0000${tp.partition}`);
    }
    this.logger.warn(`this instance dropped out of the group and joined again: dropping the uncommitted work of ${lost.size} task(s)`, { tasks: [...lost].map((t) => t.id).join(',') });
    for (const task of lost) task.discardUncommitted();
    await this.tasks.revoke(partitions);
    await this.closeIdleProducers();
  }

  /**
   * What this instance advertises when it joins the group: the tasks it runs, and the tasks whose
   * state it has on disk (`<stateDir>/<applicationId>/<taskId>`), so the assignment can keep
   * tasks where restoring them is cheapest.
   */
  private localTasks(stateDir: string): { active: string[]; standby: string[] } {
    const active = this.tasks?.activeTasks().map((t) => t.id) ?? [];
    let standby: string[] = [];
    try {
      standby = readdirSync(join(stateDir, this.app.applicationId)).filter((d) => /^\d+_\d+$/.test(d) && !active.includes(d as TaskId));
    } catch {
      // no local state yet
    }
    return { active, standby };
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

  private async notifyIdle(): Promise<void> {
    if (this.idleWaiters.length === 0 || this.inflight !== undefined) return;
    for (const t of this.tasks.activeTasks()) if (t.buffered > 0 || t.needsCommit) return;
    const quiet = this.clock() - this.lastActivityAt;
    if (!this.idleWaiters.some((w) => quiet >= w.idleMs)) return;
    // The projections run their own loops: idle only once they have applied everything, too.
    if (this.projections !== undefined && !(await this.projections.caughtUp())) return;
    const ready = this.idleWaiters.filter((w) => quiet >= w.idleMs);
    if (ready.length === 0) return;
    this.idleWaiters = this.idleWaiters.filter((w) => quiet < w.idleMs);
    for (const w of ready) w.resolve();
  }

  /** After a poll: the group changed the assignment in it (the listener ran) counts as one rebalance. */
  private countRebalance(): void {
    if (!this.assignmentChanged) return;
    this.assignmentChanged = false;
    this.rebalances++;
  }

  private async releaseQuietly(): Promise<void> {
    try {
      await this.projections?.close();
      await this.consumer?.close();
    } catch {
      /* already failing: the first error is the one to report */
    }
    try {
      await this.tasks?.closeAll();
      await this.tasks?.closeRestoreConsumer();
      await this.global?.close();
      if (this.tasks !== undefined) await this.closeIdleProducers();
      await this.producer?.close();
    } catch {
      /* as above */
    }
  }
}

/** The log could not be reached or was busy: worth trying again. Fenced is never retried. */
function isRetriable(err: unknown): err is TributaryError {
  return err instanceof TributaryError && err.retriable && !(err instanceof FencedError);
}
