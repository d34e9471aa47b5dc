import type { KafkaConsumerTuning } from '../kafka/options.js';

export interface PlatformaticLogOptions {
  /** Bootstrap brokers: `['host:9092', ...]` or `'host:9092,host2:9092'`. */
  brokers: string[] | string;
  /** Client id the broker logs and quotas see. Default 'tributary'. */
  clientId?: string;
  /** Partitions of a topic a producer creates implicitly (it sent to a topic that did not exist). Default 1. */
  defaultPartitions?: number;
  /** Replication factor of created topics. Default: the broker's `default.replication.factor` (-1). */
  replicationFactor?: number;
  /** Consumer tuning, as for the kafkajs backend (session, heartbeat, rebalance, fetch wait, buffers). */
  consumer?: KafkaConsumerTuning;
  /** Connection and request timeouts (ms). Defaults 3000 and 30000. */
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}
