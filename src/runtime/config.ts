import { serdes } from '../serde/builtin.js';
import type { Serde } from '../serde/serde.js';
import type { BackendKind } from '../state/backend/types.js';

/** What to do with a record that cannot be deserialized or whose processing throws. */
export type ErrorHandling =
  /** Stop the application with an error naming the record (the default): nothing is lost or skipped. */
  | 'fail'
  /** Log it, count it in the dropped-records metric, and go on with the next record. */
  | 'continue'
  /** Write the original record to this topic with the error in its headers, and go on. */
  | { deadLetterTopic: string };

export interface ErrorHandlingConfig {
  deserialization?: ErrorHandling;
  processing?: ErrorHandling;
}

export type ProcessingGuarantee = 'exactly-once' | 'at-least-once';

/** Application configuration, given as the third argument of `app()`. Every field has a default. */
export interface AppConfig {
  /** Default 'exactly-once'. */
  processingGuarantee?: ProcessingGuarantee;
  /** How often tasks commit, in ms. Default 100 (Kafka Streams' default under exactly-once). */
  commitIntervalMs?: number;
  /**
   * Serdes used where a topic is read or written without one and the type is not known there.
   * Defaults: string keys, JSON values. Set to null to require a serde at every such place
   * (the topology then fails to build where one is missing).
   */
  defaultKeySerde?: Serde<any> | null;
  defaultValueSerde?: Serde<any> | null;
  errors?: ErrorHandlingConfig;
  /** Records one poll may return. Default 1000. */
  maxPollRecords?: number;
  /** A partition is paused once this many of its records wait in its task. Default 10000. */
  maxBufferedRecordsPerPartition?: number;
  /** A task commits early once this many output records wait uncommitted. Default 50000. */
  maxUncommittedRecords?: number;
  /**
   * How long a task with several input partitions (a join, a merge) waits for records of a
   * partition that has none buffered before it processes the others without it, in ms (Kafka
   * Streams' max.task.idle.ms, KIP-695). 0 (default): wait only for records known to be in the
   * log but not fetched yet, so a join never misses a table update that was already written.
   * More: also wait that long for records that may still arrive. -1: never wait.
   */
  maxTaskIdleMs?: number;
  /**
   * Aggregations (count, reduce, aggregate, windowed too) forward at most one update per key per
   * commit, holding up to this many keys per aggregation and task (Kafka Streams' record cache,
   * `statestore.cache.max.bytes`): the same final values, far fewer records downstream. 0
   * (default): every update is forwarded.
   */
  recordCacheSize?: number;
  /**
   * Where state stores keep their data: 'sqlite' (default; better-sqlite3, one file per task),
   * 'level' (classic-level; key-value and fixed-window stores only, since it cannot scan
   * synchronously) or 'memory' (restored from the changelog at every start).
   */
  stateBackend?: BackendKind;
}

export interface ResolvedAppConfig {
  processingGuarantee: ProcessingGuarantee;
  commitIntervalMs: number;
  defaultKeySerde: Serde<any> | undefined;
  defaultValueSerde: Serde<any> | undefined;
  errors: { deserialization: ErrorHandling; processing: ErrorHandling };
  maxPollRecords: number;
  maxBufferedRecordsPerPartition: number;
  maxUncommittedRecords: number;
  maxTaskIdleMs: number;
  recordCacheSize: number;
  stateBackend: BackendKind;
}

export function resolveAppConfig(config: AppConfig = {}): ResolvedAppConfig {
  return {
    processingGuarantee: config.processingGuarantee ?? 'exactly-once',
    commitIntervalMs: config.commitIntervalMs ?? 100,
    defaultKeySerde: config.defaultKeySerde === null ? undefined : (config.defaultKeySerde ?? serdes.string()),
    defaultValueSerde: config.defaultValueSerde === null ? undefined : (config.defaultValueSerde ?? serdes.json()),
    errors: {
      deserialization: config.errors?.deserialization ?? 'fail',
      processing: config.errors?.processing ?? 'fail',
    },
    maxPollRecords: config.maxPollRecords ?? 1000,
    maxBufferedRecordsPerPartition: config.maxBufferedRecordsPerPartition ?? 10_000,
    maxUncommittedRecords: config.maxUncommittedRecords ?? 50_000,
    maxTaskIdleMs: taskIdleMs(config.maxTaskIdleMs),
    recordCacheSize: recordCacheSize(config.recordCacheSize),
    stateBackend: config.stateBackend ?? 'sqlite',
  };
}

function taskIdleMs(value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < -1) throw new TypeError(`maxTaskIdleMs must be an integer >= -1 (-1: never wait), got ${String(value)}`);
  return value;
}

function recordCacheSize(value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`recordCacheSize must be an integer >= 0 (0: no cache), got ${String(value)}`);
  return value;
}
