import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';

describe('tributary topics', () => {
  let state: ReturnType<typeof tempDir>;
  beforeEach(() => (state = tempDir()));
  afterEach(() => state.remove());
  const topics = (...args: string[]) => runCli(['topics', '--state-dir', state.path, ...args]);

  test('lists nothing, without creating a log, when the state dir has none', async () => {
    const r = await topics();
    assert.deepEqual([r.code, r.stdout], [0, '']);
    assert.match(r.stderr, /no topics/);
  });

  test('creates topics and lists them as a table', async () => {
    assert.equal((await topics('--create', 'orders', '--partitions', '3')).code, 0);
    assert.equal((await topics('--create', 'customer-totals', '--compact')).code, 0);
    const r = await topics();
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      'TOPIC            PARTITIONS  CLEANUP  INTERNAL  RECORDS\n' +
        'customer-totals           1  compact  no              0\n' +
        'orders                    3  delete   no              0\n',
    );
  });

  test('counts the records of each topic', async () => {
    await runCli(['produce', 'orders', '--state-dir', state.path], { input: '1\n2\n3\n' });
    const r = await topics();
    assert.match(r.stdout, /^orders +1 +delete +no +3$/m);
  });

  test('creating a topic that exists is an error', async () => {
    await topics('--create', 'orders');
    const r = await topics('--create', 'orders', '-p', '2');
    assert.deepEqual([r.code, r.stderr], [1, "tributary topics: topic 'orders' already exists\n"]);
  });

  test('deletes a topic', async () => {
    await topics('--create', 'orders');
    await topics('--create', 'payments');
    assert.equal((await topics('--delete', 'orders')).code, 0);
    assert.doesNotMatch((await topics()).stdout, /orders/);
    const again = await topics('--delete', 'orders');
    assert.deepEqual([again.code, again.stderr], [1, "tributary topics: no topic 'orders'\n"]);
  });

  test('--partitions must be a positive integer', async () => {
    const r = await topics('--create', 'orders', '--partitions', '0');
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "tributary topics: --partitions must be an integer >= 1, got '0'. See 'tributary topics --help'.\n");
  });
});
