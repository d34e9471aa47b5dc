// How `run` and `describe` report a topology file that cannot be loaded: always exit code 2, the
// file's name, and the line where there is one. The fixtures are in test/fixtures/topologies/.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';

const dir = 'test/fixtures/topologies';

async function describeFile(file: string, ...flags: string[]) {
  const r = await runCli(['describe', file, ...flags]);
  assert.equal(r.stdout, '', 'nothing on stdout');
  assert.equal(r.code, 2, `exit code 2, got ${r.code}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  return r.stderr;
}

describe('loading a topology file', { concurrency: 2 }, () => {
  test('a missing file', async () => {
    assert.equal(await describeFile('topologies/nope.ts'), 'tributary describe: topologies/nope.ts: no such file\n');
  });

  test('a syntax error names file:line:col', async () => {
    const stderr = await describeFile(`${dir}/invalid/syntax-error.ts`);
    assert.match(stderr, /^tributary describe: test\/fixtures\/topologies\/invalid\/syntax-error\.ts has a syntax error:\n/);
    assert.match(stderr, /^test\/fixtures\/topologies\/invalid\/syntax-error\.ts:8:31 - error TS1005: '\)' expected\.$/m);
  });

  test('a syntax error without the type-check is reported by the loader, with its line', async () => {
    const stderr = await describeFile(`${dir}/invalid/syntax-error.ts`, '--no-typecheck');
    assert.match(stderr, /^test\/fixtures\/topologies\/invalid\/syntax-error\.ts:8:\d+ - error: .+$/m);
  });

  test('type errors are listed as file:line:col - error TSxxxx: message', async () => {
    const stderr = await describeFile(`${dir}/invalid/type-error.ts`);
    const lines = stderr.trimEnd().split('\n');
    assert.match(lines[0]!, /^tributary describe: test\/fixtures\/topologies\/invalid\/type-error\.ts does not type-check/);
    assert.match(lines[1]!, /^test\/fixtures\/topologies\/invalid\/type-error\.ts:12:33 - error TS2551: Property 'amout' does not exist on type 'Order'/);
    assert.match(lines[2]!, /^test\/fixtures\/topologies\/invalid\/type-error\.ts:13:9 - error TS2345: /);
    assert.equal(lines.length, 3);
  });

  test('at most ten type errors, then how many more', async () => {
    const lines = (await describeFile(`${dir}/invalid/many-type-errors.ts`)).trimEnd().split('\n');
    assert.equal(lines.length, 12);
    assert.match(lines[10]!, /many-type-errors\.ts:11:14 - error TS2322:/);
    assert.equal(lines[11], '... and 2 more');
  });

  test('--skip-typecheck skips the type-check', async () => {
    // The file then loads; its `.to(42)` fails when the topology is built instead.
    const stderr = await describeFile(`${dir}/invalid/type-error.ts`, '--skip-typecheck');
    assert.doesNotMatch(stderr, /TS2551/);
    assert.match(stderr, /^tributary describe: test\/fixtures\/topologies\/invalid\/type-error\.ts/);
  });

  test('an exception while the module evaluates: message and the line that threw', async () => {
    assert.equal(
      await describeFile(`${dir}/throws-at-load.ts`),
      'tributary describe: test/fixtures/topologies/throws-at-load.ts:6:9: threw while loading: RangeError: threshold is not a number\n',
    );
  });

  test('an exception while app.topology() builds: message and the line in the file', async () => {
    assert.equal(
      await describeFile(`${dir}/throws-at-build.ts`, '--no-typecheck'),
      'tributary describe: test/fixtures/topologies/throws-at-build.ts:9:34: the topology failed to build: limit must be positive\n',
    );
  });

  test('no default export', async () => {
    assert.equal(
      await describeFile(`${dir}/no-default-export.ts`, '--no-typecheck'),
      "tributary describe: test/fixtures/topologies/no-default-export.ts: the default export must be app('<id>', (b) => ...); it has no default export\n",
    );
  });

  test('a default export that is not an app', async () => {
    assert.equal(
      await describeFile(`${dir}/not-an-app.ts`, '--no-typecheck'),
      "tributary describe: test/fixtures/topologies/not-an-app.ts: the default export must be app('<id>', (b) => ...); it is a function\n",
    );
  });

  test('paths are shown relative to the working directory', async () => {
    const r = await runCli(['describe', 'topologies/throws-at-load.ts', '--no-typecheck'], { cwd: `${process.cwd()}/test/fixtures` });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^tributary describe: topologies\/throws-at-load\.ts:6:9: /);
  });

  test('run reports load errors the same way, before opening any log', async () => {
    const state = tempDir();
    try {
      const missing = await runCli(['run', 'topologies/nope.ts', '--state-dir', state.path]);
      assert.deepEqual([missing.code, missing.stderr], [2, 'tributary run: topologies/nope.ts: no such file\n']);
      const typeError = await runCli(['run', `${dir}/invalid/type-error.ts`, '--state-dir', state.path]);
      assert.equal(typeError.code, 2);
      assert.match(typeError.stderr, /^test\/fixtures\/topologies\/invalid\/type-error\.ts:12:33 - error TS2551: /m);
    } finally {
      state.remove();
    }
  });
});
