import { TopicError } from '../errors/index.js';
import type { Log } from '../log/types.js';
import type { Topology } from '../topology/topology.js';
import type { ResolvedAppConfig } from './config.js';
import { deadLetterTopicOf } from './error-handling.js';
import type { Logger } from './logger.js';

/**
 * Makes sure every topic the application touches exists before it starts: source topics must
 * (as in Kafka Streams, a missing one is an error that says how to create it); output and
 * dead-letter topics are created when missing; internal topics are created with the partition
 * count the topology needs, and an existing one with another count is refused.
 * Returns the partition count of every topic.
 */
export async function ensureTopics(log: Log, topology: Topology, config: ResolvedAppConfig, logger: Logger): Promise<Map<string, number>> {
  const existing = new Set(await log.admin.listTopics());
  const missingSources = topology.sourceTopics.filter((t) => !existing.has(t));
  if (missingSources.length > 0) {
    throw new TopicError(
      `source topic${missingSources.length > 1 ? 's' : ''} ${missingSources.map((t) => `'${t}'`).join(', ')} of application '${topology.applicationId}' ` +
        `do${missingSources.length > 1 ? '' : 'es'} not exist: create ${missingSources.length > 1 ? 'them' : 'it'} first, e.g. tributary topics --create ${missingSources[0]} --partitions 4`,
    );
  }
  const counts = new Map<string, number>();
  for (const d of await log.admin.describeTopics(topology.sourceTopics as string[])) counts.set(d.name, d.partitions);
  const widest = Math.max(1, ...counts.values());

  const outputs = new Set<string>(topology.sinkTopics);
  for (const handling of [config.errors.deserialization, config.errors.processing]) {
    const dlq = deadLetterTopicOf(handling);
    if (dlq !== undefined) outputs.add(dlq);
  }
  const toCreate = [...outputs].filter((t) => !existing.has(t));
  if (toCreate.length > 0) {
    logger.info(`creating output topics ${toCreate.join(', ')} with ${widest} partition(s)`);
    await log.admin.createTopics(toCreate.map((name) => ({ name, partitions: widest })));
  }
  const known = [...outputs].filter((t) => !counts.has(t));
  if (known.length > 0) for (const d of await log.admin.describeTopics(known)) counts.set(d.name, d.partitions);

  const internal = topology.resolveInternalPartitions(counts);
  for (const group of topology.copartitionGroups) {
    const sizes = group.map((t) => [t, counts.get(t) ?? internal.get(t)] as const);
    if (new Set(sizes.map(([, n]) => n)).size > 1) {
      throw new TopicError(
        `topics ${sizes.map(([t, n]) => `'${t}' (${n} partitions)`).join(', ')} are joined, so they must be co-partitioned: give them the same partition count, or repartition one side first (repartition({ partitions }))`,
      );
    }
  }
  const internalExisting = [...internal.keys()].filter((t) => existing.has(t));
  if (internalExisting.length > 0) {
    for (const d of await log.admin.describeTopics(internalExisting)) {
      const want = internal.get(d.name)!;
      if (d.partitions !== want) {
        throw new TopicError(`internal topic '${d.name}' has ${d.partitions} partitions but the topology needs ${want}: reset the application (its internal topics) or give the operation a fixed partition count`);
      }
    }
  }
  const internalMissing = [...internal.entries()].filter(([t]) => !existing.has(t));
  if (internalMissing.length > 0) {
    await log.admin.createTopics(
      internalMissing.map(([name, partitions]) => {
        const def = topology.internalTopics.find((t) => t.name === name)!;
        return { name, partitions, internal: true, cleanupPolicy: def.kind === 'changelog' ? 'compact' : 'delete' };
      }),
    );
  }
  for (const [t, n] of internal) counts.set(t, n);
  return counts;
}
