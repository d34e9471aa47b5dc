import type { ConsumedRecord, Headers, OutgoingRecord } from '../log/types.js';
import { decodeJson, encodeJson, type ReadSerdeName, type SerdeName } from './serde-flags.js';

/**
 * The JSON-lines form of records, shared by `produce` (stdin) and `tail` (stdout):
 *   {"key": .., "value": .., "timestamp"?: ms, "headers"?: {"name": "text"}, "partition"?: n}
 */
const envelopeFields = new Set(['key', 'value', 'timestamp', 'headers', 'partition']);

export interface LineFormat {
  topic: string;
  partitions: number;
  keySerde: SerdeName;
  valueSerde: SerdeName;
  /** Timestamp for lines that do not give one. */
  now: number;
}

/** A line that is not a record; the message says what is wrong (the caller adds the line number). */
export class BadLineError extends Error {}

/**
 * One input line -> a record. A JSON object with a "key" or "value" field and no fields other than
 * the envelope's is an envelope; anything else is a bare value with a null key.
 */
export function parseRecordLine(line: string, format: LineFormat): OutgoingRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new BadLineError(`invalid JSON: ${(err as Error).message}`);
  }
  const envelope = isEnvelope(parsed) ? parsed : { value: parsed };
  const record: OutgoingRecord = {
    topic: format.topic,
    key: encodeField('key', format.keySerde, envelope['key'], format.topic),
    value: encodeField('value', format.valueSerde, envelope['value'], format.topic),
    timestamp: parseTimestamp(envelope['timestamp'], format.now),
    headers: parseHeaders(envelope['headers']),
  };
  const partition = envelope['partition'];
  if (partition !== undefined && partition !== null) {
    if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition >= format.partitions) {
      throw new BadLineError(`partition must be an integer from 0 to ${format.partitions - 1} (topic '${format.topic}' has ${format.partitions}), got ${JSON.stringify(partition)}`);
    }
    record.partition = partition;
  }
  return record;
}

function isEnvelope(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return (keys.includes('key') || keys.includes('value')) && keys.every((k) => envelopeFields.has(k));
}

function encodeField(field: 'key' | 'value', serde: SerdeName, value: unknown, topic: string): Buffer | null {
  try {
    return encodeJson(serde, value, topic);
  } catch (err) {
    throw new BadLineError(`${field}: ${(err as Error).message}`);
  }
}

function parseTimestamp(raw: unknown, now: number): number {
  if (raw === undefined || raw === null) return now;
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
  if (typeof raw === 'string' && !Number.isNaN(Date.parse(raw))) return Date.parse(raw);
  throw new BadLineError(`timestamp must be epoch milliseconds or an ISO 8601 date, got ${JSON.stringify(raw)}`);
}

function parseHeaders(raw: unknown): Headers {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new BadLineError(`headers must be an object of strings, got ${JSON.stringify(raw)}`);
  const headers: Headers = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw new BadLineError(`headers.${name} must be a string, got ${JSON.stringify(value)}`);
    headers[name] = Buffer.from(value, 'utf8');
  }
  return headers;
}

export interface OutputFormat {
  keySerde: ReadSerdeName;
  valueSerde: ReadSerdeName;
}

/** One consumed record -> its output line (without the newline). Headers are shown as UTF-8 text. */
export function formatRecordLine(record: ConsumedRecord, format: OutputFormat): string {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.headers)) headers[name] = value.toString('utf8');
  const out: Record<string, unknown> = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: decodeField(format.keySerde, record.key, record.topic),
    value: decodeField(format.valueSerde, record.value, record.topic),
    headers,
  };
  return JSON.stringify(out);
}

/** Bytes the chosen serde cannot read are shown as base64 rather than stopping the tail. */
function decodeField(serde: ReadSerdeName, bytes: Buffer | null, topic: string): unknown {
  try {
    return decodeJson(serde, bytes, topic);
  } catch (err) {
    return { undecodable: bytes?.toString('base64') ?? null, error: (err as Error).message };
  }
}
