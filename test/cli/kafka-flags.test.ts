// The Kafka flags of the commands that open a log: each mistake is named, with exit code 2, before
// anything connects (no broker needed).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';

const topology = 'test/fixtures/topologies/filter-map.ts';

describe('Kafka flags', () => {
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['a Kafka-only flag without --brokers', ['produce', 'x', '--sasl-mechanism', 'plain'], {}, /--sasl-mechanism applies to Kafka only: give --brokers too/],
    ['a malformed broker list', ['topics', '--brokers', 'localhost'], {}, /--brokers: broker 'localhost' is not host:port/],
    ['an unknown SASL mechanism', ['topics', '--brokers', '127.0.0.1:1', '--sasl-mechanism', 'gssapi', '--sasl-username', 'u'], {}, /--sasl-mechanism must be one of plain, scram-sha-256, scram-sha-512, got 'gssapi'/],
    ['SASL without a username', ['topics', '--brokers', '127.0.0.1:1', '--sasl-mechanism', 'plain'], {}, /--sasl-mechanism needs --sasl-username/],
    ['SASL without the password variable', ['topics', '--brokers', '127.0.0.1:1', '--sasl-mechanism', 'plain', '--sasl-username', 'u'], {}, /TRIBUTARY_SASL_PASSWORD/],
    ['a CA file that cannot be read', ['topics', '--brokers', '127.0.0.1:1', '--ssl-ca', '/nonexistent/ca.pem'], {}, /--ssl-ca: cannot read '\/nonexistent\/ca.pem'/],
    ['an unknown Kafka client', ['topics', '--brokers', '127.0.0.1:1', '--kafka-client', 'librdkafka'], {}, /--kafka-client must be one of kafkajs, platformatic, got 'librdkafka'/],
    ['an unknown Kafka client in the environment', ['topics', '--brokers', '127.0.0.1:1'], { TRIBUTARY_KAFKA_CLIENT: 'rdkafka' }, /TRIBUTARY_KAFKA_CLIENT must be one of kafkajs, platformatic, got 'rdkafka'/],
    ['--kafka-client without --brokers', ['produce', 'x', '--kafka-client', 'platformatic'], {}, /--kafka-client applies to Kafka only: give --brokers too/],
    ['a session timeout below 1000', ['run', topology, '--brokers', '127.0.0.1:1', '--session-timeout-ms', '10', '--no-typecheck'], {}, /--session-timeout-ms must be an integer >= 1000, got '10'/],
  ];
  for (const [name, args, env, message] of cases) {
    test(name, async () => {
      const r = await runCli(args, { env: { TRIBUTARY_SASL_PASSWORD: '', ...env } });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  test('the password never appears in an error, even when everything else is wrong', async () => {
    const r = await runCli(['topics', '--brokers', 'bad', '--sasl-mechanism', 'plain', '--sasl-username', 'u'], { env: { TRIBUTARY_SASL_PASSWORD: 's3cr3t-value' } });
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr + r.stdout, /s3cr3t-value/);
  });
});
