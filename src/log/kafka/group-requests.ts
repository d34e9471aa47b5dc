/**
 * Group requests sent outside a running kafkajs consumer: offsets written as a non-member, and a
 * LeaveGroup that kafkajs may have skipped.
 *
 * kafkajs' admin `setOffsets()` joins the group with a throwaway consumer and waits for its
 * first fetch (seconds). Kafka's admin API does it with one OffsetCommit as a non-member
 * (generation -1, member ''), which the coordinator accepts only while the group has no live
 * member, exactly the reset tool's rule. kafkajs exposes the request on its broker objects; the
 * cluster to reach the coordinator comes from a consumer's assigner hook (nothing joins).
 */
import { type Cluster, type Kafka, PartitionAssigners } from 'kafkajs';
import { ApplicationRunningError } from '../../errors/index.js';
import type { OffsetCommit } from '../types.js';
import { hasProtocolError, translateError } from './errors.js';

function byTopic(offsets: readonly OffsetCommit[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const m = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) m.set(o.topic, [...(m.get(o.topic) ?? []), { partition: o.partition, offset: String(o.offset) }]);
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}

/**
 * A connected kafkajs cluster of its own (the assigner factory is handed the consumer's cluster
 * when the consumer is made; the consumer itself never runs or joins), for one request.
 */
export async function withCluster<T>(kafka: Kafka, groupId: string, fn: (cluster: Cluster) => Promise<T>): Promise<T> {
  let cluster: Cluster | undefined;
  kafka.consumer({
    groupId,
    partitionAssigners: [
      (config) => {
        cluster = config.cluster;
        return PartitionAssigners.roundRobin(config);
      },
    ],
  });
  if (cluster === undefined) throw new Error('kafkajs did not hand the assigner its cluster');
  const c = cluster;
  try {
    await c.connect();
    return await fn(c);
  } finally {
    await c.disconnect().catch(() => undefined);
  }
}

/** Commits offsets for `groupId` as a non-member; ApplicationRunningError while the group has live members. */
export async function commitOffsetsAsNonMember(kafka: Kafka, groupId: string, offsets: readonly OffsetCommit[]): Promise<void> {
  try {
    await withCluster(kafka, groupId, async (cluster) => {
      const coordinator = await cluster.findGroupCoordinator({ groupId });
      await coordinator.offsetCommit({ groupId, groupGenerationId: -1, memberId: '', topics: byTopic(offsets) });
    });
  } catch (e) {
    if (hasProtocolError(e, 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS')) {
      throw new ApplicationRunningError(`cannot set the committed offsets of group '${groupId}': it has live members; stop them first`, { cause: e });
    }
    throw translateError(e, `set the committed offsets of group '${groupId}'`);
  }
}

/**
 * Makes sure a member has left its group. kafkajs' disconnect() skips LeaveGroup when it stops
 * during its first join, or when stopping its fetchers failed (its errors are swallowed); the
 * member would then linger until its session times out and hold up the next rebalance. A member
 * that already left answers UNKNOWN_MEMBER_ID, which is fine.
 */
export async function ensureLeft(kafka: Kafka, groupId: string, memberId: string): Promise<void> {
  if (memberId === '') return;
  await withCluster(kafka, groupId, async (cluster) => {
    const coordinator = (await cluster.findGroupCoordinator({ groupId })) as unknown as {
      leaveGroup(request: { groupId: string; memberId: string }): Promise<unknown>;
    };
    await coordinator.leaveGroup({ groupId, memberId });
  }).catch(() => undefined);
}
