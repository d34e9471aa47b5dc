import type { PartitionGrouping } from '../types.js';
/**
 * Shares units (a sub-topology's partition p of every source topic: a stream task) between the
 * members of a group: balanced (loads differ by at most one), sticky (a unit stays with the member
 * running it, else goes to a member with its state on disk) and spread (a sub-topology's units
 * are spread over members rather than piled on one). Pure and deterministic: every member would
 * compute the same answer from the same input.
 */

export interface AssignorMember {
  id: string;
  /** Units the member runs now. */
  active: ReadonlySet<string>;
  /** Units whose state the member keeps on disk. */
  standby: ReadonlySet<string>;
}

export interface AssignorUnit {
  id: string;
  /** The unit's group (sub-topology): units of one group are spread across members. */
  group: string;
}

/** Member id -> the unit ids it gets (every member is listed, possibly with none). */
export function assignUnits(units: readonly AssignorUnit[], members: readonly AssignorMember[]): Map<string, string[]> {
  const sortedMembers = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const result = new Map<string, string[]>(sortedMembers.map((m) => [m.id, []]));
  if (sortedMembers.length === 0) return result;
  const sortedUnits = [...units].sort((a, b) => compareUnitIds(a.id, b.id));

  const floor = Math.floor(sortedUnits.length / sortedMembers.length);
  // this many members may hold floor + 1 units
  let extraSlots = sortedUnits.length % sortedMembers.length;
  const load = new Map<string, number>(sortedMembers.map((m) => [m.id, 0]));
  const perGroup = new Map<string, number>();
  const canTake = (m: AssignorMember) => {
    const l = load.get(m.id)!;
    return l < floor || (l === floor && extraSlots > 0);
  };
  const give = (m: AssignorMember, unit: AssignorUnit) => {
    const l = load.get(m.id)!;
    if (l === floor) extraSlots--;
    load.set(m.id, l + 1);
    result.get(m.id)!.push(unit.id);
    const g = `${m.id}\u0000${unit.group}`;
    perGroup.set(g, (perGroup.get(g) ?? 0) + 1);
  };
  /** The best taker among `candidates`: least loaded, then fewest units of the same group, then id. */
  const best = (candidates: readonly AssignorMember[], unit: AssignorUnit) => {
    let chosen: AssignorMember | undefined;
    for (const m of candidates) {
      if (!canTake(m)) continue;
      if (chosen === undefined) {
        chosen = m;
        continue;
      }
      const dl = load.get(m.id)! - load.get(chosen.id)!;
      const dg = (perGroup.get(`${m.id}\u0000${unit.group}`) ?? 0) - (perGroup.get(`${chosen.id}\u0000${unit.group}`) ?? 0);
      if (dl < 0 || (dl === 0 && dg < 0)) chosen = m;
    }
    return chosen;
  };

  const left: AssignorUnit[] = [];
  // 1. back to the member running it
  for (const unit of sortedUnits) {
    const m = best(
      sortedMembers.filter((x) => x.active.has(unit.id)),
      unit,
    );
    if (m !== undefined) give(m, unit);
    else left.push(unit);
  }
  // 2. to a member with its state on disk
  const rest: AssignorUnit[] = [];
  for (const unit of left) {
    const m = best(
      sortedMembers.filter((x) => x.standby.has(unit.id)),
      unit,
    );
    if (m !== undefined) give(m, unit);
    else rest.push(unit);
  }
  // 3. anywhere, balanced and spread
  for (const unit of rest) {
    const m = best(sortedMembers, unit);
    // cannot happen: the slots add up to the number of units
    if (m === undefined) throw new Error(`no member can take unit ${unit.id}`);
    give(m, unit);
  }
  return result;
}

