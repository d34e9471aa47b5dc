import type { ConsumedRecord, Log, LogConsumer, OffsetCommit, OutgoingRecord, TopicPartition } from '../log/types.js';
import { TaskStores } from '../state/task-stores.js';
import { RESTORE_POLL_RECORDS, restoreTasksState } from './state-restorer.js';
import type { Topology } from '../topology/topology.js';
import type { ResolvedAppConfig } from './config.js';
import type { Logger } from './logger.js';
import { StreamTask } from './stream-task.js';
import { taskId, type TaskId } from './task-id.js';
import type { TaskState } from './task-state.js';

export interface TaskManagerOptions {
  topology: Topology;
  config: ResolvedAppConfig;
  clock: () => number;
  partitionCounts: ReadonlyMap<string, number>;
  logger: Logger;
  /** For restoring state from changelogs. */
  log: Log;
  /** Root of local state (`<stateDir>/<applicationId>/<taskId>`). */
  stateDir: string;
  /** Read-only global stores, shared by every task. */
  globalStores?: ReadonlyMap<string, unknown>;
}

/** Totals of tasks that have closed, so runtime stats survive rebalances. */
interface ClosedTotals {
  restored: number;
  processed: number;
  taken: Map<string, number>;
  dropped: Map<string, number>;
  sent: Map<string, number>;
}

/**
 * Turns assigned input partitions into tasks (partition p of every topic of a sub-topology goes
 * to task `<s>_<p>`), routes fetched records to them, and gathers their commits.
 */
export class TaskManager {
  private readonly tasks = new Map<TaskId, StreamTask>();
  /** The restore consumer, made once (warmRestoreConsumer) and kept across restores. */
  private restore: Promise<LogConsumer> | undefined;
  private readonly taskByPartition = new Map<string, StreamTask>();
  private readonly closedTotals: ClosedTotals = { restored: 0, processed: 0, taken: new Map(), dropped: new Map(), sent: new Map() };
  /** Tasks being created, whose state is restoring: records replayed so far and changelog offsets to go. */
  private readonly restoring = new Map<TaskId, { restored: number; remaining: number }>();

  constructor(private readonly options: TaskManagerOptions) {}

  activeTasks(): StreamTask[] {
    return [...this.tasks.values()];
  }

  taskFor(topic: string, partition: number): StreamTask | undefined {
    return this.taskByPartition.get(`${topic}\u0000${partition}`);
  }

  /**
   * Creates the tasks for newly assigned partitions: opens their stores, restores them from
   * their changelogs (only the tail past the local checkpoint), then starts their processors.
   */
  async assign(partitions: readonly TopicPartition[], committedOffset: (topic: string, partition: number) => number | undefined): Promise<StreamTask[]> {
    const byTask = new Map<TaskId, { subtopology: number; partition: number; partitions: TopicPartition[] }>();
    for (const tp of partitions) {
      const s = this.options.topology.subtopologyOf(tp.topic);
      if (s === undefined) throw new Error(`assigned partition ${tp.topic}-${tp.partition} is not read by the topology`);
      const id = taskId(s.id, tp.partition);
      if (this.tasks.has(id)) continue;
      const entry = byTask.get(id) ?? { subtopology: s.id, partition: tp.partition, partitions: [] };
      entry.partitions.push(tp);
      byTask.set(id, entry);
    }
    for (const id of byTask.keys()) this.restoring.set(id, { restored: 0, remaining: 0 });
    const opened = new Map<TaskId, TaskStores>();
    try {
      // open every new task's stores, then restore them all together (one restore consumer)
      for (const [id, { subtopology, partition }] of byTask) {
        const options = this.storeOptions(id, subtopology, partition);
        if (options !== undefined) opened.set(id, await TaskStores.open(options));
      }
      const onProgress = (id: string, restored: number, remaining: number) => {
        const progress = this.restoring.get(id as TaskId);
        if (progress === undefined) return;
        progress.restored = restored;
        progress.remaining = remaining;
      };
      let toRestore = [...opened].map(([id, stores]) => ({ taskId: id as string, stores }));
      while (toRestore.length > 0) {
        const consumer = await this.restoreConsumer();
        let results: Awaited<ReturnType<typeof restoreTasksState>>;
        try {
          results = await restoreTasksState(this.options.log, consumer, toRestore, { committedOffset, onProgress }, this.options.logger);
        } catch (err) {
          // the next restore starts from a fresh consumer, not from one a failure left in doubt
          await this.closeRestoreConsumer();
          throw err;
        }
        const wiped: typeof toRestore = [];
        for (const [id, result] of results) {
          this.restoredRecords += result.records;
          this.restoring.get(id as TaskId)!.restored = 0;
          if (!result.wiped) continue;
          // local state ahead of its changelog: thrown away, restored again from the beginning
          const { subtopology, partition } = byTask.get(id as TaskId)!;
          const stores = await opened.get(id as TaskId)!.wipe(this.storeOptions(id as TaskId, subtopology, partition)!);
          opened.set(id as TaskId, stores);
          wiped.push({ taskId: id, stores });
        }
        toRestore = wiped;
      }
      const created: StreamTask[] = [];
      for (const [id, { subtopology, partitions: tps }] of byTask) {
        created.push(this.createTask(id, subtopology, tps, opened.get(id)));
        opened.delete(id);
      }
      return created;
    } finally {
      for (const id of byTask.keys()) this.restoring.delete(id);
      // stores of tasks that were not created (a failed restore) are closed, not leaked
      for (const stores of opened.values()) await stores.close().catch(() => undefined);
    }
  }

