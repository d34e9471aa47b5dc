/**
 * @platformatic/kafka errors, read and translated into Tributary's. The broker's error is a
 * ProtocolError with an `apiId` such as 'PRODUCER_FENCED', often inside a MultipleErrors /
 * ResponseError (`errors`) or a `cause`; every protocol error says whether it `canRetry`.
 */
import { FencedError, StaleMemberError, TopicError, TributaryError } from '../../errors/index.js';

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  apiId?: string;
  canRetry?: boolean;
  cause?: unknown;
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
    if (Array.isArray(like.errors)) stack.push(...like.errors);
  }
  return out;
}

/** Whether the chain holds a broker error with one of these ids (e.g. 'CONCURRENT_TRANSACTIONS'). */
export function hasApiError(error: unknown, ...ids: string[]): boolean {
  return errorChain(error).some((e) => typeof e.apiId === 'string' && ids.includes(e.apiId));
}

/** A newer producer with the same transactional id exists (or the transaction timed out). */
export function isProducerFenced(error: unknown): boolean {
  return hasApiError(error, 'PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'TRANSACTIONAL_ID_NOT_FOUND');
}

/** The group no longer knows this member or generation: a stale (zombie) member. */
export function isStaleMember(error: unknown): boolean {
  return hasApiError(error, 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'STALE_MEMBER_EPOCH', 'FENCED_MEMBER_EPOCH');
}

function describe(error: unknown): string {
  const chain = errorChain(error);
  const top = chain[0];
  const ids = [...new Set(chain.map((e) => e.apiId).filter((x): x is string => typeof x === 'string'))];
  const message = top?.message ?? String(error);
  return ids.length > 0 ? `${message} (${ids.join(', ')})` : message;
}

/** Network trouble, timeouts, or broker errors that say "try again". */
export function isRetriable(error: unknown): boolean {
  const chain = errorChain(error);
  if (chain.some((e) => e.code === 'PLT_KFK_NETWORK' || e.code === 'PLT_KFK_TIMEOUT')) return true;
  const protocol = chain.filter((e) => typeof e.apiId === 'string');
  return protocol.length > 0 && protocol.every((e) => e.canRetry === true);
}

/**
 * Translates a client error into a Tributary error that says what happened; `what` names the
 * operation ("commit the transaction of producer 'x'"). Tributary errors pass through unchanged.
 */
export function translateError(error: unknown, what: string, transactionalId?: string): TributaryError {
  if (error instanceof TributaryError) return error;
  if (isProducerFenced(error)) {
    return new FencedError(
      `cannot ${what}: producer '${transactionalId ?? '?'}' was fenced by a newer producer with the same transactional id ` +
        `(or its transaction timed out on the broker); close it`,
      { cause: error },
    );
  }
  if (isStaleMember(error)) {
    return new StaleMemberError(`cannot ${what}: the consumer-group member is no longer current (${describe(error)})`, { cause: error });
  }
  if (hasApiError(error, 'UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID', 'INVALID_TOPIC_EXCEPTION', 'INVALID_PARTITIONS', 'INVALID_REPLICATION_FACTOR', 'TOPIC_ALREADY_EXISTS')) {
    return new TopicError(`cannot ${what}: ${describe(error)}`, { cause: error });
  }
  return new TributaryError(`cannot ${what}: ${describe(error)}`, { cause: error, retriable: isRetriable(error) });
}
