import type { Options } from './args.js';

/** What every `tributary <command>` module exports; main() dispatches on `name`. */
export interface Command {
  readonly name: string;
  /** One line for `tributary --help`. */
  readonly summary: string;
  /** The full `tributary <command> --help` text: usage and every flag. */
  readonly help: string;
  /** Its flags, as util.parseArgs options (a test checks that `help` documents each one). */
  readonly options: Options;
  /** Resolves to the exit code. Throws ArgumentError / TopologyLoadError / other errors (see errors.ts). */
  run(argv: string[], io: CliIO): Promise<number>;
}

/** The process surface a command uses, so tests or embedders can substitute it. */
export interface CliIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Relative paths (topology files, --state-dir) resolve against this. */
  cwd: string;
}

export const processIO = (): CliIO => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
