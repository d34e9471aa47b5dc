import { TopicError } from '../../errors/index.js';
import type { KafkaContext } from './context.js';
import { translateError } from './errors.js';
import { retryWhileLeaderMoves } from './leader-retry.js';
import type { PartitionState } from './partition-state.js';

/**
 * Where reading starts for these partitions: a pending seek; else the group's committed offset
 * when it lies within the partition's offsets; else the earliest or latest offset
 * (autoOffsetReset). With read_committed, "latest" is the last stable offset.
 */
export async function startPositions(
  ctx: KafkaContext,
  groupId: string | undefined,
  reset: 'earliest' | 'latest',
  states: PartitionState[],
): Promise<Map<PartitionState, number>> {
  const out = new Map<PartitionState, number>();
  const need = states.filter((s) => s.pendingSeek === null);
  for (const s of states) if (s.pendingSeek !== null) out.set(s, s.pendingSeek);
  if (need.length === 0) return out;
  const topics = [...new Set(need.map((s) => s.topic))];
  await ctx.topics.requireExisting(topics);
  const admin = await ctx.adminClient();
  try {
    const committed = new Map<string, number>();
    if (groupId !== undefined) {
      for (const row of await admin.fetchOffsets({ groupId, topics })) {
        for (const p of row.partitions) committed.set(`${row.topic}\u0000${p.partition}`, Number(p.offset));
      }
    }
    const bounds = new Map<string, { low: number; high: number }>();
    for (const topic of topics) {
      const offsets = await retryWhileLeaderMoves(admin, [topic], () => admin.fetchTopicOffsets(topic));
      for (const p of offsets) bounds.set(`${topic}\u0000${p.partition}`, { low: Number(p.low), high: Number(p.high) });
    }
    for (const s of need) {
      const key = `${s.topic}\u0000${s.partition}`;
      const b = bounds.get(key);
      if (b === undefined) throw new TopicError(`topic '${s.topic}' has no partition ${s.partition}`);
      const c = committed.get(key);
      out.set(s, c !== undefined && c >= b.low && c <= b.high ? c : reset === 'latest' ? b.high : b.low);
    }
  } catch (e) {
    throw translateError(e, `find where to start reading ${topics.map((t) => `'${t}'`).join(', ')}`);
  }
  return out;
}
