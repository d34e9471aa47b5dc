import type { ConnectionOptions } from 'node:tls';
import type { KafkaConsumerTuning } from '../kafka/options.js';

/** SASL credentials, as the CLI's --sasl-* flags give them (the kafkajs backend takes the same). */
export interface PlatformaticSaslOptions {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export interface PlatformaticLogOptions {
  /** Bootstrap brokers: `['host:9092', ...]` or `'host:9092,host2:9092'`. */
  brokers: string[] | string;
  /** Client id the broker logs and quotas see. Default 'tributary'. */
  clientId?: string;
  /** TLS: `true`, or node `tls.connect` options (CA, client certificate). */
  ssl?: boolean | ConnectionOptions;
  /** SASL PLAIN or SCRAM. */
  sasl?: PlatformaticSaslOptions;
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
