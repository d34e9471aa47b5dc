import { ClosedError, FencedError, IllegalStateError, TopicError, TributaryError } from '../../errors/index.js';
import { partitionForKey } from '../partitioner.js';
import type { LogProducer, LogTransaction, OffsetCommit, OutgoingRecord, ProducerOptions } from '../types.js';
import { checkRecord, RecordAccumulator } from './append.js';
import type { LogContext } from './context.js';
import type { TopicMeta } from './topics.js';
import { EmbeddedTransaction, type TransactionHost } from './transaction.js';

/**
 * Appends records to the embedded log. A record without a partition goes to
 * `partitionForKey(key)` when it has a key (as Kafka's default partitioner) and round robin per
 * topic (starting at partition 0 for each producer) when its key is null. A topic that does not
 * exist is created with the log's `defaultPartitions`.
 *
 * With a `transactionalId`, opening the producer bumps that id's epoch in the file: an older
 * producer with the same id is fenced, and its next commit() fails with FencedError.
 */
export class EmbeddedProducer implements LogProducer, TransactionHost {
  private state: 'open' | 'fenced' | 'closed' = 'open';
  private readonly transactionalId: string | undefined;
  private readonly epoch: number;
  private readonly roundRobin = new Map<string, number>();
  private transaction: EmbeddedTransaction | null = null;
  private readonly sendAcc = new RecordAccumulator();
  private lastTopic: TopicMeta | undefined;
  private lastTopicVersion = -1;

  constructor(
    readonly ctx: LogContext,
    options: ProducerOptions = {},
  ) {
    ctx.assertOpen();
    const id = options.transactionalId;
    if (id !== undefined && (typeof id !== 'string' || id.length === 0)) {
      throw new TributaryError('transactionalId must be a non-empty string');
    }
    this.transactionalId = id;
    this.epoch = id === undefined ? -1 : ctx.writeTransaction(() => ctx.stmts.bumpEpoch.get(id, Date.now())!);
    ctx.resources.add(this);
  }

  assertUsable(): void {
    this.ctx.assertOpen();
    if (this.state === 'closed') throw new ClosedError('this producer is closed');
    if (this.state === 'fenced') throw this.fenced(this.ctx.stmts.epoch.get(this.transactionalId!));
  }

  private fenced(current: number | undefined): FencedError {
    return new FencedError(
      `producer '${this.transactionalId}' (epoch ${this.epoch}) was fenced: a newer producer with the same transactional id ` +
        `opened the embedded log ${this.ctx.path}${current === undefined ? '' : ` (epoch ${current})`}; close this one`,
    );
  }

  checkEpoch(): void {
    if (this.transactionalId === undefined) return;
    const current = this.ctx.stmts.epoch.get(this.transactionalId);
    if (current !== this.epoch) {
      this.state = 'fenced';
      throw this.fenced(current);
    }
  }

  /** The topic of an outgoing record, created with the default partition count when unknown. */
  private topicFor(name: string): TopicMeta {
    const { ctx } = this;
    const last = this.lastTopic;
    if (last !== undefined && last.name === name && this.lastTopicVersion === ctx.topics.version) return last;
    let meta = ctx.topics.find(name);
    if (meta === undefined) {
      meta = ctx.writeTransaction(
        () => ctx.topics.load(name) ?? ctx.topics.createInTransaction([{ name, partitions: ctx.defaultPartitions }])[0]!,
      );
    }
    this.lastTopic = meta;
    this.lastTopicVersion = ctx.topics.version;
    return meta;
  }

  private partitionFor(meta: TopicMeta, record: OutgoingRecord): number {
    const p = record.partition;
    if (p != null) {
      if (!Number.isInteger(p) || p < 0 || p >= meta.partitions) {
        throw new TopicError(`topic '${meta.name}' has ${meta.partitions} partition(s): there is no partition ${p}`);
      }
      return p;
    }
    if (record.key != null) return partitionForKey(record.key, meta.partitions);
    const n = this.roundRobin.get(meta.name) ?? 0;
    this.roundRobin.set(meta.name, n + 1);
    return n % meta.partitions;
  }

  /**
   * Routes and checks every record first, then adds them all to `acc`: when one is refused, none
   * is added. (Round-robin counters and topics created on the way stay, as in Kafka.)
   */
  accumulate(
    records: readonly OutgoingRecord[],
    acc: RecordAccumulator,
    partitions: Int32Array = new Int32Array(records.length),
    indexes?: Int32Array,
  ): void {
    const n = records.length;
    const metas = new Array<TopicMeta>(n);
    for (let i = 0; i < n; i++) {
      const r = records[i]!;
      const meta = this.topicFor(r.topic);
      partitions[i] = this.partitionFor(meta, r);
      checkRecord(r, meta.name);
      metas[i] = meta;
    }
    for (let i = 0; i < n; i++) {
      const index = acc.add(metas[i]!, partitions[i]!, records[i]!);
      if (indexes !== undefined) indexes[i] = index;
    }
  }

  /** The transactional id's epoch was bumped in the constructor: nothing to wait for. */
  async ready(): Promise<void> {
    this.assertUsable();
    this.checkEpoch();
  }

  async send(records: OutgoingRecord[]): Promise<OffsetCommit[]> {
    this.assertUsable();
    const n = records.length;
    if (n === 0) return [];
    const { ctx } = this;
    const acc = this.sendAcc;
    const partitions = new Int32Array(n);
    const indexes = new Int32Array(n);
    try {
      this.accumulate(records, acc, partitions, indexes);
      acc.encode();
      ctx.writeTransaction(() => {
        this.checkEpoch();
        acc.append(ctx.stmts);
      });
      const out = new Array<OffsetCommit>(n);
      for (let i = 0; i < n; i++) {
        const topic = records[i]!.topic;
        out[i] = { topic, partition: partitions[i]!, offset: acc.offsetOf(topic, partitions[i]!, indexes[i]!) };
      }
      ctx.notifyAppended(acc.bytes);
      return out;
    } catch (e) {
      if (e instanceof TopicError) this.forgetTopics(acc);
      throw e;
    } finally {
      acc.clear();
    }
  }

  private forgetTopics(acc: RecordAccumulator): void {
    for (const name of acc.topicNames()) this.ctx.topics.invalidate(name);
    this.lastTopic = undefined;
  }

  beginTransaction(): LogTransaction {
    this.assertUsable();
    if (this.transaction !== null) {
      throw new IllegalStateError('this producer already has an open transaction: commit or abort it first');
    }
    const txn = new EmbeddedTransaction(this);
    this.transaction = txn;
    return txn;
  }

  transactionEnded(txn: EmbeddedTransaction): void {
    if (this.transaction === txn) this.transaction = null;
  }

  /** Drops an open transaction and closes; the transactional id's epoch stays in the file. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.transaction?.drop();
    this.state = 'closed';
    this.ctx.resources.delete(this);
  }
}
