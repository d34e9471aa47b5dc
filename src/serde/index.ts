export type { Serde } from './serde.js';
export { serializeNullable, deserializeNullable } from './serde.js';
export { serdes } from './builtin.js';
