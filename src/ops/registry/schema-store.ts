import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { TributaryError } from '../../errors/index.js';
import type { CompatibilityLevel } from './compatibility-levels.js';

/**
 * The registry's file format (better-sqlite3). `PRAGMA application_id` marks the file as a
 * Tributary schema registry and `PRAGMA user_version` holds the format version, so a newer or
 * foreign file fails clearly instead of being misread.
 *
 * Tables (version 1):
 * - `schemas`: one row per distinct schema text; `id` is the global schema id, never reused
 *   (AUTOINCREMENT), so an id written into a record keeps meaning the same schema forever.
 * - `subject_versions`: version n of a subject is a schema id; versions count from 1.
 * - `config`: the compatibility level per subject; the row with subject '' is the global level.
 */
export const REGISTRY_FORMAT_VERSION = 1;
/** "TrSR" in ASCII. */
export const REGISTRY_APPLICATION_ID = 0x54725352;

const SCHEMA_V1 = `
CREATE TABLE schemas (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  schema     TEXT    NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE subject_versions (
  subject    TEXT    NOT NULL,
  version    INTEGER NOT NULL,
  schema_id  INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (subject, version)
) WITHOUT ROWID;
CREATE TABLE config (
  subject       TEXT NOT NULL PRIMARY KEY,
  compatibility TEXT NOT NULL
) WITHOUT ROWID;
`;

/** The global compatibility level lives under this subject, which no real subject can have. */
const GLOBAL = '';

/** Version `version` of `subject` is schema `id`. */
export interface SubjectVersion {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  readonly schema: string;
}

export interface RegisterOutcome extends SubjectVersion {
  /** False when the subject already had this schema (its existing version is returned). */
  readonly created: boolean;
}

