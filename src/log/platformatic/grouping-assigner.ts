/**
 * Task-aware assignment on the classic group protocol: partition p of every topic of a
 * PartitionGroup goes to one member (a stream task's partitions stay together), decided by the
 * pure assignUnits of ../kafka/sticky-assignor.ts. Same protocol name and versioned JSON
 * userData (`{ v: 1, active, standby }`) as the kafkajs backend's assigner, inside the standard
 * ConsumerProtocolSubscription (both from sticky-assignor.ts); the group-wide endpoint map of
 * interactive queries is not handed out by this backend yet.
 */
import type { ClusterMetadata, ExtendedGroupProtocolSubscription, GroupAssignment, GroupPartitionsAssignments, GroupProtocolSubscription } from '@platformatic/kafka';
import { assignPartitionsByUnit, decodeMemberUserData, encodeMemberUserData } from '../kafka/sticky-assignor.js';
import type { PartitionGrouping } from '../types.js';

export const GROUPING_ASSIGNER_NAME = 'TributaryGroupingAssigner';

/** The group options of a consumer that shares partitions by unit. */
export function groupingOptions(grouping: PartitionGrouping): {
  protocols: GroupProtocolSubscription[];
  protocolsMetadata: () => Buffer;
  partitionAssigner: (current: string, members: Map<string, ExtendedGroupProtocolSubscription>, topics: Set<string>, metadata: ClusterMetadata) => GroupPartitionsAssignments[];
} {
  return {
    protocols: [{ name: GROUPING_ASSIGNER_NAME, version: 1 }],
    // asked at every (re)join: the member's current units travel in its subscription's userData
    protocolsMetadata: () => encodeMemberUserData(grouping),
    partitionAssigner(_current, members, topics, metadata) {
      const partitionsOf = (topic: string) => Array.from({ length: metadata.topics.get(topic)?.partitionsCount ?? 0 }, (_, i) => i);
      const decoded = [...members.values()].map((m) => decodeMemberUserData(m.memberId, m.metadata));
      const { partitions } = assignPartitionsByUnit(grouping.groups, topics, partitionsOf, decoded);
      return [...members.keys()].map((memberId) => {
        const assignments = new Map<string, GroupAssignment>();
        for (const [topic, list] of partitions.get(memberId) ?? []) assignments.set(topic, { topic, partitions: list });
        return { memberId, assignments };
      });
    },
  };
}
