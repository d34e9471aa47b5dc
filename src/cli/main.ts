import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TributaryError, UsageError } from '../errors/index.js';
import type { Command, CliIO } from './command.js';
import { processIO } from './command.js';
import { describe } from './commands/describe.js';
import { lag } from './commands/lag.js';
import { produce } from './commands/produce.js';
import { rebuild } from './commands/rebuild.js';
import { registry } from './commands/registry.js';
import { reset } from './commands/reset.js';
import { run } from './commands/run.js';
import { serve } from './commands/serve.js';
import { tail } from './commands/tail.js';
import { topics } from './commands/topics.js';
import { ArgumentError, CommandError } from './errors.js';

export const commands: readonly Command[] = [run, describe, topics, produce, tail, registry, rebuild, reset, serve, lag];

function version(): string {
  // src/cli/main.ts and dist/cli/main.js are both two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const usage = () => `Usage: tributary <command> [flags]

Stream processing for TypeScript. Commands:
${commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

Run 'tributary <command> --help' for a command's flags.

Flags:
  -h, --help     show this help
  -v, --version  print the version
`;

/**
 * Runs one CLI invocation and resolves to its exit code: 0 done, 1 runtime failure, 2 usage error
 * (bad flags, or a topology file that cannot be loaded). Errors are printed, never thrown.
 */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    const topic = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    (name === undefined ? io.stderr : io.stdout).write(topic?.help ?? usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '-v' || name === '--version') {
    io.stdout.write(`tributary ${version()}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr.write(`tributary: unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(', ')}. See 'tributary --help'.\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    io.stdout.write(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    io.stderr.write(`tributary ${command.name}: ${describeError(err, rest)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

/** --help anywhere before a `--` wins over everything else on the line, even a bad flag. */
function wantsHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Our own errors say what is wrong in their message; anything else is unexpected, so its stack is
 * shown at --log-level debug.
 */
function describeError(err: unknown, args: string[]): string {
  if (err instanceof ArgumentError || err instanceof CommandError || err instanceof UsageError) return err.message;
  const debug = args.some((a, i) => a === '--log-level=debug' || (a === '--log-level' && args[i + 1] === 'debug'));
  if (err instanceof Error) {
    const text = err instanceof TributaryError || err.name === 'Error' ? err.message : `${err.name}: ${err.message}`;
    return debug && err.stack ? `${text}\n${err.stack}` : text;
  }
  return String(err);
}

/** Waits for stdout and stderr to take everything written, then exits (pipes may be asynchronous). */
export function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) exitWhenFlushed(await main(process.argv.slice(2)));
