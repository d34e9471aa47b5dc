import type { Serde } from '../serde/serde.js';
import type { ProcessorSupplier, RecordMetadata } from '../processor/types.js';

/** Picks the output topic per record: `to((key, value, meta) => ...)`. The topic must exist. */
export type TopicNameExtractor<K = any, V = any> = (key: K, value: V, metadata: RecordMetadata | null) => string;

/** Picks the partition of an output record; return undefined for the default (murmur2 of the key bytes). */
export type StreamPartitioner<K = any, V = any> = (topic: string, key: K, value: V, numPartitions: number) => number | undefined;

/** Reads a record's event time; the default uses the timestamp stored with the record. */
export type TimestampExtractor = (record: { key: unknown; value: unknown; timestamp: number; topic: string }, partitionTime: number) => number;

export interface SourceNodeDef {
  readonly kind: 'source';
  readonly name: string;
  readonly topics: readonly string[];
  readonly keySerde: Serde<any>;
  readonly valueSerde: Serde<any>;
  readonly timestampExtractor?: TimestampExtractor;
}

export interface ProcessorNodeDef {
  readonly kind: 'processor';
  readonly name: string;
  readonly parents: readonly string[];
  readonly supplier: ProcessorSupplier<any, any, any, any>;
  /** State stores this processor reads and writes (connected to its task). */
  readonly stores: readonly string[];
}

export interface SinkNodeDef {
  readonly kind: 'sink';
  readonly name: string;
  readonly parents: readonly string[];
  readonly topic: string | TopicNameExtractor;
  readonly keySerde: Serde<any>;
  readonly valueSerde: Serde<any>;
  readonly partitioner?: StreamPartitioner;
}

export type NodeDef = SourceNodeDef | ProcessorNodeDef | SinkNodeDef;

export type InternalTopicKind = 'repartition' | 'changelog';

/** A topic the application owns and creates itself, named `<applicationId>-<name>-<kind>`. */
export interface InternalTopicDef {
  readonly name: string;
  readonly kind: InternalTopicKind;
  /** Fixed partition count; when absent, the largest partition count of the sub-topology that writes it. */
  readonly partitions?: number;
}

/**
 * A projection attached with `stream.project()`: the topic its runner reads and how the records
 * decode. The projection itself is opaque here (the runtime's projection host runs it).
 */
export interface ProjectionDef {
  readonly topic: string;
  readonly keySerde: Serde<any>;
  readonly valueSerde: Serde<any>;
  readonly projection: { readonly name: string };
}
