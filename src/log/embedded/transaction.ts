import { IllegalStateError, TopicError } from '../../errors/index.js';
import type { GroupMetadata, LogTransaction, OffsetCommit, OutgoingRecord, TransactionResult } from '../types.js';
import { topicPartitionKey } from '../types.js';
import { checkOffset } from './admin.js';
import { RecordAccumulator } from './append.js';
import type { LogContext } from './context.js';
import { assertCurrentMember } from './group-membership.js';

/** What a transaction needs from the producer that began it. */
export interface TransactionHost {
  readonly ctx: LogContext;
  /** Throws when the producer is closed or fenced. */
  assertUsable(): void;
  /** Routes records to partitions (auto-creating unknown topics) and adds them to `acc`. */
  accumulate(records: readonly OutgoingRecord[], acc: RecordAccumulator): void;
  /** Inside the write transaction: FencedError when a newer producer has the same transactional id. */
  checkEpoch(): void;
  transactionEnded(txn: EmbeddedTransaction): void;
}

type TransactionState = 'open' | 'committing' | 'committed' | 'aborted';

interface GroupOffsets {
  group: GroupMetadata;
  offsets: Map<string, OffsetCommit>;
}

/**
 * A producer transaction on the embedded log: send() and sendOffsets() only buffer in memory;
 * commit() appends every partition's records (one row per partition) and writes the group
 * offsets in ONE SQLite IMMEDIATE transaction, after checking the producer's epoch and each
 * group's member and generation. Nothing is visible before, everything after; abort() drops it.
 */
export class EmbeddedTransaction implements LogTransaction {
  private state: TransactionState = 'open';
  private readonly acc = new RecordAccumulator();
  private readonly groups = new Map<string, GroupOffsets>();

  constructor(private readonly host: TransactionHost) {}

  private assertOpen(action: string): void {
    this.host.assertUsable();
    if (this.state !== 'open') throw new IllegalStateError(`cannot ${action} a transaction that is ${this.state}`);
  }

  send(records: OutgoingRecord[]): void {
    this.assertOpen('send to');
    this.host.accumulate(records, this.acc);
  }

  sendOffsets(group: GroupMetadata, offsets: OffsetCommit[]): void {
    this.assertOpen('send offsets to');
    const { ctx } = this.host;
    let entry = this.groups.get(group.groupId);
    if (entry === undefined) {
      entry = { group, offsets: new Map() };
      this.groups.set(group.groupId, entry);
    }
    entry.group = { groupId: group.groupId, generationId: group.generationId, memberId: group.memberId };
    for (const o of offsets) {
      checkOffset(o);
      const meta = ctx.topics.require(o.topic);
      if (!Number.isInteger(o.partition) || o.partition < 0 || o.partition >= meta.partitions) {
        throw new TopicError(`topic '${o.topic}' has ${meta.partitions} partition(s): there is no partition ${o.partition}`);
      }
      entry.offsets.set(topicPartitionKey(o.topic, o.partition), { topic: o.topic, partition: o.partition, offset: o.offset });
    }
  }

  async commit(): Promise<TransactionResult> {
    this.assertOpen('commit');
    const { ctx } = this.host;
    const acc = this.acc;
    this.state = 'committing';
    let endOffsets: OffsetCommit[] = [];
    try {
      if (acc.size === 0 && this.groups.size === 0) {
        this.host.checkEpoch();
      } else {
        acc.encode();
        ctx.writeTransaction(() => {
          this.host.checkEpoch();
          for (const { group } of this.groups.values()) assertCurrentMember(ctx, group);
          acc.append(ctx.stmts);
          endOffsets = acc.endOffsets();
          const now = Date.now();
          for (const { group, offsets } of this.groups.values()) {
            for (const o of offsets.values()) ctx.stmts.putCommitted.run(group.groupId, o.topic, o.partition, o.offset, now);
          }
        });
      }
      this.state = 'committed';
      return { endOffsets };
    } catch (e) {
      this.state = 'aborted';
      if (e instanceof TopicError) for (const name of acc.topicNames()) ctx.topics.invalidate(name);
      throw e;
    } finally {
      const appendedBytes = this.state === 'committed' ? acc.bytes : 0;
      acc.clear();
      this.groups.clear();
      this.host.transactionEnded(this);
      if (appendedBytes > 0) ctx.notifyAppended(appendedBytes);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') throw new IllegalStateError(`cannot abort a transaction that is ${this.state}`);
    this.drop();
  }

  /** Drops what was buffered (abort, or the producer closing). */
  drop(): void {
    this.state = 'aborted';
    this.acc.clear();
    this.groups.clear();
    this.host.transactionEnded(this);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }
}
