/**
 * Scale by lag, end to end on a real broker: one `tributary run` process with --http-port, a fast
 * producer builds lag, the HPA formula of deploy/k8s/hpa.yaml (External metric
 * tributary_application_lag_records, target AverageValue: desired = ceil(lag / target), clamped
 * to [min, max]) is applied to the live /metrics to decide the replica count, processes are
 * started up to it, lag drains, the formula then says 1 and the extra processes leave (SIGTERM).
 * The output is checked exactly once throughout (running counts 1, 2, 3, ... per key).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import type { Log } from '../../src/log/types.js';
import { tempDir } from '../helpers/cli.js';
import { chaosEvent, checkCounts, ProcessGroup, produceEvents, sleep } from '../helpers/kafka-cluster-run.js';
import { withKafka } from '../log/kafka-broker.js';

const USERS = 500;
const TOTAL = 150_000;
/** The HPA's target average lag per pod, and its bounds (max below the 8 partitions). */
const TARGET = 15_000;
const MIN_REPLICAS = 1;
const MAX_REPLICAS = 4;

const desiredReplicas = (lag: number) => Math.min(MAX_REPLICAS, Math.max(MIN_REPLICAS, Math.ceil(lag / TARGET)));

async function urlOf(group: ProcessGroup, id: number): Promise<string> {
  const child = group.running.get(id)!;
  await child.waitForOutput(/operations endpoints on (http:\/\/[^ ]+) /, { stream: 'stderr', timeoutMs: 60_000 });
  return /operations endpoints on (http:\/\/[^ ]+) /.exec(child.stderr())![1]!;
}

/**
 * The lag gauge from `url`'s /metrics, as Prometheus scrapes it. A scrape of a live process that
 * fails at the connection (a kept-alive socket the server closed just then, on a machine so busy
 * its event loop stalls for seconds) is retried, as Prometheus retries at the next interval; a
 * process that exited fails the test with its stderr.
 */
async function applicationLag(url: string, application: string, group: ProcessGroup, id: number): Promise<number> {
  let text = '';
  for (let attempt = 1; ; attempt++) {
    try {
      text = await (await fetch(`${url}/metrics`)).text();
      break;
    } catch (err) {
      if (group.running.has(id) && attempt < 4) {
        await sleep(500);
        continue;
      }
      assert.fail(
        `GET ${url}/metrics of p${id} failed (${(err as Error).message}: ${String((err as Error).cause)}); processes running ${group.ids().join(',')}\n${group.tails(20)}\n` +
          `ended: ${group.exited.map((e) => `p${e.id} code ${e.code} signal ${e.signal}: ${e.stderr.split('\n').slice(-8).join(' | ')}`).join('; ')}`,
      );
    }
  }
  const m = new RegExp(`^tributary_application_lag_records\\{application="${application}"\\} (\\d+)`, 'm').exec(text);
  assert.ok(m, `tributary_application_lag_records for ${application} is in /metrics`);
  return Number(m[1]);
}

withKafka('scale by lag on Kafka', (brokers) => {
  describe('scale by lag: the HPA formula on live /metrics', () => {
    const dir = tempDir('tributary-scale-');
    let log: Log;
    before(() => {
      log = openKafkaLog({ brokers, clientId: 'scale-test', logLevel: 'nothing' });
    });
    after(async () => {
      await log.close();
      dir.remove();
    });

    it('scales up while lag is high, drains it, scales back down; output exactly once', async () => {
      const prefix = `scale-${randomUUID().slice(0, 8)}`;
      const application = `${prefix}-app`;
      await log.admin.createTopics([{ name: `${prefix}-events`, partitions: 8 }]);
      const group = new ProcessGroup({ brokers, prefix, dir: dir.path, extraArgs: ['--http-port', '0'] });
      try {
        const first = group.start();
        const firstUrl = await urlOf(group, first);
        await produceEvents(log, prefix, TOTAL, USERS, 10_000, 0);
        // the lag gauge refreshes every 5 s: read it until it shows the backlog
        let lag = 0;
        for (let i = 0; i < 40 && lag < 2 * TARGET; i++) {
          await sleep(500);
          lag = await applicationLag(firstUrl, application, group, first);
        }
        const up = desiredReplicas(lag);
        assert.ok(up > 1, `lag ${lag} asks for more than one replica (asked for ${up})`);
        for (let n = group.ids().length; n < up; n++) group.start();
        const ids = group.ids();
        const urls = await Promise.all(ids.map((id) => urlOf(group, id)));
        // drain: the formula says 1 once the lag is below the target
        const seen: number[] = [lag];
        for (let i = 0; i < 240; i++) {
          await sleep(500);
          lag = await applicationLag(urls[0]!, application, group, ids[0]!);
          seen.push(lag);
          if (desiredReplicas(lag) === MIN_REPLICAS && lag < 100) break;
        }
        assert.ok(lag < 100, `lag drained (last readings: ${seen.slice(-5).join(', ')})`);
        const down = desiredReplicas(lag);
        assert.equal(down, MIN_REPLICAS);
        for (const id of group.ids().slice(down)) await group.stop(id, 'SIGTERM');
        assert.equal(group.ids().length, MIN_REPLICAS);
        // more input after scaling down: the remaining process takes every task
        const producer = log.producer();
        await producer.send(Array.from({ length: 10_000 }, (_, i) => chaosEvent(prefix, TOTAL + i, USERS)));
        await producer.close();
        await checkCounts(log, prefix, TOTAL + 10_000, USERS, 180_000);
        assert.deepEqual(group.failures(), [], 'no process failed');
        console.log(`scale by lag: ${lag} at the end; replicas 1 -> ${up} -> ${down}; lag readings ${seen.filter((_, i) => i % 4 === 0).join(', ')}`);
      } finally {
        await group.stopAll();
      }
    });
  });
});
