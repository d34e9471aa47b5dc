/**
 * Crash atomicity of the persistent backends: a child process (test/fixtures/state-writer.ts)
 * writes numbered batches, each with a checkpoint equal to its number, and is killed with
 * SIGKILL at a random moment. Reopened, the state must be exactly the state after batch N,
 * where N is the checkpoint read back: nothing of a later batch, nothing of batch N missing.
 * N is at least the last batch the child saw committed, and at most the one after it. Several
 * kills in a row on the same directory, the writer resuming from the checkpoint each time.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openTaskStateBackend, type BackendKind, type TaskStateBackend } from '../../src/state/backend/index.js';
import { batch, CHANGELOG, STORES } from '../fixtures/state-batches.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const writer = join(root, 'test', 'fixtures', 'state-writer.ts');
const KILLS = 4;

let dir: string;
const children: ChildProcess[] = [];
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-backend-crash-'));
});
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Store -> hex key -> hex value, advanced batch by batch. */
class Expected {
  state = new Map<string, Map<string, string>>(STORES.map((s) => [s, new Map()]));
  applied = 0;

  advanceTo(n: number): void {
    assert.ok(n >= this.applied, `the checkpoint went back from ${this.applied} to ${n}`);
    for (; this.applied < n; ) {
      const { writes, rangeDeletes } = batch(++this.applied);
      for (const d of rangeDeletes) {
        const store = this.state.get(d.store)!;
        for (const hex of [...store.keys()]) {
          const key = Buffer.from(hex, 'hex');
          if (Buffer.compare(key, d.from) >= 0 && Buffer.compare(key, d.to) < 0) store.delete(hex);
        }
      }
      for (const w of writes) {
        if (w.value === null) this.state.get(w.store)!.delete(w.key.toString('hex'));
        else this.state.get(w.store)!.set(w.key.toString('hex'), w.value.toString('hex'));
      }
    }
  }
}

/** Runs the writer, kills it with SIGKILL `delayMs` after its first commit; returns the last batch it saw committed. */
async function writeThenKill(kind: BackendKind, stateDir: string, expectFrom: number, delayMs: number): Promise<number> {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', writer, kind, stateDir], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  let last = -1;
  let ready: number | undefined;
  let buffered = '';
  let firstCommit: () => void = () => {};
  const committed = new Promise<void>((resolve) => (firstCommit = resolve));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const [word, value] = buffered.slice(0, nl).split(' ');
      buffered = buffered.slice(nl + 1);
      if (word === 'ready') ready = Number(value);
      if (word === 'committed') {
        last = Number(value);
        firstCommit();
      }
    }
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await Promise.race([committed, exited]);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  child.kill('SIGKILL');
  const how = await exited;
  clearTimeout(timeout);
  assert.equal(how, 'SIGKILL', `the writer ended before it was killed (${String(how)}): ${stderr}`);
  assert.equal(ready, expectFrom, `the writer resumed from the checkpoint: ${stderr}`);
  assert.ok(last >= expectFrom + 1, `the writer committed a batch before the kill: ${stderr}`);
  return last;
}

async function contents(backend: TaskStateBackend, store: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const { key, value } of backend.store(store).rangeAsync()) out.set(key.toString('hex'), value.toString('hex'));
  return out;
}

for (const kind of ['sqlite', 'level'] as const) {
  test(`${kind}: after kill -9 during writes the state is exactly that of the checkpointed batch`, { timeout: 120_000 }, async () => {
    const stateDir = join(dir, kind);
    const expected = new Expected();
    let checkpoint = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const lastSeen = await writeThenKill(kind, stateDir, checkpoint, Math.floor(Math.random() * 300));
      const backend = await openTaskStateBackend({ kind, dir: stateDir });
      try {
        checkpoint = backend.readCheckpoints()[CHANGELOG] ?? 0;
        assert.ok(checkpoint >= lastSeen && checkpoint <= lastSeen + 1, `checkpoint ${checkpoint}, last batch seen committed ${lastSeen}`);
        expected.advanceTo(checkpoint);
        for (const store of STORES) {
          const actual = await contents(backend, store);
          const want = expected.state.get(store)!;
          if (actual.size !== want.size || [...want].some(([k, v]) => actual.get(k) !== v)) {
            const stray = [...actual].filter(([k, v]) => want.get(k) !== v).map(([k, v]) => `${k}=${Buffer.from(v, 'hex').toString().split('|')[0]}`);
            assert.fail(`store '${store}' after kill ${kill} is not the state after batch ${checkpoint}: ${actual.size} keys, want ${want.size}; differing (key=batch): ${stray.slice(0, 10).join(' ')}`);
          }
          assert.equal(backend.store(store).approximateCount(), want.size, `count of '${store}'`);
        }
      } finally {
        await backend.close();
      }
    }
  });
}
