import type { ISocketFactory, SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { TributaryError } from '../../errors/index.js';

export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** One kafkajs log line, as handed to `KafkaLogOptions.logger`. */
export interface KafkaLogEntry {
  level: Exclude<KafkaLogLevel, 'nothing'>;
  /** kafkajs' namespace: 'Connection', 'Consumer', 'Producer', ... */
  namespace: string;
  message: string;
  /** Everything else kafkajs attached (broker, error, groupId, ...). */
  fields: Record<string, unknown>;
}

/** Tuning of the consumers a Kafka log makes. The defaults suit a local broker and tests. */
export interface KafkaConsumerTuning {
  /** The group coordinator drops a member it has not heard from for this long. Default 10000. */
  sessionTimeoutMs?: number;
  /** How often members heartbeat (below a third of the session timeout). Default 1000. */
  heartbeatIntervalMs?: number;
  /** How long the coordinator waits for members to rejoin in a rebalance (a dead member delays a rebalance this long). Default 10000. */
  rebalanceTimeoutMs?: number;
  /** How long the broker holds a fetch that has no data (and kafkajs idles with all partitions paused). Default 100. */
  fetchMaxWaitMs?: number;
  /** Records buffered per partition before its fetching pauses (backpressure). Default 10000. */
  maxBufferedRecordsPerPartition?: number;
  /** Bytes one fetch may bring per partition. Default 1 MiB. */
  maxBytesPerPartition?: number;
}

export interface KafkaLogOptions {
  /** Bootstrap brokers: `['host:9092', ...]` or `'host:9092,host2:9092'`. */
  brokers: string[] | string;
  /** Client id the broker logs and quotas see. Default 'tributary'. */
  clientId?: string;
  /** TLS: `true`, or node `tls.connect` options (CA, client certificate). Passed to kafkajs. */
  ssl?: boolean | ConnectionOptions;
  /** SASL (plain, scram-sha-256/512, aws, oauthbearer), passed to kafkajs. */
  sasl?: SASLOptions;
  /** kafkajs' own logging. Default 'error'. */
  logLevel?: KafkaLogLevel;
  /** Where kafkajs' log lines go. Default: one line on stderr each. */
  logger?: (entry: KafkaLogEntry) => void;
  /** Partitions of a topic a producer creates implicitly (it sent to a topic that did not exist). Default 1. */
  defaultPartitions?: number;
  /** Replication factor of created topics. Default: the broker's `default.replication.factor`. */
  replicationFactor?: number;
  /** Consumer tuning; see KafkaConsumerTuning. */
  consumer?: KafkaConsumerTuning;
  /** Connection and request timeouts (ms). Defaults 3000 and 30000. */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * Makes the TCP (or TLS) sockets kafkajs uses: for a proxy, or for tests that cut connections
   * at chosen moments. Default: kafkajs' own.
   */
  socketFactory?: ISocketFactory;
}

export interface ResolvedConsumerTuning {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  fetchMaxWaitMs: number;
  maxBufferedRecordsPerPartition: number;
  maxBytesPerPartition: number;
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new TributaryError(`${name} must be a positive integer, got ${String(value)}`);
  return v;
}

export function parseBrokers(brokers: string[] | string): string[] {
  const list = (Array.isArray(brokers) ? brokers : String(brokers ?? '').split(','))
    .map((b) => String(b).trim())
    .filter((b) => b.length > 0);
  if (list.length === 0) throw new TributaryError('openKafkaLog needs at least one broker (host:port)');
  for (const b of list) {
    if (!/^[^\s:]+:\d+$/.test(b) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(b)) {
      throw new TributaryError(`broker '${b}' is not host:port`);
    }
  }
  return list;
}

export function resolveConsumerTuning(t: KafkaConsumerTuning = {}): ResolvedConsumerTuning {
  const sessionTimeoutMs = positiveInt(t.sessionTimeoutMs, 10_000, 'consumer.sessionTimeoutMs');
  const heartbeatIntervalMs = positiveInt(t.heartbeatIntervalMs, Math.min(1000, Math.floor(sessionTimeoutMs / 3)), 'consumer.heartbeatIntervalMs');
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new TributaryError(`consumer.heartbeatIntervalMs (${heartbeatIntervalMs}) must be below consumer.sessionTimeoutMs (${sessionTimeoutMs})`);
  }
  return {
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs: positiveInt(t.rebalanceTimeoutMs, 10_000, 'consumer.rebalanceTimeoutMs'),
    fetchMaxWaitMs: positiveInt(t.fetchMaxWaitMs, 100, 'consumer.fetchMaxWaitMs'),
    maxBufferedRecordsPerPartition: positiveInt(t.maxBufferedRecordsPerPartition, 10_000, 'consumer.maxBufferedRecordsPerPartition'),
    maxBytesPerPartition: positiveInt(t.maxBytesPerPartition, 1 << 20, 'consumer.maxBytesPerPartition'),
  };
}

export { positiveInt };
