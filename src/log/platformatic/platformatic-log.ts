import type { ConsumerOptions, GroupMetadata, Log, LogCapabilities, LogConsumer, LogProducer, OffsetCommit, ProducerOptions } from '../types.js';
import { PlatformaticAdmin } from './admin.js';
import { PlatformaticConsumer } from './consumer.js';
import { PlatformaticContext } from './context.js';
import type { PlatformaticLogOptions } from './options.js';
import { PlatformaticProducer } from './producer.js';

/**
 * What this backend guarantees (see LogCapabilities). generationFencing: sendOffsets() goes out
 * as TxnOffsetCommit v3+ (v4 on Kafka 3.8+) with the member's generation and member id, and the
 * group coordinator refuses a stale member (ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID): proven by
 * the conformance suite's stale-member test against a real broker.
 */
export const PLATFORMATIC_CAPABILITIES: LogCapabilities = Object.freeze({
  generationFencing: true,
  topicInternalFlag: false,
  exclusiveGroupMember: false,
});

/** Tributary's `Log` on an Apache Kafka cluster, through @platformatic/kafka. */
export class PlatformaticLog implements Log {
  readonly kind = 'kafka' as const;
  readonly capabilities = PLATFORMATIC_CAPABILITIES;
  readonly admin: PlatformaticAdmin;
  private readonly ctx: PlatformaticContext;
  /** The newest producer per transactional id made by this log. */
  private readonly transactional = new Map<string, PlatformaticProducer>();
  private closing: Promise<void> | null = null;

  constructor(options: PlatformaticLogOptions) {
    this.ctx = new PlatformaticContext(options);
    this.admin = new PlatformaticAdmin(this.ctx);
  }

  /** The bootstrap brokers. */
  get brokers(): string {
    return this.ctx.brokersText;
  }

  /**
   * A producer; with a transactionalId, an older producer with that id made by this log is
   * fenced at once, and the new one registers the id with the broker only after the older one's
   * registration settled (so the newest always wins).
   */
  producer(options: ProducerOptions = {}): LogProducer {
    this.ctx.assertOpen();
    const commitOutside = (group: GroupMetadata, offsets: OffsetCommit[]) => this.commitOffsetsOutsideTransaction(group, offsets);
    const id = options.transactionalId;
    if (id === undefined) return new PlatformaticProducer(this.ctx, options, { commitOutside });
    const older = this.transactional.get(id);
    older?.fenceLocally();
    const producer = new PlatformaticProducer(this.ctx, options, {
      commitOutside,
      ...(older !== undefined ? { after: older.registered().catch(() => undefined) } : {}),
      onClose: (p) => {
        if (this.transactional.get(id) === p) this.transactional.delete(id);
      },
    });
    this.transactional.set(id, producer);
    return producer;
  }

  consumer(options: ConsumerOptions): LogConsumer {
    return new PlatformaticConsumer(this.ctx, this.admin, options);
  }

  private async commitOffsetsOutsideTransaction(group: GroupMetadata, offsets: OffsetCommit[]): Promise<void> {
    if (offsets.length === 0) return;
    for (const r of this.ctx.resources) {
      if (r instanceof PlatformaticConsumer && r.isMember(group)) return r.commitAsMember(group, offsets);
    }
    // no member of this process: as the reset tool does (refused while the group has live members)
    await this.admin.setCommittedOffsets(group.groupId, offsets);
  }

  /** Closes the consumers (they leave their groups), then the producers, then the admin client. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    const { ctx } = this;
    let error: unknown;
    const resources = [...ctx.resources];
    const ordered = [...resources.filter((r) => r instanceof PlatformaticConsumer), ...resources.filter((r) => !(r instanceof PlatformaticConsumer))];
    for (const resource of ordered) {
      try {
        await resource.close();
      } catch (e) {
        error ??= e;
      }
    }
    ctx.markClosed();
    await ctx.closeAdmin();
    if (error !== undefined) throw error;
  }
}
