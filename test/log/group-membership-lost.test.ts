/**
 * A member whose session expires (here: its event loop blocked past the session timeout, as a
 * long GC pause or an overloaded host would) is dropped from the group and joins again as a new
 * member. Another member may have owned and committed its partitions meanwhile, so the consumer
 * must not present them as kept: the listener hears onLost for all of them, then onAssigned.
 * Run per Kafka client.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import { openPlatformaticLog } from '../../src/log/platformatic/index.js';
import type { Log, TopicPartition } from '../../src/log/types.js';
import { withKafka } from './kafka-broker.js';

const SESSION_MS = 6000; // the broker's group.min.session.timeout.ms

/** Blocks this process's event loop: no heartbeat leaves it. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const names = (tps: TopicPartition[]) => tps.map((tp) => tp.partition).sort((a, b) => a - b);

withKafka('group membership lost', (brokers) => {
  const clients: [string, () => Log][] = [
    ['kafkajs', () => openKafkaLog({ brokers, clientId: 'lost-test', logLevel: 'nothing', consumer: { sessionTimeoutMs: SESSION_MS, rebalanceTimeoutMs: SESSION_MS } })],
    ['platformatic', () => openPlatformaticLog({ brokers, clientId: 'lost-test', consumer: { sessionTimeoutMs: SESSION_MS, rebalanceTimeoutMs: SESSION_MS } })],
  ];
  for (const [client, open] of clients) {
    describe(`group membership lost (${client})`, () => {
      it('a member dropped by its session timeout that joins again hears onLost for what it had, then onAssigned', async () => {
        const log = open();
        const topic = `lost-${randomUUID().slice(0, 8)}`;
        try {
          await log.admin.createTopics([{ name: topic, partitions: 2 }]);
          const events: string[] = [];
          const consumer = log.consumer({ groupId: `${topic}-group` });
          await consumer.subscribe([topic], {
            onAssigned: (tps) => void events.push(`assigned ${names(tps).join(',')}`),
            onRevoked: (tps) => void events.push(`revoked ${names(tps).join(',')}`),
            onLost: (tps) => void events.push(`lost ${names(tps).join(',')}`),
          });
          for (let i = 0; i < 100 && !events.includes('assigned 0,1'); i++) await consumer.poll(100);
          assert.deepEqual(events, ['assigned 0,1'], 'joined with both partitions');
          const member = consumer.groupMetadata().memberId;
          blockFor(SESSION_MS + 3000);
          // the next heartbeat is refused (unknown member): the consumer joins again, as a new member
          for (let i = 0; i < 300 && events.length < 3; i++) await consumer.poll(100).catch(() => []);
          assert.deepEqual(events, ['assigned 0,1', 'lost 0,1', 'assigned 0,1']);
          assert.notEqual(consumer.groupMetadata().memberId, member, 'a new member id');
          await consumer.close();
        } finally {
          await log.close();
        }
      });
    });
  }
});
