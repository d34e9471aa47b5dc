import { TributaryError } from '../../errors/index.js';
import type { ConsumedRecord, Headers, LogRecord } from '../types.js';
import { varintSize, writeVarint, zigzag } from '../varint.js';

/**
 * The bytes of one record batch: the `payload` of one row of the `batches` table. Like Kafka,
 * records are stored in batches (one per append per partition) and offsets are not stored per
 * record: the row holds `base_offset`, and record i of the batch has offset `base_offset + i`.
 *
 * Format, magic 1 (all integers little-endian):
 * ```
 * Batch:
 *   magic            u8      1
 *   attributes       u8      0 (reserved: compression, ...)
 *   recordCount      u32
 *   baseTimestamp    f64     the first record's timestamp, epoch ms
 *   records          recordCount x Record
 * Record:
 *   length           varint  bytes of the record after this field (lets a reader skip it)
 *   timestampDelta   zigzag varint, timestamp - baseTimestamp
 *   keyLength        varint  0 = null key, else byte length + 1
 *   key              bytes
 *   valueLength      varint  0 = null value, else byte length + 1
 *   value            bytes
 *   headerCount      varint
 *   headers          headerCount x (nameLength varint, name UTF-8, valueLength varint, value bytes)
 * ```
 * Decoding is zero-copy: keys, values and header values are views of the payload (as
 * `subarray` would make them, through the faster `Buffer.from(arrayBuffer, offset, length)`).
 */
export const BATCH_MAGIC = 1;
export const BATCH_HEADER_SIZE = 14;

/** Scratch space of encodeBatch: each record's body size and header count (reused, grown as needed). */
let sizes = new Int32Array(1024);
let headerCounts = new Int32Array(1024);

/**
 * Encodes records into one batch payload. Timestamps must be integers within ±2^51 (checked by
 * the caller when the records are accepted): every delta then fits a safe integer. Allocates
 * exactly one Buffer.
 */
export function encodeBatch(records: readonly LogRecord[]): Buffer {
  const count = records.length;
  if (count === 0) throw new TributaryError('cannot encode an empty record batch');
  if (sizes.length < count) {
    sizes = new Int32Array(Math.max(count, sizes.length * 2));
    headerCounts = new Int32Array(sizes.length);
  }
  const baseTimestamp = records[0]!.timestamp;
  let total = BATCH_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const r = records[i]!;
    let size = varintSize(zigzag(r.timestamp - baseTimestamp));
    const key = r.key;
    const value = r.value;
    size += key == null ? 1 : varintSize(key.length + 1) + key.length;
    size += value == null ? 1 : varintSize(value.length + 1) + value.length;
    const headers = r.headers;
    let headerCount = 0;
    if (headers != null) {
      for (const name in headers) {
        const nameBytes = Buffer.byteLength(name, 'utf8');
        const hv = headers[name]!;
        size += varintSize(nameBytes) + nameBytes + varintSize(hv.length) + hv.length;
        headerCount++;
      }
    }
    size += varintSize(headerCount);
    sizes[i] = size;
    headerCounts[i] = headerCount;
    total += varintSize(size) + size;
  }
  const buf = Buffer.allocUnsafe(total);
  buf[0] = BATCH_MAGIC;
  buf[1] = 0;
  buf.writeUInt32LE(count, 2);
  buf.writeDoubleLE(baseTimestamp, 6);
  let pos = BATCH_HEADER_SIZE;
  let v: number;
  for (let i = 0; i < count; i++) {
    const r = records[i]!;
    v = sizes[i]!;
    if (v < 0x80) buf[pos++] = v;
    else pos = writeVarint(buf, pos, v);
    v = zigzag(r.timestamp - baseTimestamp);
    if (v < 0x80) buf[pos++] = v;
    else pos = writeVarint(buf, pos, v);
    const key = r.key;
    if (key == null) {
      buf[pos++] = 0;
    } else {
      v = key.length + 1;
      if (v < 0x80) buf[pos++] = v;
      else pos = writeVarint(buf, pos, v);
      buf.set(key, pos);
      pos += key.length;
    }
    const value = r.value;
    if (value == null) {
      buf[pos++] = 0;
    } else {
      v = value.length + 1;
      if (v < 0x80) buf[pos++] = v;
      else pos = writeVarint(buf, pos, v);
      buf.set(value, pos);
      pos += value.length;
    }
    const headerCount = headerCounts[i]!;
    if (headerCount < 0x80) buf[pos++] = headerCount;
    else pos = writeVarint(buf, pos, headerCount);
    if (headerCount > 0) {
      const headers = r.headers;
      for (const name in headers) {
        const nameBytes = Buffer.byteLength(name, 'utf8');
        pos = writeVarint(buf, pos, nameBytes);
        pos += buf.write(name, pos, nameBytes, 'utf8');
        const hv = headers[name]!;
        pos = writeVarint(buf, pos, hv.length);
        buf.set(hv, pos);
        pos += hv.length;
      }
    }
  }
  if (pos !== total) throw new TributaryError(`record batch encoder wrote ${pos} bytes, expected ${total}`);
  return buf;
}

