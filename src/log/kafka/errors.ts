/**
 * kafkajs errors, read and translated into Tributary's. kafkajs wraps the broker's error (a
 * KafkaJSProtocolError with a `type` such as 'INVALID_PRODUCER_EPOCH') in retry and aggregate
 * errors, so the protocol error is searched for through `cause`, `originalError` and `errors`.
 */
import { FencedError, TopicError, TributaryError } from '../../errors/index.js';

/** The broker says a newer producer with this transactional id exists (or the transaction timed out). */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);
/** Protocol error code 90 (PRODUCER_FENCED), which kafkajs 2.2.4 does not know by name. */
const PRODUCER_FENCED_CODE = 90;

/**
 * kafkajs errors that mean "the cluster could not be reached or answered in time" (a broker
 * restarting, a network blip). kafkajs marks some of them non-retriable once its own retries ran
 * out, but for the runtime they are worth another try from the last commit.
 */
const UNREACHABLE = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSLockTimeout',
]);

interface ErrorLike {
  name?: string;
  message?: string;
  type?: string;
  code?: number | string;
  retriable?: boolean;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown[];
}

/** Every error in the chain: the error itself, its causes and the members of aggregates. */
export function errorChain(error: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  const seen = new Set<unknown>();
  const stack: unknown[] = [error];
  while (stack.length > 0 && out.length < 50) {
    const e = stack.pop();
    if (e === null || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const like = e as ErrorLike;
    out.push(like);
    if (like.cause !== undefined) stack.push(like.cause);
    if (like.originalError !== undefined) stack.push(like.originalError);
    if (Array.isArray(like.errors)) stack.push(...like.errors);
  }
  return out;
}

/** The first protocol error type (e.g. 'CONCURRENT_TRANSACTIONS') in the chain, if any. */
export function protocolErrorType(error: unknown): string | undefined {
  for (const e of errorChain(error)) if (typeof e.type === 'string') return e.type;
  return undefined;
}

/** Whether the chain holds a protocol error of one of these types. */
export function hasProtocolError(error: unknown, ...types: string[]): boolean {
  return errorChain(error).some((e) => typeof e.type === 'string' && types.includes(e.type));
}

/** The producer was fenced by a newer one with the same transactional id. */
export function isFenced(error: unknown): boolean {
  return errorChain(error).some(
    (e) => (typeof e.type === 'string' && FENCED_TYPES.has(e.type)) || (e.name === 'KafkaJSProtocolError' && e.code === PRODUCER_FENCED_CODE),
  );
}

/**
 * kafkajs' transaction state machine refused a call ("Cannot call X in state Y", "There is
 * already an ongoing transaction"): the producer object is stuck (tulios/kafkajs#1282, #1355)
 * and has to be replaced.
 */
export function isStuckTransactionState(error: unknown): boolean {
  return errorChain(error).some(
    (e) =>
      typeof e.message === 'string' &&
      (e.message.startsWith('Transaction state exception') || e.message.includes('already an ongoing transaction')),
  );
}

/** The broker lost track of the producer's sequence numbers (tulios/kafkajs#598). */
export function isOutOfOrderSequence(error: unknown): boolean {
  return hasProtocolError(error, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_ID_MAPPING');
}

/** A previous transaction of this producer is still being completed (tulios/kafkajs#1315). */
export function isConcurrentTransactions(error: unknown): boolean {
  return hasProtocolError(error, 'CONCURRENT_TRANSACTIONS');
}

function describe(error: unknown): string {
  const chain = errorChain(error);
  const protocol = chain.find((e) => typeof e.type === 'string');
  const top = chain[0];
  const message = top?.message ?? String(error);
  if (protocol !== undefined && protocol !== top && protocol.message !== undefined) return `${message} (${protocol.type}: ${protocol.message})`;
  return message;
}

/**
 * Translates a kafkajs error into a Tributary error that says what happened; `what` names the
 * operation ("commit the transaction of producer 'x'"). Tributary errors pass through unchanged.
 */
export function translateError(error: unknown, what: string, transactionalId?: string): TributaryError {
  if (error instanceof TributaryError) return error;
  if (isFenced(error)) {
    return new FencedError(
      `cannot ${what}: producer '${transactionalId ?? '?'}' was fenced by a newer producer with the same transactional id ` +
        `(or its transaction timed out on the broker); close it`,
      { cause: error },
    );
  }
  if (hasProtocolError(error, 'UNKNOWN_TOPIC_OR_PARTITION', 'INVALID_TOPIC_EXCEPTION', 'INVALID_PARTITIONS', 'INVALID_REPLICATION_FACTOR')) {
    return new TopicError(`cannot ${what}: ${describe(error)}`, { cause: error });
  }
  const retriable = errorChain(error).some((e) => e.retriable === true || (typeof e.name === 'string' && UNREACHABLE.has(e.name)));
  return new TributaryError(`cannot ${what}: ${describe(error)}`, { cause: error, retriable });
}
