/**
 * A decider: the command side of an event-sourced aggregate, as three pure functions.
 * `decide` turns a command and the current state into events (or a rejection); `evolve` folds
 * one event into the state. The state is never stored for its own sake: it is always the fold
 * of the aggregate's events from `initialState()`, which is how it is restored.
 *
 * @example
 * const counter: Decider<{ add: number }, { added: number }, number> = {
 *   initialState: () => 0,
 *   decide: (c, n) => (n + c.add > 10 ? reject('too-large') : [{ added: c.add }]),
 *   evolve: (n, e) => n + e.added,
 * };
 */
export interface Decider<C, E, S, R extends string = string> {
  /** The state of an aggregate with no events yet (a fresh value each call). */
  initialState(): S;
  /**
   * The events a command causes (an empty array: accepted, nothing happens), or
   * `reject(reason)`. Must not change `state`, and must depend only on its arguments.
   */
  decide(command: C, state: S): Decision<E, R>;
  /** The state after one event. Must be deterministic: restore replays it over the events topic. */
  evolve(state: S, event: E): S;
}

/** What `decide` returns: events, or a rejection. */
export type Decision<E, R extends string = string> = readonly E[] | Rejection<R>;

/** A refused command: a reason (a short stable code such as 'insufficient-funds') and optional details. */
export interface Rejection<R extends string = string> {
  readonly rejected: R;
  readonly details?: unknown;
}

/** The rejection reason of a command whose expected version is not the aggregate's version. */
export const VERSION_CONFLICT = 'version-conflict';

/**
 * What the rejections topic receives for a refused command: the rejection, the command, and
 * the aggregate's version when it was decided.
 */
export interface RejectedCommand<C, R extends string = string> extends Rejection<R | typeof VERSION_CONFLICT> {
  readonly command: C;
  readonly version: number;
}

/** The aggregate as its store keeps it: the state and the number of events folded into it. */
export interface AggregateSnapshot<S> {
  readonly version: number;
  readonly state: S;
}

/** Refuses a command: `return reject('insufficient-funds', { balance })` from `decide`. */
export function reject<R extends string>(reason: R, details?: unknown): Rejection<R> {
  if (typeof reason !== 'string' || reason.length === 0) throw new TypeError(`reject(): the reason must be a non-empty string, got ${JSON.stringify(reason)}`);
  return details === undefined ? { rejected: reason } : { rejected: reason, details };
}

/** True for what `reject()` returns (and for any non-array with a string `rejected`). */
export function isRejection(decision: unknown): decision is Rejection {
  return typeof decision === 'object' && decision !== null && !Array.isArray(decision) && typeof (decision as { rejected?: unknown }).rejected === 'string';
}

/** The aggregate state after a sequence of events. */
export function foldEvents<E, S>(decider: Pick<Decider<unknown, E, S>, 'evolve'>, state: S, events: Iterable<E>): S {
  let s = state;
  for (const e of events) s = decider.evolve(s, e);
  return s;
}
