/** Errors of the state backends (the shared ones, ClosedError and IllegalStateError, are in src/errors). */
import { TributaryError } from '../../errors/index.js';

/** An operation this backend cannot do, e.g. a synchronous scan on 'level'. The message says what to use instead. */
export class UnsupportedOperationError extends TributaryError {}

/**
 * A task's state on disk that cannot be opened: written by a newer format, not Tributary state,
 * or held by another process (then `retriable`: the owner may be about to let it go).
 */
export class StateBackendError extends TributaryError {}
