import type { Log } from '../log/types.js';
import { writesOwnChangelog } from '../state/store-definition.js';
import type { RestoreTarget, TaskStores } from '../state/task-stores.js';
import type { Logger } from './logger.js';

export interface RestoreResult {
  /** Changelog records replayed into local state. */
  records: number;
  /** Whether local state was thrown away because its checkpoint was ahead of the changelog. */
  wiped: boolean;
}

const RESTORE_STALL_WARN_MS = 30_000;

/**
 * Brings a task's stores up to date before it processes: replays each changelog partition
 * from the store's checkpoint to the end (never from zero when a checkpoint exists). A store
 * copying an input topic restores up to the group's committed offset, where processing resumes.
 */
export async function restoreTaskState(
  log: Log,
  stores: TaskStores,
  taskId: string,
  limits: {
    committedOffset(topic: string, partition: number): number | undefined;
    /** Told after each restored batch: records replayed so far and changelog offsets still to go (metrics, readiness). */
    onProgress?(restored: number, remaining: number): void;
  },
  logger: Logger,
): Promise<RestoreResult> {
  const targets = stores.restoreTargets();
  if (targets.length === 0) return { records: 0, wiped: false };
  const ends = new Map<RestoreTarget, number>();
  for (const t of targets) {
    const high = (await log.admin.offsets(t.topic)).find((p) => p.partition === t.partition)?.high ?? 0;
    const end = writesOwnChangelog(t.store.def) ? high : Math.min(high, limits.committedOffset(t.topic, t.partition) ?? 0);
    ends.set(t, end);
  }
  const ahead = targets.filter((t) => t.from > ends.get(t)! && writesOwnChangelog(t.store.def));
  if (ahead.length > 0) {
    logger.warn(`task ${taskId}: local state is ahead of its changelog (${ahead.map((t) => `${t.topic}-${t.partition} checkpoint ${t.from} > end ${ends.get(t)}`).join(', ')}); wiping it and restoring from the beginning`);
    return { records: 0, wiped: true };
  }
  const todo = targets.filter((t) => t.from < ends.get(t)!);
  if (todo.length === 0) return { records: 0, wiped: false };
  const started = Date.now();
  const consumer = log.consumer({ maxPollRecords: 10_000 });
  let records = 0;
  try {
    consumer.assign(todo.map((t) => ({ topic: t.topic, partition: t.partition })));
    for (const t of todo) consumer.seek({ topic: t.topic, partition: t.partition }, t.from);
    const remaining = new Set(todo);
    const byPartition = new Map(todo.map((t) => [`${t.topic}\u0000${t.partition}`, t]));
    const left = () => todo.reduce((n, t) => n + Math.max(0, ends.get(t)! - consumer.position({ topic: t.topic, partition: t.partition })), 0);
    limits.onProgress?.(0, left());
    // a restore that stops moving is said out loud (where it stands and what it waits for)
    let lastLeft = left();
    let movedAt = Date.now();
    while (remaining.size > 0) {
      const batch = await consumer.poll(100);
      const groups = new Map<RestoreTarget, typeof batch>();
      for (const r of batch) {
        const t = byPartition.get(`${r.topic}\u0000${r.partition}`)!;
        if (r.offset >= ends.get(t)!) continue;
        const list = groups.get(t) ?? [];
        list.push(r);
        groups.set(t, list);
      }
      for (const [t, list] of groups) {
        const next = list[list.length - 1]!.offset + 1;
        await stores.applyRestored(t.store, list, next);
        records += list.length;
      }
      for (const t of [...remaining]) {
        if (consumer.position({ topic: t.topic, partition: t.partition }) >= ends.get(t)!) {
          // Checkpoint at the end (past any transaction markers) so the next start skips them too.
          await stores.applyRestored(t.store, [], ends.get(t)!);
          remaining.delete(t);
        }
      }
      const nowLeft = left();
      limits.onProgress?.(records, nowLeft);
      if (nowLeft !== lastLeft) {
        lastLeft = nowLeft;
        movedAt = Date.now();
      } else if (Date.now() - movedAt > RESTORE_STALL_WARN_MS) {
        movedAt = Date.now();
        const at = [...remaining].map((t) => `${t.topic}-${t.partition} at ${consumer.position({ topic: t.topic, partition: t.partition })} of ${ends.get(t)}`);
        logger.warn(`task ${taskId}: restore has not moved for ${RESTORE_STALL_WARN_MS / 1000} s: ${at.join(', ')}`);
      }
      // let the process answer (health probes, /metrics) between batches of a long restore
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await consumer.close();
  }
  const ms = Date.now() - started;
  logger.info(`task ${taskId}: restored ${records} record(s) into ${todo.map((t) => t.store.def.name).join(', ')} in ${ms} ms`, {
    from: Object.fromEntries(todo.map((t) => [`${t.topic}-${t.partition}`, `${t.from}..${ends.get(t)}`])),
  });
  return { records, wiped: false };
}
