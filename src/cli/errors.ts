import { TributaryError, UsageError } from '../errors/index.js';

/**
 * The CLI's three kinds of failure, which main() turns into exit codes:
 * - ArgumentError (exit 2): a wrong flag or argument; the message ends with a pointer to --help.
 * - TopologyLoadError (exit 2): the topology file cannot be found, compiled, type-checked or built.
 * - anything else (exit 1): a runtime failure, reported by its message.
 */
export class ArgumentError extends UsageError {}

export class TopologyLoadError extends UsageError {}

/** A failure the user can fix from the message alone (bad input data, unknown topic): no stack. */
export class CommandError extends TributaryError {}
