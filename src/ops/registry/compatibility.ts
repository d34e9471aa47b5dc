import avro from 'avsc';
import type { CompatibilityLevel } from './compatibility-levels.js';

/** A schema as the registry keeps it: its text (compact JSON) and the parsed avsc type. */
export interface ParsedSchema {
  readonly text: string;
  readonly type: avro.Type;
}

/**
 * Parses an Avro schema given as JSON text. Throws an Error saying what is wrong when the text is
 * not JSON or not a valid Avro schema. `text` is the compact JSON of the input: it keeps every
 * attribute (defaults, docs, logical types, aliases), which avsc's own canonical form drops, and
 * makes schemas that differ only in whitespace the same schema.
 */
export function parseAvroSchema(text: string): ParsedSchema {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`the schema is not JSON: ${(err as Error).message}`);
  }
  const type = avro.Type.forSchema(json as Parameters<typeof avro.Type.forSchema>[0]);
  return { text: JSON.stringify(json), type };
}

/** Why `reader` cannot read what `writer` wrote (Avro schema resolution), or undefined if it can. */
function resolutionError(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export interface Incompatibility {
  /** The version of the earlier schema that the candidate conflicts with. */
  readonly version: number;
  /**
   * 'backward': the new schema cannot read data written with that version; 'forward': that
   * version cannot read data written with the new schema.
   */
  readonly direction: 'backward' | 'forward';
  /** avsc's explanation, e.g. `no matching field for default-less shop.Order.currency`. */
  readonly reason: string;
}

/** One line for people: what conflicts with what, and why. */
export function describeIncompatibility(i: Incompatibility): string {
  return i.direction === 'backward'
    ? `the new schema cannot read data written with version ${i.version}: ${i.reason}`
    : `version ${i.version} cannot read data written with the new schema: ${i.reason}`;
}

/**
 * Checks a candidate schema against the subject's earlier versions (oldest first) with Avro's
 * resolution rules, as avsc implements them (`reader.createResolver(writer)` throws when the
 * reader cannot read the writer's data):
 * - BACKWARD: the new schema reads data written with the latest one; FORWARD: the latest reads
 *   data written with the new one; FULL: both.
 * - the _TRANSITIVE levels check against every earlier version, not just the latest.
 * Returns the conflicts, empty when the candidate is compatible.
 */
export function checkCompatibility(
  level: CompatibilityLevel,
  candidate: avro.Type,
  earlier: readonly { version: number; type: avro.Type }[],
): Incompatibility[] {
  if (level === 'NONE' || earlier.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? earlier : earlier.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const found: Incompatibility[] = [];
  for (const old of against) {
    const readNew = backward ? resolutionError(candidate, old.type) : undefined;
    if (readNew !== undefined) found.push({ version: old.version, direction: 'backward', reason: readNew });
    const readOld = forward ? resolutionError(old.type, candidate) : undefined;
    if (readOld !== undefined) found.push({ version: old.version, direction: 'forward', reason: readOld });
  }
  return found;
}
