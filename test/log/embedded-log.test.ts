/** What the embedded log does beyond the Log conformance suite: storage layout, versions, one live member per group. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import Database from 'better-sqlite3';
import { ApplicationRunningError, ClosedError, FencedError, IllegalStateError, TopicError, TributaryError } from '../../src/errors/index.js';
import { openEmbeddedLog, SCHEMA_VERSION } from '../../src/log/embedded/index.js';
import type { Log } from '../../src/log/types.js';
import { pollFor, pollUntil, record, recordingListener, text } from './conformance.js';

let dir: string;
let path: string;
const opened: Log[] = [];

function open(options: { defaultPartitions?: number; durability?: 'normal' | 'full' } = {}): Log {
  const log = openEmbeddedLog({ path, ...options });
  opened.push(log);
  return log;
}

function inspect<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tributary-embedded-'));
  path = join(dir, 'nested', 'dirs', 'log.db');
});

afterEach(async () => {
  for (const log of opened.splice(0)) await log.close();
  rmSync(dir, { recursive: true, force: true });
});

test('stores one row per appended batch per partition, keyed (topic_id, partition, last_offset)', async () => {
  const log = open();
  assert.equal(log.kind, 'embedded');
  await log.admin.createTopics([{ name: 't', partitions: 3 }]);
  const producer = log.producer();
  await producer.send(Array.from({ length: 1000 }, (_, i) => record('t', null, `v${i}`, { partition: 1 })));
  const txn = producer.beginTransaction();
  for (let i = 0; i < 30; i++) txn.send([record('t', null, `x${i}`, { partition: i % 3 })]);
  await txn.commit();
  const rows = inspect((db) =>
    db.prepare('SELECT partition, base_offset, last_offset FROM batches ORDER BY partition, last_offset').all(),
  );
  assert.deepEqual(rows, [
    { partition: 0, base_offset: 0, last_offset: 9 },
    { partition: 1, base_offset: 0, last_offset: 999 },
    { partition: 1, base_offset: 1000, last_offset: 1009 },
    { partition: 2, base_offset: 0, last_offset: 9 },
  ]);
  const ddl = inspect((db) => db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'batches'").pluck().get() as string);
  assert.match(ddl, /PRIMARY KEY \(topic_id, partition, last_offset\)\s*\) WITHOUT ROWID/);
  assert.deepEqual(await log.admin.offsets('t'), [
    { partition: 0, low: 0, high: 10 },
    { partition: 1, low: 0, high: 1010 },
    { partition: 2, low: 0, high: 10 },
  ]);
});

test('a fetch from the middle of a batch skips the records below the position', async () => {
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 1 }]);
  await log.producer().send(Array.from({ length: 1000 }, (_, i) => record('t', `k${i}`, `v${i}`)));
  const consumer = log.consumer({ maxPollRecords: 3 });
  consumer.assign([{ topic: 't', partition: 0 }]);
  consumer.seek({ topic: 't', partition: 0 }, 500);
  const got = await consumer.poll(0);
  assert.deepEqual(got.map((r) => [r.offset, text(r.value)]), [[500, 'v500'], [501, 'v501'], [502, 'v502']]);
  consumer.seek({ topic: 't', partition: 0 }, 998);
  assert.deepEqual((await consumer.poll(0)).map((r) => r.offset), [998, 999]);
  consumer.seek({ topic: 't', partition: 0 }, 5000);
  assert.deepEqual(await consumer.poll(0), []);
});

test('records the schema version and refuses newer or foreign files', async () => {
  const log = open({ durability: 'full' });
  await log.close();
  const { version, appId, journal } = inspect((db) => ({
    version: db.pragma('user_version', { simple: true }),
    appId: db.pragma('application_id', { simple: true }),
    journal: db.pragma('journal_mode', { simple: true }),
  }));
  assert.equal(version, SCHEMA_VERSION);
  assert.equal(appId, 0x54726962);
  assert.equal(journal, 'wal');

  const db = new Database(path);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(
    () => openEmbeddedLog({ path }),
    (e: unknown) => e instanceof TributaryError && /format version 2, but this Tributary only knows versions up to 1: upgrade/.test(e.message),
  );

  const foreign = join(dir, 'foreign.db');
  const other = new Database(foreign);
  other.exec('CREATE TABLE users (id INTEGER PRIMARY KEY)');
  other.close();
  assert.throws(() => openEmbeddedLog({ path: foreign }), /is not a Tributary embedded log/);
});

test('reopening the file keeps topics, records, group offsets and generations', async () => {
  let log = open();
  await log.admin.createTopics([{ name: 't', partitions: 2, cleanupPolicy: 'compact' }]);
  await log.producer().send([record('t', 'a', '1', { partition: 0 }), record('t', 'b', '2', { partition: 1 })]);
  const consumer = log.consumer({ groupId: 'app' });
  await consumer.subscribe(['t'], recordingListener());
  await pollUntil(consumer, 2);
  const generation = consumer.groupMetadata().generationId;
  const txn = log.producer().beginTransaction();
  txn.sendOffsets(consumer.groupMetadata(), [{ topic: 't', partition: 0, offset: 1 }]);
  await txn.commit();
  await log.close();

  log = open();
  assert.deepEqual(await log.admin.describeTopics(['t']), [{ name: 't', partitions: 2, cleanupPolicy: 'compact', internal: false }]);
  assert.deepEqual(await log.admin.committedOffsets('app', ['t']), [{ topic: 't', partition: 0, offset: 1 }]);
  const again = log.consumer({ groupId: 'app' });
  await again.subscribe(['t'], recordingListener());
  const got = await pollUntil(again, 1);
  assert.deepEqual(got.map((r) => text(r.value)), ['2'], 'partition 0 resumes at its committed offset');
  assert.equal(again.groupMetadata().generationId, generation + 1);
});

test('a produce to an unknown topic creates it with defaultPartitions; an unknown partition is a TopicError', async () => {
  const log = open({ defaultPartitions: 3 });
  const producer = log.producer();
  const sent = await producer.send([record('auto', null, 'a'), record('auto', null, 'b'), record('auto', null, 'c')]);
  assert.deepEqual(sent.map((o) => o.partition), [0, 1, 2], 'null keys go round robin');
  assert.deepEqual(await log.admin.describeTopics(['auto']), [{ name: 'auto', partitions: 3, cleanupPolicy: 'delete', internal: false }]);
  await assert.rejects(producer.send([record('auto', null, 'x', { partition: 3 })]), (e: unknown) => e instanceof TopicError && /no partition 3/.test(e.message));
  const txn = producer.beginTransaction();
  assert.throws(() => txn.send([record('auto', null, 'x', { partition: -1 })]), TopicError);
  assert.throws(() => txn.send([record('bad name!', null, 'x')]), TopicError);
  assert.throws(() => txn.send([{ ...record('auto', null, 'x'), timestamp: 1.5 }]), /integer number of epoch milliseconds/);
  await txn.abort();
  assert.equal((await log.admin.offsets('auto')).reduce((n, p) => n + p.high, 0), 3);
});

test('subscribing to an unknown topic fails at the next poll with a TopicError that says how to create it', async () => {
  const log = open();
  const consumer = log.consumer({ groupId: 'app' });
  await consumer.subscribe(['missing'], recordingListener());
  await assert.rejects(consumer.poll(0), (e: unknown) => e instanceof TopicError && /topic 'missing' does not exist.*createTopics/.test(e.message));
  assert.throws(() => consumer.assign([{ topic: 'x', partition: 0 }]), IllegalStateError);
  const reader = log.consumer({});
  assert.throws(() => reader.assign([{ topic: 'missing', partition: 0 }]), TopicError);
  await assert.rejects(reader.subscribe(['missing'], recordingListener()), IllegalStateError);
  assert.throws(() => reader.groupMetadata(), IllegalStateError);
});

test('one live member per group: a second consumer gets ApplicationRunningError until the first leaves', async () => {
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 2 }]);
  const first = log.consumer({ groupId: 'app' });
  await first.subscribe(['t'], recordingListener());
  await first.poll(0);
  const generation = first.groupMetadata().generationId;

  const other = open(); // another connection to the same file, in this process
  const second = other.consumer({ groupId: 'app' });
  await second.subscribe(['t'], recordingListener());
  await assert.rejects(second.poll(0), (e: unknown) => {
    assert.ok(e instanceof ApplicationRunningError);
    assert.match(e.message, new RegExp(`application 'app' is already running \\(pid ${process.pid}, this process, started \\d{4}-\\d\\d-\\d\\dT`));
    assert.ok(e.message.includes(path) && e.message.endsWith('stop it first'), e.message);
    return true;
  });
  await assert.rejects(log.admin.setCommittedOffsets('app', [{ topic: 't', partition: 0, offset: 0 }]), ApplicationRunningError);

  await first.close();
  await second.poll(0);
  assert.equal(second.groupMetadata().generationId, generation + 1);
  assert.equal(inspect((db) => db.prepare('SELECT count(*) FROM group_members').pluck().get()), 1);
  await second.close();
  assert.equal(inspect((db) => db.prepare('SELECT count(*) FROM group_members').pluck().get()), 0, 'close() removes the member row');
  await log.admin.setCommittedOffsets('app', [{ topic: 't', partition: 1, offset: 0 }]);
  await assert.rejects(log.admin.setCommittedOffsets('app', [{ topic: 't', partition: 2, offset: 0 }]), TopicError);
});

test("a member row left by a log that was never closed, in this process, is taken over", async () => {
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 1 }]);
  // Simulate a member of this pid whose consumer no longer exists (as after a crash and pid reuse).
  const db = new Database(path);
  db.prepare("INSERT INTO groups (group_id, generation) VALUES ('app', 7)").run();
  db.prepare("INSERT INTO group_members VALUES ('app', 'ghost', 7, ?, ?, ?)").run(process.pid, (await import('node:os')).hostname(), Date.now());
  db.close();
  const consumer = log.consumer({ groupId: 'app' });
  await consumer.subscribe(['t'], recordingListener());
  await consumer.poll(0);
  assert.equal(consumer.groupMetadata().generationId, 8);
});

test('fencing: a zombie commit leaves nothing behind, and a fenced producer stays fenced', async () => {
  const log = open();
  await log.admin.createTopics([{ name: 'in', partitions: 1 }, { name: 'out', partitions: 1 }]);
  const consumer = log.consumer({ groupId: 'app' });
  await consumer.subscribe(['in'], recordingListener());
  await consumer.poll(0);
  const meta = consumer.groupMetadata();
  await consumer.close();
  const producer = log.producer({ transactionalId: 'app-0_0' });
  const txn = producer.beginTransaction();
  txn.send([record('out', 'k', 'v')]);
  txn.sendOffsets(meta, [{ topic: 'in', partition: 0, offset: 0 }]);
  await assert.rejects(txn.commit(), (e: unknown) => e instanceof FencedError && e.retriable && /no longer current: the group has no member/.test(e.message));
  assert.deepEqual(await log.admin.offsets('out'), [{ partition: 0, low: 0, high: 0 }]);
  await assert.rejects(txn.commit(), IllegalStateError);

  log.producer({ transactionalId: 'app-0_0' });
  await assert.rejects(producer.send([record('out', 'k', 'v')]), FencedError);
  assert.throws(() => producer.beginTransaction(), FencedError);
});

test('poll() is fair across partitions and rotates the partition served first', async () => {
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 4 }]);
  const producer = log.producer();
  for (let p = 0; p < 4; p++) await producer.send(Array.from({ length: 100 }, (_, i) => record('t', null, `${p}-${i}`, { partition: p })));
  const consumer = log.consumer({ maxPollRecords: 40 });
  consumer.assign([0, 1, 2, 3].map((partition) => ({ topic: 't', partition })));
  const first = await consumer.poll(0);
  assert.equal(first.length, 40);
  const counts = [0, 1, 2, 3].map((p) => first.filter((r) => r.partition === p).length);
  assert.deepEqual(counts, [10, 10, 10, 10]);
  const second = await consumer.poll(0);
  assert.equal(second[0]!.partition, 1, 'the next poll starts with the next partition');
  // once some partitions run dry, the others share the whole budget
  consumer.seek({ topic: 't', partition: 0 }, 100);
  consumer.seek({ topic: 't', partition: 1 }, 100);
  consumer.seek({ topic: 't', partition: 2 }, 99);
  const third = await consumer.poll(0);
  assert.equal(third.length, 40);
  assert.equal(third.filter((r) => r.partition === 2).length, 1);
});

test('poll() wakes up on a commit by another connection (data_version)', async () => {
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 1 }]);
  const consumer = log.consumer({});
  consumer.assign([{ topic: 't', partition: 0 }]);
  const writer = open();
  const waiting = consumer.poll(10_000);
  const started = Date.now();
  setTimeout(() => void writer.producer().send([record('t', 'k', 'from another connection')]), 150);
  const got = await waiting;
  assert.deepEqual(got.map((r) => text(r.value)), ['from another connection']);
  assert.ok(Date.now() - started < 2000, `woke after ${Date.now() - started} ms`);
});

test('close() closes everything; any use afterwards is a ClosedError', async () => {
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 1 }]);
  const producer = log.producer();
  const consumer = log.consumer({ groupId: 'app' });
  const listener = recordingListener();
  await consumer.subscribe(['t'], listener);
  await consumer.poll(0);
  const waiting = consumer.poll(30_000);
  await log.close();
  assert.deepEqual(await waiting, [], 'a waiting poll returns when the log closes');
  assert.equal(listener.revoked.length, 1, 'consumers are closed (and leave their group)');
  await log.close(); // idempotent
  await assert.rejects(log.admin.listTopics(), ClosedError);
  await assert.rejects(producer.send([record('t', 'k', 'v')]), ClosedError);
  await assert.rejects(consumer.poll(0), ClosedError);
  assert.throws(() => log.producer(), ClosedError);
  assert.throws(() => log.consumer({}), ClosedError);
  assert.equal(inspect((db) => db.prepare('SELECT count(*) FROM group_members').pluck().get()), 0);

  const reopened = open();
  const c2 = reopened.consumer({});
  await c2.close();
  await assert.rejects(c2.poll(0), ClosedError);
  const p2 = reopened.producer();
  await p2.close();
  await assert.rejects(p2.send([]), ClosedError);
});

test('deleteTopics removes records and committed offsets; the name can be created again', async () => {
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 1 }]);
  const producer = log.producer();
  await producer.send([record('t', 'k', 'old')]);
  await log.admin.setCommittedOffsets('app', [{ topic: 't', partition: 0, offset: 1 }]);
  await log.admin.deleteTopics(['t']);
  await assert.rejects(log.admin.deleteTopics(['t']), TopicError);
  assert.deepEqual(await log.admin.committedOffsets('app', ['t']), []);
  assert.equal(inspect((db) => db.prepare('SELECT count(*) FROM batches').pluck().get()), 0);
  await log.admin.createTopics([{ name: 't', partitions: 2 }]);
  const sent = await producer.send([record('t', null, 'new')]);
  assert.deepEqual(sent, [{ topic: 't', partition: 0, offset: 0 }]);
  const consumer = log.consumer({});
  consumer.assign([{ topic: 't', partition: 0 }]);
  assert.deepEqual((await pollFor(consumer, 100)).map((r) => text(r.value)), ['new']);
});

test('past a few MB appended, a checkpointer thread copies the WAL into the file; all data stays readable', async () => {
  const { statSync } = await import('node:fs');
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 2 }]);
  const producer = log.producer();
  const value = Buffer.alloc(1000, 7);
  for (let i = 0; i < 12; i++) {
    await producer.send(Array.from({ length: 1000 }, (_, j) => ({ topic: 't', partition: j % 2, key: null, value, timestamp: i, headers: {} })));
  }
  // 12 MB appended: more than the thread's 8 MB start, less than the main connection's own checkpoint threshold
  const deadline = Date.now() + 10_000;
  while (statSync(path).size < 8_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(statSync(path).size >= 8_000_000, `the database file grew to ${statSync(path).size} bytes: checkpoints ran`);
  const consumer = log.consumer({ maxPollRecords: 5000 });
  consumer.assign([0, 1].map((partition) => ({ topic: 't', partition })));
  let n = 0;
  for (let got = await consumer.poll(0); got.length > 0; got = await consumer.poll(0)) n += got.length;
  assert.equal(n, 12_000);
  await log.close();
  assert.deepEqual(await (open().admin.offsets('t')), [
    { partition: 0, low: 0, high: 6000 },
    { partition: 1, low: 0, high: 6000 },
  ]);
});

test('a consumer without membership (assign) commits offsets only while the group has no live member', async () => {
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 1 }]);
  const standalone = log.consumer({ groupId: 'tool' });
  standalone.assign([{ topic: 't', partition: 0 }]);
  const meta = standalone.groupMetadata();
  assert.deepEqual(meta, { groupId: 'tool', generationId: -1, memberId: '' });
  const producer = log.producer();
  let txn = producer.beginTransaction();
  txn.sendOffsets(meta, [{ topic: 't', partition: 0, offset: 0 }]);
  await txn.commit();
  assert.deepEqual(await standalone.committed([{ topic: 't', partition: 0 }]), [{ topic: 't', partition: 0, offset: 0 }]);

  const member = log.consumer({ groupId: 'tool' });
  await member.subscribe(['t'], recordingListener());
  await member.poll(0);
  txn = producer.beginTransaction();
  txn.sendOffsets(meta, [{ topic: 't', partition: 0, offset: 0 }]);
  await assert.rejects(txn.commit(), ApplicationRunningError);
});

test("log.close() closes consumers before producers, so an onRevoked listener can still commit", async () => {
  const log = open();
  await log.admin.createTopics([{ name: 't', partitions: 1 }]);
  const producer = log.producer({ transactionalId: 'app-0_0' });
  const consumer = log.consumer({ groupId: 'app' });
  let committedOnRevoke = false;
  await consumer.subscribe(['t'], {
    onAssigned() {},
    async onRevoked(partitions) {
      const txn = producer.beginTransaction();
      txn.sendOffsets(consumer.groupMetadata(), partitions.map((tp) => ({ ...tp, offset: consumer.position(tp) })));
      await txn.commit();
      committedOnRevoke = true;
    },
  });
  await consumer.poll(0);
  await log.close();
  assert.equal(committedOnRevoke, true);
  assert.deepEqual(await open().admin.committedOffsets('app', ['t']), [{ topic: 't', partition: 0, offset: 0 }]);
});
