import type { Log, LogConsumer, TopicPartition } from '../log/types.js';
import type { Logger } from './logger.js';
import type { StreamTask } from './stream-task.js';

/** Processing goes on without a partition whose known records did not arrive within this time. */
const ENFORCED_PROCESSING_MS = 30_000;
/** How often the log end of a partition a task waits on is looked up again. */
const END_REFRESH_MS = 200;

/**
 * Decides whether a task with several input partitions (a join, a merge) may process now
 * (Kafka Streams' max.task.idle.ms, KIP-695). Records are taken in timestamp order across the
 * task's partitions, but only from partitions with records buffered: a stream record would be
 * joined before the table update that precedes it in time, only because that update had not
 * been fetched yet. So a task whose partition has nothing buffered waits while the log holds
 * records of that partition past the consumer's position (known to exist, not yet fetched), and,
 * with `maxTaskIdleMs` > 0, also that long for records that may still come. A wait for known
 * records ends after 30 s at most, with a warning, so a partition that cannot be fetched never
 * stops the others for good.
 */
export class TaskIdling {
  /** Log end per partition (`topic\0partition`), as last looked up. */
  private readonly ends = new Map<string, number>();
  private readonly lookedUpAt = new Map<string, number>();
  private readonly lookingUp = new Set<string>();
  /** Since when each waiting task has waited (by task object: a task made anew starts afresh). */
  private readonly waitingSince = new WeakMap<StreamTask, number>();

  constructor(
    private readonly options: { log: Log; consumer: () => LogConsumer; maxTaskIdleMs: number; clock: () => number; logger: Logger },
  ) {}

  /** Whether `task` may process its buffered records now. */
  mayProcess(task: StreamTask): boolean {
    const { maxTaskIdleMs, clock } = this.options;
    if (maxTaskIdleMs < 0 || task.partitions.length < 2) return true;
    const empty = task.partitions.filter((tp) => task.bufferedFor(tp.topic, tp.partition) === 0);
    if (empty.length === 0 || empty.length === task.partitions.length) {
      this.waitingSince.delete(task);
      return true;
    }
    const now = clock();
    const since = this.waitingSince.get(task) ?? now;
    const waited = now - since;
    const behind = empty.filter((tp) => this.recordsPending(tp, now) !== false);
    let wait: boolean;
    if (behind.length > 0) wait = waited < Math.max(ENFORCED_PROCESSING_MS, maxTaskIdleMs);
    else wait = waited < maxTaskIdleMs;
    if (!wait) {
      if (behind.length > 0) {
        this.options.logger.warn(`task ${task.id}: processing without ${behind.map((tp) => `${tp.topic}-${tp.partition}`).join(', ')}: records known to be in the log did not arrive within ${Math.round(waited / 1000)} s`);
      }
      this.waitingSince.delete(task);
      return true;
    }
    this.waitingSince.set(task, since);
    return false;
  }

  /**
   * Whether the log holds records of `tp` the consumer has not returned yet: true, false, or
   * undefined while unknown (the log end is being looked up; counted as pending).
   */
  private recordsPending(tp: TopicPartition, now: number): boolean | undefined {
    const key = `${tp.topic}\u0000${tp.partition}`;
    let position: number;
    try {
      position = this.options.consumer().position(tp);
    } catch {
      return undefined; // the start position is not known yet: records may well be there
    }
    const end = this.ends.get(key);
    if (end === undefined || (end <= position && now - (this.lookedUpAt.get(key) ?? 0) >= END_REFRESH_MS)) this.lookUp(tp.topic);
    if (end === undefined) return undefined;
    return end > position;
  }

  /** Looks up the log ends of `topic` in the background (the loop never waits for it). */
  private lookUp(topic: string): void {
    if (this.lookingUp.has(topic)) return;
    this.lookingUp.add(topic);
    void this.options.log.admin
      .offsets(topic)
      .then((offsets) => {
        const at = this.options.clock();
        for (const p of offsets) {
          const key = `${topic}\u0000${p.partition}`;
          this.ends.set(key, p.high);
          this.lookedUpAt.set(key, at);
        }
      })
      .catch(() => undefined) // unknown stays unknown: the enforced-processing limit still applies
      .finally(() => this.lookingUp.delete(topic));
  }
}
