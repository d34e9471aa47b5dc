/**
 * Runs the `tributary` CLI from source in a child process, the way a user would run it:
 *   const { code, stdout, stderr } = await runCli(['topics', '--state-dir', dir]);
 * spawnCli() is for commands that keep running (run, tail): wait for output, then signal them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainTs = join(repoRoot, 'src/cli/main.ts');
// Absolute, so that the CLI can run with any cwd.
const tsxLoader = import.meta.resolve('tsx');

/** The command line that runs the CLI from source (`node ... src/cli/main.ts`), without its arguments. */
export const cliCommand: readonly string[] = [process.execPath, '--conditions=development', '--import', tsxLoader, mainTs];

export interface CliOptions {
  /** Written to stdin, which is then closed; stdin is empty otherwise. */
  input?: string;
  /** Default: the repository root. */
  cwd?: string;
  /** Added to the environment. */
  env?: Record<string, string>;
  /** runCli kills the process after this long (default 60 s) and resolves with code null. */
  timeoutMs?: number;
}

export interface CliResult {
  /** Exit code; null when it was killed by a signal (see `signal`). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout or stderr (so far) matches; rejects on timeout or when the process exits first. */
  waitForOutput(pattern: RegExp | string, options?: { stream?: 'stdout' | 'stderr' | 'either'; timeoutMs?: number }): Promise<void>;
  /** Sends a signal (default SIGINT, as Ctrl-C does). */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the process exits. */
  readonly exited: Promise<CliResult>;
}

export function spawnCli(args: string[], options: CliOptions = {}): RunningCli {
  const child = spawn(cliCommand[0]!, [...cliCommand.slice(1), ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  child.stdout!.setEncoding('utf8').on('data', (d: string) => ((stdout += d), changed()));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => ((stderr += d), changed()));
  child.stdin!.on('error', () => {}); // the CLI may exit before reading its input
  child.stdin!.end(options.input ?? '');

  let killTimer: NodeJS.Timeout | undefined;
  if (options.timeoutMs !== undefined) killTimer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  let hasExited = false;
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      hasExited = true;
      clearTimeout(killTimer);
      changed();
      resolve({ code, signal, stdout, stderr });
    });
  });

  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    kill: (signal = 'SIGINT') => void child.kill(signal),
    exited,
    waitForOutput(pattern, { stream = 'either', timeoutMs = 30_000 } = {}) {
      const matches = () => {
        const text = stream === 'stdout' ? stdout : stream === 'stderr' ? stderr : stdout + '\n' + stderr;
        return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
      };
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (matches()) finish();
          else if (hasExited) finish(new Error(`the CLI exited before printing ${String(pattern)}\nstdout: ${stdout}\nstderr: ${stderr}`));
        };
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${String(pattern)}\nstdout: ${stdout}\nstderr: ${stderr}`)), timeoutMs);
        const finish = (err?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, { timeoutMs: 60_000, ...options }).exited;
}

/** A fresh temporary directory (e.g. a --state-dir); remove it with the returned function. */
export function tempDir(prefix = 'tributary-cli-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
