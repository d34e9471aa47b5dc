import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { commands, main } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';

/** Runs main() in this process with captured streams: quick checks of parsing and help. */
async function mainInProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await main(argv, { stdin: new PassThrough().end(), stdout, stderr, cwd: process.cwd() });
  return { code, stdout: out, stderr: err };
}

describe('tributary --help', () => {
  test('lists every command', async () => {
    const r = await mainInProcess(['--help']);
    assert.equal(r.code, 0);
    for (const c of commands) assert.match(r.stdout, new RegExp(`^  ${c.name} `, 'm'));
  });

  test('with no command prints the usage to stderr and exits 2', async () => {
    const r = await mainInProcess([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Usage: tributary <command>/);
  });

  test('--version prints the package version', async () => {
    const r = await mainInProcess(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^tributary \d+\.\d+\.\d+/);
  });

  test('an unknown command is a usage error', async () => {
    const r = await mainInProcess(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^tributary: unknown command 'frobnicate'\. Commands: run, describe/);
  });
});

describe('tributary <command> --help', () => {
  for (const command of commands) {
    test(`${command.name} --help documents every flag`, async () => {
      const r = await mainInProcess([command.name, '--help']);
      assert.equal(r.code, 0);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^Usage: tributary ${command.name}`));
      for (const [flag, spec] of Object.entries(command.options)) {
        assert.ok(r.stdout.includes(`--${flag}`), `${command.name} --help does not mention --${flag}`);
        if (spec.short) assert.ok(r.stdout.includes(`-${spec.short}, --${flag}`), `${command.name} --help does not mention -${spec.short}`);
      }
    });

    test(`${command.name}: an unknown flag exits 2 and points to --help`, async () => {
      const r = await mainInProcess([command.name, 'x', '--no-such-flag']);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `tributary ${command.name}: unknown flag --no-such-flag. See 'tributary ${command.name} --help'.\n`);
    });
  }

  test('--help wins over a bad flag', async () => {
    const r = await mainInProcess(['tail', '--bogus', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: tributary tail/);
  });
});

describe('argument errors', () => {
  const cases: [string[], string][] = [
    [['run'], "tributary run: missing <topology.ts>. See 'tributary run --help'.\n"],
    [['describe'], "tributary describe: missing <topology.ts>. See 'tributary describe --help'.\n"],
    [['produce'], "tributary produce: missing <topic>. See 'tributary produce --help'.\n"],
    [['tail'], "tributary tail: missing <topic>. See 'tributary tail --help'.\n"],
    [['tail', 'a', 'b'], "tributary tail: unexpected argument 'b'. See 'tributary tail --help'.\n"],
    [['run', 'x.ts', '--state-dir'], "tributary run: --state-dir needs a value. See 'tributary run --help'.\n"],
    [['run', 'x.ts', '--until-idle=yes'], "tributary run: --until-idle does not take a value. See 'tributary run --help'.\n"],
    [['run', 'x.ts', '--idle-ms', '10'], "tributary run: --idle-ms only applies with --until-idle. See 'tributary run --help'.\n"],
    [['run', 'x.ts', '--until-idle', '--idle-ms', 'soon'], "tributary run: --idle-ms must be an integer >= 1, got 'soon'. See 'tributary run --help'.\n"],
    [['describe', 'x.ts', '--format', 'svg'], "tributary describe: --format must be one of text, mermaid, dot, got 'svg'. See 'tributary describe --help'.\n"],
    [['tail', 't', '--max', '0'], "tributary tail: --max must be an integer >= 1, got '0'. See 'tributary tail --help'.\n"],
    [['tail', 't', '--value-serde', 'xml'], "tributary tail: --value-serde must be one of string, json, int32, float64, bytes, auto, got 'xml'. See 'tributary tail --help'.\n"],
    [['produce', 't', '--value-serde', 'auto'], "tributary produce: --value-serde must be one of string, json, int32, float64, bytes, got 'auto'. See 'tributary produce --help'.\n"],
    [['topics', '--partitions', '3'], "tributary topics: --partitions only applies with --create. See 'tributary topics --help'.\n"],
    [['topics', '--create', 'a', '--delete', 'b'], "tributary topics: --create and --delete cannot be used together. See 'tributary topics --help'.\n"],
    [['topics', '--log-level', 'loud'], "tributary topics: --log-level must be one of debug, info, warn, error, silent, got 'loud'. See 'tributary topics --help'.\n"],
  ];
  for (const [argv, stderr] of cases) {
    test(argv.join(' '), async () => {
      const r = await mainInProcess(argv);
      assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: 2, stderr });
    });
  }
});

describe('as a process', () => {
  test('exit codes and streams are those of main()', async () => {
    const help = await runCli(['produce', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: tributary produce <topic>/);
    const bad = await runCli(['produce', 'orders', '--nope']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr, "tributary produce: unknown flag --nope. See 'tributary produce --help'.\n");
  });
});
