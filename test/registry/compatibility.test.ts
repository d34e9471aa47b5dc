/**
 * Every compatibility level, through the registry's HTTP API: a sequence of versions where the
 * transitive levels and the plain ones disagree, and changes that only one direction allows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSchemaRegistry, type CompatibilityLevel, type SchemaRegistryServer } from '../../src/index.js';
import { http, schemaBody } from './fixtures.js';

const record = (fields: object[]) => ({ type: 'record', name: 'Thing', namespace: 'compat', fields });
const id = { name: 'id', type: 'string' };
/** v1 has f (string, defaulted), v2 drops it, v3 brings f back as an int: v3 reads v2's data and v2 reads v3's, but v1 and v3 do not read each other. */
const v1 = record([id, { name: 'f', type: 'string', default: 'a' }]);
const v2 = record([id]);
const v3 = record([id, { name: 'f', type: 'int', default: 0 }]);

describe('compatibility levels', () => {
  let registry: SchemaRegistryServer;
  let n = 0;
  before(async () => {
    registry = await startSchemaRegistry({ port: 0, file: ':memory:' });
  });
  after(() => registry.close());

  /** Registers the versions one by one under a fresh subject at `level`; returns the status of each. */
  async function registerAll(level: CompatibilityLevel, versions: object[]): Promise<number[]> {
    const subject = `s${++n}-${level.toLowerCase()}`;
    assert.equal((await http(registry.url, 'PUT', `/config/${subject}`, { compatibility: level })).status, 200);
    const statuses: number[] = [];
    for (const v of versions) statuses.push((await http(registry.url, 'POST', `/subjects/${subject}/versions`, schemaBody(v))).status);
    return statuses;
  }

  const transitive: [CompatibilityLevel, number[]][] = [
    ['BACKWARD', [200, 200, 200]],
    ['BACKWARD_TRANSITIVE', [200, 200, 409]],
    ['FORWARD', [200, 200, 200]],
    ['FORWARD_TRANSITIVE', [200, 200, 409]],
    ['FULL', [200, 200, 200]],
    ['FULL_TRANSITIVE', [200, 200, 409]],
    ['NONE', [200, 200, 200]],
  ];
  for (const [level, expected] of transitive) {
    test(`${level}: v1, v2, v3 -> ${expected.join(', ')}`, async () => {
      assert.deepEqual(await registerAll(level, [v1, v2, v3]), expected);
    });
  }

  const base = record([id, { name: 'g', type: 'string' }]);
  const addedWithoutDefault = record([id, { name: 'g', type: 'string' }, { name: 'h', type: 'string' }]);
  const removedWithoutDefault = record([id]);
  const typeChanged = record([id, { name: 'g', type: 'int' }]);
  const promoted = record([id, { name: 'g', type: 'bytes' }]);
  const directional: [CompatibilityLevel, string, object, number][] = [
    ['BACKWARD', 'a field added without default', addedWithoutDefault, 409],
    ['FORWARD', 'a field added without default', addedWithoutDefault, 200],
    ['FULL', 'a field added without default', addedWithoutDefault, 409],
    ['BACKWARD', 'a field without default removed', removedWithoutDefault, 200],
    ['FORWARD', 'a field without default removed', removedWithoutDefault, 409],
    ['FULL', 'a field without default removed', removedWithoutDefault, 409],
    ['BACKWARD', 'a field changed from string to int', typeChanged, 409],
    ['NONE', 'a field changed from string to int', typeChanged, 200],
    ['FULL', 'a field changed from string to bytes', promoted, 200], // string and bytes resolve both ways in Avro
  ];
  for (const [level, change, candidate, status] of directional) {
    test(`${level}: ${change} -> ${status}`, async () => {
      assert.deepEqual(await registerAll(level, [base, candidate]), [200, status]);
    });
  }

  test('the compatibility endpoint checks one named version without the transitive part', async () => {
    const subject = 'named-version';
    await http(registry.url, 'PUT', `/config/${subject}`, { compatibility: 'BACKWARD_TRANSITIVE' });
    await http(registry.url, 'POST', `/subjects/${subject}/versions`, schemaBody(v1));
    await http(registry.url, 'POST', `/subjects/${subject}/versions`, schemaBody(v2));
    const against = async (version: string) => (await http(registry.url, 'POST', `/compatibility/subjects/${subject}/versions/${version}`, schemaBody(v3))).body;
    assert.deepEqual(await against('2'), { is_compatible: true });
    assert.deepEqual(await against('1'), { is_compatible: false });
    assert.deepEqual(await against('latest'), { is_compatible: false }, 'latest under a transitive level checks every version');
    const missing = await http(registry.url, 'POST', `/compatibility/subjects/${subject}/versions/9`, schemaBody(v3));
    assert.deepEqual({ status: missing.status, code: missing.body.error_code }, { status: 404, code: 40402 });
  });

  test('the global level applies to subjects without their own', async () => {
    await http(registry.url, 'PUT', '/config', { compatibility: 'NONE' });
    try {
      const subject = 'global-none';
      assert.equal((await http(registry.url, 'POST', `/subjects/${subject}/versions`, schemaBody(base))).status, 200);
      assert.equal((await http(registry.url, 'POST', `/subjects/${subject}/versions`, schemaBody(typeChanged))).status, 200);
    } finally {
      await http(registry.url, 'PUT', '/config', { compatibility: 'BACKWARD' });
    }
  });
});
