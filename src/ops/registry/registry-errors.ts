import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility-levels.js';

/**
 * An error answer of the registry: an HTTP status and Confluent's `{ error_code, message }` body.
 * The codes and messages follow Confluent Schema Registry's, so clients written for it (the
 * @kafkajs/confluent-schema-registry client among them) understand them.
 */
export class RegistryHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryHttpError';
  }

  toJSON(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

const quoted = (s: string) => JSON.stringify(s);

/** Confluent's error codes: the first three digits are the HTTP status. */
export const registryErrors = {
  subjectNotFound: (subject: string) => new RegistryHttpError(404, 40401, `Subject '${subject}' not found.`),
  versionNotFound: (version: number) => new RegistryHttpError(404, 40402, `Version ${version} not found.`),
  schemaNotFound: (id: string | number) => new RegistryHttpError(404, 40403, `Schema ${id} not found`),
  subjectConfigNotFound: (subject: string) =>
    new RegistryHttpError(404, 40408, `Subject '${subject}' does not have subject-level compatibility configured`),
  incompatible: (subject: string, level: CompatibilityLevel, details: string[]) =>
    new RegistryHttpError(
      409,
      409,
      `Schema being registered is incompatible with an earlier schema for subject ${quoted(subject)}, ` +
        `details: [${details.map((d) => `{description: ${quoted(d)}}`).join(', ')}, {compatibility: '${level}'}]`,
    ),
  invalidSchema: (why: string) => new RegistryHttpError(422, 42201, `Invalid schema: ${why}`),
  invalidVersion: (raw: string) =>
    new RegistryHttpError(
      422,
      42202,
      `The specified version '${raw}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    ),
  invalidCompatibility: () =>
    new RegistryHttpError(
      422,
      42203,
      `Invalid compatibility level. Valid values are ${COMPATIBILITY_LEVELS.map((l) => l.toLowerCase()).join(', ')}`,
    ),
  unprocessable: (why: string) => new RegistryHttpError(422, 422, why),
  badRequest: (why: string) => new RegistryHttpError(400, 400, why),
  routeNotFound: () => new RegistryHttpError(404, 404, 'HTTP 404 Not Found'),
  methodNotAllowed: () => new RegistryHttpError(405, 405, 'HTTP 405 Method Not Allowed'),
  payloadTooLarge: (limit: number) => new RegistryHttpError(413, 413, `Request body is larger than ${limit} bytes`),
  unsupportedMediaType: () =>
    new RegistryHttpError(415, 415, 'HTTP 415 Unsupported Media Type: send application/vnd.schemaregistry.v1+json or application/json'),
  storeError: () => new RegistryHttpError(500, 50001, 'Error in the backend data store'),
};
