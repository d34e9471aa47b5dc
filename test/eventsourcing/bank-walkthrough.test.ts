/**
 * Runs the embedded-log walkthrough of examples/bank/README.md exactly as written (each line
 * through bash, in a fresh directory with `tributary` on PATH), and checks its answers: the
 * balances served over HTTP equal a reference fold of the generated commands, no balance is
 * negative, every rejection is a deserved overdraft, and the statement adds up.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cliCommand, repoRoot, tempDir } from '../helpers/cli.js';

/** The shell lines of the first ```sh block under `heading` in the README. */
function walkthrough(heading: string): string[] {
  const text = readFileSync(join(repoRoot, 'examples/bank/README.md'), 'utf8');
  const section = text.slice(text.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block !== undefined, `no sh block under ${heading}`);
  return block.split('\n').filter((l) => l.trim() !== '');
}

interface Command {
  type: 'open' | 'deposit' | 'withdraw';
  owner?: string;
  amount?: number;
}

/** The reference: balances and refused withdrawals from the commands, folded here, not by the decider. */
function referenceFold(lines: string[]): { balances: Map<string, { owner: string; balance: number }>; refused: Set<string> } {
  const balances = new Map<string, { owner: string; balance: number }>();
  const refused = new Set<string>();
  for (const line of lines) {
    const { key, value, headers } = JSON.parse(line) as { key: string; value: Command; headers: Record<string, string> };
    const account = balances.get(key);
    if (value.type === 'open') {
      if (account === undefined) balances.set(key, { owner: value.owner!, balance: 0 });
      else refused.add(headers['correlation-id']!);
    } else if (account === undefined) refused.add(headers['correlation-id']!);
    else if (value.type === 'deposit') account.balance += value.amount!;
    else if (value.amount! > account.balance) refused.add(headers['correlation-id']!);
    else account.balance -= value.amount!;
  }
  return { balances, refused };
}

describe('examples/bank/README.md walkthrough on the embedded log', () => {
  const dir = tempDir('tributary-bank-walkthrough-');
  after(() => dir.remove());

  it('runs as written and serves the balances a reference fold of the commands gives', async () => {
    // A directory that looks like the repository root to the commands, with `tributary` on PATH.
    for (const name of ['topologies', 'examples', 'node_modules', 'src', 'package.json']) symlinkSync(join(repoRoot, name), join(dir.path, name));
    const bin = join(dir.path, '.bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'tributary'), `#!/bin/sh\nexec ${cliCommand.map((a) => `'${a}'`).join(' ')} "$@"\n`);
    chmodSync(join(bin, 'tributary'), 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    delete env.TRIBUTARY_BROKERS;
    delete env.BANK_READ_MODELS;

    const outputs: { line: string; stdout: string }[] = [];
    let server: ReturnType<typeof spawn> | undefined;
    try {
      for (const line of walkthrough('## On the embedded log')) {
        if (line.trim().endsWith('&')) {
          server = spawn('bash', ['-c', `exec ${line.trim().slice(0, -1)}`], { cwd: dir.path, env, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`'${line}' did not start serving: ${out}`)), 60_000);
            server!.stdout!.on('data', (d: Buffer) => {
              out += d.toString();
              if (out.includes('serving')) (clearTimeout(timer), resolve());
            });
            server!.on('exit', (code) => reject(new Error(`'${line}' exited with ${code}: ${out}`)));
          });
          continue;
        }
        if (line.trim() === 'kill %1') {
          server?.kill('SIGTERM');
          server = undefined;
          continue;
        }
        const r = spawnSync('bash', ['-o', 'pipefail', '-c', line], { cwd: dir.path, env, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
        assert.equal(r.status, 0, `'${line}' failed: ${r.stderr}`);
        outputs.push({ line, stdout: r.stdout });
      }
    } finally {
      server?.kill('SIGTERM');
    }
    const out = (pattern: RegExp) => outputs.find((o) => pattern.test(o.line))!.stdout;

    const commands = readFileSync(join(dir.path, 'commands.jsonl'), 'utf8').trim().split('\n');
    assert.equal(commands.length, 1000);
    const reference = referenceFold(commands);
    assert.match(out(/tributary run/), /records in:\s+1000/);

    // Rejections: exactly the refused commands of the reference, each a real overdraft.
    const rejections = out(/tail account-rejections/).trim().split('\n').map((l) => JSON.parse(l) as { value: { rejected: string; details: { balance: number; amount: number } }; headers: Record<string, string> });
    assert.ok(rejections.length > 0, 'the generated commands include overdrafts');
    assert.deepEqual(new Set(rejections.map((r) => r.headers['correlation-id'])), reference.refused);
    for (const r of rejections) {
      assert.equal(r.value.rejected, 'insufficient-funds');
      assert.ok(r.value.details.amount > r.value.details.balance);
    }

    // Balances over HTTP equal the reference fold; none is negative.
    const all = (JSON.parse(out(/queries\/all/)) as { result: { account: string; owner: string; balance: number }[] }).result;
    assert.deepEqual(new Map(all.map((a) => [a.account, { owner: a.owner, balance: a.balance }])), reference.balances);
    const total = (JSON.parse(out(/queries\/total/)) as { result: { accounts: number; balance: number; lowest: number } }).result;
    assert.equal(total.accounts, reference.balances.size);
    assert.equal(total.balance, [...reference.balances.values()].reduce((n, a) => n + a.balance, 0));
    assert.ok(total.lowest >= 0, `no overdraft: lowest balance ${total.lowest}`);
    const one = (JSON.parse(out(/queries\/byId/)) as { result: { account: string; balance: number } }).result;
    assert.equal(one.balance, reference.balances.get(one.account)!.balance);

    // The statement of that account: versions 1, 2, ... and running balances ending at its balance.
    const lines = (JSON.parse(out(/statement\/queries/)) as { result: { version: number; type: string; amount: number; balance: number }[] }).result;
    assert.ok(lines.length > 1);
    let running = 0;
    lines.forEach((l, i) => {
      assert.equal(l.version, i + 1);
      running += l.type === 'withdrawn' ? -l.amount : l.amount;
      assert.equal(l.balance, running);
      assert.ok(l.balance >= 0);
    });
    assert.equal(running, one.balance);
  });
});
