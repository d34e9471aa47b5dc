/**
 * schemaRegistryAvro() against the embedded registry over HTTP, and against the real
 * @kafkajs/confluent-schema-registry client: the same bytes both ways.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import {
  createLogger,
  SchemaNotLoadedError,
  SerdeError,
  schemaRegistryAvro,
  startSchemaRegistry,
  type Serde,
  type SchemaRegistryServer,
} from '../../src/index.js';
import { orderV1, orderV2, orderV3NoDefault } from '../registry/fixtures.js';

interface OrderV1 {
  id: string;
  amount: number;
}
interface OrderV2 extends OrderV1 {
  currency: string;
}

const data = (v: unknown) => structuredClone(v);
const avro = (schema: unknown) => ({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }) as const;

describe('schemaRegistryAvro', () => {
  let registry: SchemaRegistryServer;
  let client: SchemaRegistry;
  let n = 0;
  /** A fresh topic name per test. */
  const topic = () => `orders-${++n}`;
  before(async () => {
    registry = await startSchemaRegistry({ port: 0, file: ':memory:' });
    client = new SchemaRegistry({ host: registry.url });
  });
  after(() => registry.close());

  test('init registers the schema under <topic>-value; serialize and deserialize are synchronous', async () => {
    const t = topic();
    const serde = schemaRegistryAvro<OrderV1>({ host: registry.url, schema: orderV1 });
    await serde.init([t]);
    const id = await client.getLatestSchemaId(`${t}-value`);
    assert.equal(serde.schemaIdFor(t), id);

    const bytes = serde.serialize({ id: 'o-1', amount: 9.5 }, t);
    assert.equal(bytes[0], 0, 'magic byte');
    assert.equal(bytes.readInt32BE(1), id, 'schema id, big-endian');
    assert.deepEqual(data(serde.deserialize(bytes, t)), { id: 'o-1', amount: 9.5 });
  });

  test('a Serde with the async hooks: what the runtime sees', async () => {
    const t = topic();
    const serde: Serde<OrderV1> = schemaRegistryAvro<OrderV1>({ host: registry.url, schema: orderV1 });
    assert.equal(typeof serde.init, 'function');
    assert.equal(typeof serde.prefetch, 'function');
    await serde.init?.([t]);
    await serde.prefetch?.([null, undefined, Buffer.alloc(2), serde.serialize({ id: 'a', amount: 1 }, t)], t);
  });

  test('serialize before init fails with a retriable error that says to call init', () => {
    const serde = schemaRegistryAvro<OrderV1>({ host: registry.url, schema: orderV1 });
    assert.throws(
      () => serde.serialize({ id: 'x', amount: 1 }, 'never-inited'),
      (err: SerdeError) => err instanceof SerdeError && err.retriable && /no schema id for topic 'never-inited' yet \(subject 'never-inited-value'\): await serde\.init/.test(err.message),
    );
  });

  test('deserialize of an id not loaded throws SchemaNotLoadedError (retriable); prefetch loads it', async () => {
    const t = topic();
    const { id } = await client.register(avro(orderV1), { subject: `${t}-value` });
    const bytes = await client.encode(id, { id: 'o-2', amount: 1 });
    const reader = schemaRegistryAvro<OrderV1>({ host: registry.url, preloadVersions: false });
    await reader.init([t]);
    assert.throws(
      () => reader.deserialize(bytes, t),
      (err: SchemaNotLoadedError) =>
        err instanceof SchemaNotLoadedError && err instanceof SerdeError && err.retriable && err.schemaId === id && /schema id \d+ of a record on topic '.*' is not loaded yet/.test(err.message),
    );
    await reader.prefetch([bytes], t);
    assert.deepEqual(data(reader.deserialize(bytes, t)), { id: 'o-2', amount: 1 });
  });

  test('init preloads every version of the subject, so old bytes (e.g. from a state store) decode without prefetch', async () => {
    const t = topic();
    const { id } = await client.register(avro(orderV1), { subject: `${t}-value` });
    const old = await client.encode(id, { id: 'o-3', amount: 2 });
    const serde = schemaRegistryAvro<OrderV2>({ host: registry.url, schema: orderV2 });
    await serde.init([t]);
    assert.deepEqual(data(serde.deserialize(old, t)), { id: 'o-3', amount: 2, currency: 'EUR' });
  });

  test('wire format: the real client decodes our bytes, and we decode the real client\'s', async () => {
    const t = topic();
    const serde = schemaRegistryAvro<OrderV1>({ host: registry.url, schema: orderV1 });
    await serde.init([t]);
    const ours = serde.serialize({ id: 'ours', amount: 1.25 }, t);
    assert.deepEqual(data(await client.decode(ours)), { id: 'ours', amount: 1.25 });

    const theirs = await client.encode(serde.schemaIdFor(t)!, { id: 'theirs', amount: -3 });
    assert.ok(theirs.equals(serde.serialize({ id: 'theirs', amount: -3 }, t)), 'the same value gives the same bytes');
    const fresh = schemaRegistryAvro<OrderV1>({ host: registry.url, preloadVersions: false });
    await fresh.prefetch([theirs], t);
    assert.deepEqual(data(fresh.deserialize(theirs, t)), { id: 'theirs', amount: -3 });
  });

  test('evolution: v1 data is read into the v2 reader schema with the default; v2 registers under BACKWARD', async () => {
    const t = topic();
    const v1 = schemaRegistryAvro<OrderV1>({ host: registry.url, schema: orderV1 });
    await v1.init([t]);
    const old = v1.serialize({ id: 'o-4', amount: 4 }, t);

    const v2 = schemaRegistryAvro<OrderV2>({ host: registry.url, schema: orderV2, preloadVersions: false });
    await v2.init([t]);
    assert.notEqual(v2.schemaIdFor(t), v1.schemaIdFor(t));
    assert.equal(await client.getRegistryId(`${t}-value`, 2), v2.schemaIdFor(t));
    await v2.prefetch([old], t);
    assert.deepEqual(data(v2.deserialize(old, t)), { id: 'o-4', amount: 4, currency: 'EUR' });
    // and v1 readers read v2 data (the new field is dropped): BACKWARD-compatible changes are also forward here
    const v2Bytes = v2.serialize({ id: 'o-5', amount: 5, currency: 'USD' }, t);
    await v1.prefetch([v2Bytes], t);
    assert.deepEqual(data(v1.deserialize(v2Bytes, t)), { id: 'o-5', amount: 5 });
  });

  test('a reader schema kept in the registry: { subject } reads with its latest version', async () => {
    const t = topic();
    const { id: v1Id } = await client.register(avro(orderV1), { subject: `${t}-value` });
    await client.register(avro(orderV2), { subject: `${t}-value` });
    const old = await client.encode(v1Id, { id: 'o-6', amount: 6 });
    const reader = schemaRegistryAvro<OrderV2>({ host: registry.url, readerSchema: { subject: `${t}-value` }, preloadVersions: false });
    await reader.init([t]);
    await reader.prefetch([old], t);
    assert.deepEqual(data(reader.deserialize(old, t)), { id: 'o-6', amount: 6, currency: 'EUR' });
  });

  test('a schema that breaks BACKWARD makes init fail, not retriable, with the registry\'s 409 message', async () => {
    const t = topic();
    await schemaRegistryAvro({ host: registry.url, schema: orderV1 }).init([t]);
    const breaking = schemaRegistryAvro({ host: registry.url, schema: orderV3NoDefault });
    await assert.rejects(breaking.init([t]), (err: SerdeError) => {
      assert.ok(err instanceof SerdeError);
      assert.equal(err.retriable, false);
      assert.match(err.message, new RegExp(`cannot register the schema under subject '${t}-value' in the registry at http://127\\.0\\.0\\.1:\\d+: Schema being registered is incompatible`));
      return true;
    });
  });

  test('autoRegister: false looks the schema up and fails clearly when it is not registered', async () => {
    const t = topic();
    await client.register(avro(orderV1), { subject: `${t}-value` });
    const lookup = schemaRegistryAvro<OrderV1>({ host: registry.url, schema: orderV1, autoRegister: false });
    await lookup.init([t]);
    assert.equal(lookup.schemaIdFor(t), await client.getLatestSchemaId(`${t}-value`));
    const missing = schemaRegistryAvro<OrderV2>({ host: registry.url, schema: orderV2, autoRegister: false });
    await assert.rejects(missing.init([t]), /the schema is not registered under subject '.*-value'/);
    assert.deepEqual(await fetch(`${registry.url}/subjects/${t}-value/versions`).then((r) => r.json()), [1]);
  });

  test('subject naming: key subjects, a fixed subject, the record and topic-record strategies', async () => {
    const t = topic();
    const key = schemaRegistryAvro({ host: registry.url, schema: orderV1, isKey: true });
    await key.init([t]);
    const fixed = schemaRegistryAvro({ host: registry.url, schema: orderV1, subject: `${t}-fixed` });
    await fixed.init();
    const record = schemaRegistryAvro({ host: registry.url, schema: orderV1, subjectNameStrategy: 'record' });
    await record.init();
    const topicRecord = schemaRegistryAvro({ host: registry.url, schema: orderV1, subjectNameStrategy: 'topic-record' });
    await topicRecord.init([t]);
    const subjects = (await fetch(`${registry.url}/subjects`).then((r) => r.json())) as string[];
    for (const s of [`${t}-key`, `${t}-fixed`, 'shop.Order', `${t}-shop.Order`]) assert.ok(subjects.includes(s), `${s} in ${subjects.join(', ')}`);
    assert.ok(fixed.schemaIdFor('any-topic') !== undefined, 'a fixed subject serves every topic');
    assert.match(fixed.name, /-fixed\)$/);
  });

  test('records that cannot be read fail alone and for good: unknown ids, other formats, bad payloads', async () => {
    const t = topic();
    const serde = schemaRegistryAvro<OrderV1>({ host: registry.url, schema: orderV1 });
    await serde.init([t]);
    const unknown = Buffer.from([0, 0, 0, 0x27, 0x0f, 2, 0x61]);
    await serde.prefetch([unknown], t);
    assert.throws(() => serde.deserialize(unknown, t), (err: SerdeError) => err instanceof SerdeError && !err.retriable && /schema id 9999 is not in the registry at http/.test(err.message));
    assert.throws(() => serde.deserialize(Buffer.from('{"id":"x"}'), t), (err: SerdeError) => !err.retriable && /not in the schema registry wire format \(magic byte 123, not 0\)/.test(err.message));
    assert.throws(() => serde.deserialize(Buffer.from([0, 0]), t), /only 2 byte\(s\)/);
    const good = serde.serialize({ id: 'x', amount: 1 }, t);
    assert.throws(() => serde.deserialize(good.subarray(0, good.length - 1), t), /cannot decode a record on topic '.*' written with schema id \d+: truncated buffer/);
    assert.throws(() => serde.serialize({ id: 1 } as never, t), /cannot write a value for topic '.*': invalid value at id, amount/);
  });

  test('an unreachable registry gives retriable errors that never show credentials', async () => {
    const gone = await startSchemaRegistry({ port: 0, file: ':memory:' });
    const port = gone.port;
    await gone.close();
    const serde = schemaRegistryAvro({ host: `http://user:s3cret@127.0.0.1:${port}`, schema: orderV1 });
    const bytes = Buffer.from([0, 0, 0, 0, 1, 2, 0x61]);
    await assert.rejects(serde.prefetch([bytes], 'orders'), (err: SerdeError) => {
      assert.ok(err instanceof SerdeError && err.retriable, String(err));
      assert.match(err.message, new RegExp(`cannot load schema id 1 \\(a record on topic 'orders'\\) in the registry at http://127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
    await assert.rejects(serde.init(['orders']), (err: SerdeError) => err.retriable && !err.message.includes('s3cret'));
    assert.throws(() => serde.deserialize(bytes, 'orders'), SchemaNotLoadedError, 'a failed prefetch leaves the id not loaded, not poisoned');
  });

  test('credentials in the host URL are sent as basic auth and never logged by the registry', async () => {
    const lines: string[] = [];
    const logged = await startSchemaRegistry({ port: 0, file: ':memory:', logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) });
    try {
      const serde = schemaRegistryAvro<OrderV1>({ host: `http://user:s3cret@127.0.0.1:${logged.port}/`, schema: orderV1 });
      await serde.init(['auth-orders']);
      assert.deepEqual(data(serde.deserialize(serde.serialize({ id: 'a', amount: 1 }, 'auth-orders'), 'auth-orders')), { id: 'a', amount: 1 });
      assert.ok(lines.some((l) => l.includes('schema registered')));
      assert.doesNotMatch(lines.join('\n'), /s3cret|dXNlcjpzM2NyZXQ=/);
    } finally {
      await logged.close();
    }
  });

  test('options are checked when the serde is made', () => {
    assert.throws(() => schemaRegistryAvro({ host: 'not a url' }), /host must be a URL/);
    assert.throws(() => schemaRegistryAvro({ host: registry.url, schema: 'string' }), /registers named schemas only/);
    assert.throws(() => schemaRegistryAvro({ host: registry.url, subjectNameStrategy: 'record' }), /needs a named writer `schema`/);
    assert.throws(() => schemaRegistryAvro({ host: registry.url }).serialize('x', 't'), /no writer schema/);
  });
});