/** A header named `__proto__` must be an own property, not the object's prototype. */
function defineHeader(headers: Headers, name: string, value: Buffer): void {
  Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
}

function corrupt(detail: string): TributaryError {
  return new TributaryError(`corrupt record batch in the embedded log: ${detail}`);
}

/**
 * Reads the records of one batch in order, resuming where the last read stopped. One cursor
 * per assigned partition is reused for every batch the partition reads.
 */
export class BatchCursor {
  private buf: Buffer = Buffer.alloc(0);
  /** `buf.buffer` and `buf.byteOffset`: views are made with Buffer.from(arrayBuffer, ...), faster than subarray(). */
  private arrayBuffer: ArrayBuffer = this.buf.buffer as ArrayBuffer;
  private byteOffset = 0;
  private pos = 0;
  private baseTimestamp = 0;
  /** Offset of the record the next read() returns. */
  nextOffset = 0;
  /** One past the batch's last offset; `nextOffset === endOffset` when the batch is used up. */
  endOffset = 0;

  /** True while records of the current batch remain to be read. */
  get hasRemaining(): boolean {
    return this.nextOffset < this.endOffset;
  }

  /** Starts on a batch read from the row with this base offset. */
  reset(payload: Buffer, baseOffset: number): void {
    if (payload.length < BATCH_HEADER_SIZE) throw corrupt(`${payload.length} bytes is shorter than a batch header`);
    const magic = payload[0]!;
    if (magic !== BATCH_MAGIC) {
      throw new TributaryError(
        `record batch at offset ${baseOffset} has format version (magic) ${magic}; this Tributary reads version ${BATCH_MAGIC}: upgrade Tributary`,
      );
    }
    this.buf = payload;
    this.arrayBuffer = payload.buffer as ArrayBuffer;
    this.byteOffset = payload.byteOffset;
    this.pos = BATCH_HEADER_SIZE;
    this.baseTimestamp = payload.readDoubleLE(6);
    this.nextOffset = baseOffset;
    this.endOffset = baseOffset + payload.readUInt32LE(2);
  }

  /** Drops the batch (after a seek); hasRemaining is false until the next reset(). */
  clear(): void {
    this.buf = Buffer.alloc(0);
    this.arrayBuffer = this.buf.buffer as ArrayBuffer;
    this.byteOffset = 0;
    this.pos = 0;
    this.nextOffset = 0;
    this.endOffset = 0;
  }

