import './node-compat.js';
import { Admin, type BaseOptions, FindCoordinatorKeyTypes } from '@platformatic/kafka';
import { ClosedError, TopicError } from '../../errors/index.js';
import { parseBrokers, positiveInt, type ResolvedConsumerTuning, resolveConsumerTuning } from '../kafka/options.js';
import { translateError } from './errors.js';
import type { PlatformaticLogOptions } from './options.js';

/** Something the log closes when it is closed itself (its producers and consumers). */
export interface PlatformaticResource {
  close(): Promise<void>;
}

/** The client's names for the SASL mechanisms Tributary's flags offer. */
const SASL_MECHANISMS = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;

/** Retries with short, growing waits (the client's default is a flat second). */
function retryDelay(_client: unknown, _operation: string, attempt: number): number {
  return Math.min(20 * 2 ** attempt, 1000);
}

/**
 * What the parts of one log share: client options, one admin client (made on first use), the
 * partition counts of topics seen, group coordinators, the live producers and consumers, and
 * the closed flag.
 */
export class PlatformaticContext {
  readonly brokers: string[];
  readonly brokersText: string;
  readonly clientId: string;
  readonly consumerTuning: ResolvedConsumerTuning;
  readonly defaultPartitions: number;
  readonly replicationFactor: number;
  readonly resources = new Set<PlatformaticResource>();
  private readonly partitionCounts = new Map<string, number>();
  private readonly coordinators = new Map<string, number>();
  private admin: Admin | null = null;
  private closed = false;

  constructor(readonly options: PlatformaticLogOptions) {
    this.brokers = parseBrokers(options.brokers);
    this.brokersText = this.brokers.join(',');
    this.clientId = options.clientId ?? 'tributary';
    this.consumerTuning = resolveConsumerTuning(options.consumer);
    this.defaultPartitions = positiveInt(options.defaultPartitions, 1, 'defaultPartitions');
    this.replicationFactor = options.replicationFactor === undefined ? -1 : positiveInt(options.replicationFactor, 1, 'replicationFactor');
  }

  /** Options every client of this log gets. */
  baseOptions(role: string): BaseOptions {
    const { ssl, sasl } = this.options;
    return {
      clientId: `${this.clientId}-${role}`,
      bootstrapBrokers: this.brokers,
      connectTimeout: this.options.connectionTimeoutMs ?? 3000,
      timeout: this.options.requestTimeoutMs ?? 30_000,
      retries: 8,
      retryDelay,
      autocreateTopics: false,
      ...(ssl === undefined || ssl === false ? {} : { tls: ssl === true ? {} : ssl }),
      ...(sasl === undefined ? {} : { sasl: { mechanism: SASL_MECHANISMS[sasl.mechanism], username: sasl.username, password: sasl.password } }),
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  assertOpen(): void {
    if (this.closed) throw new ClosedError(`the Kafka log (${this.brokersText}) is closed`);
  }

  adminClient(): Admin {
    this.assertOpen();
    this.admin ??= new Admin(this.baseOptions('admin'));
    return this.admin;
  }

  /** Every topic name of the cluster, Kafka's own included. */
  async allNames(): Promise<Set<string>> {
    try {
      return new Set(await this.adminClient().listTopics({ includeInternals: true }));
    } catch (e) {
      throw translateError(e, `list the topics of Kafka at ${this.brokersText}`);
    }
  }

  /** Partition counts of these topics (fresh from the cluster); an unknown topic is a TopicError. */
  async loadPartitionCounts(topics: Iterable<string>): Promise<Map<string, number>> {
    const names = [...new Set(topics)];
    const out = new Map<string, number>();
    if (names.length === 0) return out;
    await this.requireExisting(names);
    try {
      const meta = await this.adminClient().metadata({ topics: names, forceUpdate: true });
      for (const n of names) {
        const t = meta.topics.get(n);
        if (t === undefined) throw new TopicError(`topic '${n}' does not exist on Kafka (${this.brokersText})`);
        out.set(n, t.partitionsCount);
        this.partitionCounts.set(n, t.partitionsCount);
      }
    } catch (e) {
      throw translateError(e, `read the metadata of topic(s) ${names.join(', ')}`);
    }
    return out;
  }

  /** The partition count last seen for a topic (undefined when not loaded yet). */
  cachedPartitions(topic: string): number | undefined {
    return this.partitionCounts.get(topic);
  }

  forget(topic: string): void {
    this.partitionCounts.delete(topic);
  }

  async requireExisting(names: string[]): Promise<void> {
    const all = await this.allNames();
    const missing = names.filter((n) => !all.has(n));
    if (missing.length > 0) {
      throw new TopicError(`topic(s) ${missing.map((m) => `'${m}'`).join(', ')} do not exist on Kafka (${this.brokersText})`);
    }
  }

  /** The node id of a consumer group's coordinator (for TxnOffsetCommit). */
  async groupCoordinator(groupId: string, refresh = false): Promise<number> {
    const known = this.coordinators.get(groupId);
    if (known !== undefined && !refresh) return known;
    try {
      const [found] = await this.adminClient().findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [groupId] });
      if (found === undefined) throw new Error(`no coordinator for group '${groupId}'`);
      this.coordinators.set(groupId, found.nodeId);
      return found.nodeId;
    } catch (e) {
      throw translateError(e, `find the coordinator of group '${groupId}'`);
    }
  }

  markClosed(): void {
    this.closed = true;
  }

  async closeAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    if (admin !== null) await admin.close().catch(() => undefined);
  }
}
