/**
 * Model-based property test: random appends (keyed, unkeyed, explicit partitions), transactions
 * committed, aborted or fenced, group-offset commits, topic creation, reads from random
 * offsets and close + reopen of the file, run against the embedded log and against a plain
 * in-memory model of a partitioned log. After every step the log must read back exactly what
 * the model holds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ApplicationRunningError, FencedError, TopicError } from '../../src/errors/index.js';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import { partitionForKey } from '../../src/log/partitioner.js';
import type { ConsumedRecord, GroupMetadata, Log, LogConsumer, LogProducer, OutgoingRecord } from '../../src/log/types.js';
import { recordingListener } from './conformance.js';

const DEFAULT_PARTITIONS = 2;
const GROUP = 'app';
const TRANSACTIONAL_ID = 'app-0_0';
const TOPIC_NAMES = ['a', 'b', 'c', 'auto'] as const;

/** A record as the model keeps it (and as the log's records are compared). */
interface Rec {
  key: string | null; // hex
  value: string | null; // hex
  timestamp: number;
  headers: Record<string, string>;
}

interface RecordSpec {
  topic: string;
  key: string | null;
  value: string | null;
  timestamp: number;
  headers: Record<string, string>;
  partition?: number;
}

class Model {
  topics = new Map<string, Rec[][]>([
    ['a', [[], [], []]],
    ['b', [[], []]],
  ]);
  offsets = new Map<string, number>(); // `${topic}:${partition}` of GROUP
  /** Round-robin counters of the plain producer and the transactional one (reset when reopened). */
  rr = { plain: new Map<string, number>(), txn: new Map<string, number>() };

  /**
   * Routes a spec as the producer does, auto-creating the topic; throws TopicError for a
   * partition out of range (after the side effects of the specs before it, as the producer).
   */
  route(spec: RecordSpec, who: 'plain' | 'txn'): number {
    let parts = this.topics.get(spec.topic);
    if (parts === undefined) {
      parts = Array.from({ length: DEFAULT_PARTITIONS }, () => []);
      this.topics.set(spec.topic, parts);
    }
    if (spec.partition !== undefined) {
      if (spec.partition >= parts.length) throw new TopicError('out of range');
      return spec.partition;
    }
    if (spec.key !== null) return partitionForKey(Buffer.from(spec.key, 'hex'), parts.length);
    const counters = this.rr[who];
    const n = counters.get(spec.topic) ?? 0;
    counters.set(spec.topic, n + 1);
    return n % parts.length;
  }

  append(topic: string, partition: number, spec: RecordSpec): number {
    const list = this.topics.get(topic)![partition]!;
    list.push({ key: spec.key, value: spec.value, timestamp: spec.timestamp, headers: { ...spec.headers } });
    return list.length - 1;
  }
}

class Real {
  log!: Log;
  producer!: LogProducer;
  txnProducer!: LogProducer;
  member!: LogConsumer;
  /** Group metadata of members that have been replaced: commits with them must be fenced. */
  stale: GroupMetadata[] = [];

  constructor(readonly path: string) {}

  async open(): Promise<void> {
    this.log = openEmbeddedLog({ path: this.path, defaultPartitions: DEFAULT_PARTITIONS });
    // the model starts with these (idempotent on reopen)
    await this.log.admin.createTopics([
      { name: 'a', partitions: 3 },
      { name: 'b', partitions: 2 },
    ]);
    this.producer = this.log.producer();
    this.txnProducer = this.log.producer({ transactionalId: TRANSACTIONAL_ID });
    this.member = this.log.consumer({ groupId: GROUP });
    await this.member.subscribe(['a'], recordingListener());
    await this.member.poll(0);
  }

  async reopen(): Promise<void> {
    this.stale.push(this.member.groupMetadata());
    await this.log.close();
    await this.open();
  }
}

