/**
 * The runtime's two ways to commit: one transaction for all tasks ('shared', where the log
 * fences stale group members) and one per task with a transactional id per task ('per-task',
 * for logs that fence only by transactional id, as Kafka through kafkajs). Same results either
 * way; a zombie holding a task's id is fenced.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { app, FencedError, serdes, testTopology } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';
import { latestInt32Values } from '../helpers/latest-values.js';

const counting = app('modes', (b) => {
  b.stream('words', { value: serdes.string() })
    .flatMapValues((line) => line.split(' '))
    .groupBy((_, w) => w)
    .count({ store: 'word-counts' })
    .toStream()
    .to('word-counts', { value: serdes.int32() });
});

const lines = Array.from({ length: 400 }, (_, i) => [`k${i % 7}`, `the quick ${i % 3 === 0 ? 'brown' : 'red'} fox ${i % 5}`] as const);

describe('commit modes', () => {
  let dir: string;
  let log: Log;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-modes-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
  });
  afterEach(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function produce(from: number, to: number) {
    const producer = log.producer();
    await producer.send(lines.slice(from, to).map(([k, v], i) => ({ topic: 'words', key: Buffer.from(k), value: Buffer.from(v), timestamp: from + i, headers: {} })));
    await producer.close();
  }

  const finalCounts = () => latestInt32Values(log, 'word-counts');

  it("'per-task' gives the same results as testTopology across a restart, one transactional id per task", async () => {
    const t = testTopology(counting);
    for (const [k, v] of lines) t.input('words').pipe(k, v);
    const expected = new Map([...t.output('word-counts', { value: serdes.int32() }).readKeyValuesToMap()].sort());

    await log.admin.createTopics([{ name: 'words', partitions: 3 }]);
    for (const [from, to] of [[0, 250], [250, 400]] as const) {
      await produce(from, to);
      const runtime = new StreamsRuntime(counting, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state'), commitMode: 'per-task' });
      await runtime.start();
      await runtime.waitUntilIdle(150);
      await runtime.close();
    }
    assert.deepEqual(await finalCounts(), expected);
  });

  it("'per-task': a zombie holding a task's transactional id is fenced, and nothing of its commit is written", async () => {
    await log.admin.createTopics([{ name: 'words', partitions: 1 }]);
    await produce(0, 10);
    const runtime = new StreamsRuntime(counting, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state'), commitMode: 'per-task' });
    await runtime.start();
    await runtime.waitUntilIdle(150);
    const before = await finalCounts();
    // Another instance takes task 0_0 over: its producer with the same id bumps the epoch.
    const successor = log.producer({ transactionalId: 'modes-0_0' });
    await produce(10, 20);
    await assert.rejects(runtime.stopped, (err: unknown) => err instanceof FencedError && /taken over/.test((err as Error).message));
    assert.deepEqual(await finalCounts(), before, 'the fenced commit wrote nothing');
    await successor.close();
  });
});