/** The registry's durable state: schemas, subject versions and compatibility levels. */
export class SchemaStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    try {
      openFormat(this.db, path);
    } catch (err) {
      this.db.close();
      throw err;
    }
    const db = this.db;
    const versionColumns = 'v.subject AS subject, v.version AS version, s.id AS id, s.schema AS schema';
    this.statements = {
      schemaById: db.prepare<[number], { schema: string }>('SELECT schema FROM schemas WHERE id = ?'),
      schemaIdByText: db.prepare<[string], { id: number }>('SELECT id FROM schemas WHERE schema = ?'),
      insertSchema: db.prepare<[string, number]>('INSERT INTO schemas (schema, created_at) VALUES (?, ?)'),
      subjects: db.prepare<[], { subject: string }>('SELECT DISTINCT subject FROM subject_versions ORDER BY subject'),
      history: db.prepare<[string], SubjectVersion>(
        `SELECT ${versionColumns} FROM subject_versions v JOIN schemas s ON s.id = v.schema_id WHERE v.subject = ? ORDER BY v.version`,
      ),
      version: db.prepare<[string, number], SubjectVersion>(
        `SELECT ${versionColumns} FROM subject_versions v JOIN schemas s ON s.id = v.schema_id WHERE v.subject = ? AND v.version = ?`,
      ),
      latest: db.prepare<[string], SubjectVersion>(
        `SELECT ${versionColumns} FROM subject_versions v JOIN schemas s ON s.id = v.schema_id WHERE v.subject = ? ORDER BY v.version DESC LIMIT 1`,
      ),
      lookup: db.prepare<[string, string], SubjectVersion>(
        `SELECT ${versionColumns} FROM subject_versions v JOIN schemas s ON s.id = v.schema_id WHERE v.subject = ? AND s.schema = ?`,
      ),
      insertVersion: db.prepare<[string, number, number, number]>(
        'INSERT INTO subject_versions (subject, version, schema_id, created_at) VALUES (?, ?, ?, ?)',
      ),
      config: db.prepare<[string], { compatibility: string }>('SELECT compatibility FROM config WHERE subject = ?'),
      setConfig: db.prepare<[string, string]>(
        'INSERT INTO config (subject, compatibility) VALUES (?, ?) ON CONFLICT (subject) DO UPDATE SET compatibility = excluded.compatibility',
      ),
    };
  }

  schemaById(id: number): string | undefined {
    return this.statements.schemaById.get(id)?.schema;
  }

  subjects(): string[] {
    return this.statements.subjects.all().map((r) => r.subject);
  }

  /** Every version of the subject, oldest first; empty for an unknown subject. */
  history(subject: string): SubjectVersion[] {
    return this.statements.history.all(subject);
  }

  version(subject: string, version: number | 'latest'): SubjectVersion | undefined {
    return version === 'latest' ? this.statements.latest.get(subject) : this.statements.version.get(subject, version);
  }

  /** The version of the subject that has exactly this schema text, if any. */
  lookup(subject: string, schema: string): SubjectVersion | undefined {
    return this.statements.lookup.get(subject, schema);
  }

  /**
   * Adds the schema as the subject's next version, unless the subject already has it (then its
   * existing version is returned and `check` is not called). `check` sees the subject's history,
   * oldest first, and throws to refuse the schema. All of it is one write transaction, so two
   * processes registering at once cannot both pass the check against the same history.
   */
  register(subject: string, schema: string, check: (history: SubjectVersion[]) => void): RegisterOutcome {
    return this.db
      .transaction((): RegisterOutcome => {
        const existing = this.lookup(subject, schema);
        if (existing) return { ...existing, created: false };
        const history = this.history(subject);
        check(history);
        const now = Date.now();
        const id = this.statements.schemaIdByText.get(schema)?.id ?? Number(this.statements.insertSchema.run(schema, now).lastInsertRowid);
        const version = (history.at(-1)?.version ?? 0) + 1;
        this.statements.insertVersion.run(subject, version, id, now);
        return { subject, version, id, schema, created: true };
      })
      .immediate();
  }

  /** The subject's own compatibility level; undefined when none was set for it. */
  subjectCompatibility(subject: string): CompatibilityLevel | undefined {
    return this.statements.config.get(subject)?.compatibility as CompatibilityLevel | undefined;
  }

  globalCompatibility(): CompatibilityLevel | undefined {
    return this.subjectCompatibility(GLOBAL);
  }

  setSubjectCompatibility(subject: string, level: CompatibilityLevel): void {
    this.statements.setConfig.run(subject, level);
  }

  setGlobalCompatibility(level: CompatibilityLevel): void {
    this.statements.setConfig.run(GLOBAL, level);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function openFormat(db: Database.Database, path: string): void {
  db.pragma('busy_timeout = 10000');
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  // Registrations are rare and every one must survive a crash: sync on each commit.
  db.pragma('synchronous = FULL');
  db.transaction(() => {
    const appId = db.pragma('application_id', { simple: true }) as number;
    const version = db.pragma('user_version', { simple: true }) as number;
    if (appId === 0 && version === 0) {
      const tables = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number;
      if (tables > 0) throw notARegistry(path, 'it already has tables of something else');
      db.exec(SCHEMA_V1);
      db.pragma(`application_id = ${REGISTRY_APPLICATION_ID}`);
      db.pragma(`user_version = ${REGISTRY_FORMAT_VERSION}`);
      return;
    }
    if (appId !== REGISTRY_APPLICATION_ID) throw notARegistry(path, `its application_id is 0x${(appId >>> 0).toString(16)}`);
    if (version > REGISTRY_FORMAT_VERSION) {
      throw new TributaryError(
        `schema registry file ${path} has format version ${version}, but this Tributary only knows versions up to ${REGISTRY_FORMAT_VERSION}: upgrade Tributary to open it`,
      );
    }
  }).immediate();
}

function notARegistry(path: string, why: string): TributaryError {
  return new TributaryError(`${path} is not a Tributary schema registry file: ${why}; use another --file`);
}
