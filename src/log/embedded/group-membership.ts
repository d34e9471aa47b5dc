import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ApplicationRunningError, FencedError } from '../../errors/index.js';
import type { GroupMetadata } from '../types.js';
import type { LogContext } from './context.js';
import type { MemberRow } from './statements.js';
import type { TopicMeta } from './topics.js';

/**
 * Consumer groups on the embedded log: ONE live member per group across every process on the
 * machine (one application id runs in one process at a time). The member is a row in the file
 * (member id, generation, pid, hostname, start time); a second instance that finds a live one
 * gets ApplicationRunningError, and a member whose process died (kill -9) is taken over with a
 * new generation. Generations fence zombies: a transaction whose group metadata is not the
 * current member and generation is refused with FencedError.
 */

/** Members of consumers open in this process, by `<file>\0<group>`: a row with our pid is live only if listed. */
const liveInProcess = new Map<string, string>();

function processKey(ctx: LogContext, groupId: string): string {
  return `${ctx.realPath}\u0000${groupId}`;
}

/** True when the process exists and is not a zombie (a killed child its parent has not reaped). */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // EPERM: it exists, owned by another user
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    // no /proc (macOS) or it just exited: trust kill(pid, 0)
  }
  return true;
}

/**
 * A member is live when its process runs on this host: for this process, when a consumer of
 * this process holds that member id; for another, when its pid is alive here.
 */
export function isMemberLive(ctx: LogContext, groupId: string, row: MemberRow): boolean {
  if (row.hostname !== hostname()) return false;
  if (row.pid === process.pid) return liveInProcess.get(processKey(ctx, groupId)) === row.member_id;
  return isProcessAlive(row.pid);
}

function describeMember(row: MemberRow): string {
  const self = row.pid === process.pid ? ', this process' : '';
  return `pid ${row.pid}${self}, started ${new Date(row.started_at).toISOString()}`;
}

function alreadyRunning(ctx: LogContext, groupId: string, row: MemberRow, prefix = ''): ApplicationRunningError {
  return new ApplicationRunningError(
    `${prefix}application '${groupId}' is already running (${describeMember(row)}) on log ${ctx.path}: stop it first`,
  );
}

export interface Membership {
  readonly memberId: string;
  readonly generation: number;
  readonly topics: TopicMeta[];
}

/**
 * Joins the group as its one member, with the next generation, checking the topics exist.
 * `currentMemberId` is this consumer's member id when it rejoins (a new subscription). Runs in
 * one write transaction: a failure leaves the file as it was.
 */
export function joinGroup(ctx: LogContext, groupId: string, topicNames: readonly string[], currentMemberId: string | null): Membership {
  const { stmts } = ctx;
  const membership = ctx.writeTransaction((): Membership => {
    const row = stmts.member.get(groupId);
    if (row !== undefined && row.member_id !== currentMemberId && isMemberLive(ctx, groupId, row)) {
      throw alreadyRunning(ctx, groupId, row);
    }
    const topics = topicNames.map((name) => {
      const meta = ctx.topics.load(name);
      if (meta === undefined) throw ctx.topics.unknown(name);
      return meta;
    });
    const generation = (stmts.generation.get(groupId) ?? 0) + 1;
    const memberId = currentMemberId ?? `${groupId}-${randomUUID()}`;
    stmts.setGeneration.run(groupId, generation);
    stmts.putMember.run(groupId, memberId, generation, process.pid, hostname(), Date.now());
    return { memberId, generation, topics };
  });
  liveInProcess.set(processKey(ctx, groupId), membership.memberId);
  return membership;
}

/** Removes the member row, if it is still this member's (a newer member's row stays). */
export function leaveGroup(ctx: LogContext, groupId: string, memberId: string): void {
  const key = processKey(ctx, groupId);
  if (liveInProcess.get(key) === memberId) liveInProcess.delete(key);
  if (ctx.isClosed) return;
  ctx.writeTransaction(() => ctx.stmts.deleteMember.run(groupId, memberId));
}

/**
 * Refuses (FencedError) group metadata that is not the group's current member and generation.
 * Metadata without membership (generation -1 and member id '', from a consumer that used
 * assign()) may commit, as in Kafka, but only while the group has no live member
 * (ApplicationRunningError otherwise). Call inside a write transaction.
 */
export function assertCurrentMember(ctx: LogContext, group: GroupMetadata): void {
  const row = ctx.stmts.member.get(group.groupId);
  if (group.generationId === -1 && group.memberId === '') {
    if (row !== undefined && isMemberLive(ctx, group.groupId, row)) {
      throw alreadyRunning(ctx, group.groupId, row, 'cannot commit offsets without group membership: ');
    }
    return;
  }
  if (row !== undefined && row.member_id === group.memberId && row.generation === group.generationId) return;
  const now =
    row === undefined
      ? 'the group has no member now'
      : row.member_id === group.memberId
        ? `the group is at generation ${row.generation}`
        : `member '${row.member_id}' (generation ${row.generation}, ${describeMember(row)}) took over`;
  throw new FencedError(
    `member '${group.memberId}' of group '${group.groupId}' (generation ${group.generationId}) is no longer current: ${now}; ` +
      'nothing of this transaction was committed',
  );
}

/** Refuses (ApplicationRunningError) while the group has a live member. Call inside a write transaction. */
export function assertNoLiveMember(ctx: LogContext, groupId: string, action: string): void {
  const row = ctx.stmts.member.get(groupId);
  if (row !== undefined && isMemberLive(ctx, groupId, row)) throw alreadyRunning(ctx, groupId, row, `cannot ${action}: `);
}
