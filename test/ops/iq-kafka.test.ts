/**
 * Interactive queries across instances on a real broker: 3 runtimes of one counting app, each
 * with its operations server (startOpsServer, src/ops/http-server.ts) whose store queries go
 * through an IqRouter (router.storeQueryOptions()), advertising its endpoint to the group. Any key asked of any instance gets
 * the right count, and while instances join and leave (rebalances) every answer is either the
 * right count or a retriable 503 'task moving', never a wrong or missing value.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { app, serdes } from '../../src/index.js';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import type { Log } from '../../src/log/types.js';
import { advertiseEndpoint } from '../../src/ops/iq-metadata.js';
import { startOpsServer, type OpsServer } from '../../src/ops/http-server.js';
import { IqRouter } from '../../src/ops/iq-router.js';
import { createLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';
import { withKafka } from '../log/kafka-broker.js';
import { getJson } from './iq-helpers.js';

const KEYS = 40;
const PER_KEY = 5;
const logger = createLogger({ level: (process.env.TEST_LOG as 'debug' | undefined) ?? 'silent' });

interface Instance {
  name: string;
  port: number;
  log: Log;
  runtime: StreamsRuntime;
  server: OpsServer;
  stateDir: string;
}

withKafka('interactive queries across instances on Kafka', (brokers) => {
  test('any key from any instance, also while instances join and leave', { timeout: 240_000 }, async () => {
    const suffix = randomUUID().slice(0, 8);
    const topic = `iq-words-${suffix}`;
    const appId = `iq-counts-${suffix}`;
    const counting = app(appId, (b) => {
      b.stream(topic, { key: serdes.string(), value: serdes.string() })
        .groupByKey()
        .count({ store: 'counts' })
        .toStream()
        .to(`iq-counts-out-${suffix}`, { value: serdes.int32() });
    });
    const openLog = () => openKafkaLog({ brokers, clientId: `iq-${suffix}`, logLevel: 'nothing', consumer: { sessionTimeoutMs: 6000, rebalanceTimeoutMs: 6000 } });
    const admin = openLog();
    const instances: Instance[] = [];
    const start = async (name: string): Promise<Instance> => {
      // the server listens on port 0 before the runtime joins: the endpoint is read at each join
      let port = 0;
      const endpoint = () => `127.0.0.1:${port}`;
      const inner = openLog();
      const { log, groupView } = advertiseEndpoint(inner, endpoint, { groupId: appId });
      const stateDir = mkdtempSync(join(tmpdir(), `iq-${name}-`));
      const runtime = new StreamsRuntime(counting, { log, logger, pollMs: 20, stateDir });
      const router = new IqRouter({ runtime, endpoint, groupView, forwardTimeoutMs: 3000 });
      const server = await startOpsServer(runtime, { port: 0, stores: router.storeQueryOptions(), metrics: { lagIntervalMs: 60_000, defaultMetrics: false } });
      port = server.port;
      await runtime.start();
      const instance = { name, port, log: inner, runtime, server, stateDir };
      instances.push(instance);
      return instance;
    };
    const stop = async (instance: Instance) => {
      instances.splice(instances.indexOf(instance), 1);
      await instance.runtime.close();
      await instance.server.close();
      await instance.log.close();
      rmSync(instance.stateDir, { recursive: true, force: true });
    };

    const keys = Array.from({ length: KEYS }, (_, i) => `user-${i}`);
    /** Every answer seen, by kind; wrong ones are kept to report. */
    const seen = { ok: 0, moving: 0, wrong: [] as string[] };
    const ask = async (instance: Instance, key: string): Promise<'ok' | 'moving' | 'partial'> => {
      const r = await getJson(instance.port, `/stores/counts/keys/${encodeURIComponent(key)}`);
      if (r.status === 200 && r.body?.value === PER_KEY && r.body?.key === key) {
        seen.ok++;
        return 'ok';
      }
      if (r.status === 503 && r.body?.retriable === true && r.body?.error === 'task moving') {
        seen.moving++;
        return 'moving';
      }
      return 'partial' as const;
    };
    /** Until every instance answers every key with the full count (before that, partial counts are normal). */
    const settle = async (label: string) => {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const answers = await Promise.all(instances.flatMap((i) => keys.map((k) => ask(i, k))));
        if (answers.every((a) => a === 'ok')) return;
        assert.ok(Date.now() < deadline, `${label}: not every instance answered every key within 90 s (${answers.filter((a) => a !== 'ok').length} not ok)`);
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    /** Queries every key at every instance in a loop until `until` settles: only full counts or 503 retriable allowed. */
    const hammer = async (until: Promise<unknown>) => {
      let done = false;
      void until.finally(() => (done = true));
      let rounds = 0;
      while (!done || rounds < 3) {
        rounds++;
        await Promise.all(
          instances.flatMap((i) =>
            keys.map(async (k) => {
              const r = await getJson(i.port, `/stores/counts/keys/${encodeURIComponent(k)}`).catch((e: unknown) => ({ status: -1, body: String(e), servedBy: undefined }));
              if (r.status === 200 && r.body?.value === PER_KEY) seen.ok++;
              else if (r.status === 503 && r.body?.retriable === true) seen.moving++;
              else if (r.status !== -1) seen.wrong.push(`${i.name} ${k}: ${r.status} ${JSON.stringify(r.body)}`);
            }),
          ),
        );
      }
      await until;
    };

    try {
      await admin.admin.createTopics([{ name: topic, partitions: 6 }]);
      const producer = admin.producer();
      await producer.send(keys.flatMap((k) => Array.from({ length: PER_KEY }, (_, i) => ({ topic, key: Buffer.from(k), value: Buffer.from(`w${i}`), timestamp: 1000 + i, headers: {} }))));
      await producer.close();

      await Promise.all(['a', 'b', 'c'].map((n) => start(n)));
      await settle('3 instances');
      // each instance answered for keys it does not hold: some answers were forwarded
      let forwarded = 0;
      for (const i of instances) for (const k of keys) if ((await getJson(i.port, `/stores/counts/keys/${k}`)).servedBy !== undefined) forwarded++;
      assert.ok(forwarded > 0, 'no query was forwarded to another instance');

      // a fourth instance joins: the group rebalances while every instance is queried
      await hammer(start('d'));
      await hammer(settle('after d joined'));
      // one leaves
      await hammer(stop(instances[0]!));
      await hammer(settle('after a left'));

      assert.deepEqual(seen.wrong, [], 'answers other than the full count or a retriable 503');
      assert.ok(seen.ok > 0);
      // report how many retriable answers the rebalances caused (informational)
      process.stderr.write(`iq-kafka: ${seen.ok} correct answers, ${seen.moving} retriable 'task moving'\n`);
    } finally {
      for (const i of [...instances]) await stop(i).catch(() => undefined);
      await admin.close();
    }
  });
});
