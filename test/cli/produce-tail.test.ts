import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { runCli, spawnCli, tempDir } from '../helpers/cli.js';

interface TailedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: unknown;
  value: unknown;
  headers: Record<string, string>;
}

const jsonl = (...lines: unknown[]) => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
const parseLines = (stdout: string): TailedRecord[] =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TailedRecord)
    .sort((a, b) => a.partition - b.partition || a.offset - b.offset);

describe('tributary produce / tail', () => {
  let state: ReturnType<typeof tempDir>;
  beforeEach(() => (state = tempDir()));
  afterEach(() => state.remove());
  const produce = (topic: string, input: string, ...flags: string[]) => runCli(['produce', topic, '--state-dir', state.path, ...flags], { input });
  const tailAll = async (topic: string, ...flags: string[]) => {
    const r = await runCli(['tail', topic, '--from-beginning', '--exit-at-end', '--state-dir', state.path, ...flags]);
    assert.equal(r.code, 0, r.stderr);
    return parseLines(r.stdout);
  };

  test('round trip: keys, values, timestamps, headers, partitions', async () => {
    const input = jsonl(
      { key: 'c1', value: { amount: 5, items: ['a', 'b'] }, timestamp: 1_700_000_000_000, headers: { source: 'cli', 'trace-id': 'abc' }, partition: 0 },
      { key: 'c2', value: 'text value', timestamp: '2024-01-02T03:04:05.678Z', partition: 1 },
      { key: 'c1', value: null, timestamp: 1_700_000_000_002, partition: 0 },
      { key: null, value: 7, timestamp: 1_700_000_000_003, partition: 1 },
    );
    const r = await produce('orders', input, '--partitions', '2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /4 record\(s\) written to 'orders'/);

    assert.deepEqual(await tailAll('orders'), [
      { topic: 'orders', partition: 0, offset: 0, timestamp: 1_700_000_000_000, key: 'c1', value: { amount: 5, items: ['a', 'b'] }, headers: { source: 'cli', 'trace-id': 'abc' } },
      { topic: 'orders', partition: 0, offset: 1, timestamp: 1_700_000_000_002, key: 'c1', value: null, headers: {} },
      { topic: 'orders', partition: 1, offset: 0, timestamp: Date.parse('2024-01-02T03:04:05.678Z'), key: 'c2', value: 'text value', headers: {} },
      { topic: 'orders', partition: 1, offset: 1, timestamp: 1_700_000_000_003, key: null, value: 7, headers: {} },
    ]);
  });

  test('a line that is not an envelope is a value with a null key and the current time', async () => {
    const before = Date.now();
    assert.equal((await produce('events', jsonl(42, '"hi"', { amount: 3 }, [1, 2], '', '  '))).code, 0);
    const records = await tailAll('events');
    assert.deepEqual(records.map((r) => [r.key, r.value]), [[null, 42], [null, 'hi'], [null, { amount: 3 }], [null, [1, 2]]]);
    for (const r of records) assert.ok(r.timestamp >= before && r.timestamp <= Date.now());
  });

  test('non-default serdes, read back with the same ones', async () => {
    const input = jsonl({ key: 12, value: 2.5 }, { key: -3, value: null });
    assert.equal((await produce('metrics', input, '--key-serde', 'int32', '--value-serde', 'float64')).code, 0);
    const records = await tailAll('metrics', '--key-serde', 'int32', '--value-serde', 'float64');
    assert.deepEqual(records.map((r) => [r.key, r.value]), [[12, 2.5], [-3, null]]);
  });

  test('bytes travel as base64; auto shows text that is not JSON as a string', async () => {
    const raw = Buffer.from('not json {').toString('base64');
    assert.equal((await produce('raw', jsonl({ key: 'k', value: raw }), '--value-serde', 'bytes')).code, 0);
    assert.deepEqual((await tailAll('raw')).map((r) => r.value), ['not json {']);
    assert.deepEqual((await tailAll('raw', '--value-serde', 'bytes')).map((r) => r.value), [raw]);
  });

  test('a bad JSON line names its line number; earlier batches stay written, its batch does not', async () => {
    const r = await produce('orders', jsonl(1, 2, 3, '{"key": "c1", "value": ', 5), '--batch-size', '2');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tributary produce: line 4: invalid JSON: /m);
    assert.match(r.stderr, /^2 record\(s\) before line 3 were written to 'orders', nothing from line 3 on$/m);
    assert.deepEqual((await tailAll('orders')).map((rec) => rec.value), [1, 2]);
  });

  test('a record that does not fit its serdes or its topic names the line and the field', async () => {
    const cases: [string, RegExp][] = [
      [jsonl({ key: 5, value: 1 }), /^tributary produce: line 1: key: the string serde needs a JSON string, got a number 5/m],
      [jsonl(1, { key: 'k', value: 1, partition: 3 }), /^tributary produce: line 2: partition must be an integer from 0 to 0 \(topic 't' has 1\), got 3/m],
      [jsonl({ value: 1, headers: { n: 1 } }), /^tributary produce: line 1: headers\.n must be a string, got 1/m],
      [jsonl({ value: 1, timestamp: 'yesterday' }), /^tributary produce: line 1: timestamp must be epoch milliseconds or an ISO 8601 date, got "yesterday"/m],
    ];
    for (const [input, message] of cases) {
      const r = await produce('t', input);
      assert.equal(r.code, 1, input);
      assert.match(r.stderr, message);
    }
    assert.deepEqual(await tailAll('t'), []);
  });

  test('--partitions must match an existing topic', async () => {
    await runCli(['topics', '--create', 'orders', '-p', '2', '--state-dir', state.path]);
    const r = await produce('orders', jsonl(1), '--partitions', '4');
    assert.deepEqual([r.code, r.stderr], [1, "tributary produce: topic 'orders' already exists with 2 partition(s), not 4\n"]);
  });

  test('tail --max stops after n records', async () => {
    await produce('orders', jsonl(1, 2, 3, 4, 5));
    const r = await runCli(['tail', 'orders', '--from-beginning', '--max', '2', '--state-dir', state.path]);
    assert.equal(r.code, 0);
    assert.deepEqual(parseLines(r.stdout).map((rec) => rec.value), [1, 2]);
  });

  test('tail follows records produced while it runs, and Ctrl-C ends it with exit code 0', async () => {
    await produce('orders', jsonl('old'));
    const tail = spawnCli(['tail', 'orders', '--log-level', 'debug', '--state-dir', state.path]);
    try {
      await tail.waitForOutput("tailing 'orders'", { stream: 'stderr' });
      assert.equal((await produce('orders', jsonl({ key: 'k', value: 'new' }))).code, 0);
      await tail.waitForOutput('"new"', { stream: 'stdout' });
      tail.kill('SIGINT');
      const r = await tail.exited;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(parseLines(r.stdout).map((rec) => [rec.key, rec.value]), [['k', 'new']]);
    } finally {
      tail.kill('SIGKILL');
    }
  });

  test('tail of a topic that does not exist', async () => {
    await produce('orders', jsonl(1));
    const r = await runCli(['tail', 'nope', '--state-dir', state.path]);
    assert.deepEqual([r.code, r.stderr], [1, "tributary tail: no topic 'nope' (see 'tributary topics')\n"]);
  });

  test('tail of a state dir without a log', async () => {
    const r = await runCli(['tail', 'orders', '--state-dir', state.path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tributary tail: no embedded log at .*log\.db/);
  });
});
