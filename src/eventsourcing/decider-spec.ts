import assert, { AssertionError } from 'node:assert';
import { inspect } from 'node:util';
import { foldEvents, isRejection, type Decider, type Decision, type Rejection } from './decider.js';

/**
 * Given / when / then tests of a decider, with no topology and no broker. Failures throw
 * node's AssertionError with a diff, so any test runner reports them.
 *
 * @example
 * deciderSpec(accounts).given([{ type: 'opened', owner: 'ann' }]).when({ type: 'deposit', amount: 5 }).then([{ type: 'deposited', amount: 5 }]);
 * deciderSpec(accounts).given([]).when({ type: 'withdraw', amount: 5 }).thenRejects('account-not-open');
 */
export function deciderSpec<C, E, S, R extends string = string>(decider: Decider<C, E, S, R>): DeciderSpecification<C, E, S, R> {
  return {
    given: (events) => ({ when: (command) => new WhenClause(decider, events, command) }),
    when: (command) => new WhenClause(decider, [], command),
  };
}

export interface DeciderSpecification<C, E, S, R extends string> {
  /** The aggregate's past events (folded with `evolve` from `initialState()`). */
  given(events: readonly E[]): { when(command: C): DeciderThen<E, S, R> };
  /** A command to a new aggregate (no events yet). */
  when(command: C): DeciderThen<E, S, R>;
}

export interface DeciderThen<E, S, R extends string> {
  /** Asserts that the command is accepted with exactly these events. */
  then(expectedEvents: readonly E[]): void;
  /** Asserts that the command is rejected (for this reason, when given); returns the rejection. */
  thenRejects(reason?: R): Rejection<R>;
  /** Asserts that decide throws (matching `expected` as in assert.throws, when given). */
  thenThrows(expected?: RegExp | Function | object | Error): void;
  /** Asserts the state after the given events and the command's events. */
  thenState(expectedState: S): void;
}

class WhenClause<C, E, S, R extends string> implements DeciderThen<E, S, R> {
  constructor(
    private readonly decider: Decider<C, E, S, R>,
    private readonly given: readonly E[],
    private readonly command: C,
  ) {}

  then(expectedEvents: readonly E[]): void {
    if (typeof expectedEvents === 'function') {
      // `await spec.when(c)` calls then(resolve, reject): say what went wrong instead of comparing functions.
      throw new TypeError('deciderSpec: then() takes the expected events (an array); do not await or return the when() clause itself');
    }
    const events = this.acceptedEvents(`events ${show(expectedEvents)}`);
    deepEqual(events, expectedEvents, `deciderSpec: the command ${show(this.command)} gave other events than expected`);
  }

  thenRejects(reason?: R): Rejection<R> {
    const decision = this.decide(`a rejection${reason === undefined ? '' : ` '${reason}'`}`);
    if (!isRejection(decision)) {
      throw new AssertionError({
        message: `deciderSpec: expected the command ${show(this.command)} to be rejected${reason === undefined ? '' : ` with '${reason}'`}, but it was accepted with events ${show(decision)}`,
        actual: decision,
        expected: reason === undefined ? { rejected: '<any reason>' } : { rejected: reason },
        operator: 'thenRejects',
      });
    }
    if (reason !== undefined) deepEqual(decision.rejected, reason, `deciderSpec: the command ${show(this.command)} was rejected for another reason`);
    return decision as Rejection<R>;
  }

  thenThrows(expected?: RegExp | Function | object | Error): void {
    const run = () => this.decider.decide(this.command, this.state());
    if (expected === undefined) assert.throws(run, `deciderSpec: expected decide(${show(this.command)}) to throw`);
    else assert.throws(run, expected as RegExp);
  }

  thenState(expectedState: S): void {
    const events = this.acceptedEvents(`state ${show(expectedState)}`);
    deepEqual(foldEvents(this.decider, this.state(), events), expectedState, `deciderSpec: the state after the command ${show(this.command)} is not the one expected`);
  }

  private state(): S {
    return foldEvents(this.decider, this.decider.initialState(), this.given);
  }

  private decide(wanted: string): Decision<E, R> {
    try {
      return this.decider.decide(this.command, this.state());
    } catch (err) {
      throw new AssertionError({ message: `deciderSpec: expected ${wanted}, but decide(${show(this.command)}) threw: ${err instanceof Error ? err.message : String(err)}`, operator: 'decide' });
    }
  }

  private acceptedEvents(wanted: string): readonly E[] {
    const decision = this.decide(wanted);
    if (isRejection(decision)) {
      throw new AssertionError({
        message: `deciderSpec: expected ${wanted}, but the command ${show(this.command)} was rejected: '${decision.rejected}'${decision.details === undefined ? '' : ` ${show(decision.details)}`}`,
        actual: decision,
        operator: 'then',
      });
    }
    return decision;
  }
}

/** deepStrictEqual with a line of context above node's diff. */
function deepEqual(actual: unknown, expected: unknown, context: string): void {
  try {
    assert.deepStrictEqual(actual, expected);
  } catch (err) {
    if (err instanceof AssertionError) err.message = `${context}\n${err.message}`;
    throw err;
  }
}

function show(value: unknown): string {
  return inspect(value, { depth: 4, breakLength: Infinity });
}
