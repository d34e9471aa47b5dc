import { TopologyError } from '../errors/index.js';
import { PassThroughProcessor } from '../dsl/internals/stateless-processors.js';
import type { BuilderContext } from '../dsl/internals/builder-context.js';
import type { KStream } from '../dsl/kstream.js';
import { serdes } from '../serde/builtin.js';
import type { Serde } from '../serde/serde.js';
import type { BackendKind } from '../state/backend/types.js';
import { aggregateSerde } from './aggregate-serde.js';
import type { Decider, RejectedCommand } from './decider.js';
import { aggregateRestorer, CommandPartition, DeciderProcessor } from './decider-processor.js';
import { EVENT_SOURCING_HEADERS } from './event-sourcing-headers.js';

/** Serdes of an event-sourced aggregate; key, command and event default to the app's default serdes. */
export interface EventSourcedSerdes<K, C, E, S, R extends string> {
  /** The aggregate id: the key of commands, events and rejections. */
  key?: Serde<K>;
  command?: Serde<C>;
  event?: Serde<E>;
  /** The state in the aggregate store. Default JSON. */
  state?: Serde<S>;
  /** Values of the rejections topic. Default JSON. */
  rejection?: Serde<RejectedCommand<C, R>>;
}

/** What `b.eventSourced(name, spec)` takes. */
export interface EventSourcedSpec<K, C, E, S, R extends string = string> {
  /** Topic of commands, keyed by aggregate id. */
  commands: string;
  /**
   * Topic the events go to, with the command's key and partition. It is also the changelog of
   * the aggregate store, so it must have as many partitions as the commands topic, keep every
   * record (no compaction, no time or size retention: a fresh restore reads it from the start),
   * and be written by this decider only.
   */
  events: string;
  /** Topic of refused commands ({@link RejectedCommand}); without it they are counted as dropped ('command-rejected'). */
  rejections?: string;
  decider: Decider<C, E, S, R>;
  serdes?: EventSourcedSerdes<K, C, E, S, R>;
  /**
   * The version a command expects its aggregate to be at (optimistic concurrency; the version
   * counts the aggregate's events). Where this is not set or gives undefined, the command's
   * `tributary.expected-version` header is used, if it has one. A mismatch rejects the command
   * with reason 'version-conflict'.
   */
  expectedVersion?: (command: C) => number | undefined;
  /** Header holding a command's correlation id, copied onto its events and rejection. Default 'correlation-id'. */
  correlationHeader?: string;
  /** Name of the aggregate store (`{ version, state }` per aggregate id). Default: the decider's name. */
  store?: string;
  /** Default: the app's stateBackend. */
  backend?: BackendKind;
}

/** Checks a spec before anything is added to the topology, so a mistake names the decider. */
export function checkEventSourcedSpec(name: string, spec: EventSourcedSpec<any, any, any, any, any>): void {
  const where = `eventSourced('${String(name)}')`;
  if (typeof name !== 'string' || !/^[a-zA-Z0-9._-]+$/.test(name)) throw new TopologyError(`eventSourced(): the name must be letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
  if (typeof spec !== 'object' || spec === null) throw new TopologyError(`${where}: pass { commands, events, decider }`);
  for (const key of ['commands', 'events'] as const) {
    if (typeof spec[key] !== 'string') throw new TopologyError(`${where}: '${key}' must be a topic name`);
  }
  if (spec.rejections !== undefined && typeof spec.rejections !== 'string') throw new TopologyError(`${where}: 'rejections' must be a topic name`);
  const topics = [spec.commands, spec.events, spec.rejections].filter((t) => t !== undefined);
  if (new Set(topics).size !== topics.length) throw new TopologyError(`${where}: commands, events and rejections need three different topics, got ${topics.join(', ')}`);
  const d = spec.decider;
  if (typeof d !== 'object' || d === null || typeof d.initialState !== 'function' || typeof d.decide !== 'function' || typeof d.evolve !== 'function') {
    throw new TopologyError(`${where}: 'decider' must be { initialState: () => state, decide: (command, state) => events | reject(reason), evolve: (state, event) => state }`);
  }
  if (spec.expectedVersion !== undefined && typeof spec.expectedVersion !== 'function') throw new TopologyError(`${where}: 'expectedVersion' must be a function (command) => number | undefined`);
  if (spec.correlationHeader !== undefined && (typeof spec.correlationHeader !== 'string' || spec.correlationHeader.length === 0)) {
    throw new TopologyError(`${where}: 'correlationHeader' must be a non-empty header name`);
  }
}

/**
 * Compiles a decider behind the commands stream:
 *
 *   <name>-commands --> <name>-decider (store <name>) --> <name>-events --> <name>-events-sink (events topic)
 *                                                     \-> <name>-rejections-sink (rejections topic)
 *
 * The store's changelog is the events topic itself, restored by folding events with `evolve`.
 */
export function buildEventSourced<K, C, E, S, R extends string>(ctx: BuilderContext, name: string, commands: KStream<K, C>, spec: EventSourcedSpec<K, C, E, S, R>): KStream<K, E> {
  const where = `eventSourced('${name}')`;
  const keySerde = ctx.requireSerde('key', spec.serdes?.key, commands.keySerde, where) as Serde<K>;
  const eventSerde = ctx.requireSerde('value', spec.serdes?.event, undefined, where) as Serde<E>;
  const snapshotSerde = aggregateSerde<S>(spec.serdes?.state ?? serdes.json<S>());
  const storeName = spec.store ?? name;
  ctx.declareStore({
    name: storeName,
    kind: 'key-value',
    keySerde,
    valueSerde: snapshotSerde,
    backend: spec.backend,
    changelog: { outputTopic: spec.events },
    // The serdes of a store folded from its changelog see `<app>-<store>` as their topic (TaskStores does the same).
    restoreRecord: aggregateRestorer(name, spec.decider, eventSerde, snapshotSerde, `${ctx.applicationId}-${storeName}`),
  });

  const deciderNode = `${name}-decider`;
  const eventsNode = `${name}-events`;
  const rejectionsSink = spec.rejections === undefined ? undefined : `${name}-rejections-sink`;
  const partition = new CommandPartition();
  ctx.topology.addProcessor({
    name: deciderNode,
    parents: [commands.nodeName],
    supplier: () =>
      new DeciderProcessor<K, C, E, S, R>({
        name,
        storeName,
        decider: spec.decider,
        eventsNode,
        rejectionsNode: rejectionsSink,
        correlationHeader: spec.correlationHeader ?? EVENT_SOURCING_HEADERS.correlationId,
        expectedVersion: spec.expectedVersion,
        partition,
      }),
    stores: [storeName],
  });
  ctx.topology.addProcessor({ name: eventsNode, parents: [deciderNode], supplier: () => new PassThroughProcessor(), stores: [] });
  ctx.topology.addSink({
    name: `${name}-events-sink`,
    parents: [eventsNode],
    topic: spec.events,
    keySerde,
    valueSerde: eventSerde,
    partitioner: () => partition.current,
  });
  if (rejectionsSink !== undefined) {
    const rejectionSerde = spec.serdes?.rejection ?? serdes.json<RejectedCommand<C, R>>();
    ctx.topology.addSink({ name: rejectionsSink, parents: [deciderNode], topic: spec.rejections!, keySerde, valueSerde: rejectionSerde });
  }
  ctx.topology.addCopartitionTopics([spec.commands, spec.events]);
  return ctx.factories.stream<K, E>(ctx, eventsNode, keySerde, eventSerde, false);
}
