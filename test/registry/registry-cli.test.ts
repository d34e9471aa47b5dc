/** `tributary registry` as a user runs it: a process that serves until SIGTERM, on a file that outlives it. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { runCli, spawnCli, tempDir } from '../helpers/cli.js';
import { orderV1, orderV2 } from './fixtures.js';

const avro = (schema: unknown) => ({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }) as const;

/** Starts `tributary registry`, waits for the URL it prints, runs `use`, then stops it with SIGTERM. */
async function withCli<T>(args: string[], cwd: string, use: (url: string) => Promise<T>): Promise<{ result: T; code: number | null; stderr: string }> {
  const cli = spawnCli(['registry', '--port', '0', ...args], { cwd, timeoutMs: 60_000 });
  try {
    await cli.waitForOutput(/^http:\/\/127\.0\.0\.1:\d+\n/m, { stream: 'stdout' });
    const url = cli.stdout().trim();
    const result = await use(url);
    cli.kill('SIGTERM');
    const exit = await cli.exited;
    return { result, code: exit.code, stderr: exit.stderr };
  } finally {
    cli.child.kill('SIGKILL');
  }
}

describe('tributary registry', () => {
  test('serves the client, stops cleanly on SIGTERM, and keeps ids in --file across restarts', async () => {
    const dir = tempDir();
    try {
      const first = await withCli(['--file', 'schemas/reg.db'], dir.path, async (url) => {
        const client = new SchemaRegistry({ host: url });
        return [(await client.register(avro(orderV1), { subject: 'cli-value' })).id, (await client.register(avro(orderV2), { subject: 'cli-value' })).id];
      });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /schema registered subject=cli-value version=2/);
      assert.match(first.stderr, /SIGTERM: stopping the schema registry/);

      const second = await withCli(['--file', join(dir.path, 'schemas/reg.db')], dir.path, async (url) => {
        const client = new SchemaRegistry({ host: url });
        return [await client.getRegistryId('cli-value', 1), await client.getLatestSchemaId('cli-value')];
      });
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(second.result, first.result);
    } finally {
      dir.remove();
    }
  });

  test('defaults to .tributary/registry.db under the working directory', async () => {
    const dir = tempDir();
    try {
      const { code } = await withCli(['--log-level', 'silent'], dir.path, async (url) => {
        await new SchemaRegistry({ host: url }).register(avro(orderV1), { subject: 'default-file' });
      });
      assert.equal(code, 0);
      const { existsSync } = await import('node:fs');
      assert.ok(existsSync(join(dir.path, '.tributary', 'registry.db')));
    } finally {
      dir.remove();
    }
  });

  test('--help documents every flag, and the command is listed', async () => {
    const help = await runCli(['registry', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: tributary registry/);
    for (const flag of ['-p, --port', '--host', '--file', '--log-level', '-h, --help']) assert.ok(help.stdout.includes(flag), flag);
    assert.match((await runCli(['--help'])).stdout, /^  registry +run an embedded Confluent-compatible schema registry/m);
  });

  test('bad flags are usage errors (exit 2)', async () => {
    const r = await runCli(['registry', '--port', '70000']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "tributary registry: --port must be at most 65535, got '70000'. See 'tributary registry --help'.\n");
    const extra = await runCli(['registry', 'extra']);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /unexpected argument 'extra'/);
  });
});
