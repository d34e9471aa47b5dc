import { serdes, type Serde } from '../serde/index.js';
import { choiceFlag } from './args.js';

/**
 * Serde names on the command line, and the JSON form of each on stdin (produce) and stdout (tail):
 * string <-> JSON string, json <-> any JSON value, int32 / float64 <-> number,
 * bytes <-> base64 string. `auto` (tail only) shows JSON when the bytes parse as JSON, else text.
 */
export const serdeNames = ['string', 'json', 'int32', 'float64', 'bytes'] as const;
export type SerdeName = (typeof serdeNames)[number];
export const readSerdeNames = [...serdeNames, 'auto'] as const;
export type ReadSerdeName = (typeof readSerdeNames)[number];

const serdeByName: Record<SerdeName, () => Serde<any>> = {
  string: serdes.string,
  json: serdes.json,
  int32: serdes.int32,
  float64: serdes.float64,
  bytes: serdes.bytes,
};

export const serdeFlagHelp = `string | json | int32 | float64 | bytes (bytes as base64 text)`;

export function writeSerdeFlag(command: string, flag: string, raw: string | undefined, fallback: SerdeName): SerdeName {
  return choiceFlag(command, flag, raw, serdeNames) ?? fallback;
}

export function readSerdeFlag(command: string, flag: string, raw: string | undefined, fallback: ReadSerdeName): ReadSerdeName {
  return choiceFlag(command, flag, raw, readSerdeNames) ?? fallback;
}

/** The JSON value from an input line -> bytes; throws an Error saying what is wrong with it. */
export function encodeJson(name: SerdeName, value: unknown, topic: string): Buffer | null {
  if (value === null || value === undefined) return null;
  switch (name) {
    case 'string':
      if (typeof value !== 'string') throw new Error(`the string serde needs a JSON string, got ${describe(value)} (use the json serde for other values)`);
      break;
    case 'int32':
    case 'float64':
      if (typeof value !== 'number') throw new Error(`the ${name} serde needs a JSON number, got ${describe(value)}`);
      break;
    case 'bytes':
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
        throw new Error(`the bytes serde needs a base64 string, got ${describe(value)}`);
      }
      return Buffer.from(value, 'base64');
    case 'json':
      break;
  }
  return serdeByName[name]().serialize(value, topic);
}

/** Bytes from the log -> a JSON-friendly value for output. */
export function decodeJson(name: ReadSerdeName, bytes: Buffer | null, topic: string): unknown {
  if (bytes === null) return null;
  if (name === 'bytes') return bytes.toString('base64');
  if (name === 'auto') {
    const text = bytes.toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return serdeByName[name]().deserialize(bytes, topic);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return `${Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`} ${shown}`;
}
