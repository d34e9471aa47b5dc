/**
 * b.eventSourced() through testTopology: events with the command's key and correlation id,
 * rejections, expected versions (from the command and from the header), the aggregate store,
 * error handlers around decide/evolve, and mistakes in the spec.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  app,
  EVENT_SOURCING_HEADERS,
  reject,
  serdes,
  testTopology,
  TopologyError,
  type AggregateSnapshot,
  type Decider,
  type EventSourcedSpec,
  type KeyValueStore,
  type RejectedCommand,
} from '../../src/index.js';
import bankAccounts, { accounts, type Account, type AccountCommand, type AccountEvent } from '../../topologies/bank-accounts.js';

const text = (b: Buffer | undefined) => b?.toString('utf8');

describe('eventSourced through testTopology', () => {
  it('appends the events of accepted commands, with the key, correlation id and aggregate version', () => {
    const t = testTopology(bankAccounts);
    const commands = t.input<string, AccountCommand>('account-commands');
    commands.pipe('a1', { type: 'open', owner: 'ann' }, { headers: { 'correlation-id': 'c-1' }, timestamp: 10 });
    commands.pipe('a1', { type: 'deposit', amount: 500 }, { headers: { 'correlation-id': 'c-2' }, timestamp: 20 });
    commands.pipe('a2', { type: 'open', owner: 'bob' }, { timestamp: 30 });
    const events = t.output<string, AccountEvent>('account-events').readAll();
    assert.deepEqual(events.map((e) => [e.key, e.value, e.timestamp]), [
      ['a1', { type: 'opened', owner: 'ann' }, 10],
      ['a1', { type: 'deposited', amount: 500 }, 20],
      ['a2', { type: 'opened', owner: 'bob' }, 30],
    ]);
    assert.deepEqual(events.map((e) => text(e.headers['correlation-id'])), ['c-1', 'c-2', undefined]);
    assert.deepEqual(events.map((e) => text(e.headers[EVENT_SOURCING_HEADERS.aggregateVersion])), ['1', '2', '1']);
    const store = t.store<KeyValueStore<string, AggregateSnapshot<Account>>>('accounts');
    assert.deepEqual(store.get('a1'), { version: 2, state: { open: true, owner: 'ann', balance: 500 } });
    assert.deepEqual(store.get('a2'), { version: 1, state: { open: true, owner: 'bob', balance: 0 } });
    assert.equal(store.get('a3'), undefined);
    assert.ok(t.output('account-rejections').isEmpty());
  });

  it('writes rejections with the command, the reason, the version and the correlation id, and changes nothing', () => {
    const t = testTopology(bankAccounts);
    const commands = t.input<string, AccountCommand>('account-commands');
    commands.pipe('a1', { type: 'open', owner: 'ann' });
    commands.pipe('a1', { type: 'deposit', amount: 100 });
    t.output('account-events').readAll();
    commands.pipe('a1', { type: 'withdraw', amount: 101 }, { headers: { 'correlation-id': 'c-9' } });
    const rejections = t.output<string, RejectedCommand<AccountCommand>>('account-rejections').readAll();
    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]!.key, 'a1');
    assert.deepEqual(rejections[0]!.value, { rejected: 'insufficient-funds', details: { balance: 100, amount: 101 }, command: { type: 'withdraw', amount: 101 }, version: 2 });
    assert.equal(text(rejections[0]!.headers['correlation-id']), 'c-9');
    assert.equal(text(rejections[0]!.headers[EVENT_SOURCING_HEADERS.rejection]), 'insufficient-funds');
    assert.ok(t.output('account-events').isEmpty());
    assert.deepEqual(t.store<KeyValueStore<string, AggregateSnapshot<Account>>>('accounts').get('a1'), { version: 2, state: { open: true, owner: 'ann', balance: 100 } });
  });

  it('rejects a command whose expected version is not the aggregate version (from the command or the header)', () => {
    const t = testTopology(bankAccounts);
    const commands = t.input<string, AccountCommand>('account-commands');
    commands.pipe('a1', { type: 'open', owner: 'ann', expectedVersion: 0 });
    commands.pipe('a1', { type: 'deposit', amount: 5, expectedVersion: 0 }, { headers: { 'correlation-id': 'late' } });
    commands.pipe('a1', { type: 'deposit', amount: 7, expectedVersion: 1 });
    commands.pipe('a1', { type: 'deposit', amount: 9 }, { headers: { [EVENT_SOURCING_HEADERS.expectedVersion]: '5' } });
    commands.pipe('a1', { type: 'deposit', amount: 11 }, { headers: { [EVENT_SOURCING_HEADERS.expectedVersion]: '2' } });
    assert.deepEqual(t.output('account-events').readValues(), [
      { type: 'opened', owner: 'ann' },
      { type: 'deposited', amount: 7 },
      { type: 'deposited', amount: 11 },
    ]);
    const rejections = t.output<string, RejectedCommand<AccountCommand>>('account-rejections').readAll();
    assert.deepEqual(
      rejections.map((r) => [r.value!.rejected, r.value!.details, r.value!.version]),
      [
        ['version-conflict', { expected: 0, actual: 1 }, 1],
        ['version-conflict', { expected: 5, actual: 2 }, 2],
      ],
    );
    assert.equal(text(rejections[0]!.headers['correlation-id']), 'late');
  });

  it('counts rejections as dropped when there is no rejections topic; a custom correlation header is copied', () => {
    const a = app('no-rejections', (b) => {
      b.eventSourced('accounts', { commands: 'cmd', events: 'evt', decider: accounts, correlationHeader: 'x-request-id' });
    });
    const t = testTopology(a);
    t.input('cmd').pipe('a1', { type: 'withdraw', amount: 1 });
    t.input('cmd').pipe('a1', { type: 'open', owner: 'ann' }, { headers: { 'x-request-id': 'r1', 'correlation-id': 'ignored' } });
    assert.deepEqual(t.droppedRecords(), { 'command-rejected': 1 });
    const events = t.output('evt').readAll();
    assert.equal(events.length, 1);
    assert.equal(text(events[0]!.headers['x-request-id']), 'r1');
    assert.equal(events[0]!.headers['correlation-id'], undefined);
  });

  it('decides several events at once; an empty decision changes nothing', () => {
    type Cmd = { add: number[] };
    const list: Decider<Cmd, number, number[]> = {
      initialState: () => [],
      decide: (c) => c.add,
      evolve: (s, e) => [...s, e],
    };
    const t = testTopology(app('multi', (b) => void b.eventSourced('lists', { commands: 'cmd', events: 'evt', decider: list })));
    t.input('cmd').pipe('k', { add: [1, 2, 3] });
    t.input('cmd').pipe('k', { add: [] });
    t.input('cmd').pipe('k', { add: [4] });
    const events = t.output('evt').readAll();
    assert.deepEqual(events.map((e) => e.value), [1, 2, 3, 4]);
    assert.deepEqual(events.map((e) => text(e.headers[EVENT_SOURCING_HEADERS.aggregateVersion])), ['1', '2', '3', '4']);
    assert.deepEqual(t.store<KeyValueStore<string, AggregateSnapshot<number[]>>>('lists').get('k'), { version: 4, state: [1, 2, 3, 4] });
  });

  it('returns the events stream for further operators', () => {
    const a = app('downstream', (b) => {
      b.eventSourced('accounts', { commands: 'cmd', events: 'evt', decider: accounts })
        .filter((_, e) => e.type === 'deposited')
        .mapValues((e) => (e.type === 'deposited' ? e.amount : 0))
        .to('deposits', { value: serdes.int32() });
    });
    const t = testTopology(a);
    t.input('cmd').pipe('a1', { type: 'open', owner: 'ann' });
    t.input('cmd').pipe('a1', { type: 'deposit', amount: 300 });
    assert.deepEqual(t.output('deposits', { value: serdes.int32() }).readKeyValues(), [['a1', 300]]);
  });

  describe('errors in decide or evolve go to the processing error handler, leaving no trace', () => {
    const fragile: Decider<{ n: number }, { n: number }, number> = {
      initialState: () => 0,
      decide: (c) => {
        if (c.n < 0) throw new Error('negative');
        return [{ n: c.n }];
      },
      evolve: (s, e) => {
        if (e.n === 13) throw new Error('unlucky');
        return s + e.n;
      },
    };
    const build = (processing: 'fail' | 'continue' | { deadLetterTopic: string }) =>
      app('fragile', (b) => void b.eventSourced('sum', { commands: 'cmd', events: 'evt', decider: fragile }), { errors: { processing } });

    it("'fail' stops at the record", () => {
      const t = testTopology(build('fail'));
      assert.throws(() => t.input('cmd').pipe('k', { n: -1 }), /negative/);
    });

    it("'continue' skips it: no events, state unchanged", () => {
      const t = testTopology(build('continue'));
      t.input('cmd').pipe('k', { n: 2 });
      t.input('cmd').pipe('k', { n: -1 });
      t.input('cmd').pipe('k', { n: 13 });
      t.input('cmd').pipe('k', { n: 3 });
      assert.deepEqual(t.output('evt').readValues(), [{ n: 2 }, { n: 3 }]);
      assert.deepEqual(t.droppedRecords(), { 'processing-error': 2 });
      assert.deepEqual(t.store<KeyValueStore<string, AggregateSnapshot<number>>>('sum').get('k'), { version: 2, state: 5 });
    });

    it('a dead-letter topic gets the command', () => {
      const t = testTopology(build({ deadLetterTopic: 'dlq' }));
      t.input('cmd').pipe('k', { n: 13 });
      const dead = t.output('dlq').readAll();
      assert.equal(dead.length, 1);
      assert.deepEqual(dead[0]!.value, { n: 13 });
      assert.match(text(dead[0]!.headers['tributary.error.message'])!, /unlucky/);
      assert.ok(t.output('evt').isEmpty());
    });

    it('a decide that returns neither events nor a rejection is a processing error', () => {
      const odd = { ...fragile, decide: () => ({ n: 1 }) as unknown as { n: number }[] };
      const t = testTopology(app('odd', (b) => void b.eventSourced('sum', { commands: 'cmd', events: 'evt', decider: odd })));
      assert.throws(() => t.input('cmd').pipe('k', { n: 1 }), /decide\(\) returned an object .* return an array of events/);
    });

    it('a malformed expected-version header is a processing error', () => {
      const t = testTopology(bankAccounts);
      assert.throws(() => t.input('account-commands').pipe('a', { type: 'open', owner: 'x' }, { headers: { [EVENT_SOURCING_HEADERS.expectedVersion]: 'two' } }), /must be a non-negative integer/);
    });
  });

  it('describes the store as logged to the events topic', () => {
    const text = bankAccounts.topology().describe();
    assert.match(text, /accounts \(key-value, changelog = output topic account-events\)/);
    assert.match(text, /Sink: accounts-events-sink \(topic: account-events\)/);
    assert.match(text, /Sink: accounts-rejections-sink \(topic: account-rejections\)/);
    assert.deepEqual(bankAccounts.topology().copartitionGroups, [['account-commands', 'account-events']]);
    assert.deepEqual(bankAccounts.topology().internalTopics, [], 'no changelog topic of its own');
  });

  it('refuses specs that cannot work, saying why', () => {
    const spec: EventSourcedSpec<string, AccountCommand, AccountEvent, Account> = { commands: 'cmd', events: 'evt', decider: accounts };
    const build = (name: string, s: EventSourcedSpec<string, AccountCommand, AccountEvent, Account>) => app('bad', (b) => void b.eventSourced(name, s)).topology();
    assert.throws(() => build('a b', spec), TopologyError);
    assert.throws(() => build('acc', { ...spec, events: 'cmd' }), /three different topics/);
    assert.throws(() => build('acc', { ...spec, rejections: 'evt' }), /three different topics/);
    assert.throws(() => build('acc', { ...spec, decider: { ...accounts, evolve: undefined } as never }), /'decider' must be/);
    assert.throws(() => build('acc', { ...spec, events: 5 } as never), /'events' must be a topic name/);
    const noDefaults = app('strict', (b) => void b.eventSourced('acc', spec), { defaultValueSerde: null });
    assert.throws(() => noDefaults.topology(), /has no value serde/);
  });

  it('a rejection returned with reject() keeps its details; reasons are free strings', () => {
    const d: Decider<string, string, null, 'nope'> = { initialState: () => null, decide: () => reject('nope', [1, 2]), evolve: () => null };
    const t = testTopology(app('r', (b) => void b.eventSourced('x', { commands: 'c', events: 'e', rejections: 'r', decider: d, serdes: { command: serdes.string(), event: serdes.string() } })));
    t.input('c').pipe('k', 'hello');
    assert.deepEqual(t.output('r').readValues(), [{ rejected: 'nope', details: [1, 2], command: 'hello', version: 0 }]);
  });
});
