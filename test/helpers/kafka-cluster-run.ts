/**
 * Helpers for the Kafka chaos tests: a group of `tributary run` processes (each with its own state
 * dir, like pods), a background producer, and a checker that reads the output at read_committed
 * and verifies running counts per key go 1, 2, 3, ... with no gap and no repeat.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Log, OutgoingRecord } from '../../src/log/types.js';
import { spawnCli, type RunningCli } from './cli.js';

export const chaosFixture = 'test/fixtures/topologies/kafka-chaos-count.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The input record number `seq`: its user (the counted key) and partition key. */
export function chaosEvent(prefix: string, seq: number, users: number): OutgoingRecord {
  const value = { user: `u${(seq * 7919) % users}`, seq };
  return { topic: `${prefix}-events`, key: Buffer.from(`k${seq % 101}`), value: Buffer.from(JSON.stringify(value)), timestamp: 1_000_000 + seq, headers: {} };
}

export function expectedCounts(total: number, users: number): Map<string, number> {
  const expected = new Map<string, number>();
  for (let seq = 0; seq < total; seq++) {
    const user = `u${(seq * 7919) % users}`;
    expected.set(user, (expected.get(user) ?? 0) + 1);
  }
  return expected;
}

/** Writes `total` events in batches, pausing between them, so processing overlaps production. */
export async function produceEvents(log: Log, prefix: string, total: number, users: number, batch = 5000, pauseMs = 200): Promise<void> {
  const producer = log.producer();
  try {
    for (let start = 0; start < total; start += batch) {
      const records: OutgoingRecord[] = [];
      for (let seq = start; seq < Math.min(total, start + batch); seq++) records.push(chaosEvent(prefix, seq, users));
      await producer.send(records);
      await sleep(pauseMs);
    }
  } finally {
    await producer.close();
  }
}

/** Processes of one application, started and killed at will. */
export class ProcessGroup {
  private next = 0;
  readonly running = new Map<number, RunningCli>();
  readonly exited: { id: number; code: number | null; signal: string | null; stderr: string }[] = [];

  constructor(
    private readonly options: { brokers: string; prefix: string; dir: string; extraArgs?: string[] },
  ) {}

  /** Starts process `id` (a new one by default) with its own state dir. */
  start(id = this.next++): number {
    const { brokers, prefix, dir } = this.options;
    const child = spawnCli(
      ['run', chaosFixture, '--brokers', brokers, '--state-dir', join(dir, `p${id}`), '--no-typecheck', '--session-timeout-ms', '6000', '--log-level', process.env.TRIBUTARY_CHAOS_LOG_LEVEL || 'info', ...(this.options.extraArgs ?? [])],
      { env: { CHAOS_PREFIX: prefix }, timeoutMs: 600_000 },
    );
    this.running.set(id, child);
    void child.exited.then((r) => {
      this.exited.push({ id, code: r.code, signal: r.signal, stderr: r.stderr });
      // for a failure that needs more than tails(): every process's whole stderr, one file per run of it
      const keep = process.env.TRIBUTARY_CHAOS_LOG_DIR;
      if (keep !== undefined && keep !== '') {
        mkdirSync(keep, { recursive: true });
        writeFileSync(join(keep, `${prefix}-p${id}-${Date.now()}.log`), r.stderr);
      }
      const ownExit = this.running.get(id) === child;
      if (ownExit) this.running.delete(id);
      // a process that ended by itself is the first thing to see when a chaos test fails
      if (ownExit) console.error(`p${id} exited by itself (code ${r.code}, signal ${r.signal}); its stderr ends:\n${r.stderr.split('\n').slice(-30).join('\n')}`);
    });
    return id;
  }

  ids(): number[] {
    return [...this.running.keys()];
  }

  async stop(id: number, signal: NodeJS.Signals): Promise<void> {
    const child = this.running.get(id);
    if (child === undefined) return;
    this.running.delete(id);
    child.kill(signal);
    await child.exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.ids().map((id) => this.stop(id, 'SIGTERM')));
  }

  /** The last lines each running process wrote to stderr (a stalled run's first clue). */
  tails(lines = 12): string {
    return [...this.running].map(([id, child]) => `p${id}:\n  ${child.stderr().split('\n').slice(-lines).join('\n  ')}`).join('\n');
  }

  /** Processes that exited on their own with a failure (not killed by the test). */
  failures(): string[] {
    return this.exited.filter((e) => e.code !== null && e.code !== 0).map((e) => `p${e.id} exited ${e.code}: ${e.stderr.split('\n').slice(-6).join(' | ')}`);
  }
}

