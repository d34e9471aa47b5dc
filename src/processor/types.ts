import type { Headers } from '../log/types.js';

/**
 * The Processor API that the DSL compiles to, and that users can drop into with
 * `stream.process(() => processor)`. Everything on this path is synchronous: a processor
 * handles one record at a time and forwards zero or more records to its children.
 */

/** A record flowing through a topology: typed key and value, event time, headers. */
export interface StreamRecord<K, V> {
  key: K;
  value: V;
  /** Event time, epoch milliseconds. Records forwarded downstream keep it unless you change it. */
  timestamp: number;
  headers: Headers;
}

/** Where the record being processed came from; absent inside a punctuator. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
}

/** 'stream-time' punctuators advance with record timestamps; 'wall-clock' ones with the system clock. */
export type PunctuationType = 'stream-time' | 'wall-clock';

export type Punctuator = (timestamp: number) => void;

export interface Cancellable {
  cancel(): void;
}

export interface ProcessorContext<KOut = unknown, VOut = unknown> {
  readonly applicationId: string;
  /** `<subtopology>_<partition>`, as in Kafka Streams. */
  readonly taskId: string;
  /** Sends a record to every child of this processor, or to the one child named. */
  forward<K extends KOut, V extends VOut>(record: StreamRecord<K, V>, childName?: string): void;
  /**
   * Calls `punctuator` every `intervalMs` of stream time (driven by record timestamps) or of
   * wall-clock time. Returns a handle to cancel it.
   */
  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable;
  /** Topic, partition and offset of the record being processed; null inside a punctuator. */
  recordMetadata(): RecordMetadata | null;
  /** The task's stream time: the largest record timestamp it has seen. */
  currentStreamTimeMs(): number;
  /** The wall clock (mocked by testTopology). */
  currentSystemTimeMs(): number;
  /** Asks the runtime to commit soon after this record. */
  commit(): void;
  /**
   * A state store this processor was connected to (`process(..., { stores: [name] })`, or by
   * the DSL): a KeyValueStore, WindowStore or SessionStore.
   */
  getStateStore<S = unknown>(name: string): S;
}

export interface Processor<KIn = unknown, VIn = unknown, KOut = unknown, VOut = unknown> {
  init?(context: ProcessorContext<KOut, VOut>): void;
  process(record: StreamRecord<KIn, VIn>): void;
  close?(): void;
}

/** Makes a fresh processor for each task: processors hold per-task state and must not be shared. */
export type ProcessorSupplier<KIn = unknown, VIn = unknown, KOut = unknown, VOut = unknown> = () => Processor<KIn, VIn, KOut, VOut>;
