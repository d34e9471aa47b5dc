/**
 * One place for Tributary's errors. Each says what went wrong and where, and whether trying
 * again can help (`retriable`). Kafka Streams' names are kept where the meaning is the same.
 */
export interface TributaryErrorOptions {
  cause?: unknown;
  retriable?: boolean;
}

export class TributaryError extends Error {
  readonly retriable: boolean;
  constructor(message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** A topology that cannot be built: duplicate names, missing serdes, cycles, bad arguments. */
export class TopologyError extends TributaryError {}

/** A wrong command-line flag or argument, or a topology file that cannot be loaded. */
export class UsageError extends TributaryError {}

/** Bytes that a serde could not turn into a value (or a value it could not turn into bytes). */
export class SerdeError extends TributaryError {}

/** A user function threw while processing a record. */
export class ProcessingError extends TributaryError {}

/**
 * Another instance took over this member's work (a newer generation or producer epoch): the
 * task's uncommitted work is dropped and it restarts from its last commit. Kafka Streams calls
 * this TaskMigratedException.
 */
export class FencedError extends TributaryError {
  constructor(message: string, options: TributaryErrorOptions = {}) {
    super(message, { retriable: true, ...options });
  }
}

/**
 * The consumer-group member whose offsets a transaction carried is no longer current: the group
 * rebalanced (a member joined or left) while the transaction was open, and the broker refused it
 * (KIP-447). Nothing of the transaction was written; the member rejoins and redoes its tasks from
 * their last commit. Not a takeover of the whole process, unlike a fenced producer.
 */
export class StaleMemberError extends FencedError {}

/** A second process tried to run an application id that is already running on the embedded log. */
export class ApplicationRunningError extends TributaryError {}

/** A topic that does not exist, or exists with a shape that does not fit. */
export class TopicError extends TributaryError {}

/** A task moved through its lifecycle in an order the state machine does not allow. */
export class IllegalStateError extends TributaryError {}

/** Something was used after close(). */
export class ClosedError extends TributaryError {}
