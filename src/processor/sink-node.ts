import { ProcessingError } from '../errors/index.js';
import type { OutgoingRecord } from '../log/types.js';
import type { Serde } from '../serde/serde.js';
import type { StreamPartitioner, TopicNameExtractor } from '../topology/nodes.js';
import type { RecordSink, TaskContext } from './processor-node.js';
import type { StreamRecord } from './types.js';

/** Where a task's output records wait until its next commit. */
export interface OutputCollector {
  send(record: OutgoingRecord): void;
  /** Partition count of a topic the task may write, if known. */
  partitionCount(topic: string): number | undefined;
}

/** Serializes records and hands them to the task's collector; the end of a stream. */
export class SinkNode implements RecordSink {
  constructor(
    readonly name: string,
    private readonly topic: string | TopicNameExtractor,
    private readonly keySerde: Serde<unknown>,
    private readonly valueSerde: Serde<unknown>,
    private readonly partitioner: StreamPartitioner | undefined,
    private readonly collector: OutputCollector,
    private readonly task: TaskContext,
  ) {}

  process(record: StreamRecord<unknown, unknown>): void {
    const topic = typeof this.topic === 'string' ? this.topic : this.topic(record.key, record.value, this.task.recordMetadata());
    if (typeof topic !== 'string' || topic.length === 0) throw new ProcessingError(`sink '${this.name}': the topic extractor returned ${JSON.stringify(topic)}, not a topic name`);
    const key = record.key === null || record.key === undefined ? null : this.keySerde.serialize(record.key, topic, record.headers);
    const value = record.value === null || record.value === undefined ? null : this.valueSerde.serialize(record.value, topic, record.headers);
    let partition: number | undefined;
    if (this.partitioner !== undefined) {
      const count = this.collector.partitionCount(topic);
      if (count === undefined) throw new ProcessingError(`sink '${this.name}': topic '${topic}' does not exist, so its partitioner cannot run`);
      partition = this.partitioner(topic, record.key, record.value, count);
      if (partition !== undefined && (!Number.isInteger(partition) || partition < 0 || partition >= count)) {
        throw new ProcessingError(`sink '${this.name}': the partitioner returned ${partition} for topic '${topic}', which has ${count} partitions`);
      }
    }
    this.collector.send({ topic, partition, key, value, timestamp: record.timestamp, headers: record.headers });
  }
}
