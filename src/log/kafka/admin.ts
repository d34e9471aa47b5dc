import { AssignerProtocol } from 'kafkajs';
import { TopicError, TributaryError } from '../../errors/index.js';
import type { GroupDescription, LogAdmin, OffsetCommit, PartitionOffsets, TopicDescription, TopicPartition, TopicSpec } from '../types.js';
import type { KafkaContext } from './context.js';
import { fetchStableOffsets } from './stable-offset-fetch.js';
import { isLeaderNotSettled, retryWhileLeaderMoves } from './leader-retry.js';
import { translateError } from './errors.js';
import { commitOffsetsAsNonMember, withCluster } from './group-requests.js';

/** Topic configuration resource type in Kafka's DescribeConfigs. */
const TOPIC_RESOURCE = 2;

/**
 * Kafka keeps no "internal" flag on ordinary topics: like Kafka Streams, this backend calls a
 * topic internal when its name ends in `-changelog` or `-repartition` (the names the runtime
 * gives them), whatever `TopicSpec.internal` said (LogCapabilities.topicInternalFlag is false).
 */
export function isInternalTopicName(name: string): boolean {
  return name.endsWith('-changelog') || name.endsWith('-repartition');
}

function validateSpec(spec: TopicSpec): void {
  if (typeof spec.name !== 'string' || spec.name.length === 0 || spec.name.length > 249 || !/^[a-zA-Z0-9._-]+$/.test(spec.name)) {
    throw new TopicError(`'${String(spec.name)}' is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)`);
  }
  if (spec.name === '.' || spec.name === '..') throw new TopicError(`'${spec.name}' is not a valid Kafka topic name`);
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

/** Topics and consumer-group offsets of a Kafka cluster, through kafkajs' admin client. */
export class KafkaAdmin implements LogAdmin {
  constructor(private readonly ctx: KafkaContext) {}

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
    const all = await this.ctx.topics.allNames();
    const existing = [...unique.values()].filter((s) => all.has(s.name));
    if (existing.length > 0) {
      const meta = await this.ctx.topics.fetch(existing.map((s) => s.name));
      for (const s of existing) {
        const partitions = meta.get(s.name)?.length ?? 0;
        if (partitions !== s.partitions) {
          throw new TopicError(
            `topic '${s.name}' already exists with ${partitions} partition(s), not ${s.partitions}; delete it first or use its partition count`,
          );
        }
      }
    }
    const missing = [...unique.values()].filter((s) => !all.has(s.name));
    await this.ctx.topics.create(
      missing.map((s) => ({ name: s.name, partitions: s.partitions, compact: s.cleanupPolicy === 'compact' })),
      true,
    );
    // a topic created by someone else meanwhile must still have the asked-for partition count
    const meta = await this.ctx.topics.fetch(missing.map((s) => s.name));
    for (const s of missing) {
      const partitions = meta.get(s.name)?.length ?? 0;
      if (partitions !== s.partitions) throw new TopicError(`topic '${s.name}' exists with ${partitions} partition(s), not ${s.partitions}`);
    }
  }

  /** Every topic but Kafka's own (`__consumer_offsets`, `__transaction_state`, other `__` names). */
  async listTopics(): Promise<string[]> {
    this.ctx.assertOpen();
    return [...(await this.ctx.topics.allNames())].filter((n) => !n.startsWith('__')).sort();
  }

  async describeTopics(names: string[]): Promise<TopicDescription[]> {
    this.ctx.assertOpen();
    if (names.length === 0) return [];
    await this.ctx.topics.requireExisting(names);
    const unique = [...new Set(names)];
    const meta = await this.ctx.topics.fetch(unique);
    const admin = await this.ctx.adminClient();
    let policies: Map<string, string>;
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: unique.map((name) => ({ type: TOPIC_RESOURCE, name, configNames: ['cleanup.policy'] })),
      });
      policies = new Map(resources.map((r) => [r.resourceName, r.configEntries.find((c) => c.configName === 'cleanup.policy')?.configValue ?? 'delete']));
    } catch (e) {
      throw translateError(e, `describe topic(s) ${unique.join(', ')}`);
    }
    return names.map((name) => ({
      name,
      partitions: meta.get(name)?.length ?? 0,
      cleanupPolicy: (policies.get(name) ?? 'delete').split(',').includes('compact') ? 'compact' : 'delete',
      internal: isInternalTopicName(name),
    }));
  }

  /** Deletes the topics and waits until the cluster's metadata no longer lists them. */
  async deleteTopics(names: string[]): Promise<void> {
    this.ctx.assertOpen();
    if (names.length === 0) return;
    await this.ctx.topics.requireExisting(names);
    const admin = await this.ctx.adminClient();
    try {
      await admin.deleteTopics({ topics: [...new Set(names)], timeout: 30_000 });
    } catch (e) {
      throw translateError(e, `delete topic(s) ${names.join(', ')}`);
    }
    for (const n of names) this.ctx.topics.invalidate(n);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const all = await this.ctx.topics.allNames();
      if (!names.some((n) => all.has(n))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new TopicError(`topic(s) ${names.join(', ')} were still listed 30 s after their deletion`);
  }

  /**
   * Low and high offsets per partition. `high` is the last stable offset (read_committed): the
   * log end offset, except while a transaction is open on the partition.
   */
  async offsets(topic: string): Promise<PartitionOffsets[]> {
    this.ctx.assertOpen();
    await this.ctx.topics.requireExisting([topic]);
    const admin = await this.ctx.adminClient();
    try {
      const rows = await retryWhileLeaderMoves(admin, [topic], () => admin.fetchTopicOffsets(topic));
      return rows.map((r) => ({ partition: r.partition, low: Number(r.low), high: Number(r.high) })).sort((a, b) => a.partition - b.partition);
    } catch (e) {
      const error = translateError(e, `read the offsets of topic '${topic}'`);
      throw isLeaderNotSettled(e) ? new TributaryError(error.message, { cause: e, retriable: true }) : error;
    }
  }

  async committedOffsets(groupId: string, topics: string[]): Promise<OffsetCommit[]> {
    this.ctx.assertOpen();
    if (topics.length === 0) return [];
    const all = await this.ctx.topics.allNames();
    const present = [...new Set(topics)].filter((t) => all.has(t));
    if (present.length === 0) return [];
    try {
      // OffsetFetch v7 with require_stable: offsets of a transaction that just completed are
      // read only once the coordinator made them visible (see stable-offset-fetch.ts)
      const meta = await this.ctx.topics.fetch(present);
      const request = present.map((topic) => ({ topic, partitions: (meta.get(topic) ?? []).map((p) => p.partitionId).sort((a, b) => a - b) }));
      const rows = await withCluster(this.ctx.kafka, groupId, (cluster) => fetchStableOffsets(cluster, groupId, request));
      const out: OffsetCommit[] = [];
      for (const topic of topics) {
        for (const r of rows.filter((x) => x.topic === topic).sort((a, b) => a.partition - b.partition)) out.push({ topic, partition: r.partition, offset: r.offset });
      }
      return out;
    } catch (e) {
      throw translateError(e, `read the committed offsets of group '${groupId}'`);
    }
  }

  /** The group's members (DescribeGroups) with the partitions each was assigned, decoded from the consumer protocol. */
  async describeGroup(groupId: string): Promise<GroupDescription> {
    this.ctx.assertOpen();
    const admin = await this.ctx.adminClient();
    try {
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups.find((g) => g.groupId === groupId);
      if (group === undefined || group.state === 'Dead') return { groupId, state: group?.state ?? 'Dead', members: [] };
      return {
        groupId,
        state: group.state,
        members: group.members.map((m) => {
          let assignment: TopicPartition[] = [];
          try {
            const decoded = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
            if (decoded !== null) assignment = Object.entries(decoded.assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
          } catch {
            // not the consumer protocol (or mid-rebalance): no assignment to show
          }
          return { memberId: m.memberId, clientId: m.clientId, host: m.clientHost, assignment };
        }),
      };
    } catch (e) {
      throw translateError(e, `describe group '${groupId}'`);
    }
  }

  /** The reset tool: refused with ApplicationRunningError while the group has members. */
  async setCommittedOffsets(groupId: string, offsets: OffsetCommit[]): Promise<void> {
    this.ctx.assertOpen();
    offsets.forEach(checkOffset);
    if (offsets.length === 0) return;
    const byTopic = new Map<string, OffsetCommit[]>();
    for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
    await this.ctx.topics.requireExisting([...byTopic.keys()]);
    const meta = await this.ctx.topics.fetch([...byTopic.keys()]);
    for (const [topic, list] of byTopic) {
      const partitions = meta.get(topic)?.length;
      if (partitions === undefined) throw new TopicError(`topic '${topic}' does not exist on Kafka (${this.ctx.brokers})`);
      for (const o of list) {
        if (!Number.isInteger(o.partition) || o.partition < 0 || o.partition >= partitions) {
          throw new TopicError(`topic '${topic}' has ${partitions} partition(s): there is no partition ${o.partition}`);
        }
      }
    }
    await commitOffsetsAsNonMember(this.ctx.kafka, groupId, offsets);
  }
}
