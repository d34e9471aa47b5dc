/**
 * The raw kafkajs ceiling on a Kafka broker: what kafkajs alone does for consume -> produce, the
 * figure Tributary's Kafka throughput is compared with.
 *
 *   node --import tsx bench/kafka-raw.ts [--records 1000000] [--partitions 8] [--mode plain|eos|both] [--concurrency P]
 *
 * Broker: KAFKA_BROKERS, else the local one from `scripts/kafka.sh up` (started if needed, left
 * running). Steps:
 * 1. produces N records of ~100 bytes (10-byte keys over 10k distinct keys, 90-byte values) to a
 *    fresh input topic of P partitions: one idempotent producer, sendBatch of 10k, acks=all;
 * 2. `plain`: a kafkajs consumer (eachBatch, read_committed, partitionsConsumedConcurrently = P,
 *    fetches of at most 512 KiB per partition so that a batch fits one produce request)
 *    sends each batch as it is to an output topic (same partition) with one idempotent producer,
 *    then resolves it; at least once, no offsets committed;
 * 3. `eos`: the same, exactly once the way kafkajs allows it: one transactional producer per
 *    input partition, each batch = one transaction (sendBatch + sendOffsets + commit);
 * 4. prints records/s for each, from the consumer's start to the last output record acknowledged.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type EachBatchPayload, Kafka, logLevel, type Message, Partitioners, type Producer } from 'kafkajs';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '8' },
    mode: { type: 'string', default: 'both' },
    concurrency: { type: 'string' },
  },
});
const total = Number(values.records);
const partitions = Number(values.partitions);
const modes = values.mode === 'both' ? ['plain', 'eos'] : [values.mode!];
const concurrency = Number(values.concurrency ?? values.partitions);

function brokers(): string {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS;
  const up = spawnSync('bash', [new URL('../scripts/kafka.sh', import.meta.url).pathname, 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (up.status !== 0) throw new Error('scripts/kafka.sh up failed');
  return up.stdout.trim().split('\n').at(-1)!;
}

const kafka = new Kafka({ clientId: 'bench-kafka-raw', brokers: brokers().split(','), logLevel: logLevel.ERROR });
const admin = kafka.admin();
await admin.connect();
const run = randomBytes(3).toString('hex');
const input = `bench-raw-in-${run}`;
await admin.createTopics({ topics: [{ topic: input, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });

function newProducer(transactionalId?: string): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    ...(transactionalId ? { transactionalId } : {}),
  });
}

// 1. the input
const loader = newProducer();
await loader.connect();
const t0 = performance.now();
let batch: Message[] = [];
const value = 'x'.repeat(90);
for (let i = 0; i < total; i++) {
  batch.push({ key: `key-${String(i % 10_000).padStart(5, '0')}`, value, timestamp: String(1_700_000_000_000 + i) });
  if (batch.length === 10_000 || i === total - 1) {
    await loader.sendBatch({ topicMessages: [{ topic: input, messages: batch }], acks: -1 });
    batch = [];
  }
}
const produceMs = performance.now() - t0;
await loader.disconnect();
console.log(`produce: ${total} records over ${partitions} partitions in ${(produceMs / 1000).toFixed(1)} s = ${Math.round(total / (produceMs / 1000)).toLocaleString('en')} records/s`);

async function pipe(mode: string): Promise<number> {
  const output = `bench-raw-out-${mode}-${run}`;
  const group = `bench-raw-${mode}-${run}`;
  await admin.createTopics({ topics: [{ topic: output, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  const producers = mode === 'eos' ? Array.from({ length: partitions }, (_, p) => newProducer(`${group}-${p}`)) : [newProducer()];
  await Promise.all(producers.map((p) => p.connect()));
  // a fetched batch is produced as one record batch: stay below the broker's 1 MiB max.message.bytes
  const consumer = kafka.consumer({ groupId: group, maxBytesPerPartition: 512 << 10, maxBytes: 16 << 20, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let done = 0;
  let finished: () => void;
  let failed: (e: unknown) => void;
  const all = new Promise<void>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  consumer.on(consumer.events.CRASH, (e) => failed(e.payload.error));
  const start = performance.now();
  const eachBatch = async ({ batch: b, resolveOffset }: EachBatchPayload): Promise<void> => {
    const messages: Message[] = b.messages.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp, partition: b.partition }));
    if (mode === 'eos') {
      const txn = await producers[b.partition]!.transaction();
      try {
        await txn.sendBatch({ topicMessages: [{ topic: output, messages }], acks: -1 });
        await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: b.partition, offset: String(Number(b.lastOffset()) + 1) }] }] });
        await txn.commit();
      } catch (e) {
        await txn.abort().catch(() => undefined);
        throw e;
      }
    } else {
      await producers[0]!.sendBatch({ topicMessages: [{ topic: output, messages }], acks: -1 });
    }
    resolveOffset(b.lastOffset());
    done += messages.length;
    if (done >= total) finished();
  };
  await consumer.run({ autoCommit: mode !== 'eos', partitionsConsumedConcurrently: concurrency, eachBatch });
  const progress = setInterval(() => process.stderr.write(`  ${mode}: ${done} records after ${((performance.now() - start) / 1000).toFixed(0)} s\n`), 5000);
  await all.finally(() => clearInterval(progress));
  const ms = performance.now() - start;
  await consumer.disconnect();
  await Promise.all(producers.map((p) => p.disconnect()));
  const rate = Math.round(total / (ms / 1000));
  console.log(`consume -> produce (${mode}): ${total} records in ${(ms / 1000).toFixed(1)} s = ${rate.toLocaleString('en')} records/s`);
  return rate;
}

for (const mode of modes) await pipe(mode);
await admin.deleteTopics({ topics: (await admin.listTopics()).filter((t) => t.endsWith(run)) }).catch(() => undefined);
await admin.disconnect();
