/**
 * One kafkajs producer and its lifecycle, for one Tributary producer: connecting, registering
 * the transactional id with the broker, replacing the kafkajs producer when it is stuck, and
 * running one operation at a time on it.
 *
 * Operations are serialized: kafkajs' idempotent producer loses track of its sequence numbers
 * when sends overlap (tulios/kafkajs#598: OUT_OF_ORDER_SEQUENCE_NUMBER), and a kafkajs producer
 * holds one transaction at a time (#1282: beginning one while the last is still committing fails).
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { translateError } from './errors.js';

/** kafkajs retries: short first waits, because CONCURRENT_TRANSACTIONS right after a commit clears in milliseconds (#1315, #304). */
export const PRODUCER_RETRY = { initialRetryTime: 30, maxRetryTime: 5_000, retries: 10 };

export interface ProducerHandleOptions {
  transactionalId?: string;
  /** kafkajs transaction timeout: the broker aborts a transaction left open longer. */
  transactionTimeoutMs?: number;
  /** Test seam: wraps every kafkajs producer made (to inject faults). */
  wrap?: (producer: Producer) => Producer;
  /** Settles before this handle registers its transactional id (an older producer's registration). */
  after?: Promise<unknown>;
}

export class ProducerHandle {
  private producer: Producer | null = null;
  private readyPromise: Promise<Producer> | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  /** How many kafkajs producers this handle made (1 + replacements), for tests and logs. */
  generation = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ProducerHandleOptions,
  ) {}

  get transactionalId(): string | undefined {
    return this.options.transactionalId;
  }

  private create(): Producer {
    const { transactionalId } = this.options;
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: PRODUCER_RETRY,
      ...(transactionalId !== undefined ? { transactionalId, transactionTimeout: this.options.transactionTimeoutMs ?? 60_000 } : {}),
    });
    this.generation++;
    return this.options.wrap ? this.options.wrap(producer) : producer;
  }

  /**
   * The connected kafkajs producer. A transactional one has registered its id with the
   * transaction coordinator (InitProducerId), which fences older producers with the same id and
   * aborts a transaction they left open.
   */
  ready(): Promise<Producer> {
    if (this.readyPromise === null) {
      const producer = this.create();
      this.producer = producer;
      const after = this.options.after ?? Promise.resolve();
      this.readyPromise = after
        .catch(() => undefined)
        .then(async () => {
          await producer.connect();
          if (this.options.transactionalId !== undefined) {
            // kafkajs registers the transactional id on the first transaction(); an empty one
            // ends without an EndTxn request
            const txn = await producer.transaction();
            await txn.abort();
          }
          return producer;
        })
        .catch((e: unknown) => {
          if (this.producer === producer) this.readyPromise = null;
          void producer.disconnect().catch(() => undefined);
          throw translateError(e, `connect producer${this.options.transactionalId ? ` '${this.options.transactionalId}'` : ''} to Kafka`, this.options.transactionalId);
        });
      this.readyPromise.catch(() => undefined);
    }
    return this.readyPromise;
  }

  /**
   * Drops the kafkajs producer (stuck in a transaction state, or out of sequence) and makes a
   * fresh one. For a transactional id, the fresh producer's registration bumps the epoch, so the
   * broker aborts whatever the old one left open.
   */
  async replace(): Promise<void> {
    const old = this.producer;
    this.producer = null;
    this.readyPromise = null;
    if (old !== null) await old.disconnect().catch(() => undefined);
  }

  /** Runs `fn` after every operation queued before it. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    const producer = this.producer;
    const ready = this.readyPromise;
    this.producer = null;
    this.readyPromise = null;
    if (producer === null) return;
    await ready?.catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
  }
}
