import { ConfigResourceTypes, FetchIsolationLevels, ListOffsetTimestamps } from '@platformatic/kafka';
import { ApplicationRunningError, TopicError } from '../../errors/index.js';
import type { LogAdmin, OffsetCommit, PartitionOffsets, TopicDescription, TopicSpec } from '../types.js';
import type { PlatformaticContext } from './context.js';
import { hasApiError, translateError } from './errors.js';

/**
 * Kafka keeps no "internal" flag on ordinary topics: as the kafkajs backend (and Kafka Streams)
 * does, a topic is internal when its name ends in `-changelog` or `-repartition`.
 */
export function isInternalTopicName(name: string): boolean {
  return name.endsWith('-changelog') || name.endsWith('-repartition');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function validateSpec(spec: TopicSpec): void {
  if (typeof spec.name !== 'string' || spec.name.length === 0 || spec.name.length > 249 || !/^[a-zA-Z0-9._-]+$/.test(spec.name) || spec.name === '.' || spec.name === '..') {
    throw new TopicError(`'${String(spec.name)}' is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)`);
  }
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
    throw new TopicError(`topic '${spec.name}': partitions must be a positive integer, got ${String(spec.partitions)}`);
  }
  const policy = spec.cleanupPolicy ?? 'delete';
  if (policy !== 'delete' && policy !== 'compact') {
    throw new TopicError(`topic '${spec.name}': cleanupPolicy must be 'delete' or 'compact', got '${String(policy)}'`);
  }
}

function checkOffset(o: OffsetCommit): void {
  if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
    throw new TopicError(`offset for ${o.topic}-${o.partition} must be a non-negative integer, got ${String(o.offset)}`);
  }
}

/** Topics and consumer-group offsets of a Kafka cluster, through @platformatic/kafka's Admin. */
export class PlatformaticAdmin implements LogAdmin {
  constructor(private readonly ctx: PlatformaticContext) {}

