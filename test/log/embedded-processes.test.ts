/**
 * The embedded log shared by several processes: one live member per group across processes,
 * takeover after kill -9, and no partial transaction ever visible after a writer is killed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApplicationRunningError } from '../../src/errors/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import type { ConsumedRecord } from '../../src/log/types.js';
import { recordingListener } from './conformance.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = join(root, 'test', 'fixtures');

interface Child {
  process: ChildProcess;
  lines: string[];
  nextLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];

function start(fixture: string, args: string[]): Child {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', join(fixtures, fixture), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  let seen = 0;
  function nextLine(match: (line: string) => boolean, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        while (seen < lines.length) {
          const line = lines[seen++]!;
          if (match(line)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(line);
            return;
          }
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`${fixture} exited (${child.exitCode ?? child.signalCode}) before the expected line; stderr:\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${fixture}: no expected line within ${timeoutMs} ms; stdout: ${lines.join(' | ')}; stderr:\n${stderr}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  }
  return { process: child, lines, nextLine, exited };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-processes-'));
});
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface MemberLine {
  ok: boolean;
  generation?: number;
  pid?: number;
  name?: string;
  message?: string;
}

test('a second process gets ApplicationRunningError while the first holds the group; after kill -9 it is taken over', { timeout: 120_000 }, async () => {
  const path = join(dir, 'group.db');
  const log = openEmbeddedLog({ path });
  await log.admin.createTopics([{ name: 'orders', partitions: 2 }]);

  const holder = start('embedded-group-member.ts', [path, 'order-stats', 'orders', 'hold']);
  const held = JSON.parse(await holder.nextLine((l) => l.startsWith('{'))) as MemberLine;
  assert.equal(held.ok, true, JSON.stringify(held));
  assert.equal(held.pid, holder.process.pid);

  const second = start('embedded-group-member.ts', [path, 'order-stats', 'orders', 'once']);
  const refused = JSON.parse(await second.nextLine((l) => l.startsWith('{'))) as MemberLine;
  assert.equal(refused.ok, false);
  assert.equal(refused.name, 'ApplicationRunningError');
  assert.match(refused.message!, new RegExp(`^application 'order-stats' is already running \\(pid ${held.pid}, started \\d{4}-\\d\\d-\\d\\dT.*\\) on log .*group\\.db: stop it first$`));
  await second.exited;

  // this process sees the other one as live too, and a reset is refused
  const here = log.consumer({ groupId: 'order-stats' });
  await here.subscribe(['orders'], recordingListener());
  await assert.rejects(here.poll(0), ApplicationRunningError);
  await assert.rejects(log.admin.setCommittedOffsets('order-stats', [{ topic: 'orders', partition: 0, offset: 0 }]), ApplicationRunningError);

  holder.process.kill('SIGKILL');
  assert.deepEqual(await holder.exited, { code: null, signal: 'SIGKILL' });

  const third = start('embedded-group-member.ts', [path, 'order-stats', 'orders', 'once']);
  const took = JSON.parse(await third.nextLine((l) => l.startsWith('{'))) as MemberLine;
  assert.equal(took.ok, true, JSON.stringify(took));
  assert.ok(took.generation! > held.generation!, `generation ${took.generation} > ${held.generation}`);
  assert.equal((await third.exited).code, 0);

  // the third left cleanly: this process can join now, with a higher generation still
  await here.poll(0);
  assert.ok(here.groupMetadata().generationId > took.generation!);
  await log.close();
});

test('a writer killed with SIGKILL mid-transaction: every committed transaction is complete, no partial one is visible', { timeout: 180_000 }, async () => {
  const path = join(dir, 'writer.db');
  const setup = openEmbeddedLog({ path });
  await setup.admin.createTopics([
    { name: 'events', partitions: 4 },
    { name: 'source', partitions: 1 },
  ]);
  await setup.close();

  const reported = new Map<string, Set<number>>(); // run -> transactions the writer said it committed
  let lastGeneration = 0;
  for (let run = 0; run < 3; run++) {
    const writer = start('embedded-txn-writer.ts', [path, `r${run}`]);
    const ready = await writer.nextLine((l) => l.startsWith('ready'));
    const generation = Number(ready.split(' ')[1]);
    assert.ok(generation > lastGeneration, `run ${run}: generation ${generation} > ${lastGeneration} (took over the killed writer)`);
    lastGeneration = generation;
    await writer.nextLine((l) => l.startsWith('committed'));
    await new Promise((r) => setTimeout(r, 30 + Math.floor(Math.random() * 300)));
    writer.process.kill('SIGKILL');
    const exit = await writer.exited;
    assert.equal(exit.signal, 'SIGKILL', 'the writer was still writing when killed (raise its bounds if not)');
    reported.set(`r${run}`, new Set(writer.lines.filter((l) => l.startsWith('committed')).map((l) => Number(l.split(' ')[1]))));

    // the file reopens; read everything back
    const log = openEmbeddedLog({ path });
    const consumer = log.consumer({ maxPollRecords: 5000 });
    consumer.assign([0, 1, 2, 3].map((partition) => ({ topic: 'events', partition })));
    const records: ConsumedRecord[] = [];
    for (;;) {
      const batch = await consumer.poll(0);
      if (batch.length === 0) break;
      records.push(...batch);
    }
    const perTxn = new Map<string, { count: number; seen: number[] }>();
    for (const r of records) {
      const v = JSON.parse(r.value!.toString()) as { run: string; txn: number; count: number; i: number };
      const key = `${v.run}/${v.txn}`;
      const entry = perTxn.get(key) ?? { count: v.count, seen: [0, 0, 0, 0] };
      entry.seen[r.partition]!++;
      perTxn.set(key, entry);
    }
    for (const [key, { count, seen }] of perTxn) {
      assert.deepEqual(seen, [count, count, count, count], `transaction ${key} is complete in every partition`);
    }
    for (const [runId, txns] of reported) {
      for (const txn of txns) assert.ok(perTxn.has(`${runId}/${txn}`), `transaction ${runId}/${txn}, reported committed, is there`);
    }
    // the group offset was committed in the same transactions: it counts exactly the complete ones
    assert.deepEqual(await log.admin.committedOffsets('writer', ['source']), [{ topic: 'source', partition: 0, offset: perTxn.size }]);
    assert.deepEqual(
      (await log.admin.offsets('events')).map((p) => p.high),
      [0, 1, 2, 3].map((p) => [...perTxn.values()].reduce((n, t) => n + t.seen[p]!, 0)),
    );
    await log.close();
  }
});
