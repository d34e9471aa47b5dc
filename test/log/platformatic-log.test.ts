/**
 * What the @platformatic/kafka backend does beyond the conformance suite: fencing by
 * transactional id across processes (two logs), and task-aware assignment (`grouping`) between
 * two members. Against the real broker, fresh names per test.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FencedError } from '../../src/errors/index.js';
import { openPlatformaticLog } from '../../src/log/platformatic/index.js';
import type { LogConsumer, TopicPartition } from '../../src/log/types.js';
import { pollFor, pollUntil, record, recordingListener, text, unique } from './conformance.js';
import { withKafka } from './kafka-broker.js';

withKafka('platformatic log', (brokers) => {
  describe('platformatic log', () => {
    test('a producer in another process takes over a transactional id and fences the older one on the broker', async () => {
      const first = openPlatformaticLog({ brokers, clientId: 'fence-a' });
      const second = openPlatformaticLog({ brokers, clientId: 'fence-b' });
      try {
        const t = unique('pk-fence');
        const id = unique('pk-fence-id');
        await first.admin.createTopics([{ name: t, partitions: 1 }]);
        const old = first.producer({ transactionalId: id });
        await old.ready();
        const warm = old.beginTransaction();
        warm.send([record(t, 'k', 'old-1')]);
        await warm.commit();
        // a new instance with the same id (a restart, a successor): registers, bumping the epoch
        const newer = second.producer({ transactionalId: id });
        await newer.ready();
        const stale = old.beginTransaction();
        stale.send([record(t, 'k', 'old-2')]);
        await assert.rejects(stale.commit(), FencedError);
        const txn = newer.beginTransaction();
        txn.send([record(t, 'k', 'new-1')]);
        await txn.commit();
        const consumer = second.consumer({ isolationLevel: 'read_committed' });
        consumer.assign([{ topic: t, partition: 0 }]);
        const got = await pollUntil(consumer, 2);
        got.push(...(await pollFor(consumer, 300)));
        assert.deepEqual(got.map((r) => text(r.value)), ['old-1', 'new-1']);
        await old.close().catch(() => undefined);
      } finally {
        await Promise.all([first.close(), second.close()]);
      }
    });

    test('grouping keeps partition p of a group\'s topics on one member, balanced across two members', async () => {
      const log = openPlatformaticLog({ brokers, clientId: 'grouping', consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 6000 } });
      try {
        const a = unique('pk-group-a');
        const b = unique('pk-group-b');
        const group = unique('pk-group');
        await log.admin.createTopics([{ name: a, partitions: 2 }, { name: b, partitions: 2 }]);
        const grouping = { groups: [{ id: 0, topics: [a, b] }], localUnits: () => ({ active: [], standby: [] }) };
        const members: LogConsumer[] = [log.consumer({ groupId: group, grouping }), log.consumer({ groupId: group, grouping })];
        for (const m of members) await m.subscribe([a, b], recordingListener());
        const deadline = Date.now() + 30_000;
        let split: TopicPartition[][] = [];
        while (Date.now() < deadline) {
          await Promise.all(members.map((m) => m.poll(100)));
          split = members.map((m) => m.assignment());
          if (split.every((s) => s.length === 2) && split.flat().length === 4) break;
        }
        assert.deepEqual(split.map((s) => s.length), [2, 2], `assignments: ${JSON.stringify(split)}`);
        for (const s of split) {
          assert.equal(new Set(s.map((tp) => tp.partition)).size, 1, `one unit per member: ${JSON.stringify(s)}`);
          assert.deepEqual(s.map((tp) => tp.topic).sort(), [a, b].sort());
        }
        await Promise.all(members.map((m) => m.close()));
      } finally {
        await log.close();
      }
    });
  });
});
