/**
 * Pipelined commits: while a commit's transaction is in flight, the runtime processes the next
 * records into a fresh batch (output, store writes, offsets) instead of waiting; when that
 * commit fails, the work done meanwhile is thrown away with it and redone from the last commit,
 * so counts in a store with a changelog stay exact. The log's transactions are held open here
 * by a wrapper, which stands for a slow broker.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { app, serdes, testTopology } from '../../src/index.js';
import { TributaryError } from '../../src/errors/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { Log, LogProducer, LogTransaction } from '../../src/log/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StreamsRuntime } from '../../src/runtime/streams-runtime.js';
import { latestInt32Values } from '../helpers/latest-values.js';

/** Counts words, committing every `ms` (long enough for the loop to run on while one commit is held). */
const withInterval = (ms: number) => app('pipelined', (b) => {
  b.stream('words', { value: serdes.string() })
    .groupBy((_, w) => w)
    .count({ store: 'word-counts' })
    .toStream()
    .to('word-counts', { value: serdes.int32() });
}, { commitIntervalMs: ms });

const words = Array.from({ length: 600 }, (_, i) => `w${(i * 7) % 23}`);

/** A property of `target` read through a proxy: methods bound to the target (private fields). */
function forward(target: object, prop: string | symbol): unknown {
  const v = Reflect.get(target, prop);
  return typeof v === 'function' ? v.bind(target) : v;
}

/** Holds the n-th transaction commit until released; it then commits, or fails as told. */
class HeldCommits {
  commits = 0;
  private holdAt = Infinity;
  private release: ((fail: boolean) => void) | undefined;
  held = false;

  holdNext(): void {
    this.holdAt = this.commits + 1;
  }

  let(fail: boolean): void {
    this.holdAt = Infinity;
    this.release?.(fail);
    this.release = undefined;
  }

  wrap(log: Log): Log {
    const wrapProducer = (producer: LogProducer): LogProducer =>
      new Proxy(producer, {
        get: (target, prop) => {
          if (prop !== 'beginTransaction') return forward(target, prop);
          return (): LogTransaction => {
            const txn = target.beginTransaction();
            return new Proxy(txn, {
              get: (t, p) => {
                if (p !== 'commit') return forward(t, p);
                return async () => {
                  this.commits++;
                  if (this.commits === this.holdAt) {
                    this.held = true;
                    const fail = await new Promise<boolean>((resolve) => (this.release = resolve));
                    this.held = false;
                    if (fail) throw new TributaryError('the broker went away (test)', { retriable: true });
                  }
                  return t.commit();
                };
              },
            });
          };
        },
      });
    return new Proxy(log, {
      get: (target, prop) => {
        if (prop !== 'producer') return forward(target, prop);
        return (...args: Parameters<Log['producer']>) => wrapProducer(target.producer(...args));
      },
    });
  }
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('pipelined commits', () => {
  let dir: string;
  let log: Log;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-pipelined-'));
    log = openEmbeddedLog({ path: join(dir, 'log.db') });
    await log.admin.createTopics([{ name: 'words', partitions: 2 }]);
  });
  afterEach(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function produce(from: number, to: number): Promise<void> {
    const producer = log.producer();
    await producer.send(words.slice(from, to).map((w, i) => ({ topic: 'words', key: Buffer.from(w), value: Buffer.from(w), timestamp: from + i, headers: {} })));
    await producer.close();
  }

  const finalCounts = () => latestInt32Values(log, 'word-counts');

  function expected(): Map<string, number> {
    const t = testTopology(withInterval(500));
    for (const w of words) t.input('words').pipe(w, w);
    return new Map([...t.output('word-counts', { value: serdes.int32() }).readKeyValuesToMap()].sort());
  }

  for (const shared of [true, false]) {
    const mode = shared ? 'shared' : 'per-task';
    it(`${mode}: processes on while a commit is in flight; a failed one takes the work done meanwhile with it, counts stay exact`, async () => {
      const held = new HeldCommits();
      await produce(0, 200);
      const runtime = new StreamsRuntime(withInterval(500), { log: held.wrap(log), logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state'), commitMode: mode });
      await runtime.start();
      await runtime.waitUntilIdle(100);
      assert.equal(runtime.stats().recordsIn, 200);
      held.holdNext();
      await produce(200, 300);
      await until('a commit is held', () => held.held);
      // records produced after the held commit began are taken (and counted) while it is in flight
      await produce(300, 400);
      await until('records are taken while the commit is in flight', () => runtime.stats().recordsIn === 400);
      assert.equal(held.held, true, 'still in flight');
      held.let(true);
      await produce(400, 600);
      await runtime.waitUntilIdle(150);
      await runtime.close();
      assert.ok(runtime.stats().transactionAborts >= 1, 'the failed commit was counted');
      assert.deepEqual(await finalCounts(), expected());
    });
  }

  it('with pipelineCommits false the loop waits for each commit', async () => {
    const held = new HeldCommits();
    await produce(0, 200);
    const runtime = new StreamsRuntime(withInterval(500), { log: held.wrap(log), logger: silentLogger, pollMs: 20, stateDir: join(dir, 'state'), pipelineCommits: false });
    await runtime.start();
    await runtime.waitUntilIdle(100);
    held.holdNext();
    await produce(200, 300);
    await until('a commit is held', () => held.held);
    await produce(300, 400);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(runtime.stats().recordsIn, 300, 'nothing taken while the commit is in flight');
    held.let(false);
    await produce(400, 600);
    await runtime.waitUntilIdle(150);
    await runtime.close();
    assert.deepEqual(await finalCounts(), expected());
  });
});
