/**
 * Byte layouts of window and session store keys. Segment first, so an expired segment is one
 * contiguous key range to drop; within a segment, the record key, then big-endian times, so
 * the windows of one key sit together in time order (as in Kafka Streams' key schemas).
 *
 *   window:  segment(8) key timestamp(8) seq(4)      changelog key: key timestamp(8) seq(4)
 *   session: segment(8) key end(8) start(8)          changelog key: key end(8) start(8)
 */

const U64 = 8;

export function writeU64(buf: Buffer, offset: number, value: number): void {
  // Times are non-negative integers below 2^53; two 32-bit halves keep byte order = numeric order.
  const v = Math.max(0, Math.floor(value));
  buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), offset);
  buf.writeUInt32BE(v % 0x1_0000_0000, offset + 4);
}

export function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * 0x1_0000_0000 + buf.readUInt32BE(offset + 4);
}

export function segmentPrefix(segment: number): Buffer {
  const b = Buffer.allocUnsafe(U64);
  writeU64(b, 0, segment);
  return b;
}

export function windowKey(segment: number, key: Buffer, timestamp: number, seq: number): Buffer {
  const b = Buffer.allocUnsafe(U64 + key.length + U64 + 4);
  writeU64(b, 0, segment);
  key.copy(b, U64);
  writeU64(b, U64 + key.length, timestamp);
  b.writeUInt32BE(seq, U64 + key.length + U64);
  return b;
}

export function parseWindowKey(physical: Buffer): { key: Buffer; timestamp: number; seq: number } {
  const keyEnd = physical.length - U64 - 4;
  return { key: physical.subarray(U64, keyEnd), timestamp: readU64(physical, keyEnd), seq: physical.readUInt32BE(keyEnd + U64) };
}

export function sessionKey(segment: number, key: Buffer, end: number, start: number): Buffer {
  const b = Buffer.allocUnsafe(U64 + key.length + U64 + U64);
  writeU64(b, 0, segment);
  key.copy(b, U64);
  writeU64(b, U64 + key.length, end);
  writeU64(b, U64 + key.length + U64, start);
  return b;
}

export function parseSessionKey(physical: Buffer): { key: Buffer; end: number; start: number } {
  const keyEnd = physical.length - 2 * U64;
  return { key: physical.subarray(U64, keyEnd), end: readU64(physical, keyEnd), start: readU64(physical, keyEnd + U64) };
}

/** Changelog keys drop the segment; the physical key is rebuilt from the time in it on restore. */
export function changelogKeyOf(physical: Buffer): Buffer {
  return physical.subarray(U64);
}

export function withSegment(segment: number, changelogKey: Buffer): Buffer {
  const b = Buffer.allocUnsafe(U64 + changelogKey.length);
  writeU64(b, 0, segment);
  changelogKey.copy(b, U64);
  return b;
}

/** The smallest key greater than every key starting with `prefix`, or undefined when there is none. */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]!++;
      return b.subarray(0, i + 1);
    }
  }
  return undefined;
}