  /** Reads a multi-byte varint whose first byte (>= 0x80) is at `pos - 1`; leaves the end in this.pos. */
  private varintTail(first: number, pos: number): number {
    const buf = this.buf;
    let v = first & 0x7f;
    let shift = 7;
    let b: number;
    do {
      if (pos >= buf.length) throw corrupt('varint runs past the end of the batch');
      b = buf[pos++]!;
      v += shift < 28 ? (b & 0x7f) << shift : (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b >= 0x80);
    this.pos = pos;
    return v;
  }

  /** Skips records until nextOffset reaches `offset` (or the batch ends), without decoding them. */
  skipTo(offset: number): void {
    const buf = this.buf;
    while (this.nextOffset < offset && this.nextOffset < this.endOffset) {
      const first = buf[this.pos++]!;
      const len = first < 0x80 ? first : this.varintTail(first, this.pos);
      this.pos += len;
      this.nextOffset++;
    }
    if (this.pos > buf.length) throw corrupt('record runs past the end of the batch');
  }

  /** Appends up to `max` records to `out`; returns how many. */
  read(out: ConsumedRecord[], max: number, topic: string, partition: number): number {
    const buf = this.buf;
    const ab = this.arrayBuffer;
    const base = this.byteOffset;
    const baseTimestamp = this.baseTimestamp;
    let pos = this.pos;
    let offset = this.nextOffset;
    const stop = Math.min(this.endOffset, offset + max);
    const n = stop - offset;
    let b: number;
    while (offset < stop) {
      // length
      b = buf[pos++]!;
      const len = b < 0x80 ? b : this.varintTail(b, pos);
      if (b >= 0x80) pos = this.pos;
      const end = pos + len;
      if (end > buf.length) throw corrupt(`record at offset ${offset} runs past the end of the batch`);
      // timestamp delta
      b = buf[pos++]!;
      let zz = b;
      if (b >= 0x80) {
        zz = this.varintTail(b, pos);
        pos = this.pos;
      }
      const timestamp = baseTimestamp + (zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2);
      // key
      b = buf[pos++]!;
      let l = b;
      if (b >= 0x80) {
        l = this.varintTail(b, pos);
        pos = this.pos;
      }
      let key: Buffer | null = null;
      if (l !== 0) {
        key = Buffer.from(ab, base + pos, l - 1);
        pos += l - 1;
      }
      // value
      b = buf[pos++]!;
      l = b;
      if (b >= 0x80) {
        l = this.varintTail(b, pos);
        pos = this.pos;
      }
      let value: Buffer | null = null;
      if (l !== 0) {
        value = Buffer.from(ab, base + pos, l - 1);
        pos += l - 1;
      }
      // headers
      const headers: Headers = {};
      b = buf[pos++]!;
      let headerCount = b;
      if (b >= 0x80) {
        headerCount = this.varintTail(b, pos);
        pos = this.pos;
      }
      while (headerCount-- > 0) {
        b = buf[pos++]!;
        l = b < 0x80 ? b : this.varintTail(b, pos);
        if (b >= 0x80) pos = this.pos;
        const name = buf.toString('utf8', pos, pos + l);
        pos += l;
        b = buf[pos++]!;
        l = b < 0x80 ? b : this.varintTail(b, pos);
        if (b >= 0x80) pos = this.pos;
        const headerValue = Buffer.from(ab, base + pos, l);
        if (name === '__proto__') defineHeader(headers, name, headerValue);
        else headers[name] = headerValue;
        pos += l;
      }
      if (pos !== end) throw corrupt(`record at offset ${offset} is ${len} bytes long, its fields ${len + pos - end}`);
      out.push({ topic, partition, offset, key, value, timestamp, headers });
      offset++;
    }
    this.pos = pos;
    this.nextOffset = offset;
    return n > 0 ? n : 0;
  }
}

/** Decodes a whole batch (tests and tools; the consumer uses a BatchCursor). */
export function decodeBatch(payload: Buffer, baseOffset: number, topic = '', partition = 0): ConsumedRecord[] {
  const cursor = new BatchCursor();
  cursor.reset(payload, baseOffset);
  const out: ConsumedRecord[] = [];
  cursor.read(out, Number.MAX_SAFE_INTEGER, topic, partition);
  return out;
}
