// End to end: produce -> run the fixture topology (stream('in') -> filter -> mapValues -> to('out')) -> tail.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { runCli, spawnCli, tempDir } from '../helpers/cli.js';

const topology = 'test/fixtures/topologies/filter-map.ts';
const orders = (...amounts: number[]) => amounts.map((amount, i) => JSON.stringify({ key: `o${i}`, value: { id: `o${i}`, amount } })).join('\n') + '\n';

describe('tributary run', () => {
  let state: ReturnType<typeof tempDir>;
  beforeEach(() => (state = tempDir()));
  afterEach(() => state.remove());
  const cli = (args: string[], input?: string) => runCli([...args, '--state-dir', state.path], input === undefined ? {} : { input });
  const readOut = async () => {
    const r = await cli(['tail', 'out', '--from-beginning', '--exit-at-end']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; value: unknown });
  };

  test('--until-idle processes the input, prints a summary and exits 0', async () => {
    assert.equal((await cli(['produce', 'in'], orders(1.5, -1, 2, 0))).code, 0);
    const r = await cli(['run', topology, '--until-idle', '--idle-ms', '200']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'cli-filter-map: idle, stopped\n  records in:  4\n  records out: 2 (out: 2)\n  dropped:     0\n  restored:    0 changelog record(s) into local state\n');
    assert.deepEqual(
      (await readOut()).map((rec) => [rec.key, rec.value]),
      [['o0', { id: 'o0', cents: 150 }], ['o2', { id: 'o2', cents: 200 }]],
    );
  });

  test('a second run continues from the committed offsets', async () => {
    await cli(['produce', 'in'], orders(1));
    assert.equal((await cli(['run', topology, '--until-idle', '--idle-ms', '200', '--no-typecheck'])).code, 0);
    await cli(['produce', 'in'], orders(3));
    const r = await cli(['run', topology, '--until-idle', '--idle-ms', '200', '--no-typecheck']);
    assert.match(r.stdout, /records in: {2}1\n/);
    assert.equal((await readOut()).length, 2);
  });

  test('follows new input until Ctrl-C, then closes and exits 0', async () => {
    await cli(['produce', 'in'], orders(1));
    const run = spawnCli(['run', topology, '--no-typecheck', '--state-dir', state.path]);
    try {
      await run.waitForOutput("running 'cli-filter-map'", { stream: 'stderr' });
      await cli(['produce', 'in'], orders(5));
      const deadline = Date.now() + 20_000;
      while ((await readOut()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      run.kill('SIGINT');
      const r = await run.exited;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /SIGINT: stopping 'cli-filter-map'/);
      assert.equal(r.stdout, '');
      assert.equal((await readOut()).length, 2);
    } finally {
      run.kill('SIGKILL');
    }
  });

  test('SIGTERM stops it the same way', async () => {
    await cli(['topics', '--create', 'in']);
    const run = spawnCli(['run', topology, '--no-typecheck', '--state-dir', state.path]);
    try {
      await run.waitForOutput("running 'cli-filter-map'", { stream: 'stderr' });
      run.kill('SIGTERM');
      assert.equal((await run.exited).code, 0);
    } finally {
      run.kill('SIGKILL');
    }
  });

  test('a missing source topic is an error, exit code 1', async () => {
    const r = await cli(['run', topology, '--until-idle', '--no-typecheck']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tributary run: .*'in'.* does not exist/m);
  });

  test('a fatal runtime error is reported on stderr with exit code 1', async () => {
    // Bytes that are not JSON on a topic the topology reads as JSON; errors.deserialization defaults to 'fail'.
    await cli(['produce', 'in', '--value-serde', 'bytes'], JSON.stringify({ key: 'k', value: Buffer.from('nope{').toString('base64') }) + '\n');
    const r = await cli(['run', topology, '--until-idle', '--idle-ms', '200', '--no-typecheck']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tributary run: .*json serde: invalid JSON/m);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });
});

describe('tributary describe', () => {
  test('prints the topology as text, Mermaid and DOT', async () => {
    const text = await runCli(['describe', topology]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Topologies:\n/);
    assert.match(text.stdout, /Source: KSTREAM-SOURCE-0000000000 \(topics: \[in\]\)/);
    assert.match(text.stdout, /Sink: KSTREAM-SINK-0000000003 \(topic: out\)/);

    const mermaid = await runCli(['describe', topology, '--format', 'mermaid', '--no-typecheck']);
    assert.equal(mermaid.code, 0, mermaid.stderr);
    assert.match(mermaid.stdout, /^flowchart /);

    const dot = await runCli(['describe', topology, '-f', 'dot', '--no-typecheck']);
    assert.equal(dot.code, 0, dot.stderr);
    assert.match(dot.stdout, /^digraph /);
  });
});
