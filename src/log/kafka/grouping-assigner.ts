/**
 * A kafkajs partition assigner that assigns units, not partitions: partition p of every topic of
 * a PartitionGroup goes to one member (a stream task's partitions stay together), shared by
 * sticky-assignor.ts. Members advertise in their JoinGroup userData the units they run and the
 * units whose state they keep on disk; the group leader reads them all and decides.
 *
 * userData is versioned JSON (`{ v: 1, active: [...], standby: [...], endpoint? }`); a member whose
 * userData cannot be read is treated as holding nothing, so a mixed-version group still assigns.
 *
 * The leader also tells every member who got what: each MemberAssignment's userData is versioned
 * JSON `{ v: 1, members: [{ endpoint?, units: [...] }, ...] }` listing every member's advertised
 * query endpoint and units (as Kafka Streams' AssignmentInfo carries partitionsByHost), which
 * decodeGroupAssignment() reads back. Interactive queries route a key to its task's owner with it.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import type { GroupMemberAssignment, PartitionGrouping } from '../types.js';
import { assignPartitionsByUnit, decodeMemberUserData, encodeMemberUserData, type AssignorMember } from './sticky-assignor.js';

export const GROUPING_ASSIGNER_NAME = 'TributaryGroupingAssigner';
const VERSION = 1;

/** The leader's userData in every MemberAssignment: the whole group's map. */
interface AssignmentUserData {
  v: 1;
  members: { endpoint?: string; units: string[] }[];
}

/** A member's advertised units, from its raw JoinGroup metadata. */
function decodeMember(memberId: string, metadata: Buffer): AssignorMember & { endpoint?: string } {
  try {
    return decodeMemberUserData(memberId, AssignerProtocol.MemberMetadata.decode(metadata)!.userData);
  } catch {
    return decodeMemberUserData(memberId, undefined);
  }
}

/**
 * The group's map from a member's raw assignment (SyncGroup's answer): every member's endpoint
 * and units, or undefined when the leader wrote none (an older version) or it cannot be read.
 */
export function decodeGroupAssignment(memberAssignment: Buffer): GroupMemberAssignment[] | undefined {
  try {
    if (memberAssignment.length === 0) return undefined;
    const decoded = AssignerProtocol.MemberAssignment.decode(memberAssignment);
    if (decoded === null || decoded.userData.length === 0) return undefined;
    const data = JSON.parse(decoded.userData.toString('utf8')) as Partial<AssignmentUserData>;
    if (data.v !== 1 || !Array.isArray(data.members)) return undefined;
    return data.members.map((m) => {
      const units = Array.isArray(m.units) ? m.units.map(String) : [];
      return typeof m.endpoint === 'string' ? { endpoint: m.endpoint, units } : { units };
    });
  } catch {
    return undefined;
  }
}

export function groupingAssigner(grouping: PartitionGrouping): PartitionAssigner {
  return ({ cluster }) => ({
    name: GROUPING_ASSIGNER_NAME,
    version: VERSION,
    async assign({ members, topics }) {
      const partitionsOf = (topic: string) => cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
      const decoded = members.map((m) => decodeMember(m.memberId, m.memberMetadata));
      const { units: decided, partitions } = assignPartitionsByUnit(grouping.groups, topics, partitionsOf, decoded);
      // every member learns the whole map (endpoint and units of each), for interactive queries
      const map: AssignmentUserData = {
        v: 1,
        members: decoded.map((m) => ({ ...(m.endpoint !== undefined ? { endpoint: m.endpoint } : {}), units: decided.get(m.id) ?? [] })),
      };
      const userData = Buffer.from(JSON.stringify(map));
      return members.map(({ memberId }) => {
        const assignment = Object.fromEntries(partitions.get(memberId) ?? []);
        return { memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: VERSION, assignment, userData }) };
      });
    },
    protocol({ topics }) {
      return {
        name: GROUPING_ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: VERSION, topics, userData: encodeMemberUserData(grouping) }),
      };
    },
  });
}
