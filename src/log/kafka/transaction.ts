import { IllegalStateError, TopicError } from '../../errors/index.js';
import type { GroupMetadata, LogTransaction, OffsetCommit, OutgoingRecord, TransactionResult } from '../types.js';
import { topicPartitionKey } from '../types.js';
import type { GroupOffsets } from './transaction-commit.js';

/** What a transaction needs from the producer that began it. */
export interface TransactionHost {
  /** Throws when the producer is closed or fenced. */
  assertUsable(): void;
  /** Checks a record and routes it when its topic's metadata is cached; -1 when it is not (routed at commit). */
  routeNow(record: OutgoingRecord): number;
  commitBuffered(records: OutgoingRecord[], routed: Int32Array, groups: GroupOffsets[]): Promise<TransactionResult>;
  transactionEnded(txn: KafkaTransaction): void;
}

type TransactionState = 'open' | 'committing' | 'committed' | 'aborted';

/**
 * A transaction on Kafka: send() and sendOffsets() only buffer (records are checked and routed
 * at once when their topic's metadata is known, else at commit); commit() runs one kafkajs
 * transaction with all of it. The group metadata given to sendOffsets() is not checked by the
 * broker (kafkajs sends TxnOffsetCommit v0/v1): zombies are fenced by transactional id.
 */
export class KafkaTransaction implements LogTransaction {
  private state: TransactionState = 'open';
  private records: OutgoingRecord[] = [];
  private routed: number[] = [];
  private readonly groups = new Map<string, { group: GroupMetadata; offsets: Map<string, OffsetCommit> }>();

  constructor(private readonly host: TransactionHost) {}

  private assertOpen(action: string): void {
    this.host.assertUsable();
    if (this.state !== 'open') throw new IllegalStateError(`cannot ${action} a transaction that is ${this.state}`);
  }

  send(records: readonly OutgoingRecord[]): void {
    this.assertOpen('send to');
    const routed = records.map((r) => {
      if (typeof r.topic !== 'string' || r.topic.length === 0) throw new TopicError('a record has no topic');
      return this.host.routeNow(r);
    });
    for (let i = 0; i < records.length; i++) {
      this.records.push(records[i]!);
      this.routed.push(routed[i]!);
    }
  }

  sendOffsets(group: GroupMetadata, offsets: readonly OffsetCommit[]): void {
    this.assertOpen('send offsets to');
    for (const o of offsets) {
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new TopicError(`offset for ${o.topic}-${o.partition} must be a non-negative integer, got ${String(o.offset)}`);
      }
      if (!Number.isInteger(o.partition) || o.partition < 0) throw new TopicError(`topic '${o.topic}' has no partition ${o.partition}`);
    }
    let entry = this.groups.get(group.groupId);
    if (entry === undefined) this.groups.set(group.groupId, (entry = { group, offsets: new Map() }));
    entry.group = { groupId: group.groupId, generationId: group.generationId, memberId: group.memberId };
    for (const o of offsets) entry.offsets.set(topicPartitionKey(o.topic, o.partition), { topic: o.topic, partition: o.partition, offset: o.offset });
  }

  async commit(): Promise<TransactionResult> {
    this.assertOpen('commit');
    this.state = 'committing';
    const groups: GroupOffsets[] = [...this.groups.values()].map((g) => ({ group: g.group, offsets: [...g.offsets.values()] }));
    try {
      const result = await this.host.commitBuffered(this.records, Int32Array.from(this.routed), groups);
      this.state = 'committed';
      return result;
    } catch (e) {
      this.state = 'aborted';
      throw e;
    } finally {
      this.records = [];
      this.routed = [];
      this.groups.clear();
      this.host.transactionEnded(this);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') throw new IllegalStateError(`cannot abort a transaction that is ${this.state}`);
    this.drop();
  }

  /** Drops what was buffered (abort, or the producer closing). */
  drop(): void {
    this.state = 'aborted';
    this.records = [];
    this.routed = [];
    this.groups.clear();
    this.host.transactionEnded(this);
  }
}
