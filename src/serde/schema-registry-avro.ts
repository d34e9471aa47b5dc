import type { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import { SerdeError } from '../errors/index.js';
import { avroSchemaText, avroType, avroTypeName, invalidAvroValue, type AvroSchema, type AvroTypeOptions } from './avro.js';
import { avsc } from './avro-module.js';
import { SchemaNotLoadedError } from './schema-registry-errors.js';
import { WIRE_HEADER_BYTES, wireSchemaId, writeWireFormat } from './schema-registry-wire.js';
import type { Serde } from './serde.js';

/**
 * How a topic maps to a registry subject, as in Confluent's serializers:
 * 'topic' `<topic>-value` (or `-key`), 'record' the schema's full name, 'topic-record' `<topic>-<full name>`.
 */
export type SubjectNameStrategy = 'topic' | 'record' | 'topic-record';

/** A reader schema kept in the registry: a version of a subject (default: its latest). */
export interface RegistryReaderSchema {
  subject: string;
  version?: number | 'latest';
}

export interface SchemaRegistryAvroOptions {
  /** The registry's base URL, e.g. `http://127.0.0.1:8081` (`tributary registry`). */
  host: string;
  /** Basic authentication for the registry. Never logged nor put in error messages. */
  auth?: { username: string; password: string };
  /** One subject for every topic; otherwise `subjectNameStrategy` names it. */
  subject?: string;
  /** Default 'topic'. */
  subjectNameStrategy?: SubjectNameStrategy;
  /** A key serde: the 'topic' strategy's subject is `<topic>-key`. Default false (`<topic>-value`). */
  isKey?: boolean;
  /** The writer schema: what serialize writes. Without it the serde only deserializes. */
  schema?: AvroSchema;
  /**
   * What deserialize returns: records written with any registered schema are resolved into this
   * one (Avro schema resolution: new fields take their defaults, removed ones are dropped).
   * Default: `schema` when given, else each record's own writer schema.
   */
  readerSchema?: AvroSchema | RegistryReaderSchema;
  /** init() registers `schema` under the subject(s). With false it only looks its id up. Default true. */
  autoRegister?: boolean;
  /**
   * The compatibility level init() expects of a subject and sets on a new one (the
   * @kafkajs/confluent-schema-registry client refuses to register under another). Default BACKWARD.
   */
  compatibility?: `${COMPATIBILITY}`;
  /**
   * init() also loads every earlier version of the subject(s), so that bytes written with them
   * (in state stores and changelogs, which are not prefetched) decode without a prefetch. Default true.
   */
  preloadVersions?: boolean;
  /** avsc options for every type this serde builds (logical types, union wrapping). */
  typeOptions?: AvroTypeOptions;
}

/** A Serde in Confluent's wire format, with the asynchronous hooks it needs (see AsyncSerdeHooks). */
export interface SchemaRegistrySerde<T> extends Serde<T> {
  init(topics?: readonly string[]): Promise<void>;
  prefetch(buffers: readonly (Buffer | null | undefined)[], topic: string): Promise<void>;
  /** The schema id serialize writes for this topic, once init() has registered it. */
  schemaIdFor(topic: string): number | undefined;
}

type Reader = { readonly type: avro.Type; readonly resolver: ReturnType<avro.Type['createResolver']> | undefined } | { readonly failure: string };

/** How the registry client words a failure to reach the registry. */
const NETWORK_FAILURE = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|Timeout \(\d+ms\))/;

/** More versions than this in one subject are not preloaded. */
const MAX_PRELOADED_VERSIONS = 1000;

/**
 * Avro in Confluent's wire format (byte 0, the schema id as int32 big-endian, Avro binary),
 * with schemas in a Confluent-compatible registry (Confluent's, or `tributary registry`).
 * serialize and deserialize are synchronous and use schemas loaded ahead by `init()` and
 * `prefetch()`; the runtime calls both (see AsyncSerdeHooks). Records decode as instances of
 * avsc's generated record classes, as the registry client's `decode` returns them.
 *
 * @example
 * const value = schemaRegistryAvro<Order>({ host: 'http://127.0.0.1:8081', schema: orderSchemaV2 });
 * await value.init(['orders']);                  // registers it as a version of subject orders-value
 * const bytes = value.serialize(order, 'orders'); // 0x00, schema id, Avro binary
 * await value.prefetch([old], 'orders');          // loads the schema `old` was written with
 * value.deserialize(old, 'orders');               // an Order of v2, resolved from the old schema
 */
