import { TopicError } from '../../errors/index.js';
import type { GroupDescription, LogAdmin, OffsetCommit, PartitionOffsets, TopicDescription, TopicSpec } from '../types.js';
import type { LogContext } from './context.js';
import { assertNoLiveMember, isMemberLive } from './group-membership.js';
import { describe } from './topics.js';

/** Checks a committed offset: a non-negative integer. */
export function checkOffset(o: OffsetCommit): void {
  if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
    throw new TopicError(`offset for ${o.topic}-${o.partition} must be a non-negative integer, got ${String(o.offset)}`);
  }
}

/** Topics and consumer-group offsets of the embedded log. Reads go to the file, not to caches. */
export class EmbeddedAdmin implements LogAdmin {
  constructor(private readonly ctx: LogContext) {}

  async createTopics(specs: TopicSpec[]): Promise<void> {
    const { ctx } = this;
    ctx.writeTransaction(() => ctx.topics.createInTransaction(specs));
  }

  async listTopics(): Promise<string[]> {
    this.ctx.assertOpen();
    return this.ctx.topics.all().map((t) => t.name);
  }

  async describeTopics(names: string[]): Promise<TopicDescription[]> {
    const { ctx } = this;
    return ctx.readTransaction(() =>
      names.map((name) => {
        const meta = ctx.topics.load(name);
        if (meta === undefined) throw ctx.topics.unknown(name);
        return describe(meta);
      }),
    );
  }

  async deleteTopics(names: string[]): Promise<void> {
    const { ctx } = this;
    ctx.writeTransaction(() => ctx.topics.deleteInTransaction(names));
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    const { ctx } = this;
    return ctx.readTransaction(() => {
      const meta = ctx.topics.load(topic);
      if (meta === undefined) throw ctx.topics.unknown(topic);
      return ctx.stmts.partitionOffsets.all(meta.id).map((r) => ({ partition: r.partition, low: r.log_start_offset, high: r.next_offset }));
    });
  }

  async committedOffsets(groupId: string, topics: string[]): Promise<OffsetCommit[]> {
    const { ctx } = this;
    return ctx.readTransaction(() => {
      const out: OffsetCommit[] = [];
      for (const topic of topics) {
        for (const r of ctx.stmts.committed.all(groupId, topic)) out.push({ topic, partition: r.partition, offset: r.committed_offset });
      }
      return out;
    });
  }

  /** The group's one live member, if any: it holds every partition of the group's topics (no `assignment`). */
  async describeGroup(groupId: string): Promise<GroupDescription> {
    const { ctx } = this;
    return ctx.readTransaction(() => {
      const row = ctx.stmts.member.get(groupId);
      if (row === undefined || !isMemberLive(ctx, groupId, row)) return { groupId, state: 'Empty', members: [] };
      return { groupId, state: 'Stable', members: [{ memberId: row.member_id, clientId: '', host: `${row.hostname} pid ${row.pid}` }] };
    });
  }

  async setCommittedOffsets(groupId: string, offsets: OffsetCommit[]): Promise<void> {
    const { ctx } = this;
    ctx.writeTransaction(() => {
      assertNoLiveMember(ctx, groupId, `set the committed offsets of group '${groupId}'`);
      const now = Date.now();
      for (const o of offsets) {
        checkOffset(o);
        const meta = ctx.topics.load(o.topic);
        if (meta === undefined) throw ctx.topics.unknown(o.topic);
        if (!Number.isInteger(o.partition) || o.partition < 0 || o.partition >= meta.partitions) {
          throw new TopicError(`topic '${o.topic}' has ${meta.partitions} partition(s): there is no partition ${o.partition}`);
        }
        ctx.stmts.putCommitted.run(groupId, o.topic, o.partition, o.offset, now);
      }
    });
  }
}