  /** Ids and lifecycle states of the tasks being created (restoring) and of the active ones. */
  taskStates(): { id: TaskId; state: TaskState }[] {
    return [...[...this.restoring.keys()].map((id) => ({ id, state: 'restoring' as const })), ...[...this.tasks.values()].map((t) => ({ id: t.id, state: t.state }))];
  }

  /** Approximate entries per state store, summed over the active tasks (a window store counts one per key and window). */
  storeSizes(): Map<string, number> {
    const sizes = new Map<string, number>();
    for (const name of this.options.topology.stores.keys()) {
      let n = 0;
      for (const t of this.tasks.values()) n += t.stores?.store(name)?.batch.approximateCount() ?? 0;
      sizes.set(name, n);
    }
    return sizes;
  }

  /** Changelog records replayed since start (finished and ongoing restores) and offsets still to replay. */
  restoreProgress(): { restored: number; remaining: number } {
    let restored = this.restoredRecords;
    let remaining = 0;
    for (const p of this.restoring.values()) {
      restored += p.restored;
      remaining += p.remaining;
    }
    return { restored, remaining };
  }

  /** How a task's stores open, or undefined when its sub-topology has none. */
  private storeOptions(id: TaskId, subtopology: number, partition: number) {
    const { topology, config } = this.options;
    const defs = topology.storesOf(topology.subtopologies[subtopology]!);
    if (defs.length === 0) return undefined;
    return { applicationId: topology.applicationId, taskId: id, partition, stores: defs, defaultBackend: config.stateBackend, stateDir: this.options.stateDir };
  }

  private createTask(id: TaskId, subtopology: number, tps: TopicPartition[], stores: TaskStores | undefined): StreamTask {
    const { topology, config } = this.options;
    const s = topology.subtopologies[subtopology]!;
    const task = new StreamTask({
      id,
      applicationId: topology.applicationId,
      subtopology: s,
      partitions: tps,
      config,
      clock: this.options.clock,
      partitionCounts: (topic) => this.options.partitionCounts.get(topic),
      logger: this.options.logger,
      stores,
      globalStores: this.options.globalStores,
    });
    task.initialize();
    task.completeRestoration();
    this.tasks.set(id, task);
    for (const tp of tps) this.taskByPartition.set(`${tp.topic}\u0000${tp.partition}`, task);
    return task;
  }

  /** Closes the tasks owning these partitions (after the caller committed them). */
  async revoke(partitions: readonly TopicPartition[]): Promise<void> {
    const ids = new Set<TaskId>();
    for (const tp of partitions) {
      const task = this.taskFor(tp.topic, tp.partition);
      if (task !== undefined) ids.add(task.id);
    }
    for (const id of ids) await this.closeTask(this.tasks.get(id)!);
  }

  /** Closes every task; what they did not commit is dropped. */
  async closeAll(): Promise<void> {
    for (const task of [...this.tasks.values()]) await this.closeTask(task);
  }

  /**
   * Starts the restore consumer's set-up now (on Kafka its assign() joins a throwaway group, about
   * 0.5 s), so that it overlaps the application's own group join instead of following it: the
   * first tasks restore as soon as they are assigned. Failures only mean the first restore makes
   * a consumer of its own.
   */
  warmRestoreConsumer(): void {
    const topics = this.options.topology.internalTopics.filter((t) => t.kind === 'changelog').map((t) => t.name);
    if (topics.length === 0 || this.restore !== undefined) return;
    const consumer = this.options.log.consumer({ maxPollRecords: RESTORE_POLL_RECORDS });
    this.restore = (async () => {
      consumer.assign(topics.map((topic) => ({ topic, partition: 0 })));
      await consumer.poll(0);
      consumer.assign([]);
      return consumer;
    })().catch(async (err: unknown) => {
      this.options.logger.debug('the restore consumer could not be prepared ahead; the first restore makes one', { error: err instanceof Error ? err.message : String(err) });
      await consumer.close().catch(() => undefined);
      return this.options.log.consumer({ maxPollRecords: RESTORE_POLL_RECORDS });
    });
  }

