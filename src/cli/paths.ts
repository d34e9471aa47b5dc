import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The root of the tributary package this CLI runs from (the repo, or node_modules/tributary). */
export const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A path as users like to see it: relative to the working directory when it is inside it. */
export function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * True for files the user wrote: not tributary's own sources or build, not a dependency, not Node
 * internals. Type errors and stack frames are reported only for these.
 */
export function isUserFile(file: string): boolean {
  const abs = resolve(file);
  if (abs.split(sep).includes('node_modules')) return false;
  return !abs.startsWith(resolve(packageRoot, 'src') + sep) && !abs.startsWith(resolve(packageRoot, 'dist') + sep);
}
