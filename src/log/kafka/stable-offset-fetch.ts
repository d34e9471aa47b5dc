/**
 * OffsetFetch v7 with `require_stable` (KIP-447), which kafkajs 2.2.4 cannot send (it stops at v4).
 *
 * Why: when a transaction that carried consumer offsets commits, the group coordinator makes those
 * offsets visible a moment *after* the transaction completed (its markers are handled
 * asynchronously). A task's new owner registers the task's transactional id (which ends the old
 * owner's transaction) and then reads the committed offsets: with OffsetFetch < v7 it can read the
 * offsets from before that transaction, reprocess its input and duplicate its output. Under load
 * the window is wide enough to matter (found by test/chaos/kafka-chaos.test.ts). With
 * require_stable the broker answers UNSTABLE_OFFSET_COMMIT while offsets are pending, and this
 * module waits and asks again.
 *
 * The request is encoded with kafkajs' own Encoder/Decoder and sent on its connection to the group
 * coordinator (kafkajs internals: package.json pins kafkajs 2.2.4). Flexible versions need request
 * header v2: kafkajs writes header v1, so the payload starts with the header's empty tagged fields.
 */
import { createRequire } from 'node:module';
import type { Cluster } from 'kafkajs';
import { TributaryError } from '../../errors/index.js';

const require = createRequire(import.meta.url);

interface KafkaEncoder {
  writeUVarInt(n: number): KafkaEncoder;
  writeUVarIntString(s: string): KafkaEncoder;
  writeUVarIntArray(items: KafkaEncoder[]): KafkaEncoder;
  writeInt32(n: number): KafkaEncoder;
  writeBoolean(b: boolean): KafkaEncoder;
}
interface KafkaDecoder {
  readTaggedFields(): void;
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readUVarIntString(): string | null;
  readUVarIntArray<T>(reader: (d: KafkaDecoder) => T): T[];
}
const Encoder = require('kafkajs/src/protocol/encoder') as new () => KafkaEncoder;
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => KafkaDecoder;

const OFFSET_FETCH = 9;
const UNSTABLE_OFFSET_COMMIT = 88;
const COORDINATOR_ERRORS = new Set([14, 15, 16]); // COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR

interface PartitionRow {
  partition: number;
  offset: number;
  errorCode: number;
}
interface FetchResult {
  errorCode: number;
  topics: { topic: string; partitions: PartitionRow[] }[];
}

function request(groupId: string, topics: { topic: string; partitions: number[] }[]) {
  return {
    request: {
      apiKey: OFFSET_FETCH,
      apiVersion: 7,
      apiName: 'OffsetFetch',
      encode: async () =>
        new Encoder()
          .writeUVarInt(0) // request header v2: its tagged fields (kafkajs wrote the rest of the header)
          .writeUVarIntString(groupId)
          .writeUVarIntArray(
            topics.map(({ topic, partitions }) =>
              new Encoder()
                .writeUVarIntString(topic)
                .writeUVarIntArray(partitions.map((p) => new Encoder().writeInt32(p)))
                .writeUVarInt(0),
            ),
          )
          .writeBoolean(true) // require_stable
          .writeUVarInt(0),
    },
    response: {
      decode: async (raw: Buffer): Promise<FetchResult> => {
        const d = new Decoder(raw);
        d.readTaggedFields(); // response header v1
        d.readInt32(); // throttle_time_ms
        const topicRows = d.readUVarIntArray((t) => {
          const topic = t.readUVarIntString()!;
          const partitions = t.readUVarIntArray((p) => {
            const partition = p.readInt32();
            const offset = Number(p.readInt64().toString());
            p.readInt32(); // committed_leader_epoch
            p.readUVarIntString(); // metadata
            const errorCode = p.readInt16();
            p.readTaggedFields();
            return { partition, offset, errorCode };
          });
          t.readTaggedFields();
          return { topic, partitions };
        });
        const errorCode = d.readInt16();
        d.readTaggedFields();
        return { errorCode, topics: topicRows };
      },
      parse: async (data: FetchResult) => data,
    },
  };
}

interface SendingBroker {
  connectionPool: { send(r: ReturnType<typeof request>): Promise<FetchResult> };
}

/**
 * The group's committed offsets for these partitions, once stable: waits (up to `timeoutMs`)
 * while a transaction's offsets are still being materialized. Offsets < 0 (none) are left out.
 */
export async function fetchStableOffsets(
  cluster: Cluster,
  groupId: string,
  topics: { topic: string; partitions: number[] }[],
  timeoutMs = 30_000,
): Promise<{ topic: string; partition: number; offset: number }[]> {
  const deadline = Date.now() + timeoutMs;
  let wait = 20;
  for (;;) {
    const coordinator = (await cluster.findGroupCoordinator({ groupId })) as unknown as SendingBroker;
    const result = await coordinator.connectionPool.send(request(groupId, topics));
    const codes = [result.errorCode, ...result.topics.flatMap((t) => t.partitions.map((p) => p.errorCode))];
    const retry = codes.some((c) => c === UNSTABLE_OFFSET_COMMIT || COORDINATOR_ERRORS.has(c));
    if (!retry) {
      const bad = codes.find((c) => c !== 0);
      if (bad !== undefined) throw new TributaryError(`OffsetFetch for group '${groupId}' failed with error code ${bad}`, { retriable: true });
      return result.topics.flatMap((t) => t.partitions.filter((p) => p.offset >= 0).map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })));
    }
    if (Date.now() > deadline) {
      throw new TributaryError(`the committed offsets of group '${groupId}' stayed unstable (a transaction still completing) for ${timeoutMs} ms`, { retriable: true });
    }
    if (codes.some((c) => COORDINATOR_ERRORS.has(c))) await cluster.refreshMetadata().catch(() => undefined);
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(500, wait * 2);
  }
}
