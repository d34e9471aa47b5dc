/**
 * The records of one produce chunk encoded straight into Kafka's record format (magic v2, as
 * in a RecordBatch after its header), in one Buffer: sizes are computed first, then every
 * record is written in place. kafkajs would build a message object, a Record object and a
 * growing Encoder per record (the largest share of the produce path's CPU and garbage); with
 * this, kafkajs (patched at install, patches/kafkajs+2.2.4.patch) only frames the bytes into a
 * RecordBatch with the producer id, epoch and sequence it assigns when it sends.
 *
 * Record (all varints zigzag-encoded, as Kafka's ByteUtils.writeVarint):
 * ```
 *   length varint, attributes int8 (0), timestampDelta varlong, offsetDelta varint,
 *   keyLength varint (-1: null), key, valueLength varint (-1: null), value,
 *   headerCount varint, headers (keyLength varint, key UTF-8, valueLength varint, value)
 * ```
 * timestampDelta is relative to the chunk's first record (as the Java producer does); the batch
 * carries the largest timestamp as maxTimestamp.
 */
import type { OutgoingRecord } from '../types.js';
import { varintSize, writeVarint, zigzag } from '../varint.js';

/** What the patched kafkajs produce request takes in place of a partition's messages. */
export interface EncodedRecords {
  readonly buffer: Buffer;
  readonly count: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
}

/** Scratch space: each record's body size and header count (reused, grown as needed). */
let sizes = new Int32Array(1024);
let headerCounts = new Int32Array(1024);

/** zigzag(-1): a null key or value. */
const NULL_LENGTH = 1;

/** Encodes `records[indexes[i]]` for every i, in that order, as offset deltas 0..n-1. */
export function encodeRecords(records: readonly OutgoingRecord[], indexes: readonly number[]): EncodedRecords {
  const count = indexes.length;
  if (sizes.length < count) {
    sizes = new Int32Array(Math.max(count, sizes.length * 2));
    headerCounts = new Int32Array(sizes.length);
  }
  const firstTimestamp = records[indexes[0]!]!.timestamp;
  let maxTimestamp = firstTimestamp;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const r = records[indexes[i]!]!;
    if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
    // attributes, timestampDelta, offsetDelta
    let size = 1 + varintSize(zigzag(r.timestamp - firstTimestamp)) + varintSize(zigzag(i));
    const key = r.key;
    const value = r.value;
    size += key == null ? 1 : varintSize(zigzag(key.length)) + key.length;
    size += value == null ? 1 : varintSize(zigzag(value.length)) + value.length;
    let headerCount = 0;
    const headers = r.headers;
    if (headers != null) {
      for (const name in headers) {
        const nameBytes = Buffer.byteLength(name, 'utf8');
        const hv = headers[name]!;
        size += varintSize(zigzag(nameBytes)) + nameBytes + varintSize(zigzag(hv.length)) + hv.length;
        headerCount++;
      }
    }
    size += varintSize(zigzag(headerCount));
    sizes[i] = size;
    headerCounts[i] = headerCount;
    total += varintSize(zigzag(size)) + size;
  }
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  let v: number;
  for (let i = 0; i < count; i++) {
    const r = records[indexes[i]!]!;
    v = zigzag(sizes[i]!);
    if (v < 0x80) buf[pos++] = v;
    else pos = writeVarint(buf, pos, v);
    buf[pos++] = 0;
    v = zigzag(r.timestamp - firstTimestamp);
    if (v < 0x80) buf[pos++] = v;
    else pos = writeVarint(buf, pos, v);
    v = zigzag(i);
    if (v < 0x80) buf[pos++] = v;
    else pos = writeVarint(buf, pos, v);
    const key = r.key;
    if (key == null) buf[pos++] = NULL_LENGTH;
    else {
      v = zigzag(key.length);
      if (v < 0x80) buf[pos++] = v;
      else pos = writeVarint(buf, pos, v);
      buf.set(key, pos);
      pos += key.length;
    }
    const value = r.value;
    if (value == null) buf[pos++] = NULL_LENGTH;
    else {
      v = zigzag(value.length);
      if (v < 0x80) buf[pos++] = v;
      else pos = writeVarint(buf, pos, v);
      buf.set(value, pos);
      pos += value.length;
    }
    const headerCount = headerCounts[i]!;
    v = zigzag(headerCount);
    if (v < 0x80) buf[pos++] = v;
    else pos = writeVarint(buf, pos, v);
    if (headerCount > 0) {
      const headers = r.headers!;
      for (const name in headers) {
        const nameBytes = Buffer.byteLength(name, 'utf8');
        pos = writeVarint(buf, pos, zigzag(nameBytes));
        pos += buf.write(name, pos, 'utf8');
        const hv = headers[name]!;
        pos = writeVarint(buf, pos, zigzag(hv.length));
        buf.set(hv, pos);
        pos += hv.length;
      }
    }
  }
  return { buffer: buf, count, firstTimestamp, maxTimestamp };
}
