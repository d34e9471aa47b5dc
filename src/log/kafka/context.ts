import type { Admin, Kafka } from 'kafkajs';
import { ClosedError, IllegalStateError } from '../../errors/index.js';
import type { GroupMetadata, OffsetCommit } from '../types.js';
import { createKafkaClient, defaultSink } from './client.js';
import { translateError } from './errors.js';
import { type KafkaLogOptions, positiveInt, type ResolvedConsumerTuning, resolveConsumerTuning } from './options.js';
import { TopicMetadataCache } from './topic-metadata.js';

/** Something the log closes when it is closed itself (its producers and consumers). */
export interface KafkaResource {
  close(): Promise<void>;
}

/**
 * What the parts of one Kafka log share: the kafkajs client, one admin connection (opened on
 * first use), the topic metadata cache, the live producers and consumers, and the closed flag.
 */
export class KafkaContext {
  readonly kafka: Kafka;
  readonly brokers: string;
  readonly consumerTuning: ResolvedConsumerTuning;
  readonly defaultPartitions: number;
  readonly topics: TopicMetadataCache;
  readonly resources = new Set<KafkaResource>();
  private closed = false;
  private admin: Promise<Admin> | null = null;
  private replicationFactor: Promise<number> | null = null;

  constructor(readonly options: KafkaLogOptions) {
    this.kafka = createKafkaClient(options);
    this.brokers = Array.isArray(options.brokers) ? options.brokers.join(',') : String(options.brokers);
    this.consumerTuning = resolveConsumerTuning(options.consumer);
    this.defaultPartitions = positiveInt(options.defaultPartitions, 1, 'defaultPartitions');
    if (options.replicationFactor !== undefined) {
      const rf = positiveInt(options.replicationFactor, 1, 'replicationFactor');
      this.replicationFactor = Promise.resolve(rf);
    }
    this.topics = new TopicMetadataCache(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw new ClosedError(`the Kafka log (${this.brokers}) is closed`);
  }

  /** The shared admin client, connected on first use. */
  async adminClient(): Promise<Admin> {
    this.assertOpen();
    if (this.admin === null) {
      const admin = this.kafka.admin({ retry: { retries: 5, initialRetryTime: 100 } });
      this.admin = admin.connect().then(
        () => admin,
        (e: unknown) => {
          this.admin = null;
          throw translateError(e, `connect to Kafka at ${this.brokers}`);
        },
      );
    }
    return this.admin;
  }

  /** Replication factor for new topics: the option, else the broker's default.replication.factor. */
  async topicReplicationFactor(): Promise<number> {
    if (this.replicationFactor === null) {
      this.replicationFactor = (async () => {
        const admin = await this.adminClient();
        try {
          const cluster = await admin.describeCluster();
          const broker = cluster.brokers[0];
          if (broker === undefined) return 1;
          const { resources } = await admin.describeConfigs({
            includeSynonyms: false,
            resources: [{ type: 4 /* BROKER */, name: String(broker.nodeId), configNames: ['default.replication.factor'] }],
          });
          const value = Number(resources[0]?.configEntries.find((c) => c.configName === 'default.replication.factor')?.configValue);
          return Number.isInteger(value) && value > 0 ? Math.min(value, cluster.brokers.length) : 1;
        } catch {
          return 1;
        }
      })();
    }
    return this.replicationFactor;
  }

  /**
   * A warning of this backend itself (not of kafkajs): something it recovered from that an
   * operator may want to know of. Shown unless the log's logLevel is 'nothing'.
   */
  warn(namespace: string, message: string, fields: Record<string, unknown> = {}): void {
    if (this.options.logLevel === 'nothing') return;
    (this.options.logger ?? defaultSink)({ level: 'warn', namespace, message, fields });
  }

  /** Set by the log: commits offsets for a group outside any transaction (non-transactional producers). */
  commitOffsetsOutsideTransaction: (group: GroupMetadata, offsets: OffsetCommit[]) => Promise<void> = async () => {
    throw new IllegalStateError('no offset committer');
  };

  markClosed(): void {
    this.closed = true;
  }

  async closeAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    if (admin !== null) await (await admin.catch(() => null))?.disconnect();
  }
}
