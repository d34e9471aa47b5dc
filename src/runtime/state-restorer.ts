import type { Log, LogConsumer } from '../log/types.js';
import { writesOwnChangelog } from '../state/store-definition.js';
import type { RestoreTarget, TaskStores } from '../state/task-stores.js';
import type { Logger } from './logger.js';

export interface RestoreResult {
  /** Changelog records replayed into local state. */
  records: number;
  /** Whether local state was thrown away because its checkpoint was ahead of the changelog. */
  wiped: boolean;
}

/** One task to restore. */
export interface TaskToRestore {
  taskId: string;
  stores: TaskStores;
}

const RESTORE_STALL_WARN_MS = 30_000;
/** Records one poll of the restore consumer may return. */
export const RESTORE_POLL_RECORDS = 10_000;

/**
 * Brings the stores of newly assigned tasks up to date before they process: replays each
 * changelog partition from the store's checkpoint to the end (never from zero when a checkpoint
 * exists). A store copying an input topic restores up to the group's committed offset, where
 * processing resumes.
 *
 * All the tasks restore together through one consumer (as Kafka Streams' restore consumer does):
 * a consumer costs a group join on Kafka (assign() joins a throwaway group), so one per task made
 * a restart of 8 tasks wait ~4 s even with nothing to replay.
 *
 * A task whose local state is ahead of its changelog is not restored: it comes back with
 * `wiped: true`, and the caller wipes its stores and restores it again.
 */
export async function restoreTasksState(
  log: Log,
  /** The restore consumer (the caller's, kept across restores: left assigned to nothing after). */
  consumer: LogConsumer,
  tasks: readonly TaskToRestore[],
  limits: {
    committedOffset(topic: string, partition: number): number | undefined;
    /** Told after each restored batch: a task's records replayed so far and changelog offsets still to go (metrics, readiness). */
    onProgress?(taskId: string, restored: number, remaining: number): void;
  },
  logger: Logger,
): Promise<Map<string, RestoreResult>> {
  const results = new Map<string, RestoreResult>(tasks.map((t) => [t.taskId, { records: 0, wiped: false }]));
  const highs = new Map<string, Map<number, number>>();
  const highOf = async (topic: string, partition: number) => {
    let byPartition = highs.get(topic);
    if (byPartition === undefined) {
      byPartition = new Map((await log.admin.offsets(topic)).map((p) => [p.partition, p.high]));
      highs.set(topic, byPartition);
    }
    return byPartition.get(partition) ?? 0;
  };
  const ends = new Map<RestoreTarget, number>();
  const owner = new Map<RestoreTarget, TaskToRestore>();
  const todo: RestoreTarget[] = [];
  for (const task of tasks) {
    const targets = task.stores.restoreTargets();
    for (const t of targets) {
      const high = await highOf(t.topic, t.partition);
      ends.set(t, writesOwnChangelog(t.store.def) ? high : Math.min(high, limits.committedOffset(t.topic, t.partition) ?? 0));
      owner.set(t, task);
    }
    const ahead = targets.filter((t) => t.from > ends.get(t)! && writesOwnChangelog(t.store.def));
    if (ahead.length > 0) {
      logger.warn(`task ${task.taskId}: local state is ahead of its changelog (${ahead.map((t) => `${t.topic}-${t.partition} checkpoint ${t.from} > end ${ends.get(t)}`).join(', ')}); wiping it and restoring from the beginning`);
      results.set(task.taskId, { records: 0, wiped: true });
      continue;
    }
    todo.push(...targets.filter((t) => t.from < ends.get(t)!));
  }
  if (todo.length === 0) return results;
  const started = Date.now();
  const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  try {
    consumer.assign(todo.map((t) => ({ topic: t.topic, partition: t.partition })));
    for (const t of todo) consumer.seek({ topic: t.topic, partition: t.partition }, t.from);
    const remaining = new Set(todo);
    const byPartition = new Map(todo.map((t) => [key(t.topic, t.partition), t]));
    const leftOf = (t: RestoreTarget) => Math.max(0, ends.get(t)! - consumer.position({ topic: t.topic, partition: t.partition }));
    const report = () => {
      const left = new Map<string, number>();
      for (const t of todo) left.set(owner.get(t)!.taskId, (left.get(owner.get(t)!.taskId) ?? 0) + leftOf(t));
      for (const [id, n] of left) limits.onProgress?.(id, results.get(id)!.records, n);
      return [...left.values()].reduce((a, b) => a + b, 0);
    };
    // a restore that stops moving is said out loud (where it stands and what it waits for)
    let lastLeft = report();
    let movedAt = Date.now();
    while (remaining.size > 0) {
      const batch = await consumer.poll(100);
      const groups = new Map<RestoreTarget, typeof batch>();
      for (const r of batch) {
        const t = byPartition.get(key(r.topic, r.partition))!;
        if (r.offset >= ends.get(t)!) continue;
        const list = groups.get(t) ?? [];
        list.push(r);
        groups.set(t, list);
      }
      for (const [t, list] of groups) {
        const next = list[list.length - 1]!.offset + 1;
        await owner.get(t)!.stores.applyRestored(t.store, list, next);
        results.get(owner.get(t)!.taskId)!.records += list.length;
      }
      for (const t of [...remaining]) {
        if (consumer.position({ topic: t.topic, partition: t.partition }) >= ends.get(t)!) {
          // Checkpoint at the end (past any transaction markers) so the next start skips them too.
          await owner.get(t)!.stores.applyRestored(t.store, [], ends.get(t)!);
          remaining.delete(t);
        }
      }
      const nowLeft = report();
      if (nowLeft !== lastLeft) {
        lastLeft = nowLeft;
        movedAt = Date.now();
      } else if (Date.now() - movedAt > RESTORE_STALL_WARN_MS) {
        movedAt = Date.now();
        const at = [...remaining].map((t) => `${t.topic}-${t.partition} at ${consumer.position({ topic: t.topic, partition: t.partition })} of ${ends.get(t)}`);
        logger.warn(`restore has not moved for ${RESTORE_STALL_WARN_MS / 1000} s: ${at.join(', ')}`);
      }
      // let the process answer (health probes, /metrics) between batches of a long restore
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    consumer.assign([]);
  }
  const ms = Date.now() - started;
  for (const task of tasks) {
    const mine = todo.filter((t) => owner.get(t) === task);
    if (mine.length === 0) continue;
    logger.info(`task ${task.taskId}: restored ${results.get(task.taskId)!.records} record(s) into ${[...new Set(mine.map((t) => t.store.def.name))].join(', ')} in ${ms} ms`, {
      from: Object.fromEntries(mine.map((t) => [`${t.topic}-${t.partition}`, `${t.from}..${ends.get(t)}`])),
    });
  }
  return results;
}
