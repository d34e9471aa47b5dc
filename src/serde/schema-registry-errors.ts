import { SerdeError } from '../errors/index.js';

/**
 * deserialize met a schema id whose schema has not been loaded from the registry yet (the bytes
 * were not passed to `prefetch`). Retriable: `await serde.prefetch([bytes], topic)`, then
 * deserialize again. Not a poison record.
 */
export class SchemaNotLoadedError extends SerdeError {
  constructor(
    readonly schemaId: number,
    readonly topic: string,
    serdeName: string,
  ) {
    super(
      `${serdeName}: schema id ${schemaId} of a record on topic '${topic}' is not loaded yet: ` +
        `await serde.prefetch([bytes], '${topic}') and deserialize again (the runtime prefetches every fetched batch)`,
      { retriable: true },
    );
  }
}
