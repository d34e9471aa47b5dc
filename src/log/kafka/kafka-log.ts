import type { Producer } from 'kafkajs';
import type { ConsumerOptions, GroupMetadata, Log, LogCapabilities, LogConsumer, LogProducer, OffsetCommit, ProducerOptions } from '../types.js';
import { KafkaAdmin } from './admin.js';
import { KafkaConsumer } from './consumer.js';
import { KafkaContext } from './context.js';
import type { KafkaLogOptions } from './options.js';
import { KafkaProducer } from './producer.js';

/** Test seams of a Kafka log (not for applications). */
export interface KafkaLogInternals {
  /** Wraps every kafkajs producer the log makes, e.g. to inject a failure. */
  wrapProducer?: (producer: Producer) => Producer;
}

/** What the Kafka backend guarantees differently from the embedded log (see LogCapabilities). */
export const KAFKA_CAPABILITIES: LogCapabilities = Object.freeze({
  generationFencing: false,
  topicInternalFlag: false,
  exclusiveGroupMember: false,
});

/** Tributary's `Log` on an Apache Kafka cluster, through kafkajs 2.2.4. */
export class KafkaLog implements Log {
  readonly kind = 'kafka' as const;
  readonly capabilities = KAFKA_CAPABILITIES;
  readonly admin: KafkaAdmin;
  private readonly ctx: KafkaContext;
  /** The newest producer per transactional id made by this log. */
  private readonly transactional = new Map<string, KafkaProducer>();
  private closing: Promise<void> | null = null;

  constructor(
    options: KafkaLogOptions,
    private readonly internals: KafkaLogInternals = {},
  ) {
    this.ctx = new KafkaContext(options);
    this.admin = new KafkaAdmin(this.ctx);
    this.ctx.commitOffsetsOutsideTransaction = (group, offsets) => this.commitOffsetsOutsideTransaction(group, offsets);
  }

  /** The bootstrap brokers, as given. */
  get brokers(): string {
    return this.ctx.brokers;
  }

  /**
   * A producer; with a transactionalId, an older producer with that id made by this log is
   * fenced at once, and the new one registers the id with the broker only after the older one's
   * registration settled (so the newest always wins).
   */
  producer(options: ProducerOptions = {}): LogProducer {
    this.ctx.assertOpen();
    const id = options.transactionalId;
    if (id === undefined) return new KafkaProducer(this.ctx, options, this.producerInternals());
    const older = this.transactional.get(id);
    older?.fenceLocally();
    const producer = new KafkaProducer(this.ctx, options, {
      ...this.producerInternals(),
      ...(older !== undefined ? { after: older.registered() } : {}),
      onClose: (p) => {
        if (this.transactional.get(id) === p) this.transactional.delete(id);
      },
    });
    this.transactional.set(id, producer);
    return producer;
  }

  private producerInternals(): { wrapProducer?: (p: Producer) => Producer } {
    return this.internals.wrapProducer ? { wrapProducer: this.internals.wrapProducer } : {};
  }

  consumer(options: ConsumerOptions): LogConsumer {
    return new KafkaConsumer(this.ctx, this.admin, options);
  }

  private async commitOffsetsOutsideTransaction(group: GroupMetadata, offsets: OffsetCommit[]): Promise<void> {
    if (offsets.length === 0) return;
    for (const r of this.ctx.resources) {
      if (r instanceof KafkaConsumer && r.isMember(group)) return r.commitAsMember(group, offsets);
    }
    // no member of this process: as the reset tool does (refused while the group has live members)
    await this.admin.setCommittedOffsets(group.groupId, offsets);
  }

  /** Closes the consumers (they leave their groups), then the producers, then the admin connection. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    const { ctx } = this;
    let error: unknown;
    const resources = [...ctx.resources];
    const ordered = [...resources.filter((r) => r instanceof KafkaConsumer), ...resources.filter((r) => !(r instanceof KafkaConsumer))];
    for (const resource of ordered) {
      try {
        await resource.close();
      } catch (e) {
        error ??= e;
      }
    }
    ctx.markClosed();
    await ctx.closeAdmin().catch(() => undefined);
    if (error !== undefined) throw error;
  }
}
