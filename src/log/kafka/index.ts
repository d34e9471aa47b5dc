/**
 * The Kafka backend: Tributary's `Log` on an Apache Kafka cluster through kafkajs. Same
 * interface and conformance suite as the embedded log; where Kafka (through kafkajs) guarantees
 * less, `log.capabilities` says so (see LogCapabilities in ../types.ts).
 */
import type { Log } from '../types.js';
import { KafkaLog } from './kafka-log.js';
import type { KafkaLogOptions } from './options.js';

export type { KafkaConsumerTuning, KafkaLogEntry, KafkaLogLevel, KafkaLogOptions } from './options.js';
export { KAFKA_CAPABILITIES, KafkaLog, type KafkaLogInternals } from './kafka-log.js';
export { isInternalTopicName } from './admin.js';

/**
 * Opens a Kafka log. Nothing connects until first use: the admin client on the first admin
 * call, each producer and consumer on its own.
 *
 * @example
 * const log = openKafkaLog({ brokers: 'localhost:9092' });
 * await log.admin.createTopics([{ name: 'orders', partitions: 8 }]);
 * await log.producer().send([{ topic: 'orders', key: Buffer.from('c1'), value: Buffer.from('{}'), timestamp: Date.now(), headers: {} }]);
 * await log.close();
 */
export function openKafkaLog(options: KafkaLogOptions): Log {
  return new KafkaLog(options);
}
