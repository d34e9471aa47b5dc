/**
 * The loop lets timers and I/O in while it works through a backlog, also on a log that never
 * makes poll() wait (the embedded log): HTTP probes, metric scrapes and the application's own
 * timers must not wait for the next commit.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { app, serdes } from '../../src/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';

const RECORDS = 100_000;

const upper = app(
  'yield',
  (b) => {
    b.stream('in', { value: serdes.string() })
      .mapValues((v) => v.toUpperCase())
      .to('out', { value: serdes.string() });
  },
  // commits (which also yield) far apart: what runs meanwhile is the loop's own yielding
  { commitIntervalMs: 5000 },
);

describe('event loop while processing a backlog', () => {
  let dir: string;
  let log: Log;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-yield-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
    await log.admin.createTopics([{ name: 'in', partitions: 2 }]);
    const producer = log.producer();
    for (let start = 0; start < RECORDS; start += 10_000) {
      await producer.send(Array.from({ length: 10_000 }, (_, i) => ({ topic: 'in', key: Buffer.from(`k${(start + i) % 97}`), value: Buffer.from(`record ${start + i}`), timestamp: start + i, headers: {} })));
    }
    await producer.close();
  });
  after(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('timers run while the backlog is processed, not only at commits', async () => {
    const runtime = new StreamsRuntime(upper, { log, logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state') });
    const seen: number[] = [];
    const timer = setInterval(() => seen.push(runtime.stats().recordsIn), 1);
    try {
      await runtime.start();
      await runtime.waitUntilIdle(100);
    } finally {
      clearInterval(timer);
      await runtime.close();
    }
    assert.equal(runtime.stats().recordsIn, RECORDS);
    const midway = seen.filter((n) => n > 0 && n < RECORDS);
    assert.ok(midway.length >= 2, `a timer ran while records were being processed (saw ${JSON.stringify([...new Set(seen)].slice(0, 20))})`);
  });
});
