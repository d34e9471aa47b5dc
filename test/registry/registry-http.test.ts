/**
 * The registry's HTTP surface as any client meets it: Confluent's status codes, error codes and
 * `{ error_code, message }` bodies for bad input, and its content type.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createLogger, startSchemaRegistry, type SchemaRegistryServer } from '../../src/index.js';
import { http, orderV1, orderV2, schemaBody } from './fixtures.js';

describe('registry HTTP input validation', () => {
  let registry: SchemaRegistryServer;
  const logLines: string[] = [];
  before(async () => {
    registry = await startSchemaRegistry({
      port: 0,
      file: ':memory:',
      maxBodyBytes: 64 * 1024,
      logger: createLogger({ level: 'debug', write: (line) => logLines.push(line) }),
    });
    await http(registry.url, 'POST', '/subjects/known-value/versions', schemaBody(orderV1));
  });
  after(() => registry.close());

  /** Asserts a Confluent error answer: the status, the error_code, and a message matching `message`. */
  async function expectError(method: string, path: string, body: unknown, status: number, errorCode: number, message: RegExp, headers?: Record<string, string>) {
    const r = await http(registry.url, method, path, body, headers);
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(Object.keys(r.body).sort(), ['error_code', 'message']);
    assert.equal(r.body.error_code, errorCode);
    assert.match(r.body.message, message);
    assert.equal(r.contentType, 'application/vnd.schemaregistry.v1+json');
  }

  test('answers in application/vnd.schemaregistry.v1+json', async () => {
    const r = await http(registry.url, 'GET', '/subjects');
    assert.equal(r.status, 200);
    assert.equal(r.contentType, 'application/vnd.schemaregistry.v1+json');
    assert.deepEqual(r.body, ['known-value']);
  });

  test('bad JSON is 400', () => expectError('POST', '/subjects/known-value/versions', '{"schema": ', 400, 400, /not JSON/));
  test('a body that is not an object is 422', () => expectError('POST', '/subjects/known-value/versions', '[1]', 422, 422, /must be a JSON object/));
  test('an empty body is 422', () => expectError('POST', '/subjects/known-value/versions', '', 422, 422, /no body/));
  test('a schema that is not Avro is 422 / 42201', () =>
    expectError('POST', '/subjects/x-value/versions', schemaBody({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'nope' }] }), 422, 42201, /^Invalid schema: undefined type name: nope/));
  test('schema text that is not JSON is 422 / 42201', () => expectError('POST', '/subjects/x-value/versions', { schema: '{oops' }, 422, 42201, /the schema is not JSON/));
  test('a missing schema field is 422 / 42201', () => expectError('POST', '/subjects/x-value/versions', { schemma: '"string"' }, 422, 42201, /'schema' must be a string/));
  test('another schemaType is 422 / 42201', () => expectError('POST', '/subjects/x-value/versions', { schema: '{}', schemaType: 'PROTOBUF' }, 422, 42201, /AVRO schemas only/));
  test('schema references are 422 / 42201', () =>
    expectError('POST', '/subjects/x-value/versions', { schema: '"string"', references: [{ name: 'a', subject: 'b', version: 1 }] }, 422, 42201, /references are not supported/));
  test('an unknown subject is 404 / 40401', async () => {
    await expectError('GET', '/subjects/nope/versions/latest', undefined, 404, 40401, /^Subject 'nope' not found\.$/);
    await expectError('GET', '/subjects/nope/versions', undefined, 404, 40401, /Subject 'nope' not found/);
    await expectError('POST', '/subjects/nope', schemaBody(orderV1), 404, 40401, /Subject 'nope' not found/);
  });
  test('an unknown version is 404 / 40402, an invalid one 422 / 42202', async () => {
    await expectError('GET', '/subjects/known-value/versions/7', undefined, 404, 40402, /^Version 7 not found\.$/);
    await expectError('GET', '/subjects/known-value/versions/0', undefined, 422, 42202, /not a valid version id/);
    await expectError('GET', '/subjects/known-value/versions/abc', undefined, 422, 42202, /not a valid version id/);
    await expectError('GET', '/subjects/known-value/versions/99999999999', undefined, 422, 42202, /not a valid version id/);
  });
  test('an unknown or invalid schema id is 404 / 40403', async () => {
    await expectError('GET', '/schemas/ids/999', undefined, 404, 40403, /^Schema 999 not found$/);
    await expectError('GET', '/schemas/ids/-1', undefined, 404, 40403, /not found/);
    await expectError('GET', '/schemas/ids/1e3', undefined, 404, 40403, /not found/);
    await expectError('GET', '/schemas/ids/4294967297', undefined, 404, 40403, /not found/);
  });
  test('an invalid compatibility level is 422 / 42203', async () => {
    await expectError('PUT', '/config/known-value', { compatibility: 'SIDEWAYS' }, 422, 42203, /Invalid compatibility level/);
    await expectError('PUT', '/config', { compatibility: 42 }, 422, 42203, /Invalid compatibility level/);
  });
  test('a subject with control characters is 422', () => expectError('GET', '/subjects/a%00b/versions', undefined, 422, 422, /control characters/));
  test('bad percent-encoding is 400', () => expectError('GET', '/subjects/%E0%A4%A/versions', undefined, 400, 400, /percent-encoding/));
  test('an unknown route is 404, a wrong method 405', async () => {
    await expectError('GET', '/nothing/here', undefined, 404, 404, /HTTP 404 Not Found/);
    await expectError('DELETE', '/subjects/known-value', undefined, 405, 405, /HTTP 405 Method Not Allowed/);
    await expectError('GET', '/compatibility/subjects/known-value/versions/latest', undefined, 405, 405, /Method Not Allowed/);
  });
  test('an unsupported content type is 415', () =>
    expectError('POST', '/subjects/known-value/versions', schemaBody(orderV2), 415, 415, /Unsupported Media Type/, { 'content-type': 'text/plain' }));
  test('a body over the limit is 413', async () => {
    const huge = { schema: JSON.stringify({ type: 'record', name: 'Big', doc: 'x'.repeat(100 * 1024), fields: [] }) };
    await expectError('POST', '/subjects/big-value/versions', huge, 413, 413, /larger than 65536 bytes/);
  });
  test('a body over the limit without content-length (chunked) is 413 too', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(registry.url);
      const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/subjects/big-value/versions', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 100; i++) req.write('x'.repeat(1024));
      req.end();
    });
    assert.equal(status, 413);
    assert.deepEqual((await http(registry.url, 'GET', '/subjects')).body, ['known-value']);
  });
  test('GET /config is the global level, BACKWARD unless set; defaultToGlobal falls back to it', async () => {
    assert.deepEqual((await http(registry.url, 'GET', '/config')).body, { compatibilityLevel: 'BACKWARD' });
    assert.deepEqual((await http(registry.url, 'GET', '/config/unset-value?defaultToGlobal=true')).body, { compatibilityLevel: 'BACKWARD' });
  });
  test('lower-case compatibility levels are accepted and stored upper-case', async () => {
    const r = await http(registry.url, 'PUT', '/config/lower-value', { compatibility: 'full_transitive' });
    assert.deepEqual(r.body, { compatibility: 'FULL_TRANSITIVE' });
  });
  test('GET /schemas/ids/{id} and /subjects/{s}/versions/{v}[/schema] have Confluent\'s shapes', async () => {
    const byId = await http(registry.url, 'GET', '/schemas/ids/1');
    assert.deepEqual(byId.body, { schema: JSON.stringify(orderV1) });
    const version = await http(registry.url, 'GET', '/subjects/known-value/versions/1');
    assert.deepEqual(version.body, { subject: 'known-value', version: 1, id: 1, schema: JSON.stringify(orderV1) });
    assert.deepEqual((await http(registry.url, 'GET', '/subjects/known-value/versions/-1')).body, version.body);
    assert.deepEqual((await http(registry.url, 'GET', '/subjects/known-value/versions/latest/schema')).body, orderV1);
  });
  test('subjects may hold any printable character, percent-encoded', async () => {
    const r = await http(registry.url, 'POST', `/subjects/${encodeURIComponent('ns/with slash-value')}/versions`, schemaBody(orderV1));
    assert.deepEqual(r.body, { id: 1 });
    assert.ok((await http(registry.url, 'GET', '/subjects')).body.includes('ns/with slash-value'));
  });
  test('logs requests without their bodies or headers', async () => {
    await http(registry.url, 'PUT', '/config/secret-value', { compatibility: 'NONE' }, { authorization: 'Basic c2VjcmV0OnNlY3JldA==' });
    const log = logLines.join('\n');
    assert.match(log, /schema registry: request method=PUT path=\/config\/secret-value status=200/);
    assert.doesNotMatch(log, /c2VjcmV0|authorization/i);
    assert.doesNotMatch(log, /"compatibility"/);
  });
});
