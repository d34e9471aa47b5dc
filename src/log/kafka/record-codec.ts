/**
 * Records between Tributary's shape and kafkajs': keys, values and header values are Buffers
 * both ways; timestamps and offsets are numbers here and decimal strings (Java longs) there.
 * (Records to produce are encoded by record-encoder.ts, not through kafkajs messages.)
 */
import type { KafkaMessage } from 'kafkajs';
import { TributaryError } from '../../errors/index.js';
import type { ConsumedRecord, Headers, LogRecord } from '../types.js';

/** Kafka's timestamps are non-negative longs; we stay within what a JS number holds exactly. */
const MAX_TIMESTAMP = Number.MAX_SAFE_INTEGER;

/** Refuses what Kafka cannot store: a timestamp that is not a non-negative integer, non-Buffer bytes. */
export function checkRecord(record: LogRecord, topic: string): void {
  const ts = record.timestamp;
  if (!Number.isInteger(ts) || ts < 0 || ts > MAX_TIMESTAMP) {
    throw new TributaryError(
      `record for topic '${topic}' has timestamp ${String(ts)}: Kafka needs a non-negative integer number of epoch milliseconds`,
    );
  }
  if (record.key != null && !(record.key instanceof Uint8Array)) {
    throw new TributaryError(`record for topic '${topic}' has a key that is not a Buffer (serialize it first)`);
  }
  if (record.value != null && !(record.value instanceof Uint8Array)) {
    throw new TributaryError(`record for topic '${topic}' has a value that is not a Buffer (serialize it first)`);
  }
  const headers = record.headers;
  if (headers != null) {
    for (const name in headers) {
      if (!(headers[name] instanceof Uint8Array)) {
        throw new TributaryError(`record for topic '${topic}' has header '${name}' whose value is not a Buffer`);
      }
    }
  }
}

/** Approximate size of a record in a record batch (for splitting batches below the broker's limit). */
export function approximateSize(record: LogRecord): number {
  let size = 24 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  const headers = record.headers;
  if (headers != null) for (const name in headers) size += 8 + name.length * 3 + headers[name]!.length;
  return size;
}

function decodeHeaders(raw: KafkaMessage['headers']): Headers {
  const out: Headers = {};
  if (raw == null) return out;
  for (const name in raw) {
    const v = raw[name];
    // kafkajs gives an array for a repeated name: Tributary keeps the last, as the embedded log does
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    out[name] = last == null ? Buffer.alloc(0) : Buffer.isBuffer(last) ? last : Buffer.from(String(last));
  }
  return out;
}

/** A consumed kafkajs message as a Tributary record. */
export function fromKafkaMessage(topic: string, partition: number, m: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key ?? null,
    value: m.value ?? null,
    timestamp: Number(m.timestamp),
    headers: decodeHeaders(m.headers),
  };
}
