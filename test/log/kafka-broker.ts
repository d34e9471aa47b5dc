/**
 * The Kafka broker for tests: `KAFKA_BROKERS` when set (scripts/test.mjs sets it after starting
 * one), else a local single-node broker started once per process with `scripts/kafka.sh up`
 * (jars from Maven Central, KRaft, 127.0.0.1:19092 or KAFKA_PORT).
 *
 * Without Java (or when the broker cannot start) Kafka tests are skipped with the reason, except
 * under `CI=true`, where the same condition fails the run: CI must not pass by skipping them.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const root = new URL('../..', import.meta.url).pathname;

export type KafkaAvailability = { brokers: string } | { unavailable: string };

let cached: KafkaAvailability | undefined;

function hasJava(): boolean {
  return spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0;
}

/** Where the test broker is, or why there is none. Starts it at most once per process. */
export function kafkaAvailability(): KafkaAvailability {
  if (cached !== undefined) return cached;
  const env = process.env.KAFKA_BROKERS;
  if (env !== undefined && env.trim() !== '') return (cached = { brokers: env.trim() });
  const known = process.env.TRIBUTARY_KAFKA_UNAVAILABLE;
  if (known !== undefined && known !== '') return (cached = { unavailable: known });
  if (!hasJava()) return (cached = { unavailable: 'Java was not found on PATH, so no local Kafka broker can run (set KAFKA_BROKERS to use one elsewhere)' });
  const up = spawnSync('bash', [`${root}scripts/kafka.sh`, 'up'], { encoding: 'utf8', timeout: 300_000 });
  const address = up.stdout?.trim().split('\n').at(-1);
  if (up.status !== 0 || address === undefined || address === '') {
    return (cached = { unavailable: `scripts/kafka.sh up failed (exit ${up.status ?? up.signal}): ${(up.stderr ?? '').trim().split('\n').slice(-5).join(' | ')}` });
  }
  process.env.KAFKA_BROKERS = address;
  return (cached = { brokers: address });
}

/**
 * Runs `define(brokers)` (which declares tests) when a broker is there. Otherwise declares one
 * test named `name` that is skipped with the reason, or that fails when CI=true.
 */
export function withKafka(name: string, define: (brokers: string) => void): void {
  const availability = kafkaAvailability();
  if ('brokers' in availability) {
    define(availability.brokers);
    return;
  }
  const reason = `no Kafka broker: ${availability.unavailable}`;
  if (process.env.CI === 'true') {
    test(name, () => {
      throw new Error(`${reason}. CI=true: a skipped Kafka test fails the run`);
    });
  } else {
    test(name, { skip: reason }, () => undefined);
  }
}