export function schemaRegistryAvro<T = unknown>(options: SchemaRegistryAvroOptions): SchemaRegistrySerde<T> {
  return new SchemaRegistryAvroSerde<T>(options);
}

class SchemaRegistryAvroSerde<T> implements SchemaRegistrySerde<T> {
  readonly name: string;
  /** The registry client, imported on first use (it takes ~150 ms to load): only init and prefetch need it. */
  private clientLoaded: Promise<SchemaRegistry> | undefined;
  /** The registry's URL without credentials: what the client calls, and what messages show. */
  private readonly where: string;
  private readonly auth: { username: string; password: string } | undefined;
  private readonly writer: avro.Type | undefined;
  private readonly writerText: string | undefined;
  /** The subject when it does not depend on the topic. */
  private readonly fixedSubject: string | undefined;
  private fixedId: number | undefined;
  private readonly idByTopic = new Map<string, number>();
  private readonly idBySubject = new Map<string, number>();
  private readonly readers = new Map<number, Reader>();
  private reader: avro.Type | undefined;
  private readerLoaded: Promise<void> | undefined;
  /** init() calls run one after another, so a subject is registered once. */
  private initChain: Promise<void> = Promise.resolve();
  private readonly preloaded = new Set<string>();

  constructor(private readonly options: SchemaRegistryAvroOptions) {
    let url: URL;
    try {
      url = new URL(options.host);
    } catch {
      throw new SerdeError(`schemaRegistryAvro: host must be a URL such as http://127.0.0.1:8081`);
    }
    // Credentials in the URL become basic auth, so the URL itself is safe to show in messages.
    if (url.username !== '' && options.auth === undefined) {
      this.auth = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    } else {
      this.auth = options.auth;
    }
    url.username = '';
    url.password = '';
    this.where = url.origin + url.pathname.replace(/\/+$/, '');
    this.writer = options.schema === undefined ? undefined : avroType(options.schema, options.typeOptions);
    this.writerText = options.schema === undefined ? undefined : avroSchemaText(options.schema);
    const strategy = options.subjectNameStrategy ?? 'topic';
    if (options.subject === undefined && strategy !== 'topic' && this.writer?.name === undefined) {
      throw new SerdeError(`schemaRegistryAvro: subjectNameStrategy '${strategy}' needs a named writer \`schema\` (a record, enum or fixed)`);
    }
    if (this.writer !== undefined && this.writer.name === undefined && options.autoRegister !== false) {
      throw new SerdeError(
        'schemaRegistryAvro: the registry client registers named schemas only (a record, enum or fixed): ' +
          `wrap the ${this.writer.typeName} in a record, or register it yourself and pass autoRegister: false`,
      );
    }
    this.fixedSubject = options.subject ?? (strategy === 'record' ? this.writer!.name : undefined);
    if (options.readerSchema !== undefined && !isRegistryReader(options.readerSchema)) {
      this.reader = avroType(options.readerSchema, options.typeOptions);
    } else if (options.readerSchema === undefined) {
      this.reader = this.writer;
    }
    this.name = `schema-registry-avro(${this.fixedSubject ?? `${strategy} strategy`})`;
  }

  private client(): Promise<SchemaRegistry> {
    const { auth, where: host } = this;
    const typeOptions = this.options.typeOptions;
    return (this.clientLoaded ??= import('@kafkajs/confluent-schema-registry').then(
      ({ SchemaRegistry }) =>
        new SchemaRegistry({ host, clientId: 'tributary', ...(auth ? { auth } : {}) }, typeOptions ? { AVRO: typeOptions } : undefined),
    ));
  }

  schemaIdFor(topic: string): number | undefined {
    return this.fixedId ?? this.idByTopic.get(topic);
  }

