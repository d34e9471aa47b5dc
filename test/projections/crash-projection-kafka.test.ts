/**
 * kill -9 `tributary run --brokers` at random moments while its SQLite projection works through
 * the deposits on Apache Kafka, restart it each time, and check the read model equals the
 * reference fold: every deposit applied exactly once, whatever moment the process died at. (The
 * offsets in the read model's database are the truth; Kafka's committed offsets are advisory.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import type { Log } from '../../src/log/types.js';
import { spawnCli, tempDir } from '../helpers/cli.js';
import { withKafka } from '../log/kafka-broker.js';
import { appliedIn, eventually, ledgerFile, produceDeposits, readLedger, referenceLedger, versionFile } from './helpers.js';

const TOTAL = 20_000;
const KILLS = 3;
const fixture = 'test/projections/fixtures/ledger-app.ts';

withKafka('crash test on Kafka: kill -9 during `tributary run --brokers` with a SQLite projection', (brokers) => {
  describe('crash test on Kafka: kill -9 during `tributary run --brokers` with a SQLite projection', () => {
    const dir = tempDir('tributary-proj-crash-kafka-');
    const file = ledgerFile(dir.path);
    const prefix = `pcrash-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}-`;
    let log: Log;

    before(async () => {
      log = openKafkaLog({ brokers, clientId: 'projection-crash-test', logLevel: 'nothing' });
      await log.admin.createTopics([{ name: `${prefix}deposits`, partitions: 4 }]);
      await produceDeposits(log, 0, TOTAL, `${prefix}deposits`);
    });

    after(async () => {
      await log.close();
      dir.remove();
    });

    const applied = () => appliedIn(versionFile(file, 1));

    it(`applies each event exactly once across ${KILLS} kill -9s`, async () => {
      // Small polls: one database transaction per 200 records, so the kills land mid-stream.
      const args = ['run', fixture, '--brokers', brokers, '--state-dir', dir.path, '--skip-typecheck', '--session-timeout-ms', '6000', '--log-level', 'warn'];
      const env = { TRIBUTARY_TEST_LEDGER: file, TRIBUTARY_TEST_PREFIX: prefix, TRIBUTARY_TEST_MAX_POLL: '200' };
      const killedAt: number[] = [];
      for (let i = 0; i < KILLS; i++) {
        const before = applied();
        const target = before + Math.floor(((TOTAL - before) / (KILLS + 1 - i)) * (0.3 + Math.random() * 0.7));
        const child = spawnCli(args, { env, timeoutMs: 180_000 });
        await eventually(`${target} applied`, () => applied() >= target, 120_000);
        child.kill('SIGKILL');
        const result = await child.exited;
        assert.equal(result.signal, 'SIGKILL', `run ${i} should have been killed, it exited with ${result.code}: ${result.stderr}`);
        killedAt.push(applied());
      }
      assert.ok(killedAt.every((n) => n < TOTAL), `kills at ${killedAt.join(', ')}`);
      assert.ok(killedAt[KILLS - 1]! > killedAt[0]!, `progress across kills: ${killedAt.join(', ')}`);

      const last = spawnCli(args, { env, timeoutMs: 180_000 });
      await eventually('all events applied', () => applied() === TOTAL, 120_000);
      last.kill('SIGTERM');
      const done = await last.exited;
      assert.equal(done.code, 0, done.stderr);

      const state = readLedger(versionFile(file, 1));
      assert.equal(state.duplicates, 0, 'no event may be applied twice');
      assert.equal(state.applied, TOTAL, 'no event may be lost');
      assert.deepEqual(state.balances, referenceLedger(0, TOTAL));
    });
  });
});
