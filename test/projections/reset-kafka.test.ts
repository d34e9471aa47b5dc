/**
 * `tributary reset --brokers` on Apache Kafka, through the CLI: the same scenario as on the
 * embedded log (test/projections/reset.test.ts), with fresh topic and group names per run.
 */
import { after, before, describe, it } from 'node:test';
import { openKafkaLog } from '../../src/log/kafka/index.js';
import { tempDir } from '../helpers/cli.js';
import { withKafka } from '../log/kafka-broker.js';
import { ledgerFile } from './helpers.js';
import { dryRunChangesNothing, firstRun, refusedWhileRunning, resetToDatetime, resetToEarliestReprocesses, type ResetScenario } from './reset-scenario.js';

withKafka('tributary reset on Kafka', (brokers) => {
  describe('tributary reset on Kafka', () => {
    const dir = tempDir('tributary-reset-kafka-');
    const s: ResetScenario = {
      log: openKafkaLog({ brokers, clientId: 'reset-test', logLevel: 'nothing' }),
      prefix: `reset-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`,
      flags: ['--state-dir', dir.path, '--brokers', brokers],
      stateDir: dir.path,
      ledger: ledgerFile(dir.path),
      total: 600,
    };
    before(() => firstRun(s));
    after(async () => {
      await s.log.close();
      dir.remove();
    });

    it('--dry-run prints the plan and changes nothing', () => dryRunChangesNothing(s));
    it('refuses while the application runs, changing nothing', () => refusedWhileRunning(s));
    it('--to-earliest: the next run reprocesses everything from empty state', () => resetToEarliestReprocesses(s));
    it('--to-datetime: the next run reprocesses from that time on', () => resetToDatetime(s));
  });
});
