// End to end, as a user runs the demo: generate commands -> produce -> tributary run topologies/bank-accounts.ts -> tail.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { repoRoot, runCli, tempDir } from '../helpers/cli.js';

interface Line {
  key: string;
  partition: number;
  value: { type?: string; rejected?: string; command?: { type: string; amount: number }; details?: { balance: number; amount: number } };
  headers: Record<string, string>;
}

describe('bank accounts demo through the CLI', () => {
  let state: ReturnType<typeof tempDir>;
  beforeEach(() => (state = tempDir()));
  afterEach(() => state.remove());
  // The bank topology's projections write their read models under the state dir, not the repository.
  const cli = (args: string[], input?: string) => runCli([...args, '--state-dir', state.path], { env: { BANK_READ_MODELS: join(state.path, 'read-models') }, ...(input === undefined ? {} : { input }) });
  const tail = async (topic: string): Promise<Line[]> => {
    const r = await cli(['tail', topic, '--from-beginning', '--exit-at-end']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  };

  test('every command becomes one event or one rejection, overdrafts are refused, and the generator is deterministic', async () => {
    const generate = () =>
      execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'examples/bank/generate-commands.ts'), '--count', '300', '--accounts', '8', '--seed', '7'], { cwd: repoRoot, encoding: 'utf8' });
    const commands = generate();
    assert.equal(generate(), commands, 'same seed, same commands');
    assert.equal(commands.trim().split('\n').length, 300);
    assert.equal((await cli(['topics', '--create', 'account-commands', '--partitions', '2'])).code, 0);
    assert.equal((await cli(['produce', 'account-commands'], commands)).code, 0);
    const run = await cli(['run', 'topologies/bank-accounts.ts', '--until-idle', '--idle-ms', '200']);
    assert.equal(run.code, 0, run.stderr);
    const events = await tail('account-events');
    const rejections = await tail('account-rejections');
    assert.equal(events.length + rejections.length, 300);
    assert.ok(rejections.length > 0, 'the demo data has overdrafts');
    for (const r of rejections) {
      assert.equal(r.value.rejected, 'insufficient-funds');
      assert.ok(r.value.details!.amount > r.value.details!.balance);
      assert.match(r.headers['correlation-id']!, /^cmd-7-\d+$/);
    }
    const correlation = new Set([...events, ...rejections].map((r) => r.headers['correlation-id']));
    assert.equal(correlation.size, 300, 'every command accounted for once, by correlation id');
  });
});