  /** The restore consumer, kept across restores (each restore assigns it what it reads). */
  private async restoreConsumer(): Promise<LogConsumer> {
    this.restore ??= Promise.resolve(this.options.log.consumer({ maxPollRecords: RESTORE_POLL_RECORDS }));
    return this.restore;
  }

  /** Closes the restore consumer (at the end, or after a failed restore). */
  async closeRestoreConsumer(): Promise<void> {
    const restore = this.restore;
    this.restore = undefined;
    if (restore !== undefined) await (await restore).close().catch(() => undefined);
  }

  /** Routes one poll's records; consecutive records of a partition go in as one slice. */
  route(records: readonly ConsumedRecord[]): void {
    let start = 0;
    while (start < records.length) {
      const first = records[start]!;
      let end = start + 1;
      while (end < records.length && records[end]!.partition === first.partition && records[end]!.topic === first.topic) end++;
      const task = this.taskFor(first.topic, first.partition);
      if (task === undefined) throw new Error(`no task owns ${first.topic}-${first.partition}`);
      task.addRecords(first.topic, first.partition, start === 0 && end === records.length ? records : records.slice(start, end));
      start = end;
    }
  }

  /** Output and offsets of every task with something to commit. */
  prepareCommit(): { tasks: StreamTask[]; records: OutgoingRecord[]; offsets: OffsetCommit[] } {
    const tasks: StreamTask[] = [];
    const outputs: (readonly OutgoingRecord[])[] = [];
    const offsets: OffsetCommit[] = [];
    for (const task of this.tasks.values()) {
      if (!task.needsCommit) continue;
      const c = task.prepareCommit();
      tasks.push(task);
      if (c.records.length > 0) outputs.push(c.records);
      for (const o of c.offsets) offsets.push(o);
    }
    return { tasks, records: mergeByTimestamp(outputs), offsets };
  }

  /** Changelog records replayed into local state since start. */
  restoredRecords = 0;

  stats(): { processed: number; taken: Map<string, number>; dropped: Map<string, number>; sent: Map<string, number> } {
    const processed = [...this.tasks.values()].reduce((n, t) => n + t.counters.processed, this.closedTotals.processed);
    const dropped = new Map(this.closedTotals.dropped);
    const sent = new Map(this.closedTotals.sent);
    const taken = new Map(this.closedTotals.taken);
    for (const task of this.tasks.values()) {
      for (const [k, v] of task.takenCounts()) taken.set(k, (taken.get(k) ?? 0) + v);
      for (const [k, v] of task.counters.dropped) dropped.set(k, (dropped.get(k) ?? 0) + v);
      for (const [k, v] of task.sentCounts()) sent.set(k, (sent.get(k) ?? 0) + v);
    }
    return { processed, taken, dropped, sent };
  }

  private async closeTask(task: StreamTask): Promise<void> {
    this.closedTotals.processed += task.counters.processed;
    for (const [k, v] of task.takenCounts()) this.closedTotals.taken.set(k, (this.closedTotals.taken.get(k) ?? 0) + v);
    for (const [k, v] of task.counters.dropped) this.closedTotals.dropped.set(k, (this.closedTotals.dropped.get(k) ?? 0) + v);
    for (const [k, v] of task.sentCounts()) this.closedTotals.sent.set(k, (this.closedTotals.sent.get(k) ?? 0) + v);
    this.tasks.delete(task.id);
    for (const tp of task.partitions) this.taskByPartition.delete(`${tp.topic}\u0000${tp.partition}`);
    await task.closeAndRelease();
  }
}

/**
 * Interleaves the tasks' outputs by timestamp, keeping each task's own order. Tasks writing
 * the same topic (a repartition topic) then append it in event-time order rather than one
 * task's batch after another's, which downstream windows would see as late records.
 */
export function mergeByTimestamp(lists: readonly (readonly OutgoingRecord[])[]): OutgoingRecord[] {
  if (lists.length === 1) return lists[0] as OutgoingRecord[];
  const total = lists.reduce((n, l) => n + l.length, 0);
  const out: OutgoingRecord[] = new Array(total);
  const pos = new Array<number>(lists.length).fill(0);
  for (let o = 0; o < total; o++) {
    let best = -1;
    let bestTs = Infinity;
    for (let i = 0; i < lists.length; i++) {
      const p = pos[i]!;
      if (p < lists[i]!.length) {
        const ts = lists[i]![p]!.timestamp;
        if (best === -1 || ts < bestTs) {
          best = i;
          bestTs = ts;
        }
      }
    }
    out[o] = lists[best]![pos[best]!++]!;
  }
  return out;
}