  serialize(value: T, topic: string): Buffer {
    const writer = this.writer;
    if (writer === undefined) throw new SerdeError(`${this.name}: no writer schema: pass \`schema\` to serialize with it`);
    const id = this.fixedId ?? this.idByTopic.get(topic);
    if (id === undefined) {
      throw new SerdeError(
        `${this.name}: no schema id for topic '${topic}' yet (subject '${this.subjectFor(topic)}'): ` +
          `await serde.init(['${topic}']) first (the runtime does at start)`,
        { retriable: true },
      );
    }
    let payload: Buffer;
    try {
      payload = writer.toBuffer(value);
    } catch (err) {
      throw new SerdeError(`${this.name}: cannot write a value for topic '${topic}': ${invalidAvroValue(writer, value, err)}`, { cause: err });
    }
    return writeWireFormat(id, payload);
  }

  deserialize(bytes: Buffer, topic: string): T {
    const id = wireSchemaId(bytes);
    if (id === undefined) {
      const what = bytes.length < WIRE_HEADER_BYTES ? `only ${bytes.length} byte(s)` : `magic byte ${bytes[0]}, not 0`;
      throw new SerdeError(`${this.name}: a record on topic '${topic}' is not in the schema registry wire format (${what})`);
    }
    const reader = this.readers.get(id);
    if (reader === undefined) throw new SchemaNotLoadedError(id, topic, this.name);
    if ('failure' in reader) throw new SerdeError(`${this.name}: cannot read a record on topic '${topic}': ${reader.failure}`);
    try {
      return reader.type.fromBuffer(bytes.subarray(WIRE_HEADER_BYTES), reader.resolver) as T;
    } catch (err) {
      throw new SerdeError(`${this.name}: cannot decode a record on topic '${topic}' written with schema id ${id}: ${(err as Error).message}`, { cause: err });
    }
  }

  init(topics: readonly string[] = []): Promise<void> {
    const run = this.initChain.then(() => this.initTopics(topics));
    this.initChain = run.catch(() => {});
    return run;
  }

  async prefetch(buffers: readonly (Buffer | null | undefined)[], topic: string): Promise<void> {
    let missing: Set<number> | undefined;
    for (const bytes of buffers) {
      if (!bytes) continue;
      const id = wireSchemaId(bytes);
      if (id !== undefined && !this.readers.has(id)) (missing ??= new Set()).add(id);
    }
    if (missing === undefined) return;
    await this.loadReader();
    await Promise.all([...missing].map((id) => this.loadWriterSchema(id, `a record on topic '${topic}'`)));
  }

  private async initTopics(topics: readonly string[]): Promise<void> {
    await this.loadReader();
    const subjects = this.fixedSubject !== undefined ? [this.fixedSubject] : [...new Set(topics.map((t) => this.subjectFor(t)))];
    if (this.writer !== undefined) {
      for (const subject of subjects) {
        if (!this.idBySubject.has(subject)) {
          const id = await this.writerId(subject);
          this.idBySubject.set(subject, id);
          this.readers.set(id, this.readerFor(id, this.writer));
        }
      }
      if (this.fixedSubject !== undefined) this.fixedId = this.idBySubject.get(this.fixedSubject);
      else for (const topic of topics) this.idByTopic.set(topic, this.idBySubject.get(this.subjectFor(topic))!);
    }
    if (this.options.preloadVersions ?? true) {
      for (const subject of subjects) await this.preloadVersions(subject);
    }
  }

  private subjectFor(topic: string): string {
    if (this.fixedSubject !== undefined) return this.fixedSubject;
    if ((this.options.subjectNameStrategy ?? 'topic') === 'topic-record') return `${topic}-${this.writer!.name}`;
    return `${topic}-${this.options.isKey ? 'key' : 'value'}`;
  }

  /** Registers the writer schema under the subject (or looks it up), and returns its id. */
  private async writerId(subject: string): Promise<number> {
    const schema = { type: 'AVRO' as SchemaType.AVRO, schema: this.writerText! };
    const client = await this.client();
    try {
      if (this.options.autoRegister ?? true) {
        const { id } = await client.register(schema, { subject, compatibility: (this.options.compatibility ?? 'BACKWARD') as COMPATIBILITY });
        return id;
      }
      return await client.getRegistryIdBySchema(subject, schema);
    } catch (err) {
      const what = (this.options.autoRegister ?? true) ? `cannot register the schema under subject '${subject}'` : `the schema is not registered under subject '${subject}'`;
      throw this.failure(what, err);
    }
  }

