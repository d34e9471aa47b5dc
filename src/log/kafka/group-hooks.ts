/**
 * What kafkajs does not tell a consumer about its group: the generation id (GROUP_JOIN carries
 * the member id and the assignment, not the generation) and the moment a rebalance starts.
 *
 * kafkajs hands every partition assigner its consumer's own cluster object. The assigner made
 * here wraps the real one (round robin by default; a task assigner later) and, through that
 * cluster, watches the group coordinator's JoinGroup calls: `onJoinStart` when the consumer
 * (re)joins, `onJoined` with the generation and member id the coordinator answered; and its
 * SyncGroup answers (`onSynced`, the raw assignment with its userData).
 *
 * This reaches into kafkajs' cluster and broker objects (`findGroupCoordinator`, `joinGroup`),
 * which are not its documented API; package.json pins kafkajs 2.2.4 and the conformance suite
 * checks the generation after every join.
 */
import type { Assigner, Cluster, PartitionAssigner } from 'kafkajs';

export interface GroupObserver {
  /** The consumer is about to send JoinGroup: its current assignment is about to be revoked. */
  onJoinStart(): void;
  /** JoinGroup answered. */
  onJoined(generationId: number, memberId: string): void;
  /**
   * SyncGroup answered with this member's assignment, raw: kafkajs decodes it and drops its
   * userData, where the grouping assigner's leader puts the whole group's map.
   */
  onSynced?(memberAssignment: Buffer): void;
}

interface JoinGroupResponse {
  generationId: number;
  memberId: string;
}

interface HookableBroker {
  joinGroup(request: unknown): Promise<JoinGroupResponse>;
  syncGroup?(request: unknown): Promise<{ memberAssignment: Buffer }>;
  [HOOKED]?: true;
}

const HOOKED = Symbol('tributary.groupHooks');

function hookBroker(broker: HookableBroker, observer: GroupObserver): void {
  if (broker[HOOKED] || typeof broker.joinGroup !== 'function') return;
  const join = broker.joinGroup.bind(broker);
  broker.joinGroup = async (request: unknown) => {
    observer.onJoinStart();
    const response = await join(request);
    observer.onJoined(response.generationId, response.memberId);
    return response;
  };
  if (typeof broker.syncGroup === 'function' && observer.onSynced !== undefined) {
    const sync = broker.syncGroup.bind(broker);
    broker.syncGroup = async (request: unknown) => {
      const response = await sync(request);
      if (Buffer.isBuffer(response?.memberAssignment)) observer.onSynced!(response.memberAssignment);
      return response;
    };
  }
  broker[HOOKED] = true;
}

function hookCluster(cluster: Cluster, observer: GroupObserver): void {
  const c = cluster as Cluster & { [HOOKED]?: true };
  if (c[HOOKED]) return;
  const find = cluster.findGroupCoordinator.bind(cluster);
  c.findGroupCoordinator = async (group: { groupId: string; coordinatorType?: number }) => {
    const broker = await find(group);
    // coordinatorType 1 is a transaction coordinator; consumers ask for group coordinators (0 / unset)
    if (group.coordinatorType === undefined || group.coordinatorType === 0) hookBroker(broker as unknown as HookableBroker, observer);
    return broker;
  };
  c[HOOKED] = true;
}

/** Wraps `inner` so that the consumer using it reports its joins to `observer`. */
export function observingAssigner(inner: PartitionAssigner, observer: GroupObserver): PartitionAssigner {
  return (config): Assigner => {
    hookCluster(config.cluster, observer);
    return inner(config);
  };
}
