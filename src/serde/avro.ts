import type avro from 'avsc';
import { SerdeError } from '../errors/index.js';
import { avsc, safeLongType } from './avro-module.js';
import type { Serde } from './serde.js';

/** An Avro schema: its JSON as an object, as text, a primitive type name ('string'), or an avsc Type. */
export type AvroSchema = object | string | avro.Type;

/** avsc's options for building a type (logical types, union wrapping, ...). */
export type AvroTypeOptions = NonNullable<Parameters<typeof avro.Type.forSchema>[1]>;

type SchemaJson = Parameters<typeof avro.Type.forSchema>[0];

export interface AvroSerdeOptions {
  /**
   * The schema the bytes were written with, when it is not `schema`: values are then read with
   * Avro schema resolution into `schema` (fields added with defaults, removed fields dropped).
   */
  writerSchema?: AvroSchema;
  typeOptions?: AvroTypeOptions;
}

/** A plain Avro serde, with the avsc type it reads and writes. */
export interface AvroSerde<T> extends Serde<T> {
  readonly type: avro.Type;
}

/**
 * The avsc type of a schema given in any of the forms of {@link AvroSchema}. Its longs are exact
 * over the whole safe-integer range (see safeLongType), unless `options.registry` is given.
 */
export function avroType(schema: AvroSchema, options?: AvroTypeOptions): avro.Type {
  const { Type } = avsc();
  if (schema instanceof Type) return schema;
  try {
    const json = typeof schema === 'string' && /^\s*[[{"]/.test(schema) ? (JSON.parse(schema) as object) : schema;
    // A fresh registry per type: avsc adds the schema's named types to it.
    return Type.forSchema(json as SchemaJson, options?.registry ? options : { ...options, registry: { long: safeLongType() } });
  } catch (err) {
    throw new SerdeError(`avro: invalid schema: ${(err as Error).message}`, { cause: err });
  }
}

/** The schema as JSON text, keeping what it was given with (defaults, docs, logical types). */
export function avroSchemaText(schema: AvroSchema): string {
  if (schema instanceof avsc().Type) return JSON.stringify(schema.schema({ exportAttrs: true }));
  if (typeof schema === 'string') return /^\s*[[{"]/.test(schema) ? JSON.stringify(JSON.parse(schema)) : JSON.stringify(schema);
  return JSON.stringify(schema);
}

/** A readable name for a type: its full name, or its kind ('array', 'string'). */
export function avroTypeName(type: avro.Type): string {
  return type.name ?? type.typeName;
}

/** Why avsc cannot write this value: the paths of the fields that do not fit. */
export function invalidAvroValue(type: avro.Type, value: unknown, err: unknown): string {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path: string[]) => paths.push(path.length === 0 ? '(the value itself)' : path.join('.')) });
  return paths.length > 0 ? `invalid value at ${paths.join(', ')}` : (err as Error).message;
}

/**
 * Plain Avro binary (no schema id, no registry): both sides must know the schema. Records decode
 * as instances of avsc's generated record classes, with the fields as own properties.
 *
 * @example
 * const orders = serdes.avro<Order>({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }, { name: 'amount', type: 'double' }] });
 */
export function avroSerde<T = unknown>(schema: AvroSchema, options: AvroSerdeOptions = {}): AvroSerde<T> {
  const type = avroType(schema, options.typeOptions);
  const writer = options.writerSchema === undefined ? undefined : avroType(options.writerSchema, options.typeOptions);
  let resolver: ReturnType<avro.Type['createResolver']> | undefined;
  if (writer !== undefined && !type.equals(writer)) {
    try {
      resolver = type.createResolver(writer);
    } catch (err) {
      throw new SerdeError(`avro: data written with writerSchema cannot be read as ${avroTypeName(type)}: ${(err as Error).message}`, { cause: err });
    }
  }
  const name = `avro(${avroTypeName(type)})`;
  return {
    name,
    type,
    serialize(value, topic) {
      try {
        return type.toBuffer(value);
      } catch (err) {
        throw new SerdeError(`${name}: cannot write a value for topic '${topic}': ${invalidAvroValue(type, value, err)}`, { cause: err });
      }
    },
    deserialize(bytes, topic) {
      try {
        return type.fromBuffer(bytes, resolver) as T;
      } catch (err) {
        throw new SerdeError(`${name}: cannot read ${bytes.length} bytes on topic '${topic}': ${(err as Error).message}`, { cause: err });
      }
    },
  };
}
