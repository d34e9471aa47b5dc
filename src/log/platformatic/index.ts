/**
 * A second Kafka backend: Tributary's `Log` on an Apache Kafka cluster through
 * @platformatic/kafka (pure TypeScript, maintained), beside the kafkajs one (../kafka/). Same
 * interface and conformance suite; unlike kafkajs it fences a stale consumer-group member in a
 * transaction (TxnOffsetCommit v3+ with generation and member id, KIP-447), so
 * `capabilities.generationFencing` is true.
 */
import './node-compat.js';
import type { Log } from '../types.js';
import type { PlatformaticLogOptions } from './options.js';
import { PlatformaticLog } from './platformatic-log.js';

export type { PlatformaticLogOptions } from './options.js';
export { PLATFORMATIC_CAPABILITIES, PlatformaticLog } from './platformatic-log.js';

/**
 * Opens a Kafka log on @platformatic/kafka. Nothing connects until first use.
 *
 * @example
 * const log = openPlatformaticLog({ brokers: 'localhost:9092' });
 * await log.admin.createTopics([{ name: 'orders', partitions: 8 }]);
 * await log.producer().send([{ topic: 'orders', key: Buffer.from('c1'), value: Buffer.from('{}'), timestamp: Date.now(), headers: {} }]);
 * await log.close();
 */
export function openPlatformaticLog(options: PlatformaticLogOptions): Log {
  return new PlatformaticLog(options);
}