/** Orders `<group>_<partition>` ids numerically where they are numbers, so 0_10 comes after 0_9. */
function compareUnitIds(a: string, b: string): number {
  const pa = a.lastIndexOf('_');
  const pb = b.lastIndexOf('_');
  const ga = a.slice(0, pa);
  const gb = b.slice(0, pb);
  if (ga !== gb) {
    const na = Number(ga);
    const nb = Number(gb);
    if (Number.isInteger(na) && Number.isInteger(nb)) return na - nb;
    return ga < gb ? -1 : 1;
  }
  return Number(a.slice(pa + 1)) - Number(b.slice(pb + 1));
}

/**
 * What a member advertises in its join metadata (versioned JSON, shared by every Kafka backend):
 * the units it runs and keeps on disk, and its query endpoint (added within v1: readers ignore
 * fields they do not know).
 */
export interface MemberUserData {
  v: 1;
  active: string[];
  standby: string[];
  endpoint?: string;
}

export function encodeMemberUserData(grouping: PartitionGrouping): Buffer {
  const { active, standby } = grouping.localUnits();
  const data: MemberUserData = { v: 1, active: [...active], standby: [...standby] };
  if (grouping.endpoint !== undefined) data.endpoint = grouping.endpoint;
  return Buffer.from(JSON.stringify(data));
}

/** A member's advertised units; one whose userData cannot be read holds nothing as far as stickiness goes. */
export function decodeMemberUserData(memberId: string, userData: Buffer | string | undefined): AssignorMember & { endpoint?: string } {
  try {
    if (userData !== undefined && userData.length > 0) {
      const data = JSON.parse(userData.toString()) as Partial<MemberUserData>;
      if (data.v === 1 && Array.isArray(data.active) && Array.isArray(data.standby)) {
        const member = { id: memberId, active: new Set(data.active.map(String)), standby: new Set(data.standby.map(String)) };
        return typeof data.endpoint === 'string' && data.endpoint !== '' ? { ...member, endpoint: data.endpoint } : member;
      }
    }
  } catch {
    // unreadable: as below
  }
  return { id: memberId, active: new Set(), standby: new Set() };
}

/**
 * Units from the groups' subscribed topics (partition p of a group's topics is unit `<id>_<p>`; a
 * subscribed topic in no group is shared partition by partition), assigned by assignUnits.
 * Returns each member's units and, per member, its partitions by topic (sorted).
 */
export function assignPartitionsByUnit(
  groups: PartitionGrouping['groups'],
  subscribed: Iterable<string>,
  partitionsOf: (topic: string) => number[],
  members: readonly AssignorMember[],
): { units: Map<string, string[]>; partitions: Map<string, Map<string, number[]>> } {
  const topics = new Set(subscribed);
  const units: AssignorUnit[] = [];
  const unitPartitions = new Map<string, { topic: string; partition: number }[]>();
  const addUnit = (id: string, group: string, topic: string, partition: number) => {
    let list = unitPartitions.get(id);
    if (list === undefined) {
      list = [];
      unitPartitions.set(id, list);
      units.push({ id, group });
    }
    list.push({ topic, partition });
  };
  const grouped = new Set<string>();
  for (const g of groups) {
    for (const topic of g.topics) {
      if (!topics.has(topic)) continue;
      grouped.add(topic);
      for (const p of partitionsOf(topic)) addUnit(`${g.id}_${p}`, String(g.id), topic, p);
    }
  }
  for (const topic of topics) {
    if (grouped.has(topic)) continue;
    for (const p of partitionsOf(topic)) addUnit(`${topic}_${p}`, `topic:${topic}`, topic, p);
  }
  const decided = assignUnits(units, members);
  const partitions = new Map<string, Map<string, number[]>>();
  for (const [memberId, list] of decided) {
    const byTopic = new Map<string, number[]>();
    for (const unit of list) {
      for (const { topic, partition } of unitPartitions.get(unit)!) {
        const l = byTopic.get(topic);
        if (l === undefined) byTopic.set(topic, [partition]);
        else l.push(partition);
      }
    }
    for (const l of byTopic.values()) l.sort((a, b) => a - b);
    partitions.set(memberId, byTopic);
  }
  return { units: decided, partitions };
}
