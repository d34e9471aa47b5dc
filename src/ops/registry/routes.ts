import type avro from 'avsc';
import type { Logger } from '../../runtime/logger.js';
import { checkCompatibility, describeIncompatibility, parseAvroSchema, type ParsedSchema } from './compatibility.js';
import { DEFAULT_COMPATIBILITY, isCompatibilityLevel, type CompatibilityLevel } from './compatibility-levels.js';
import { RegistryHttpError, registryErrors } from './registry-errors.js';
import type { SchemaStore, SubjectVersion } from './schema-store.js';

/** A request as the routes see it: the path already split and decoded, the body as text. */
export interface RegistryRequest {
  readonly method: string;
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
  /** The request body ('' when there is none). */
  readonly body: string;
}

export interface RegistryReply {
  readonly status: number;
  readonly body: unknown;
}

const MAX_ID = 2 ** 31 - 1;
const MAX_SUBJECT_LENGTH = 512;

/**
 * The REST subset of Confluent Schema Registry that clients use, over a SchemaStore:
 *
 *   GET  /schemas/ids/{id}[/schema]                 GET  /subjects
 *   GET  /subjects/{s}/versions                     GET  /subjects/{s}/versions/{v|latest}[/schema]
 *   POST /subjects/{s}  (is this schema registered?) POST /subjects/{s}/versions  (register)
 *   GET|PUT /config     GET|PUT /config/{s}         POST /compatibility/subjects/{s}/versions[/{v|latest}]
 *
 * Every failure is a RegistryHttpError, which the server writes as `{ error_code, message }`.
 */
export class RegistryRoutes {
  /** Parsed schemas by id: compatibility checks read the same earlier versions again and again. */
  private readonly types = new Map<number, avro.Type>();

  constructor(
    private readonly store: SchemaStore,
    private readonly logger: Logger,
  ) {}

  handle(req: RegistryRequest): RegistryReply {
    const s = req.segments;
    const method = req.method;
    const only = (allowed: string, run: () => unknown): RegistryReply => {
      if (method !== allowed) throw registryErrors.methodNotAllowed();
      return { status: 200, body: run() };
    };
    const either = (handlers: Record<string, () => unknown>): RegistryReply => {
      const run = handlers[method];
      if (run === undefined) throw registryErrors.methodNotAllowed();
      return { status: 200, body: run() };
    };

    if (s.length === 0) return only('GET', () => ({}));
    switch (s[0]) {
      case 'schemas':
        if (s[1] === 'ids' && s.length === 3) return only('GET', () => ({ schema: this.schemaById(s[2]!) }));
        if (s[1] === 'ids' && s.length === 4 && s[3] === 'schema') return only('GET', () => JSON.parse(this.schemaById(s[2]!)));
        break;
      case 'subjects': {
        if (s.length === 1) return only('GET', () => this.store.subjects());
        const subject = validSubject(s[1]!);
        if (s.length === 2) return only('POST', () => this.lookup(subject, req.body));
        if (s[2] !== 'versions') break;
        if (s.length === 3) {
          return either({
            GET: () => this.existingHistory(subject).map((v) => v.version),
            POST: () => this.register(subject, req.body),
          });
        }
        if (s.length === 4) return only('GET', () => versionJson(this.version(subject, s[3]!)));
        if (s.length === 5 && s[4] === 'schema') return only('GET', () => JSON.parse(this.version(subject, s[3]!).schema));
        break;
      }
      case 'config': {
        if (s.length === 1) {
          return either({
            GET: () => ({ compatibilityLevel: this.store.globalCompatibility() ?? DEFAULT_COMPATIBILITY }),
            PUT: () => {
              const level = compatibilityFromBody(req.body);
              this.store.setGlobalCompatibility(level);
              this.logger.info('schema registry: global compatibility set', { compatibility: level });
              return { compatibility: level };
            },
          });
        }
        if (s.length !== 2) break;
        const subject = validSubject(s[1]!);
        return either({
          GET: () => ({ compatibilityLevel: this.subjectConfig(subject, req.query.get('defaultToGlobal') === 'true') }),
          PUT: () => {
            const level = compatibilityFromBody(req.body);
            this.store.setSubjectCompatibility(subject, level);
            this.logger.info('schema registry: compatibility set', { subject, compatibility: level });
            return { compatibility: level };
          },
        });
      }
      case 'compatibility':
        if (s[1] === 'subjects' && s[3] === 'versions' && (s.length === 4 || s.length === 5)) {
          const subject = validSubject(s[2]!);
          return only('POST', () => this.testCompatibility(subject, s[4], req.body, req.query.get('verbose') === 'true'));
        }
        break;
    }
    throw registryErrors.routeNotFound();
  }

  private schemaById(raw: string): string {
    const id = /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : NaN;
    const schema = id <= MAX_ID ? this.store.schemaById(id) : undefined;
    if (schema === undefined) throw registryErrors.schemaNotFound(id <= MAX_ID ? id : preview(raw));
    return schema;
  }

  private existingHistory(subject: string): SubjectVersion[] {
    const history = this.store.history(subject);
    if (history.length === 0) throw registryErrors.subjectNotFound(subject);
    return history;
  }

  private version(subject: string, raw: string): SubjectVersion {
    const version = parseVersion(raw);
    const found = this.store.version(subject, version);
    if (found) return found;
    if (version === 'latest' || this.store.history(subject).length === 0) throw registryErrors.subjectNotFound(subject);
    throw registryErrors.versionNotFound(version);
  }

