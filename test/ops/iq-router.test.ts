/**
 * Interactive-query routing without a broker: the grouping assigner hands every member the
 * group's map of endpoints and units, the router sends a key to its task's owner (or answers
 * locally, or 503 'task moving'), and a forwarded query is never forwarded again.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { AssignerProtocol } from 'kafkajs';
import { app, serdes } from '../../src/index.js';
import { decodeGroupAssignment, groupingAssigner } from '../../src/log/kafka/grouping-assigner.js';
import { partitionForKey } from '../../src/log/partitioner.js';
import type { GroupMemberAssignment, Log, PartitionGrouping } from '../../src/log/types.js';
import { advertiseEndpoint, type GroupView } from '../../src/ops/iq-metadata.js';
import { IqRouter, parseStoreKeyPath, type QueryableRuntime } from '../../src/ops/iq-router.js';
import type { Topology } from '../../src/topology/topology.js';
import { getJson, listenIq } from './iq-helpers.js';

const PARTITIONS = 8;

// ------------------------------------------------------------------ the assigner's group map

function fakeCluster(partitions: Record<string, number>) {
  return {
    findTopicPartitionMetadata: (topic: string) => Array.from({ length: partitions[topic] ?? 0 }, (_, i) => ({ partitionId: i })),
  };
}

function grouping(endpoint: string | undefined, active: string[] = []): PartitionGrouping {
  return { groups: [{ id: 0, topics: ['a', 'b'] }], localUnits: () => ({ active, standby: [] }), ...(endpoint !== undefined ? { endpoint } : {}) };
}

async function runAssignment(groupings: Record<string, PartitionGrouping>) {
  const cluster = fakeCluster({ a: 4, b: 4 });
  const members = Object.entries(groupings).map(([memberId, g]) => {
    const assigner = groupingAssigner(g)({ cluster } as never);
    const { metadata } = assigner.protocol({ topics: ['a', 'b'] });
    return { memberId, memberMetadata: metadata };
  });
  const leader = groupingAssigner(Object.values(groupings)[0]!)({ cluster } as never);
  return leader.assign({ members, topics: ['a', 'b'] } as never);
}

describe('grouping assigner: the group map in every assignment', () => {
  test('every member gets every member’s endpoint and units, matching the partitions assigned', async () => {
    const result = await runAssignment({ m1: grouping('h1:1'), m2: grouping('h2:2', ['0_3']), m3: grouping(undefined) });
    const maps = result.map((r) => decodeGroupAssignment(r.memberAssignment));
    for (const m of maps) assert.deepEqual(m, maps[0], 'all members get the same map');
    const map = maps[0]!;
    assert.equal(map.length, 3);
    assert.deepEqual(map.map((m) => m.endpoint), ['h1:1', 'h2:2', undefined]);
    assert.deepEqual(map.flatMap((m) => m.units).sort(), ['0_0', '0_1', '0_2', '0_3']);
    assert.ok(map[1]!.units.includes('0_3'), 'sticky: the unit stays where it runs');
    // each member's partitions are exactly its units' partitions of both topics
    for (const [i, r] of result.entries()) {
      const decoded = AssignerProtocol.MemberAssignment.decode(r.memberAssignment)!;
      const partitions = new Set(map[i]!.units.map((u) => Number(u.split('_')[1])));
      for (const topic of ['a', 'b']) assert.deepEqual((decoded.assignment[topic] ?? []).slice().sort(), [...partitions].sort());
    }
  });

  test('an assignment without the map (an older leader) or unreadable gives undefined', () => {
    const old = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: { a: [0] }, userData: Buffer.alloc(0) });
    assert.equal(decodeGroupAssignment(old), undefined);
    const junk = AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: { a: [0] }, userData: Buffer.from('{"v":2}') });
    assert.equal(decodeGroupAssignment(junk), undefined);
    assert.equal(decodeGroupAssignment(Buffer.alloc(0)), undefined);
  });
});

// ------------------------------------------------------------------ routing

const countsApp = app('iq-unit', (b) => {
  b.stream('words', { key: serdes.string(), value: serdes.string() }).groupByKey().count({ store: 'counts' });
});

function fakeRuntime(topology: Topology, tasks: string[], counts: Map<string, number> = new Map()) {
  const log = {
    kind: 'kafka',
    capabilities: { generationFencing: false, exclusiveGroupMember: false },
    admin: { describeTopics: async (names: string[]) => names.map((name) => ({ name, partitions: PARTITIONS, cleanupPolicy: 'delete', internal: false })) },
  } as unknown as Log;
  const runtime: QueryableRuntime & { store<S>(name: string): S } = {
    log,
    compiledTopology: () => topology,
    taskIds: () => tasks,
    store: <S>() => ({ get: (k: unknown) => counts.get(String(k)) }) as S,
  };
  return runtime;
}

const taskOf = (key: string) => `0_${partitionForKey(Buffer.from(key), PARTITIONS)}`;

describe('IqRouter.route', () => {
  const topology = countsApp.topology();
  const key = 'alpha';
  const task = taskOf(key);
  const bytes = Buffer.from(key);
  const group = (members: GroupMemberAssignment[]): (() => GroupView) => () => ({ kind: 'group', members });

  test('the key’s task is its murmur2 partition of the source topic', async () => {
    const router = new IqRouter({ runtime: fakeRuntime(topology, []), endpoint: 'me:1', groupView: () => ({ kind: 'single' }) });
    for (const k of ['a', 'bb', 'customer-42', 'ü']) assert.equal(await router.taskFor(topology, 'counts', Buffer.from(k)), taskOf(k));
    assert.deepEqual(router.keyBytes('counts', 'customer-42'), Buffer.from('customer-42'));
  });

  test('one member (embedded log): local when the task runs here, else 503 retriable', async () => {
    const single = () => ({ kind: 'single' }) as const;
    assert.deepEqual(await new IqRouter({ runtime: fakeRuntime(topology, [task]), endpoint: 'me:1', groupView: single }).route('counts', bytes), { kind: 'local', task });
    const r = await new IqRouter({ runtime: fakeRuntime(topology, []), endpoint: 'me:1', groupView: single }).route('counts', bytes);
    assert.equal(r.kind, 'unavailable');
    assert.ok(r.kind === 'unavailable' && r.status === 503 && r.retriable && r.error === 'task moving');
  });

  test('a group: to the owner’s endpoint, local only when this instance owns and runs the task', async () => {
    const others = ['0_0', '0_1', '0_2', '0_3', '0_4', '0_5', '0_6', '0_7'].filter((t) => t !== task);
    const mine = group([
      { endpoint: 'me:1', units: [task] },
      { endpoint: 'other:2', units: others },
    ]);
    const theirs = group([
      { endpoint: 'me:1', units: others },
      { endpoint: 'other:2', units: [task] },
    ]);
    assert.deepEqual(await new IqRouter({ runtime: fakeRuntime(topology, [task]), endpoint: 'me:1', groupView: mine }).route('counts', bytes), { kind: 'local', task });
    assert.deepEqual(await new IqRouter({ runtime: fakeRuntime(topology, [task]), endpoint: 'me:1', groupView: theirs }).route('counts', bytes), { kind: 'remote', task, endpoint: 'other:2' });
    // owned but not running here yet (restoring, or the runtime has not applied the assignment)
    const restoring = await new IqRouter({ runtime: fakeRuntime(topology, []), endpoint: 'me:1', groupView: mine }).route('counts', bytes);
    assert.ok(restoring.kind === 'unavailable' && restoring.retriable && restoring.status === 503);
    // no owner, or the group is rebalancing
    const orphan = await new IqRouter({ runtime: fakeRuntime(topology, [task]), endpoint: 'me:1', groupView: group([{ endpoint: 'other:2', units: others }]) }).route('counts', bytes);
    assert.ok(orphan.kind === 'unavailable' && orphan.retriable);
    const rebalancing = await new IqRouter({ runtime: fakeRuntime(topology, [task]), endpoint: 'me:1', groupView: () => ({ kind: 'unknown' }) }).route('counts', bytes);
    assert.ok(rebalancing.kind === 'unavailable' && rebalancing.retriable && rebalancing.reason.includes('rebalancing'));
  });

  test('an unknown store is a 404, not retriable', async () => {
    const r = await new IqRouter({ runtime: fakeRuntime(topology, []), endpoint: 'me:1', groupView: () => ({ kind: 'single' }) }).route('nope', bytes);
    assert.ok(r.kind === 'unavailable' && r.status === 404 && !r.retriable);
  });

  test('parseStoreKeyPath reads store and key, URL-decoded', () => {
    assert.deepEqual(parseStoreKeyPath('/stores/counts/keys/a%20b?x=1'), { store: 'counts', keyText: 'a b' });
    assert.equal(parseStoreKeyPath('/stores/counts'), undefined);
    assert.equal(parseStoreKeyPath('/stores/counts/keys/%E0%A4%A'), undefined);
  });

  test('advertiseEndpoint adds the endpoint to the grouping consumer only, and refuses a bad endpoint', () => {
    const made: { grouping?: PartitionGrouping }[] = [];
    const inner = { kind: 'kafka', capabilities: { generationFencing: false, exclusiveGroupMember: false }, consumer: (o: { grouping?: PartitionGrouping }) => (made.push(o), { groupAssignment: () => undefined }) } as unknown as Log;
    const { log, groupView } = advertiseEndpoint(inner, 'pod-0.svc:9464', { groupId: 'app' });
    assert.deepEqual(groupView(), { kind: 'unknown' });
    log.consumer({ groupId: 'app', grouping: grouping(undefined) });
    log.consumer({ groupId: 'app-projection-x' });
    assert.equal(made[0]!.grouping!.endpoint, 'pod-0.svc:9464');
    assert.equal(made[1]!.grouping, undefined);
    assert.throws(() => advertiseEndpoint(inner, 'no-port'), /host:port/);
  });
});

describe('IqRouter over HTTP', () => {
  const topology = countsApp.topology();
  const key = 'alpha';
  const task = taskOf(key);

  test('forwards to the owner and relays its answer; a forwarded query is never forwarded again', async () => {
    const a = await listenIq();
    const b = await listenIq();
    const ea = `127.0.0.1:${a.port}`;
    const eb = `127.0.0.1:${b.port}`;
    // A and B agree that B owns the task
    const agreed: GroupView = { kind: 'group', members: [{ endpoint: ea, units: [] }, { endpoint: eb, units: [task] }] };
    const runtimeA = fakeRuntime(topology, []);
    const runtimeB = fakeRuntime(topology, [task], new Map([[key, 7]]));
    let viewA: GroupView = agreed;
    let viewB: GroupView = agreed;
    const sa = a.attach(new IqRouter({ runtime: runtimeA, endpoint: ea, groupView: () => viewA }), runtimeA);
    const sb = b.attach(new IqRouter({ runtime: runtimeB, endpoint: eb, groupView: () => viewB }), runtimeB);
    try {
      const viaA = await getJson(a.port, `/stores/counts/keys/${key}`);
      assert.deepEqual(viaA, { status: 200, body: { store: 'counts', key, value: 7 }, servedBy: eb });
      const direct = await getJson(b.port, `/stores/counts/keys/${key}`);
      assert.equal(direct.status, 200);

      // views disagree: A thinks B owns it, B thinks A does. One hop, then 503 retriable.
      viewB = { kind: 'group', members: [{ endpoint: ea, units: [task] }, { endpoint: eb, units: [] }] };
      sa.received.length = 0;
      sb.received.length = 0;
      const bounced = await getJson(a.port, `/stores/counts/keys/${key}`);
      assert.equal(bounced.status, 503);
      assert.deepEqual({ error: bounced.body.error, retriable: bounced.body.retriable }, { error: 'task moving', retriable: true });
      assert.deepEqual(sa.received.map((r) => r.forwarded), [false]);
      assert.deepEqual(sb.received.map((r) => r.forwarded), [true]);

      // rebalancing: 503 retriable without asking anyone
      viewA = { kind: 'unknown' };
      sb.received.length = 0;
      const moving = await getJson(a.port, `/stores/counts/keys/${key}`);
      assert.equal(moving.status, 503);
      assert.equal(moving.body.retriable, true);
      assert.equal(sb.received.length, 0);
    } finally {
      await sa.close();
      await sb.close();
    }
  });

  test('an owner that does not answer gives 503 retriable', async () => {
    const a = await listenIq();
    const gone = await listenIq();
    const dead = `127.0.0.1:${gone.port}`;
    await new Promise<void>((resolve) => gone.server.close(() => resolve()));
    const runtime = fakeRuntime(topology, []);
    const sa = a.attach(new IqRouter({ runtime, endpoint: `127.0.0.1:${a.port}`, groupView: () => ({ kind: 'group', members: [{ endpoint: dead, units: [task] }] }), forwardTimeoutMs: 1000 }), runtime);
    try {
      const r = await getJson(a.port, `/stores/counts/keys/${key}`);
      assert.equal(r.status, 503);
      assert.equal(r.body.retriable, true);
      assert.match(r.body.reason, /did not answer/);
    } finally {
      await sa.close();
    }
  });
});
