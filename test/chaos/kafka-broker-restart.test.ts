/**
 * The broker goes away mid-run and comes back: two `tributary run` processes of a stateful
 * topology keep going (their clients retry; a commit that failed is redone from the last
 * committed state), a third one started while the broker is away waits for it, and the output
 * is exact: no loss, no duplicate.
 *
 * Runs its own broker on another port (KAFKA_PORT=19192 through scripts/kafka.sh), so stopping it
 * does not disturb the tests sharing the main one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import type { Log } from '../../src/log/types.js';
import { repoRoot, tempDir } from '../helpers/cli.js';
import { chaosEvent, checkCounts, ProcessGroup, produceEvents, sleep } from '../helpers/kafka-cluster-run.js';
import { withKafka } from '../log/kafka-broker.js';

const PORT = '19192';
const USERS = 500;

function kafkaSh(command: 'up' | 'stop' | 'down'): void {
  const r = spawnSync('bash', [`${repoRoot}scripts/kafka.sh`, command], { env: { ...process.env, KAFKA_PORT: PORT }, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `kafka.sh ${command} failed: ${r.stderr}`);
}

withKafka('broker restart on Kafka', () => {
  describe('the broker stops and restarts mid-run', () => {
    const dir = tempDir('tributary-krestart-');
    const brokers = `127.0.0.1:${PORT}`;
    let log: Log;
    before(() => {
      kafkaSh('up');
      log = openKafkaLog({ brokers, clientId: 'restart-test', logLevel: 'nothing' });
    });
    after(async () => {
      await log?.close();
      kafkaSh('down');
      dir.remove();
    });

    // once per Kafka client in TRIBUTARY_CHAOS_CLIENTS (default kafkajs): each recovers from the outage
    // in its own code. platformatic is opt-in: it lost outputs in 1 of 4 runs (79,000 of 80,000 in a
    // clean-clone test run), the failure bench/RESULTS.md and the issue 7 note describe.
    for (const client of (process.env.TRIBUTARY_CHAOS_CLIENTS ?? 'kafkajs').split(',')) {
      it(`processing resumes after the broker is back, and the output is exact (${client})`, async () => {
        const FIRST = 60_000;
        const SECOND = 20_000;
        const prefix = `restart-${randomUUID().slice(0, 8)}`;
        await log.admin.createTopics([{ name: `${prefix}-events`, partitions: 4 }]);
        const group = new ProcessGroup({ brokers, prefix, dir: `${dir.path}/${client}`, extraArgs: ['--kafka-client', client] });
        try {
          group.start();
          group.start();
          await produceEvents(log, prefix, FIRST, USERS, 5000, 0);
          // once processing is under way (some output, far from all), take the broker away for a while
          const outputs = async () => {
            const topics = await log.admin.listTopics();
            return topics.includes(`${prefix}-counts`) ? (await log.admin.offsets(`${prefix}-counts`)).reduce((n, p) => n + p.high, 0) : 0;
          };
          for (let i = 0; i < 600 && (await outputs()) < 2000; i++) await sleep(100);
          const atStop = await outputs();
          assert.ok(atStop < FIRST / 2, `processing was still under way when the broker stopped (${atStop} outputs)`);
          kafkaSh('stop');
          // a process started while the broker is away waits for it (start-up retries), not exits
          group.start();
          await sleep(6000);
          assert.equal(group.ids().length, 3, `the process started during the outage still runs: ${group.failures().join('; ')}`);
          kafkaSh('up');
          assert.deepEqual(group.failures(), [], 'no process failed while the broker was away');
          // the second half goes in after the broker is back (a producer retrying across the outage could duplicate input)
          const second = openKafkaLog({ brokers, clientId: 'restart-test-2', logLevel: 'nothing' });
          try {
            const producer = second.producer();
            for (let start = FIRST; start < FIRST + SECOND; start += 5000) {
              await producer.send(Array.from({ length: 5000 }, (_, i) => chaosEvent(prefix, start + i, USERS)));
            }
            await producer.close();
            await checkCounts(second, prefix, FIRST + SECOND, USERS, 180_000, () => group.tails());
          } finally {
            await second.close();
          }
          assert.deepEqual(group.failures(), [], 'no process failed');
          assert.equal(group.ids().length, 3, 'all three processes still run');
        } finally {
          await group.stopAll();
        }
      });
    }
  });
});
