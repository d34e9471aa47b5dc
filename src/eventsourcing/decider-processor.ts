import { ProcessingError } from '../errors/index.js';
import type { Headers } from '../log/types.js';
import type { InternalProcessorContext } from '../processor/processor-node.js';
import type { Processor, StreamRecord } from '../processor/types.js';
import type { Serde } from '../serde/serde.js';
import type { KeyValueStore } from '../state/store-types.js';
import type { RestoreRecordFn } from '../state/store-definition.js';
import { isRejection, VERSION_CONFLICT, type AggregateSnapshot, type Decider, type RejectedCommand, type Rejection } from './decider.js';
import { EVENT_SOURCING_HEADERS, expectedVersionHeader } from './event-sourcing-headers.js';

/**
 * The partition of the command being decided, for the events sink's partitioner: events go to
 * the partition of their command, which is the partition of the events topic the aggregate's
 * store restores from, whatever partitioner the command's producer used. Set just before the
 * events are forwarded and read synchronously by the sink in the same call, so tasks sharing
 * the topology never see each other's value.
 */
export class CommandPartition {
  current: number | undefined;
}

export interface DeciderProcessorOptions<C, E, S, R extends string> {
  /** The decider's name, for error messages. */
  name: string;
  storeName: string;
  decider: Decider<C, E, S, R>;
  /** The child that receives events (the events stream). */
  eventsNode: string;
  /** The child that receives rejections, if there is a rejections topic. */
  rejectionsNode: string | undefined;
  correlationHeader: string;
  expectedVersion: ((command: C) => number | undefined) | undefined;
  partition: CommandPartition;
}

/**
 * Decides each command against its aggregate: reads the aggregate (version and state) from the
 * store, checks the expected version, calls `decide`, folds the events with `evolve`, forwards
 * the events and only then writes the new aggregate. Anything that throws leaves the store
 * untouched, and the task cuts off the record's output, so events and state never disagree.
 */
export class DeciderProcessor<K, C, E, S, R extends string> implements Processor<K, C, K, E | RejectedCommand<C, R>> {
  private ctx!: InternalProcessorContext<K, E | RejectedCommand<C, R>>;
  private store!: KeyValueStore<K, AggregateSnapshot<S>>;

  constructor(private readonly options: DeciderProcessorOptions<C, E, S, R>) {}

  init(context: InternalProcessorContext<K, E | RejectedCommand<C, R>>): void {
    this.ctx = context;
    this.store = context.getStateStore<KeyValueStore<K, AggregateSnapshot<S>>>(this.options.storeName);
  }

  process(r: StreamRecord<K, C>): void {
    if (r.key === null || r.key === undefined) return this.ctx.recordDropped('null-key');
    if (r.value === null || r.value === undefined) return this.ctx.recordDropped('null-value');
    const { decider, correlationHeader } = this.options;
    const current = this.store.get(r.key) ?? { version: 0, state: decider.initialState() };
    const correlation = r.headers[correlationHeader];
    const expected = this.expectedVersionOf(r);
    if (expected !== undefined && expected !== current.version) {
      return this.reject(r, current.version, { rejected: VERSION_CONFLICT, details: { expected, actual: current.version } }, correlation);
    }
    const decision = decider.decide(r.value, current.state);
    if (isRejection(decision)) return this.reject(r, current.version, decision, correlation);
    if (!Array.isArray(decision)) {
      throw new ProcessingError(`decider '${this.options.name}': decide() returned ${describe(decision)}; return an array of events (maybe empty) or reject(reason)`);
    }
    if (decision.length === 0) return;
    let state = current.state;
    for (const event of decision) {
      if (event === null || event === undefined) throw new ProcessingError(`decider '${this.options.name}': decide() returned a ${String(event)} event`);
      state = decider.evolve(state, event);
    }
    this.options.partition.current = this.ctx.recordMetadata()?.partition;
    try {
      for (let i = 0; i < decision.length; i++) {
        const headers: Headers = {};
        if (correlation !== undefined) headers[correlationHeader] = correlation;
        headers[EVENT_SOURCING_HEADERS.aggregateVersion] = Buffer.from(String(current.version + i + 1));
        this.ctx.forward({ key: r.key, value: decision[i] as E, timestamp: r.timestamp, headers }, this.options.eventsNode);
      }
    } finally {
      this.options.partition.current = undefined;
    }
    this.store.put(r.key, { version: current.version + decision.length, state });
  }

  private expectedVersionOf(r: StreamRecord<K, C>): number | undefined {
    const fromCommand = this.options.expectedVersion?.(r.value);
    if (fromCommand === undefined || fromCommand === null) return expectedVersionHeader(r.headers);
    if (!Number.isSafeInteger(fromCommand) || fromCommand < 0) {
      throw new ProcessingError(`decider '${this.options.name}': expectedVersion() returned ${describe(fromCommand)}; return a non-negative integer or undefined`);
    }
    return fromCommand;
  }

  private reject(r: StreamRecord<K, C>, version: number, rejection: Rejection<R | typeof VERSION_CONFLICT>, correlation: Buffer | undefined): void {
    const node = this.options.rejectionsNode;
    if (node === undefined) return this.ctx.recordDropped('command-rejected');
    const headers: Headers = { [EVENT_SOURCING_HEADERS.rejection]: Buffer.from(rejection.rejected) };
    if (correlation !== undefined) headers[this.options.correlationHeader] = correlation;
    const value: RejectedCommand<C, R> =
      rejection.details === undefined ? { rejected: rejection.rejected, command: r.value, version } : { rejected: rejection.rejected, details: rejection.details, command: r.value, version };
    this.ctx.forward({ key: r.key, value, timestamp: r.timestamp, headers }, node);
  }
}

/**
 * Restore of the aggregate store from the events topic: each event is folded into the stored
 * aggregate with `evolve`, and its version goes up by one, exactly as when it was decided.
 */
export function aggregateRestorer<E, S>(
  name: string,
  decider: Pick<Decider<unknown, E, S>, 'initialState' | 'evolve'>,
  eventSerde: Serde<E>,
  snapshotSerde: Serde<AggregateSnapshot<S>>,
  storeTopic: string,
): RestoreRecordFn {
  return (current, record) => {
    if (record.value === null) return current ?? null; // a tombstone is not an event
    try {
      const before = current === undefined ? { version: 0, state: decider.initialState() } : snapshotSerde.deserialize(current, storeTopic);
      const event = eventSerde.deserialize(record.value, record.topic, record.headers);
      return snapshotSerde.serialize({ version: before.version + 1, state: decider.evolve(before.state, event) }, storeTopic);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new ProcessingError(`decider '${name}': restoring from event ${record.topic}-${record.partition}@${record.offset} failed: ${message}`, { cause: err });
    }
  };
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an object (${JSON.stringify(value)?.slice(0, 80)})`;
  return `${typeof value} ${JSON.stringify(value)}`;
}
