/**
 * The real @kafkajs/confluent-schema-registry client against the embedded registry over HTTP:
 * what a user of Confluent's registry does, with `tributary registry` in its place.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { startSchemaRegistry, type SchemaRegistryServer } from '../../src/index.js';
import { http, orderV1, orderV2, orderV3NoDefault, schemaBody, tempDir } from './fixtures.js';

const avro = (schema: unknown) => ({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }) as const;
/** Records decode as avsc class instances; compare their data. */
const plain = (v: unknown) => JSON.parse(JSON.stringify(v));

describe('embedded schema registry with the real client', () => {
  const dir = tempDir();
  let registry: SchemaRegistryServer;
  let client: SchemaRegistry;
  before(async () => {
    registry = await startSchemaRegistry({ port: 0, file: join(dir.path, 'registry.db') });
    client = new SchemaRegistry({ host: registry.url });
  });
  after(async () => {
    await registry.close();
    dir.remove();
  });

  test('binds 127.0.0.1 on the port it picked', () => {
    assert.match(registry.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(registry.port, 0);
  });

  test('register, getLatestSchemaId, getRegistryId, getRegistryIdBySchema and an encode/decode round trip', async () => {
    const { id } = await client.register(avro(orderV1), { subject: 'rt-value' });
    assert.ok(Number.isInteger(id) && id > 0);
    assert.equal(await client.getLatestSchemaId('rt-value'), id);
    assert.equal(await client.getRegistryId('rt-value', 1), id);
    assert.equal(await client.getRegistryId('rt-value', 'latest'), id);
    assert.equal(await client.getRegistryIdBySchema('rt-value', avro(orderV1)), id);

    const bytes = await client.encode(id, { id: 'o-1', amount: 12.5 });
    assert.equal(bytes[0], 0);
    assert.equal(bytes.readInt32BE(1), id);
    assert.deepEqual(plain(await client.decode(bytes)), { id: 'o-1', amount: 12.5 });
  });

  test('registering the same schema again returns its id and adds no version; ids are global across subjects', async () => {
    const first = await client.register(avro(orderV1), { subject: 'same-a' });
    const again = await client.register(avro(orderV1), { subject: 'same-a' });
    const other = await client.register(avro(orderV1), { subject: 'same-b' });
    assert.equal(again.id, first.id);
    assert.equal(other.id, first.id);
    assert.deepEqual((await http(registry.url, 'GET', '/subjects/same-a/versions')).body, [1]);
    const subjects = await http(registry.url, 'GET', '/subjects');
    assert.ok(subjects.body.includes('same-a') && subjects.body.includes('same-b'));
  });

  test('evolution: v2 with a defaulted field registers under BACKWARD, and a v2 reader reads v1 data', async () => {
    const v1 = await client.register(avro(orderV1), { subject: 'evo-value' });
    const v2 = await client.register(avro(orderV2), { subject: 'evo-value' });
    assert.notEqual(v2.id, v1.id);
    assert.equal(await client.getLatestSchemaId('evo-value'), v2.id);
    assert.equal(await client.getRegistryId('evo-value', 2), v2.id);

    const old = await client.encode(v1.id, { id: 'o-1', amount: 3 });
    const read = await client.decode(old, { [SchemaType.AVRO]: { readerSchema: orderV2 as never } });
    assert.deepEqual(plain(read), { id: 'o-1', amount: 3, currency: 'EUR' });
  });

  test('a change that breaks BACKWARD is rejected with 409 and Confluent\'s message', async () => {
    await client.register(avro(orderV1), { subject: 'break-value' });
    await assert.rejects(client.register(avro(orderV3NoDefault), { subject: 'break-value' }), (err: Error & { status?: number }) => {
      assert.equal(err.status, 409);
      assert.match(err.message, /Schema being registered is incompatible with an earlier schema for subject "break-value"/);
      assert.match(err.message, /default-less shop\.Order\.customer/);
      return true;
    });
    const raw = await http(registry.url, 'POST', '/subjects/break-value/versions', schemaBody(orderV3NoDefault));
    assert.equal(raw.status, 409);
    assert.equal(raw.body.error_code, 409);
    assert.match(raw.body.message, /^Schema being registered is incompatible with an earlier schema for subject "break-value", details: \[.*\{compatibility: 'BACKWARD'\}\]$/);
    assert.deepEqual((await http(registry.url, 'GET', '/subjects/break-value/versions')).body, [1]);
  });

  test('config: 404 (40408) for a new subject, then PUT and GET; the client sets it on first registration', async () => {
    const fresh = await http(registry.url, 'GET', '/config/cfg-value');
    assert.equal(fresh.status, 404);
    assert.equal(fresh.body.error_code, 40408);
    const put = await http(registry.url, 'PUT', '/config/cfg-value', { compatibility: 'FULL' });
    assert.deepEqual({ status: put.status, body: put.body }, { status: 200, body: { compatibility: 'FULL' } });
    assert.deepEqual((await http(registry.url, 'GET', '/config/cfg-value')).body, { compatibilityLevel: 'FULL' });

    await client.register(avro(orderV1), { subject: 'cfg-client-value', compatibility: COMPATIBILITY.FORWARD });
    assert.deepEqual((await http(registry.url, 'GET', '/config/cfg-client-value')).body, { compatibilityLevel: 'FORWARD' });
    // The client refuses to register under another level than the subject's.
    await assert.rejects(client.register(avro(orderV2), { subject: 'cfg-client-value' }), /Compatibility does not match the configuration \(BACKWARD != FORWARD\)/);
  });

  test('the compatibility level decides: FORWARD accepts a new field without default, refuses removing a field without default', async () => {
    await http(registry.url, 'PUT', '/config/fwd-value', { compatibility: 'FORWARD' });
    await client.register(avro(orderV1), { subject: 'fwd-value', compatibility: COMPATIBILITY.FORWARD });
    await client.register(avro(orderV3NoDefault), { subject: 'fwd-value', compatibility: COMPATIBILITY.FORWARD });
    const dropAmount = { ...orderV1, fields: [orderV1.fields[0], orderV3NoDefault.fields[2]] };
    await assert.rejects(client.register(avro(dropAmount), { subject: 'fwd-value', compatibility: COMPATIBILITY.FORWARD }), { status: 409 });
  });

  test('compatibility endpoint answers is_compatible without registering', async () => {
    await client.register(avro(orderV1), { subject: 'check-value' });
    const ok = await http(registry.url, 'POST', '/compatibility/subjects/check-value/versions/latest', schemaBody(orderV2));
    assert.deepEqual({ status: ok.status, body: ok.body }, { status: 200, body: { is_compatible: true } });
    const bad = await http(registry.url, 'POST', '/compatibility/subjects/check-value/versions/latest?verbose=true', schemaBody(orderV3NoDefault));
    assert.equal(bad.status, 200);
    assert.equal(bad.body.is_compatible, false);
    assert.match(bad.body.messages[0], /cannot read data written with version 1/);
    assert.deepEqual((await http(registry.url, 'GET', '/subjects/check-value/versions')).body, [1]);
    const unknown = await http(registry.url, 'POST', '/compatibility/subjects/check-nope/versions/latest', schemaBody(orderV2));
    assert.deepEqual({ status: unknown.status, code: unknown.body.error_code }, { status: 404, code: 40401 });
  });

  test('lookup of a schema under a subject: POST /subjects/{s}', async () => {
    const { id } = await client.register(avro(orderV1), { subject: 'look-value' });
    const found = await http(registry.url, 'POST', '/subjects/look-value', schemaBody(orderV1));
    assert.deepEqual(found.body, { subject: 'look-value', version: 1, id, schema: JSON.stringify(orderV1) });
    const missing = await http(registry.url, 'POST', '/subjects/look-value', schemaBody(orderV2));
    assert.deepEqual({ status: missing.status, code: missing.body.error_code }, { status: 404, code: 40403 });
    await assert.rejects(client.getRegistryIdBySchema('look-value', avro(orderV2)), /Schema not found/);
  });
});

describe('embedded schema registry persistence', () => {
  test('schemas, versions, ids and config survive a restart; ids keep counting', async () => {
    const dir = tempDir();
    const file = join(dir.path, 'nested', 'registry.db');
    try {
      const first = await startSchemaRegistry({ port: 0, file });
      const c1 = new SchemaRegistry({ host: first.url });
      const a = await c1.register(avro(orderV1), { subject: 'p-value' });
      const b = await c1.register(avro(orderV2), { subject: 'p-value' });
      await first.close();

      const second = await startSchemaRegistry({ port: 0, file });
      try {
        const c2 = new SchemaRegistry({ host: second.url });
        assert.equal(await c2.getRegistryId('p-value', 1), a.id);
        assert.equal(await c2.getLatestSchemaId('p-value'), b.id);
        assert.equal((await c2.register(avro(orderV2), { subject: 'p-value' })).id, b.id);
        assert.deepEqual((await http(second.url, 'GET', '/config/p-value')).body, { compatibilityLevel: 'BACKWARD' });
        const other = { type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] };
        const c = await c2.register(avro(other), { subject: 'q-value' });
        assert.ok(c.id > b.id, `a new schema after a restart gets a new id (${c.id} > ${b.id})`);
        const bytes = await c2.encode(a.id, { id: 'x', amount: 1 });
        assert.deepEqual(plain(await c2.decode(bytes)), { id: 'x', amount: 1 });
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
    }
  });

  test('a file that is not a registry is refused with a clear error', async () => {
    const dir = tempDir();
    try {
      const { openEmbeddedLog } = await import('../../src/log/embedded/index.js');
      const log = openEmbeddedLog({ path: join(dir.path, 'log.db') });
      await log.close();
      await assert.rejects(startSchemaRegistry({ port: 0, file: join(dir.path, 'log.db') }), /is not a Tributary schema registry file/);
    } finally {
      dir.remove();
    }
  });

  test('a port in use is a clear error', async () => {
    const first = await startSchemaRegistry({ port: 0, file: ':memory:' });
    try {
      await assert.rejects(startSchemaRegistry({ port: first.port, file: ':memory:' }), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}: port ${first.port} is in use`));
    } finally {
      await first.close();
    }
  });
});
