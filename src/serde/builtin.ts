import { SerdeError } from '../errors/index.js';
import type { Windowed } from '../state/store-types.js';
import { avroSerde, type AvroSchema, type AvroSerde, type AvroSerdeOptions } from './avro.js';
import type { Serde } from './serde.js';

const stringSerde: Serde<string> = {
  name: 'string',
  serialize(value) {
    if (typeof value !== 'string') throw new SerdeError(`string serde: expected a string, got ${typeof value}: pass a serde that fits (e.g. serdes.json())`);
    return Buffer.from(value, 'utf8');
  },
  deserialize: (bytes) => bytes.toString('utf8'),
};

const bytesSerde: Serde<Buffer> = {
  name: 'bytes',
  serialize(value) {
    if (!Buffer.isBuffer(value)) throw new SerdeError(`bytes serde: expected a Buffer, got ${typeof value}`);
    return value;
  },
  deserialize: (bytes) => bytes,
};

const int32Serde: Serde<number> = {
  name: 'int32',
  serialize(value) {
    if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
      throw new SerdeError(`int32 serde: ${String(value)} is not a 32-bit integer`);
    }
    const out = Buffer.allocUnsafe(4);
    out.writeInt32BE(value, 0);
    return out;
  },
  deserialize(bytes, topic) {
    if (bytes.length !== 4) throw new SerdeError(`int32 serde: expected 4 bytes, got ${bytes.length} (topic '${topic}')`);
    return bytes.readInt32BE(0);
  },
};

const float64Serde: Serde<number> = {
  name: 'float64',
  serialize(value) {
    if (typeof value !== 'number') throw new SerdeError(`float64 serde: ${typeof value} is not a number`);
    const out = Buffer.allocUnsafe(8);
    out.writeDoubleBE(value, 0);
    return out;
  },
  deserialize(bytes, topic) {
    if (bytes.length !== 8) throw new SerdeError(`float64 serde: expected 8 bytes, got ${bytes.length} (topic '${topic}')`);
    return bytes.readDoubleBE(0);
  },
};

function jsonSerde<T>(): Serde<T> {
  return {
    name: 'json',
    serialize(value) {
      const text = JSON.stringify(value);
      if (text === undefined) throw new SerdeError(`json serde: ${typeof value} cannot be written as JSON`);
      return Buffer.from(text, 'utf8');
    },
    deserialize(bytes, topic) {
      // latin1 would be faster but would corrupt multi-byte text; utf8 toString is the fast path in V8.
      const text = bytes.toString('utf8');
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        const preview = text.length > 80 ? `${text.slice(0, 80)}...` : text;
        throw new SerdeError(`json serde: invalid JSON on topic '${topic}': ${(err as Error).message} in ${JSON.stringify(preview)}`, { cause: err });
      }
    },
  };
}

/** Windowed keys: the inner key's bytes, then window start and end as 8-byte big-endian ms. */
function windowedSerde<K>(inner: Serde<K>): Serde<Windowed<K>> {
  return {
    name: `windowed(${inner.name})`,
    serialize(value, topic, headers) {
      const k = inner.serialize(value.key, topic, headers);
      const out = Buffer.allocUnsafe(k.length + 16);
      k.copy(out, 0);
      out.writeBigInt64BE(BigInt(value.window.start), k.length);
      out.writeBigInt64BE(BigInt(value.window.end), k.length + 8);
      return out;
    },
    deserialize(bytes, topic, headers) {
      if (bytes.length < 16) throw new SerdeError(`windowed serde: ${bytes.length} bytes is too short for a windowed key (topic '${topic}')`);
      const end = bytes.length - 16;
      return {
        key: inner.deserialize(bytes.subarray(0, end), topic, headers),
        window: { start: Number(bytes.readBigInt64BE(end)), end: Number(bytes.readBigInt64BE(end + 8)) },
      };
    },
  };
}

/**
 * The built-in serdes. Pick one per key and value where a topic is read or written:
 * `b.stream('orders', { key: serdes.string(), value: serdes.json<Order>() })`.
 */
export const serdes = {
  string: (): Serde<string> => stringSerde,
  json: <T = unknown>(): Serde<T> => jsonSerde<T>(),
  bytes: (): Serde<Buffer> => bytesSerde,
  int32: (): Serde<number> => int32Serde,
  float64: (): Serde<number> => float64Serde,
  /** For the keys of windowed aggregations: `{ key, window: { start, end } }`. */
  windowed: <K>(inner: Serde<K>): Serde<Windowed<K>> => windowedSerde(inner),
  /** Plain Avro binary with this schema (avsc), no registry; see schemaRegistryAvro() for Confluent's format. */
  avro: <T = unknown>(schema: AvroSchema, options?: AvroSerdeOptions): AvroSerde<T> => avroSerde<T>(schema, options),
};
