/**
 * Consumer lag on Apache Kafka: per partition, produced - committed, under Tributary's and
 * kafka-lag-exporter's names; the group's members through LogAdmin.describeGroup(); and
 * `tributary lag --brokers`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startOpsServer } from '../../src/index.js';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import { partitionForKey } from '../../src/log/partitioner.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';
import { runCli } from '../helpers/cli.js';
import { withKafka } from '../log/kafka-broker.js';
import { countApp, get, lagByPartition, parseMetrics, produce, records, samples, value } from './helpers.js';

withKafka('operations metrics on Kafka', (brokers) => {
  describe('operations metrics on Kafka', () => {
    it('reports lag per partition = produced - committed, under both names, and the group members', async () => {
      const suffix = `-${randomUUID().slice(0, 8)}`;
      const application = `ops-count${suffix}`;
      const input = `ops-in${suffix}`;
      const dir = mkdtempSync(join(tmpdir(), 'tributary-ops-kafka-'));
      const log = openKafkaLog({ brokers, clientId: 'ops-test', logLevel: 'nothing', consumer: { sessionTimeoutMs: 6000, rebalanceTimeoutMs: 6000 } });
      try {
        await log.admin.createTopics([{ name: input, partitions: 3 }, { name: `ops-out${suffix}`, partitions: 3 }]);
        const first = Array.from({ length: 30 }, (_, i) => `k${i % 5}`);
        await produce(log, records(input, first));
        const runtime = new StreamsRuntime(countApp(application, input, `ops-out${suffix}`, { skipBadRecords: false }), { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
        const ops = await startOpsServer(runtime, { port: 0, metrics: { lagIntervalMs: 0, defaultMetrics: false, lagProbeMs: 15_000 } });
        try {
          await runtime.start();
          await runtime.waitUntilIdle(1000);
          const m = parseMetrics((await get(`${ops.url}/metrics`)).text);
          assert.equal(value(m, 'tributary_records_consumed_total', { application, topic: input }), 30);
          assert.deepEqual(lagByPartition(m, 'tributary_consumer_lag_records', { application }), { [`${input}/0`]: 0, [`${input}/1`]: 0, [`${input}/2`]: 0 });
          assert.equal(value(m, 'tributary_ready', { application }), 1);

          // the group's one member holds every partition, by DescribeGroups
          const group = await log.admin.describeGroup!(application);
          assert.equal(group.members.length, 1);
          assert.deepEqual(group.members[0]!.assignment!.map((tp) => `${tp.topic}/${tp.partition}`).sort(), [`${input}/0`, `${input}/1`, `${input}/2`]);
          await runtime.close();

          const more = Array.from({ length: 40 }, (_, i) => `m${i}`);
          const expected: Record<string, number> = { [`${input}/0`]: 0, [`${input}/1`]: 0, [`${input}/2`]: 0 };
          for (const k of more) expected[`${input}/${partitionForKey(Buffer.from(k), 3)}`]! += 1;
          await produce(log, records(input, more, Date.now() - 120_000));

          const lagged = parseMetrics((await get(`${ops.url}/metrics`)).text);
          assert.deepEqual(lagByPartition(lagged, 'tributary_consumer_lag_records', { application }), expected);
          assert.deepEqual(lagByPartition(lagged, 'kafka_consumergroup_group_lag', { group: application }), expected);
          assert.equal(value(lagged, 'tributary_application_lag_records', { application }), 40);
          for (const s of samples(lagged, 'kafka_consumergroup_group_lag_seconds', { group: application })) {
            const lag = expected[`${s.labels.topic}/${s.labels.partition}`]!;
            if (lag === 0) assert.equal(s.value, 0);
            else assert.ok(s.value >= 120, `the oldest unconsumed record of ${s.labels.topic}/${s.labels.partition} is 120 s old: ${s.value}`);
          }

          // the same figures from the CLI, with no member left in the group
          const cli = await runCli(['lag', 'test/ops/fixtures/ops-count.ts', '--brokers', brokers, '--json', '--no-typecheck'], { env: { TRIBUTARY_TEST_SUFFIX: suffix } });
          assert.equal(cli.code, 0, cli.stderr);
          const report = JSON.parse(cli.stdout) as { total: number; partitions: { topic: string; partition: number; lag: number; committed: number | null; owner: string | null }[] };
          assert.equal(report.total, 40);
          assert.deepEqual(Object.fromEntries(report.partitions.map((p) => [`${p.topic}/${p.partition}`, p.lag])), expected);
          assert.deepEqual(report.partitions.map((p) => p.owner), [null, null, null]);
        } finally {
          await ops.close();
          await runtime.close();
        }
      } finally {
        await log.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