  private lookup(subject: string, body: string): unknown {
    const schema = schemaFromBody(body);
    this.existingHistory(subject);
    const found = this.store.lookup(subject, schema.text);
    if (!found) throw new RegistryHttpError(404, 40403, 'Schema not found');
    return versionJson(found);
  }

  private register(subject: string, body: string): { id: number } {
    const schema = schemaFromBody(body);
    const level = this.compatibilityOf(subject);
    const outcome = this.store.register(subject, schema.text, (history) => {
      const conflicts = this.conflicts(level, schema, history);
      if (conflicts.length > 0) throw registryErrors.incompatible(subject, level, conflicts);
    });
    if (outcome.created) {
      this.logger.info('schema registry: schema registered', { subject, version: outcome.version, id: outcome.id });
    }
    return { id: outcome.id };
  }

  private testCompatibility(subject: string, rawVersion: string | undefined, body: string, verbose: boolean): unknown {
    const schema = schemaFromBody(body);
    const history = this.existingHistory(subject);
    const level = this.compatibilityOf(subject);
    let conflicts: string[];
    if (rawVersion === undefined || parseVersion(rawVersion) === 'latest') {
      conflicts = this.conflicts(level, schema, history);
    } else {
      const version = this.version(subject, rawVersion);
      // Against one named version: the level's direction, without the transitive part.
      const single = level.replace('_TRANSITIVE', '') as CompatibilityLevel;
      conflicts = this.conflicts(single, schema, [version]);
    }
    const compatible = conflicts.length === 0;
    return verbose ? { is_compatible: compatible, messages: conflicts } : { is_compatible: compatible };
  }

  private conflicts(level: CompatibilityLevel, schema: ParsedSchema, history: readonly SubjectVersion[]): string[] {
    const earlier = history.map((v) => ({ version: v.version, type: this.typeOf(v) }));
    return checkCompatibility(level, schema.type, earlier).map(describeIncompatibility);
  }

  private typeOf(v: SubjectVersion): avro.Type {
    let type = this.types.get(v.id);
    if (type === undefined) {
      type = parseAvroSchema(v.schema).type;
      this.types.set(v.id, type);
    }
    return type;
  }

  private compatibilityOf(subject: string): CompatibilityLevel {
    return this.store.subjectCompatibility(subject) ?? this.store.globalCompatibility() ?? DEFAULT_COMPATIBILITY;
  }

  private subjectConfig(subject: string, defaultToGlobal: boolean): CompatibilityLevel {
    const own = this.store.subjectCompatibility(subject);
    if (own !== undefined) return own;
    if (defaultToGlobal) return this.store.globalCompatibility() ?? DEFAULT_COMPATIBILITY;
    throw registryErrors.subjectConfigNotFound(subject);
  }
}

function versionJson(v: SubjectVersion): { subject: string; version: number; id: number; schema: string } {
  return { subject: v.subject, version: v.version, id: v.id, schema: v.schema };
}

/** A subject: 1 to 512 characters, none of them control characters. */
function validSubject(subject: string): string {
  if (subject.length === 0) throw registryErrors.unprocessable('Invalid subject: it is empty');
  if (subject.length > MAX_SUBJECT_LENGTH) throw registryErrors.unprocessable(`Invalid subject: longer than ${MAX_SUBJECT_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(subject)) throw registryErrors.unprocessable(`Invalid subject ${preview(subject)}: it has control characters`);
  return subject;
}

/** 'latest', -1 (Confluent's other spelling of latest) or 1 .. 2^31-1. */
function parseVersion(raw: string): number | 'latest' {
  if (raw === 'latest' || raw === '-1') return 'latest';
  const n = /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(n <= MAX_ID)) throw registryErrors.invalidVersion(preview(raw));
  return n;
}

function jsonObject(body: string): Record<string, unknown> {
  if (body.trim() === '') throw registryErrors.unprocessable('The request has no body: send a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw registryErrors.badRequest(`The request body is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw registryErrors.unprocessable('The request body must be a JSON object');
  return value as Record<string, unknown>;
}

/** `{ schema, schemaType?, references? }`: an Avro schema, as a string of JSON. */
function schemaFromBody(body: string): ParsedSchema {
  const { schema, schemaType, references } = jsonObject(body);
  if (typeof schema !== 'string' || schema.trim() === '') {
    throw registryErrors.invalidSchema("'schema' must be a string holding the schema as JSON");
  }
  if (schemaType !== undefined && schemaType !== null && schemaType !== 'AVRO') {
    throw registryErrors.invalidSchema(`schemaType ${preview(String(schemaType))} is not supported: this registry holds AVRO schemas only`);
  }
  if (references !== undefined && references !== null && !(Array.isArray(references) && references.length === 0)) {
    throw registryErrors.invalidSchema('schema references are not supported by the embedded registry');
  }
  try {
    return parseAvroSchema(schema);
  } catch (err) {
    throw registryErrors.invalidSchema((err as Error).message);
  }
}

/** `{ compatibility }`, any case. */
function compatibilityFromBody(body: string): CompatibilityLevel {
  const { compatibility } = jsonObject(body);
  const level = typeof compatibility === 'string' ? compatibility.toUpperCase() : undefined;
  if (!isCompatibilityLevel(level)) throw registryErrors.invalidCompatibility();
  return level;
}

/** User input echoed in a message: quoted, and cut short. */
function preview(raw: string): string {
  return JSON.stringify(raw.length > 64 ? `${raw.slice(0, 64)}...` : raw);
}
