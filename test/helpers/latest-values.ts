import type { Log } from '../../src/log/types.js';

/**
 * Reads a whole topic of the given log and returns the last int32 value of each key, sorted by
 * key (word counts and the like, to compare with testTopology's output). Bounded in polls.
 */
export async function latestInt32Values(log: Log, topic: string): Promise<Map<string, number>> {
  const parts = await log.admin.offsets(topic);
  const consumer = log.consumer({ maxPollRecords: 5000 });
  consumer.assign(parts.map((p) => ({ topic, partition: p.partition })));
  const want = parts.reduce((n, p) => n + p.high, 0);
  const out = new Map<string, number>();
  for (let read = 0, i = 0; read < want && i < 1000; i++) {
    for (const r of await consumer.poll(50)) {
      read++;
      out.set(r.key!.toString(), r.value!.readInt32BE(0));
    }
  }
  await consumer.close();
  return new Map([...out].sort());
}