function toOutgoing(spec: RecordSpec): OutgoingRecord {
  const r: OutgoingRecord = {
    topic: spec.topic,
    key: spec.key === null ? null : Buffer.from(spec.key, 'hex'),
    value: spec.value === null ? null : Buffer.from(spec.value, 'hex'),
    timestamp: spec.timestamp,
    headers: Object.fromEntries(Object.entries(spec.headers).map(([k, v]) => [k, Buffer.from(v, 'hex')])),
  };
  if (spec.partition !== undefined) r.partition = spec.partition;
  return r;
}

function toRec(r: ConsumedRecord): Rec {
  return {
    key: r.key === null ? null : r.key.toString('hex'),
    value: r.value === null ? null : r.value.toString('hex'),
    timestamp: r.timestamp,
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.toString('hex')])),
  };
}

/** Reads every partition of every topic from offset 0 and compares it, the offsets and the group's commits with the model. */
async function assertSameAsModel(m: Model, r: Real): Promise<void> {
  const names = [...m.topics.keys()].sort();
  assert.deepEqual(await r.log.admin.listTopics(), names);
  const reader = r.log.consumer({ maxPollRecords: 17 });
  reader.assign(names.flatMap((topic) => m.topics.get(topic)!.map((_, partition) => ({ topic, partition }))));
  const total = names.reduce((n, t) => n + m.topics.get(t)!.reduce((k, p) => k + p.length, 0), 0);
  const got = new Map<string, Rec[]>();
  let count = 0;
  for (;;) {
    const batch = await reader.poll(0);
    if (batch.length === 0) break;
    for (const rec of batch) {
      const key = `${rec.topic}:${rec.partition}`;
      const list = got.get(key) ?? [];
      assert.equal(rec.offset, list.length, `offsets of ${key} are consecutive from 0`);
      list.push(toRec(rec));
      got.set(key, list);
    }
    count += batch.length;
  }
  assert.equal(count, total);
  for (const topic of names) {
    const parts = m.topics.get(topic)!;
    assert.deepEqual(
      await r.log.admin.offsets(topic),
      parts.map((p, partition) => ({ partition, low: 0, high: p.length })),
    );
    parts.forEach((want, partition) => assert.deepEqual(got.get(`${topic}:${partition}`) ?? [], want, `${topic}:${partition}`));
  }
  // a read that starts inside a batch (the records below the position are skipped)
  const middle = r.log.consumer({ maxPollRecords: 2 });
  for (const topic of names) {
    const parts = m.topics.get(topic)!;
    for (let partition = 0; partition < parts.length; partition++) {
      const records = parts[partition]!;
      if (records.length < 2) continue;
      const from = Math.floor(records.length / 2);
      middle.assign([{ topic, partition }]);
      middle.seek({ topic, partition }, from);
      const batch = await middle.poll(0);
      assert.deepEqual(batch.map((c) => c.offset), records.slice(from, from + 2).map((_, i) => from + i));
      assert.deepEqual(batch.map(toRec), records.slice(from, from + 2), `${topic}:${partition} from ${from}`);
    }
  }
  await middle.close();
  const committed = await r.log.admin.committedOffsets(GROUP, names);
  assert.deepEqual(
    committed.map((o) => [`${o.topic}:${o.partition}`, o.offset]).sort(),
    [...m.offsets.entries()].sort(),
  );
  await reader.close();
}

class SendCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly specs: RecordSpec[]) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const routed: Array<[string, number]> = [];
    let failure: unknown;
    for (const spec of this.specs) {
      try {
        routed.push([spec.topic, m.route(spec, 'plain')]);
      } catch (e) {
        failure = e;
        break;
      }
    }
    if (failure !== undefined) {
      await assert.rejects(r.producer.send(this.specs.map(toOutgoing)), TopicError);
    } else {
      const offsets = await r.producer.send(this.specs.map(toOutgoing));
      const want = this.specs.map((spec, i) => {
        const [topic, partition] = routed[i]!;
        return { topic, partition, offset: m.append(topic, partition, spec) };
      });
      assert.deepEqual(offsets, want);
    }
    await assertSameAsModel(m, r);
  }
  toString(): string {
    return `send(${JSON.stringify(this.specs)})`;
  }
}

