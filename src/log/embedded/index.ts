/**
 * The embedded log: Tributary's `Log` in one better-sqlite3 file, for running an application
 * with no broker. Same model as Kafka: topics, partitions, offsets, timestamps, headers,
 * consumer-group offsets and atomic multi-partition transactions.
 */
import { EmbeddedLog, type EmbeddedLogOptions } from './embedded-log.js';
import type { Log } from '../types.js';

export type { EmbeddedLogOptions } from './embedded-log.js';
export type { Durability } from './schema.js';
export { SCHEMA_VERSION } from './schema.js';
export { BATCH_MAGIC } from './record-batch-codec.js';

/**
 * Opens (creating it and its parent directories when needed) the embedded log at `path`.
 * Synchronous. Several processes may share the file (WAL mode, 10 s busy timeout), but a
 * consumer group has one live member across all of them: one application id runs in one
 * process at a time.
 *
 * `defaultPartitions` (default 1) is the partition count of a topic created implicitly, when a
 * producer sends to a topic that does not exist yet. `durability` is 'normal' (default, SQLite
 * `synchronous=NORMAL`: nothing committed is lost when the process is killed) or 'full'
 * (`synchronous=FULL`: not lost on power failure either).
 *
 * @example
 * const log = openEmbeddedLog({ path: '.tributary/log.db' });
 * await log.admin.createTopics([{ name: 'orders', partitions: 4 }]);
 * await log.producer().send([{ topic: 'orders', key: Buffer.from('c1'), value: Buffer.from('{}'), timestamp: Date.now(), headers: {} }]);
 * await log.close();
 */
export function openEmbeddedLog(options: EmbeddedLogOptions): Log {
  return new EmbeddedLog(options);
}
