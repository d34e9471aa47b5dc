import { SerdeError } from '../errors/index.js';
import type { Serde } from '../serde/serde.js';
import type { AggregateSnapshot } from './decider.js';

const FORMAT_V1 = 1;
const HEADER = 9;

/**
 * The stored form of an aggregate: a format byte (1), the version as an 8-byte big-endian
 * double (exact for any count of events below 2^53), then the state's bytes.
 */
export function aggregateSerde<S>(state: Serde<S>): Serde<AggregateSnapshot<S>> {
  return {
    name: `aggregate(${state.name})`,
    serialize(value, topic, headers) {
      const body = state.serialize(value.state, topic, headers);
      const out = Buffer.allocUnsafe(HEADER + body.length);
      out.writeUInt8(FORMAT_V1, 0);
      out.writeDoubleBE(value.version, 1);
      body.copy(out, HEADER);
      return out;
    },
    deserialize(bytes, topic, headers) {
      if (bytes.length < HEADER || bytes.readUInt8(0) !== FORMAT_V1) {
        throw new SerdeError(`aggregate serde: not an aggregate of format ${FORMAT_V1} (${bytes.length} bytes, first byte ${bytes[0]}) in store '${topic}'`);
      }
      return { version: bytes.readDoubleBE(1), state: state.deserialize(bytes.subarray(HEADER), topic, headers) };
    },
  };
}
