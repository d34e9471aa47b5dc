/**
 * deciderSpec: given / when / then over the bank-accounts decider, and the failures it reports
 * (each must throw an AssertionError that says what differed).
 */
import assert, { AssertionError } from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deciderSpec, isRejection, reject } from '../../src/index.js';
import { deciderSpec as fromTesting } from '../../src/testing/index.js';
import { accounts } from '../../topologies/bank-accounts.js';

const opened = { type: 'opened', owner: 'ann' } as const;

describe('deciderSpec', () => {
  it('accepts commands with the events they cause', () => {
    deciderSpec(accounts).when({ type: 'open', owner: 'ann' }).then([opened]);
    deciderSpec(accounts).given([opened]).when({ type: 'deposit', amount: 500 }).then([{ type: 'deposited', amount: 500 }]);
    deciderSpec(accounts).given([opened, { type: 'deposited', amount: 500 }]).when({ type: 'withdraw', amount: 500 }).then([{ type: 'withdrawn', amount: 500 }]);
    assert.equal(fromTesting, deciderSpec, 'also exported from the testing entry');
  });

  it('checks rejections, their reason, and returns the rejection with its details', () => {
    const r = deciderSpec(accounts).given([opened, { type: 'deposited', amount: 100 }]).when({ type: 'withdraw', amount: 101 }).thenRejects('insufficient-funds');
    assert.deepEqual(r.details, { balance: 100, amount: 101 });
    deciderSpec(accounts).when({ type: 'deposit', amount: 1 }).thenRejects('account-not-open');
    deciderSpec(accounts).given([opened]).when({ type: 'open', owner: 'bob' }).thenRejects();
  });

  it('checks the state after the command', () => {
    deciderSpec(accounts).given([opened, { type: 'deposited', amount: 700 }]).when({ type: 'withdraw', amount: 200 }).thenState({ open: true, owner: 'ann', balance: 500 });
  });

  it('fails with a diff when the events differ', () => {
    assert.throws(
      () => deciderSpec(accounts).given([opened]).when({ type: 'deposit', amount: 5 }).then([{ type: 'deposited', amount: 6 }]),
      (err: unknown) => {
        assert.ok(err instanceof AssertionError);
        assert.match(err.message, /gave other events than expected/);
        assert.match(err.message, /amount: 6/);
        assert.match(err.message, /amount: 5/);
        return true;
      },
    );
  });

  it('fails when events were expected but the command was rejected, naming the reason', () => {
    assert.throws(() => deciderSpec(accounts).given([opened]).when({ type: 'withdraw', amount: 5 }).then([{ type: 'withdrawn', amount: 5 }]), (err: unknown) => {
      assert.ok(err instanceof AssertionError);
      assert.match(err.message, /was rejected: 'insufficient-funds'/);
      return true;
    });
  });

  it('fails when a rejection was expected but the command was accepted, or rejected for another reason', () => {
    assert.throws(() => deciderSpec(accounts).given([opened]).when({ type: 'deposit', amount: 5 }).thenRejects('insufficient-funds'), /to be rejected with 'insufficient-funds', but it was accepted/);
    assert.throws(() => deciderSpec(accounts).when({ type: 'withdraw', amount: 5 }).thenRejects('insufficient-funds'), (err: unknown) => {
      assert.ok(err instanceof AssertionError);
      assert.match(err.message, /rejected for another reason/);
      assert.match(err.message, /account-not-open/);
      return true;
    });
  });

  it('thenThrows passes only when decide throws', () => {
    const strict = { ...accounts, decide: () => { throw new RangeError('boom'); } };
    deciderSpec(strict).when({ type: 'open', owner: 'x' }).thenThrows(/boom/);
    deciderSpec(strict).when({ type: 'open', owner: 'x' }).thenThrows(RangeError);
    deciderSpec(strict).when({ type: 'open', owner: 'x' }).thenThrows();
    assert.throws(() => deciderSpec(accounts).when({ type: 'open', owner: 'x' }).thenThrows(), AssertionError);
    assert.throws(() => deciderSpec(strict).when({ type: 'open', owner: 'x' }).then([]), /decide\(.*\) threw: boom/);
  });

  it('refuses to be awaited as a promise, with a clear error', async () => {
    const clause = deciderSpec(accounts).when({ type: 'open', owner: 'x' });
    await assert.rejects(async () => await (clause as unknown as Promise<void>), /do not await or return the when\(\) clause/);
  });

  it('reject() and isRejection() tell events from rejections', () => {
    assert.deepEqual(reject('nope'), { rejected: 'nope' });
    assert.deepEqual(reject('nope', { a: 1 }), { rejected: 'nope', details: { a: 1 } });
    assert.equal(isRejection(reject('nope')), true);
    assert.equal(isRejection([]), false);
    assert.equal(isRejection([{ rejected: 'x' }]), false);
    assert.equal(isRejection(null), false);
    assert.throws(() => reject(''), TypeError);
  });
});
