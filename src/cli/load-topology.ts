import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isApp, type App } from '../dsl/app.js';
import type { Logger } from '../runtime/logger.js';
import type { Topology } from '../topology/topology.js';
import { TopologyLoadError } from './errors.js';
import { displayPath, isUserFile } from './paths.js';
import { typecheckFile } from './typecheck.js';

export interface LoadTopologyOptions {
  cwd: string;
  /** Type-check the file before running it (the default); `--no-typecheck` turns it off. */
  typecheck: boolean;
  logger: Logger;
}

export interface LoadedTopology {
  app: App;
  /** Built once here, so that a mistake in the builder is reported as a load error naming the line. */
  topology: Topology;
  /** As the user should see it: relative to cwd when inside it. */
  file: string;
}

/** Most type errors worth printing: the first ones usually cause the rest. */
const maxDiagnostics = 10;

/**
 * Loads a topology file: TypeScript, run directly through tsx with no build step. Every way this
 * can fail is a TopologyLoadError that names the file and, where there is one, the line.
 */
export async function loadTopology(fileArg: string, options: LoadTopologyOptions): Promise<LoadedTopology> {
  const abs = resolve(options.cwd, fileArg);
  const file = displayPath(abs, options.cwd);
  const stat = statSync(abs, { throwIfNoEntry: false });
  if (stat === undefined) throw new TopologyLoadError(`${fileArg}: no such file`);
  if (!stat.isFile()) throw new TopologyLoadError(`${fileArg}: not a file`);

  if (options.typecheck) {
    const result = await typecheckFile(abs, options.cwd);
    options.logger.debug('type-checked topology', { file, ms: Math.round(result.ms) });
    if (result.kind === 'syntax') throw new TopologyLoadError(`${file} has a syntax error:\n${listDiagnostics(result.errors)}`);
    if (result.kind === 'type') {
      throw new TopologyLoadError(`${file} does not type-check (--no-typecheck runs it anyway):\n${listDiagnostics(result.errors)}`);
    }
  }

  const mod = await importModule(abs, file, options.cwd);
  const app = defaultApp(mod, file);
  let topology: Topology;
  try {
    topology = app.topology();
  } catch (err) {
    throw new TopologyLoadError(`${whereThrown(err, abs, options.cwd) ?? file}: the topology failed to build: ${errorText(err)}`, { cause: err });
  }
  return { app, topology, file };
}

function listDiagnostics(errors: string[]): string {
  const shown = errors.slice(0, maxDiagnostics);
  if (errors.length > maxDiagnostics) shown.push(`... and ${errors.length - maxDiagnostics} more`);
  return shown.join('\n');
}

let tsLoaderReady: Promise<void> | undefined;

/**
 * Registers tsx's module hooks in this process, once, unless tsx is already loaded (tests run
 * the CLI from source with `--import tsx`). We use register() and a plain import() rather than
 * tsImport(): tsImport loads the file in its own namespace, so its `import ... from 'tributary'`
 * would get a second copy of every tributary module, apart from the one the runtime uses.
 */
function ensureTsLoader(): Promise<void> {
  const active = /(^|\s)(--import|--loader|--experimental-loader)[= ]\S*\btsx\b/.test([...process.execArgv, process.env['NODE_OPTIONS'] ?? ''].join(' '));
  tsLoaderReady ??= active ? Promise.resolve() : import('tsx/esm/api').then(({ register }) => void register());
  return tsLoaderReady;
}

async function importModule(abs: string, file: string, cwd: string): Promise<Record<string, unknown>> {
  await ensureTsLoader();
  try {
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    const syntax = esbuildSyntaxError(err, file);
    if (syntax !== undefined) throw new TopologyLoadError(`${file} has a syntax error:\n${syntax}`, { cause: err });
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      throw new TopologyLoadError(`${file}: ${(err as Error).message}`, { cause: err });
    }
    throw new TopologyLoadError(`${whereThrown(err, abs, cwd) ?? file}: threw while loading: ${errorText(err)}`, { cause: err });
  }
}

/** tsx reports a file that does not parse as esbuild's "Transform failed" with `path:line:col: ERROR: message` lines. */
function esbuildSyntaxError(err: unknown, file: string): string | undefined {
  if (!(err instanceof Error) || err.name !== 'TransformError') return undefined;
  const lines = [...err.message.matchAll(/^(.*):(\d+):(\d+): ERROR: (.*)$/gm)].map(([, , line, col, message]) => `${file}:${line}:${col} - error: ${message}`);
  return lines.length > 0 ? listDiagnostics(lines) : err.message;
}

function defaultApp(mod: Record<string, unknown>, file: string): App {
  let value = mod['default'];
  // A file Node treats as CommonJS (no "type": "module" above it) arrives with its exports nested once more.
  if (!isApp(value) && typeof value === 'object' && value !== null && isApp((value as Record<string, unknown>)['default'])) {
    value = (value as Record<string, unknown>)['default'];
  }
  if (isApp(value)) return value;
  const found = !('default' in mod) ? 'it has no default export' : `it is ${value === null ? 'null' : typeof value === 'function' ? 'a function' : `a${typeof value === 'object' ? 'n' : ''} ${typeof value}`}`;
  throw new TopologyLoadError(`${file}: the default export must be app('<id>', (b) => ...); ${found}`);
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.name === 'Error' || err.name === '' ? err.message : `${err.name}: ${err.message}`;
}

/**
 * `file:line:col` of the first stack frame in the topology file itself, else in another file of
 * the user's (a helper it imports); undefined when the stack has neither.
 */
export function whereThrown(err: unknown, abs: string, cwd: string): string | undefined {
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : '';
  const frames = [...stack.matchAll(/^\s*at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/gm)].flatMap(([, path, line, col]) => {
    const frameFile = framePath(path!);
    return frameFile === undefined ? [] : [{ file: frameFile, line, col }];
  });
  const frame = frames.find((f) => f.file === abs) ?? frames.find((f) => isUserFile(f.file));
  return frame && `${displayPath(frame.file, cwd)}:${frame.line}:${frame.col}`;
}

function framePath(raw: string): string | undefined {
  if (raw.startsWith('node:') || raw === '<anonymous>' || raw.startsWith('native')) return undefined;
  const noQuery = raw.replace(/\?.*$/, '');
  if (noQuery.startsWith('file://')) return fileURLToPath(noQuery);
  return noQuery.startsWith('/') || /^[A-Za-z]:[\\/]/.test(noQuery) ? noQuery : undefined;
}
