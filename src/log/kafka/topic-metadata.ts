import type { PartitionMetadata } from 'kafkajs';
import { TopicError } from '../../errors/index.js';
import type { KafkaContext } from './context.js';
import { hasProtocolError, translateError } from './errors.js';

/**
 * Partition metadata per topic, for routing records to partitions before they are sent (so a
 * send knows where each record went). Filled on demand from the admin connection; a producer
 * that meets an unknown topic creates it with the log's `defaultPartitions`.
 */
export class TopicMetadataCache {
  private readonly byTopic = new Map<string, PartitionMetadata[]>();

  constructor(private readonly ctx: KafkaContext) {}

  /** The cached partitions of a topic, if it was loaded. */
  get(topic: string): PartitionMetadata[] | undefined {
    return this.byTopic.get(topic);
  }

  invalidate(topic: string): void {
    this.byTopic.delete(topic);
  }

  /** Names of every topic on the cluster (internal `__` topics included). */
  async allNames(): Promise<Set<string>> {
    const admin = await this.ctx.adminClient();
    try {
      return new Set(await admin.listTopics());
    } catch (e) {
      throw translateError(e, 'list topics');
    }
  }

  /** Throws TopicError naming the first of `names` that does not exist. */
  async requireExisting(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const all = await this.allNames();
    const missing = names.find((n) => !all.has(n));
    if (missing !== undefined) throw new TopicError(`topic '${missing}' does not exist on Kafka (${this.ctx.brokers})`);
  }

  /**
   * Loads the metadata of these topics into the cache. Unknown topics are created with the
   * log's `defaultPartitions` when `create` is set, else they are a TopicError.
   */
  async load(topics: Iterable<string>, create: boolean): Promise<void> {
    const wanted = [...new Set(topics)].filter((t) => !this.byTopic.has(t));
    if (wanted.length === 0) return;
    const all = await this.allNames();
    const missing = wanted.filter((t) => !all.has(t));
    if (missing.length > 0) {
      if (!create) throw new TopicError(`topic '${missing[0]}' does not exist on Kafka (${this.ctx.brokers})`);
      await this.create(missing.map((name) => ({ name, partitions: this.ctx.defaultPartitions })), true);
    }
    await this.fetch(wanted);
  }

  /** Reads partition metadata of existing topics into the cache. */
  async fetch(names: string[]): Promise<Map<string, PartitionMetadata[]>> {
    const admin = await this.ctx.adminClient();
    const out = new Map<string, PartitionMetadata[]>();
    if (names.length === 0) return out;
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: names });
      for (const t of topics) {
        const partitions = [...t.partitions].sort((a, b) => a.partitionId - b.partitionId);
        this.byTopic.set(t.name, partitions);
        out.set(t.name, partitions);
      }
    } catch (e) {
      throw translateError(e, `read the metadata of topic(s) ${names.map((n) => `'${n}'`).join(', ')}`);
    }
    return out;
  }

  /**
   * Creates topics (with `cleanup.policy=compact` where asked); a topic that appeared meanwhile
   * is fine when `tolerateExisting`. Waits until every new partition has a leader.
   */
  async create(specs: { name: string; partitions: number; compact?: boolean }[], tolerateExisting: boolean): Promise<void> {
    if (specs.length === 0) return;
    const admin = await this.ctx.adminClient();
    const replicationFactor = await this.ctx.topicReplicationFactor();
    try {
      // kafkajs' own wait for leaders gives up after 5 s on a busy broker although the topics
      // were created: waitForLeaders() below waits (up to 30 s) instead
      await admin.createTopics({
        waitForLeaders: false,
        timeout: 30_000,
        topics: specs.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          replicationFactor,
          ...(s.compact ? { configEntries: [{ name: 'cleanup.policy', value: 'compact' }] } : {}),
        })),
      });
    } catch (e) {
      if (!(tolerateExisting && hasProtocolError(e, 'TOPIC_ALREADY_EXISTS'))) {
        throw translateError(e, `create topic(s) ${specs.map((s) => `'${s.name}'`).join(', ')}`);
      }
    }
    for (const s of specs) this.byTopic.delete(s.name);
    await this.waitForLeaders(specs.map((s) => s.name));
  }

  /** Polls metadata until every partition of these topics has a leader (createTopics can answer before). */
  private async waitForLeaders(names: string[]): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const got = await this.fetch(names).catch(() => new Map<string, PartitionMetadata[]>());
      const ready = names.every((n) => (got.get(n)?.length ?? 0) > 0 && got.get(n)!.every((p) => p.leader >= 0));
      if (ready) return;
      if (Date.now() > deadline) throw new TopicError(`topic(s) ${names.join(', ')} got no partition leaders within 30 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