type Outcome = 'commit' | 'abort' | 'zombie-commit';

class TransactionCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly sends: RecordSpec[][],
    readonly offsets: Array<{ partition: number; offset: number }>,
    readonly outcome: Outcome,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const txn = r.txnProducer.beginTransaction();
    const pending: Array<[string, number, RecordSpec]> = [];
    for (const specs of this.sends) {
      let modelFailed = false;
      const routed: Array<[string, number, RecordSpec]> = [];
      for (const spec of specs) {
        try {
          routed.push([spec.topic, m.route(spec, 'txn'), spec]);
        } catch {
          modelFailed = true;
          break;
        }
      }
      if (modelFailed) {
        // a refused send() adds none of its records; the transaction goes on
        assert.throws(() => txn.send(specs.map(toOutgoing)), TopicError);
        continue;
      }
      txn.send(specs.map(toOutgoing));
      pending.push(...routed);
    }
    const zombie = this.outcome === 'zombie-commit' && r.stale.length > 0;
    const meta = zombie ? r.stale[r.stale.length - 1]! : r.member.groupMetadata();
    if (this.offsets.length > 0 || zombie) {
      txn.sendOffsets(meta, this.offsets.map((o) => ({ topic: 'a', ...o })));
    }
    if (this.outcome === 'abort') {
      await txn.abort();
    } else if (zombie) {
      await assert.rejects(txn.commit(), FencedError);
    } else {
      await txn.commit();
      for (const [topic, partition, spec] of pending) m.append(topic, partition, spec);
      for (const o of this.offsets) m.offsets.set(`a:${o.partition}`, o.offset);
    }
    await assertSameAsModel(m, r);
  }
  toString(): string {
    return `transaction(${JSON.stringify(this.sends)}, offsets ${JSON.stringify(this.offsets)}, ${this.outcome})`;
  }
}

class CreateTopicCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly name: string,
    readonly partitions: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const existing = m.topics.get(this.name);
    if (existing !== undefined && existing.length !== this.partitions) {
      await assert.rejects(r.log.admin.createTopics([{ name: this.name, partitions: this.partitions }]), TopicError);
    } else {
      await r.log.admin.createTopics([{ name: this.name, partitions: this.partitions }]);
      if (existing === undefined) m.topics.set(this.name, Array.from({ length: this.partitions }, () => []));
    }
    await assertSameAsModel(m, r);
  }
  toString(): string {
    return `createTopic(${this.name}, ${this.partitions})`;
  }
}

class ReadFromCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly topicIndex: number,
    readonly partitionIndex: number,
    readonly offsetFraction: number,
    readonly maxPollRecords: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const names = [...m.topics.keys()].sort();
    const topic = names[this.topicIndex % names.length]!;
    const parts = m.topics.get(topic)!;
    const partition = this.partitionIndex % parts.length;
    const records = parts[partition]!;
    const from = Math.floor(this.offsetFraction * (records.length + 1));
    const consumer = r.log.consumer({ maxPollRecords: this.maxPollRecords });
    consumer.assign([{ topic, partition }]);
    consumer.seek({ topic, partition }, from);
    const got: ConsumedRecord[] = [];
    for (;;) {
      const batch = await consumer.poll(0);
      assert.ok(batch.length <= this.maxPollRecords);
      if (batch.length === 0) break;
      got.push(...batch);
    }
    assert.deepEqual(got.map((c) => c.offset), records.slice(from).map((_, i) => from + i));
    assert.deepEqual(got.map(toRec), records.slice(from));
    assert.equal(consumer.position({ topic, partition }), records.length);
    await consumer.close();
  }
  toString(): string {
    return `readFrom(${this.topicIndex}, ${this.partitionIndex}, ${this.offsetFraction.toFixed(2)}, max ${this.maxPollRecords})`;
  }
}

class ResetWhileRunningCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await assert.rejects(r.log.admin.setCommittedOffsets(GROUP, [{ topic: 'a', partition: 0, offset: 0 }]), ApplicationRunningError);
    await assertSameAsModel(m, r);
  }
  toString(): string {
    return 'setCommittedOffsets while the group runs';
  }
}

class ReopenCommand implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const generation = r.member.groupMetadata().generationId;
    await r.reopen();
    m.rr = { plain: new Map(), txn: new Map() };
    assert.equal(r.member.groupMetadata().generationId, generation + 1);
    await assertSameAsModel(m, r);
  }
  toString(): string {
    return 'close and reopen';
  }
}

const hex = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a).toString('hex'));
const arbSpec: fc.Arbitrary<RecordSpec> = fc
  .record({
    topic: fc.oneof(
      { weight: 6, arbitrary: fc.constant('a') },
      { weight: 1, arbitrary: fc.constantFrom(...TOPIC_NAMES) },
    ),
    key: fc.option(fc.oneof(fc.constantFrom('6b31', '6b32', '6b33', ''), hex(8)), { nil: null, freq: 3 }),
    value: fc.option(fc.oneof({ weight: 5, arbitrary: hex(16) }, { weight: 1, arbitrary: hex(400) }), { nil: null, freq: 8 }),
    timestamp: fc.integer({ min: 0, max: 2_000_000_000_000 }),
    headers: fc.dictionary(fc.constantFrom('trace', 'type', 'ü'), hex(6), { maxKeys: 2 }),
    // mostly routed by the producer; sometimes explicit, rarely out of range (the whole send then fails)
    partition: fc.oneof(
      { weight: 12, arbitrary: fc.constant(undefined) },
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 1 }) },
      { weight: 1, arbitrary: fc.constant(3) },
    ),
  })
  .map((s) => {
    const spec: RecordSpec = { topic: s.topic, key: s.key, value: s.value, timestamp: s.timestamp, headers: s.headers };
    if (s.partition !== undefined) spec.partition = s.partition;
    return spec;
  });

const commands = [
  fc.array(arbSpec, { minLength: 1, maxLength: 12 }).map((specs) => new SendCommand(specs)),
  fc
    .tuple(
      fc.array(fc.array(arbSpec, { minLength: 1, maxLength: 6 }), { minLength: 0, maxLength: 3 }),
      fc.array(fc.record({ partition: fc.integer({ min: 0, max: 2 }), offset: fc.nat(50) }), { maxLength: 2 }),
      fc.constantFrom<Outcome>('commit', 'commit', 'abort', 'zombie-commit'),
    )
    .map(([sends, offsets, outcome]) => new TransactionCommand(sends, offsets, outcome)),
  fc.tuple(fc.constantFrom(...TOPIC_NAMES), fc.integer({ min: 1, max: 4 })).map(([n, p]) => new CreateTopicCommand(n, p)),
  fc
    .tuple(fc.nat(10), fc.nat(10), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 5 }))
    .map(([t, p, f, max]) => new ReadFromCommand(t, p, f, max)),
  fc.constant(new ResetWhileRunningCommand()),
  fc.constant(new ReopenCommand()),
];

test('the embedded log behaves like a model of a partitioned log (appends, transactions, offsets, reopen)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 30, size: 'medium' }), async (cmds) => {
      const dir = mkdtempSync(join(tmpdir(), 'tributary-model-'));
      const real = new Real(join(dir, 'log.db'));
      try {
        await real.open();
        await fc.asyncModelRun(() => ({ model: new Model(), real }), cmds);
      } finally {
        await real.log.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 100, interruptAfterTimeLimit: 60_000 },
  );
});
