/**
 * The bytes-level state backends of tasks: 'memory' (a B+tree a store, nothing persisted),
 * 'sqlite' (better-sqlite3, sync scans) and 'level' (classic-level, async scans only). See
 * types.ts for the contract all three keep, and test/state/backend-model.test.ts for the model
 * they are checked against.
 */
import { mkdirSync } from 'node:fs';
import type { OpenBackendOptions, TaskStateBackend } from './types.js';

export type {
  BackendKind,
  BytesEntry,
  KeyRange,
  KeyValueBytesStore,
  OpenBackendOptions,
  RangeDelete,
  StoreWrite,
  TaskStateBackend,
} from './types.js';
export { StateBackendError, UnsupportedOperationError } from './errors.js';

/**
 * Opens the state of one task, creating it if there is none. The native modules of 'sqlite' and
 * 'level' are loaded only when asked for.
 *
 * @example
 * ```ts
 * const backend = await openTaskStateBackend({ kind: 'sqlite', dir: join(stateDir, appId, taskId) });
 * const offsets = backend.readCheckpoints(); // restore each changelog from here
 * ```
 */
export async function openTaskStateBackend(options: OpenBackendOptions): Promise<TaskStateBackend> {
  switch (options.kind) {
    case 'memory': {
      const { openMemoryBackend } = await import('./memory-backend.js');
      return openMemoryBackend();
    }
    case 'sqlite': {
      mkdirSync(options.dir, { recursive: true });
      const { openSqliteBackend } = await import('./sqlite-backend.js');
      return openSqliteBackend(options.dir);
    }
    case 'level': {
      mkdirSync(options.dir, { recursive: true });
      const { openLevelBackend } = await import('./level-backend.js');
      return openLevelBackend(options.dir);
    }
    default:
      throw new TypeError(`unknown state backend kind '${String((options as { kind: unknown }).kind)}': use 'memory', 'sqlite' or 'level'`);
  }
}