  /** Loads a reader schema kept in the registry, once. */
  private loadReader(): Promise<void> {
    const ref = this.options.readerSchema;
    if (ref === undefined || !isRegistryReader(ref)) return Promise.resolve();
    this.readerLoaded ??= (async () => {
      try {
        const client = await this.client();
        const version = ref.version ?? 'latest';
        const id = version === 'latest' ? await client.getLatestSchemaId(ref.subject) : await client.getRegistryId(ref.subject, version);
        const type = await client.getSchema(id);
        if (!(type instanceof avsc().Type)) throw new Error(`schema id ${id} is not an Avro schema`);
        this.reader = type;
        this.readers.set(id, { type, resolver: undefined });
      } catch (err) {
        this.readerLoaded = undefined;
        throw this.failure(`cannot load the reader schema (subject '${ref.subject}', version ${ref.version ?? 'latest'})`, err);
      }
    })();
    return this.readerLoaded;
  }

  /** Loads the writer schema of an id met in a record; an id the registry does not have is remembered as a failure. */
  private async loadWriterSchema(id: number, context: string): Promise<void> {
    let type: unknown;
    try {
      type = await (await this.client()).getSchema(id);
    } catch (err) {
      if (statusOf(err) === 404) {
        this.readers.set(id, { failure: `schema id ${id} is not in the registry at ${this.where}` });
        return;
      }
      throw this.failure(`cannot load schema id ${id} (${context})`, err);
    }
    this.readers.set(id, type instanceof avsc().Type ? this.readerFor(id, type) : { failure: `schema id ${id} is not an Avro schema` });
  }

  /** How to read data written with `writer`: as it is, or resolved into the reader schema. */
  private readerFor(id: number, writer: avro.Type): Reader {
    const reader = this.reader;
    if (reader === undefined || reader === writer || reader.equals(writer)) return { type: reader ?? writer, resolver: undefined };
    try {
      return { type: reader, resolver: reader.createResolver(writer) };
    } catch (err) {
      return { failure: `data written with schema id ${id} cannot be read as the reader schema ${avroTypeName(reader)}: ${(err as Error).message}` };
    }
  }

  /** Loads every registered version of the subject, oldest first, until its latest. */
  private async preloadVersions(subject: string): Promise<void> {
    if (this.preloaded.has(subject)) return;
    try {
      const client = await this.client();
      let latest: number;
      try {
        latest = await client.getLatestSchemaId(subject);
      } catch (err) {
        if (statusOf(err) === 404) return; // no such subject yet: nothing to load
        throw err;
      }
      for (let version = 1; version <= MAX_PRELOADED_VERSIONS; version++) {
        let id: number;
        try {
          id = await client.getRegistryId(subject, version);
        } catch (err) {
          if (statusOf(err) === 404) continue; // a deleted version
          throw err;
        }
        if (!this.readers.has(id)) await this.loadWriterSchema(id, `version ${version} of subject '${subject}'`);
        if (id === latest) break;
      }
      this.preloaded.add(subject);
    } catch (err) {
      throw err instanceof SerdeError ? err : this.failure(`cannot load the versions of subject '${subject}'`, err);
    }
  }

  /** A registry failure as a SerdeError: retriable when the registry was unreachable or failed (5xx). */
  private failure(what: string, err: unknown): SerdeError {
    const status = statusOf(err);
    const clientError = err instanceof Error && err.name.startsWith('ConfluentSchemaRegistry');
    // The client's HTTP layer (mappersmith) reports a connection failure or timeout as status 400.
    const unreachable = err instanceof Error && NETWORK_FAILURE.test(err.message);
    const retriable = unreachable || (!clientError && (status === undefined || status >= 500));
    // Credentials never reach a message, even when the client put the URL in its own.
    const detail = (err instanceof Error ? err.message.replace(/^tributary - /, '') : String(err))
      .replace(/^Error, status 400: /, unreachable ? '' : 'Error, status 400: ')
      .replace(/\/\/[^/@\s]+@/g, '//');
    return new SerdeError(`${this.name}: ${what} in the registry at ${this.where}: ${detail}`, { cause: err, retriable });
  }
}

function isRegistryReader(schema: AvroSchema | RegistryReaderSchema): schema is RegistryReaderSchema {
  return typeof schema === 'object' && !(schema instanceof avsc().Type) && 'subject' in schema && !('type' in schema);
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}
