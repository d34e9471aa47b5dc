import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Log } from '../log/types.js';
import { CommandError } from './errors.js';

export interface LogFlags {
  'state-dir'?: string | undefined;
}

export interface OpenLogOptions {
  /** Directory relative paths resolve against. */
  cwd: string;
  /** Fail instead of creating an empty log (read-only commands: a typo in --state-dir should not create one). */
  mustExist?: boolean;
}

export const defaultStateDir = '.tributary';

/**
 * The one place that picks the log backend from the command-line flags. Today that is always the
 * embedded log under --state-dir; a `--brokers` flag would return the Kafka backend from here.
 */
export async function openLog(flags: LogFlags, options: OpenLogOptions): Promise<Log> {
  const dir = resolve(options.cwd, flags['state-dir'] ?? defaultStateDir);
  const path = join(dir, 'log.db');
  if (options.mustExist && !existsSync(path)) {
    throw new CommandError(`no embedded log at ${path}: nothing has been produced there yet (wrong --state-dir?)`);
  }
  mkdirSync(dir, { recursive: true });
  // Imported here so that commands that never open a log (help, describe) do not load SQLite.
  const { openEmbeddedLog } = await import('../log/embedded/index.js');
  return openEmbeddedLog({ path });
}

/** True when --state-dir holds a log; `topics` lists nothing rather than creating one. */
export function logExists(flags: LogFlags, cwd: string): boolean {
  return existsSync(join(resolve(cwd, flags['state-dir'] ?? defaultStateDir), 'log.db'));
}