  async createTopics(specs: TopicSpec[]): Promise<void> {
    this.ctx.assertOpen();
    specs.forEach(validateSpec);
    const unique = new Map<string, TopicSpec>();
    for (const s of specs) {
      const seen = unique.get(s.name);
      if (seen !== undefined && seen.partitions !== s.partitions) {
        throw new TopicError(`topic '${s.name}' is asked for twice, with ${seen.partitions} and ${s.partitions} partitions`);
      }
      unique.set(s.name, s);
    }
    const all = await this.ctx.allNames();
    const existing = [...unique.values()].filter((s) => all.has(s.name));
    const missing = [...unique.values()].filter((s) => !all.has(s.name));
    const admin = this.ctx.adminClient();
    for (const s of missing) {
      try {
        await admin.createTopics({
          topics: [s.name],
          partitions: s.partitions,
          replicas: this.ctx.replicationFactor,
          configs: [{ name: 'cleanup.policy', value: s.cleanupPolicy ?? 'delete' }],
        });
      } catch (e) {
        // created by someone else meanwhile: its partition count is checked below
        if (!hasApiError(e, 'TOPIC_ALREADY_EXISTS')) throw translateError(e, `create topic '${s.name}'`);
      }
    }
    // metadata reaches every broker a little after CreateTopics answered
    const want = [...existing, ...missing];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const names = await this.ctx.allNames();
      if (want.every((s) => names.has(s.name)) || Date.now() > deadline) break;
      await sleep(50);
    }
    const counts = await this.ctx.loadPartitionCounts(want.map((s) => s.name));
    for (const s of want) {
      const partitions = counts.get(s.name) ?? 0;
      if (partitions !== s.partitions) {
        throw new TopicError(
          `topic '${s.name}' already exists with ${partitions} partition(s), not ${s.partitions}; delete it first or use its partition count`,
        );
      }
    }
  }

  /** Every topic but Kafka's own (`__consumer_offsets`, `__transaction_state`, other `__` names). */
  async listTopics(): Promise<string[]> {
    this.ctx.assertOpen();
    return [...(await this.ctx.allNames())].filter((n) => !n.startsWith('__')).sort();
  }

  async describeTopics(names: string[]): Promise<TopicDescription[]> {
    this.ctx.assertOpen();
    if (names.length === 0) return [];
    const unique = [...new Set(names)];
    const counts = await this.ctx.loadPartitionCounts(unique);
    let policies: Map<string, string>;
    try {
      const described = await this.ctx.adminClient().describeConfigs({
        resources: unique.map((name) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: name, configurationKeys: ['cleanup.policy'] })),
      });
      policies = new Map(described.map((d) => [d.resourceName, d.configs.find((c) => c.name === 'cleanup.policy')?.value ?? 'delete']));
    } catch (e) {
      throw translateError(e, `describe topic(s) ${unique.join(', ')}`);
    }
    return names.map((name) => ({
      name,
      partitions: counts.get(name) ?? 0,
      cleanupPolicy: (policies.get(name) ?? 'delete').split(',').includes('compact') ? 'compact' : 'delete',
      internal: isInternalTopicName(name),
    }));
  }

  /** Deletes the topics and waits until the cluster no longer lists them. */
  async deleteTopics(names: string[]): Promise<void> {
    this.ctx.assertOpen();
    if (names.length === 0) return;
    const unique = [...new Set(names)];
    await this.ctx.requireExisting(unique);
    try {
      await this.ctx.adminClient().deleteTopics({ topics: unique });
    } catch (e) {
      throw translateError(e, `delete topic(s) ${unique.join(', ')}`);
    }
    for (const n of unique) this.ctx.forget(n);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const all = await this.ctx.allNames();
      if (!unique.some((n) => all.has(n))) return;
      await sleep(50);
    }
    throw new TopicError(`topic(s) ${unique.join(', ')} were still listed 30 s after their deletion`);
  }

  /** Low and high offsets per partition; `high` is the last stable offset (read_committed). */
  async offsets(topic: string): Promise<PartitionOffsets[]> {
    this.ctx.assertOpen();
    const counts = await this.ctx.loadPartitionCounts([topic]);
    const n = counts.get(topic)!;
    const partitions = Array.from({ length: n }, (_, i) => i);
    return this.bounds(topic, partitions);
  }

  /** Low and last stable offsets of some partitions of a topic. */
  async bounds(topic: string, partitions: number[]): Promise<PartitionOffsets[]> {
    const admin = this.ctx.adminClient();
    const ask = (timestamp: bigint) =>
      admin.listOffsets({
        topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }],
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      });
    try {
      const [low, high] = await Promise.all([ask(ListOffsetTimestamps.EARLIEST), ask(ListOffsetTimestamps.LATEST)]);
      const lows = new Map(low.flatMap((t) => t.partitions).map((p) => [p.partitionIndex, Number(p.offset)]));
      const highs = new Map(high.flatMap((t) => t.partitions).map((p) => [p.partitionIndex, Number(p.offset)]));
      return [...partitions].sort((a, b) => a - b).map((partition) => ({ partition, low: lows.get(partition) ?? 0, high: highs.get(partition) ?? 0 }));
    } catch (e) {
      throw translateError(e, `read the offsets of topic '${topic}'`);
    }
  }

  /**
   * The group's committed offsets (OffsetFetch with require_stable, KIP-447: a transaction's
   * offsets are read only once its commit markers are written, so a commit() is read back).
   */
  async committedOffsets(groupId: string, topics: string[]): Promise<OffsetCommit[]> {
    this.ctx.assertOpen();
    if (topics.length === 0) return [];
    const all = await this.ctx.allNames();
    const present = [...new Set(topics)].filter((t) => all.has(t));
    if (present.length === 0) return [];
    const counts = await this.ctx.loadPartitionCounts(present);
    try {
      const groups = await this.ctx.adminClient().listConsumerGroupOffsets({
        groups: [{ groupId, topics: present.map((name) => ({ name, partitionIndexes: Array.from({ length: counts.get(name)! }, (_, i) => i) })) }],
        requireStable: true,
      });
      const rows = groups.find((g) => g.groupId === groupId)?.topics ?? [];
      const out: OffsetCommit[] = [];
      for (const topic of topics) {
        const row = rows.find((r) => r.name === topic);
        if (row === undefined) continue;
        for (const p of [...row.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex)) {
          const offset = Number(p.committedOffset);
          if (offset >= 0) out.push({ topic, partition: p.partitionIndex, offset });
        }
      }
      return out;
    } catch (e) {
      throw translateError(e, `read the committed offsets of group '${groupId}'`);
    }
  }

  /** The reset tool: refused with ApplicationRunningError while the group has members. */
  async setCommittedOffsets(groupId: string, offsets: OffsetCommit[]): Promise<void> {
    this.ctx.assertOpen();
    offsets.forEach(checkOffset);
    if (offsets.length === 0) return;
    const byTopic = new Map<string, OffsetCommit[]>();
    for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
    const counts = await this.ctx.loadPartitionCounts(byTopic.keys());
    for (const [topic, list] of byTopic) {
      const n = counts.get(topic)!;
      for (const o of list) {
        if (!Number.isInteger(o.partition) || o.partition < 0 || o.partition >= n) {
          throw new TopicError(`topic '${topic}' has ${n} partition(s): there is no partition ${o.partition}`);
        }
      }
    }
    try {
      await this.ctx.adminClient().alterConsumerGroupOffsets({
        groupId,
        topics: [...byTopic].map(([name, list]) => ({ name, partitionOffsets: list.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) })) })),
      });
    } catch (e) {
      if (hasApiError(e, 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'NON_EMPTY_GROUP')) {
        throw new ApplicationRunningError(`cannot set the committed offsets of group '${groupId}': it has live members; stop them first`, { cause: e });
      }
      throw translateError(e, `set the committed offsets of group '${groupId}'`);
    }
  }
}