/**
 * Reads the counts topic from the start at read_committed, checking as it goes that each key's
 * counts are 1, 2, 3, ...; resolves once `total` records were read (or fails at the deadline).
 */
export async function checkCounts(log: Log, prefix: string, total: number, users: number, deadlineMs: number, progress?: () => string | Promise<string>): Promise<void> {
  const topic = `${prefix}-counts`;
  const until = Date.now() + deadlineMs;
  while (!(await log.admin.listTopics()).includes(topic)) {
    if (Date.now() > until) assert.fail(`${topic} was never created`);
    await sleep(200);
  }
  const parts = await log.admin.offsets(topic);
  const consumer = log.consumer({ maxPollRecords: 10_000, isolationLevel: 'read_committed' });
  consumer.assign(parts.map((p) => ({ topic, partition: p.partition })));
  for (const p of parts) consumer.seek({ topic, partition: p.partition }, 0);
  const last = new Map<string, number>();
  const readPerPartition = new Map<number, number>();
  let read = 0;
  // where this reader stands per partition: stuck short of the end (a transaction never ended holds
  // the last stable offset back) and at the end with records missing are different failures
  const readerAt = () =>
    parts
      .map((p) => {
        let position = '?';
        try {
          position = String(consumer.position({ topic, partition: p.partition }));
        } catch {
          // not known yet
        }
        return `${p.partition}: read ${readPerPartition.get(p.partition) ?? 0}, at ${position}`;
      })
      .join('; ');
  try {
    while (read < total) {
      if (Date.now() > until) {
        const ends = (await log.admin.offsets(topic)).map((p) => `${p.partition}:${p.high}`).join(' ');
        assert.fail(`read ${read} of ${total} outputs before the deadline; ${(await progress?.()) ?? ''}\n${await groupProgress(log, prefix)}\nreader of ${topic} (read_committed) ${readerAt()}; ends now ${ends}`);
      }
      for (const r of await consumer.poll(200)) {
        read++;
        readPerPartition.set(r.partition, (readPerPartition.get(r.partition) ?? 0) + 1);
        const key = r.key!.toString();
        const n = r.value!.readInt32BE(0);
        assert.equal(n, (last.get(key) ?? 0) + 1, `count of ${key} went from ${last.get(key) ?? 0} to ${n} (offset ${r.partition}@${r.offset}): ${n <= (last.get(key) ?? 0) ? 'a duplicate' : 'a lost update'}`);
        last.set(key, n);
      }
    }
    // nothing more than one output per input
    const extra = await consumer.poll(1000);
    assert.equal(extra.length, 0, `more outputs than inputs: ${extra.length} extra`);
  } finally {
    await consumer.close();
  }
  assert.deepEqual(new Map([...last].sort()), new Map([...expectedCounts(total, users)].sort()));
}

/**
 * Where a stalled run stands, for the failure message: per partition of the application's input
 * and repartition topics the log end and the group's committed offset, and the output's ends.
 */
export async function groupProgress(log: Log, prefix: string): Promise<string> {
  try {
    const topics = (await log.admin.listTopics()).filter((t) => t.startsWith(`${prefix}-`)).sort();
    const inputs = topics.filter((t) => t === `${prefix}-events` || t.endsWith('-repartition'));
    const committed = new Map((await log.admin.committedOffsets(`${prefix}-app`, inputs)).map((c) => [`${c.topic}:${c.partition}`, c.offset]));
    const lines: string[] = [];
    for (const topic of topics) {
      const ends = await log.admin.offsets(topic);
      const parts = ends.map((p) => {
        const c = committed.get(`${topic}:${p.partition}`);
        return inputs.includes(topic) ? `${p.partition}:${c ?? '-'}/${p.high}${c !== undefined && c < p.high ? ' LAG' : ''}` : `${p.partition}:${p.high}`;
      });
      lines.push(`${topic} ${inputs.includes(topic) ? 'committed/end' : 'end'} ${parts.join(' ')}`);
    }
    return lines.join('\n');
  } catch (err) {
    return `(progress unavailable: ${(err as Error).message})`;
  }
}
