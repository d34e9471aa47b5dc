import { TopologyError } from '../errors/index.js';
import { resolveAppConfig, type AppConfig, type ResolvedAppConfig } from '../runtime/config.js';
import { TopologyBuilder } from '../topology/topology-builder.js';
import type { Topology } from '../topology/topology.js';
import { BuilderContext, type DslFactories } from './internals/builder-context.js';
import { KGroupedStream } from './kgrouped-stream.js';
import { KStream } from './kstream.js';
import { KTable } from './ktable.js';
import { StreamsBuilder } from './streams-builder.js';

const APP_BRAND = Symbol.for('tributary.app');

const factories: DslFactories = {
  stream: (ctx, node, keySerde, valueSerde, repartitionRequired) => new KStream(ctx, node, keySerde, valueSerde, repartitionRequired ?? false),
  table: (ctx, node, keySerde, valueSerde, store, windowGraceMs) => new KTable(ctx, node, keySerde, valueSerde, store, windowGraceMs),
  groupedStream: (ctx, node, keySerde, valueSerde) => new KGroupedStream(ctx, node, keySerde, valueSerde),
};

/** A streams application: an id, a function that builds its topology, and its config. */
export interface App {
  readonly [APP_BRAND]: true;
  readonly applicationId: string;
  readonly config: ResolvedAppConfig;
  /** Builds and compiles the topology (a fresh one each call). Throws TopologyError on a mistake. */
  topology(): Topology;
}

/**
 * Defines an application. The application id names its consumer group, its internal topics
 * (`<id>-<name>-repartition`) and its state.
 *
 * @example
 * export default app('order-stats', (b) => {
 *   b.stream('orders', { value: serdes.json<Order>() })
 *     .filter((_, o) => o.amount > 0)
 *     .to('valid-orders');
 * });
 */
export function app(applicationId: string, build: (b: StreamsBuilder) => void, config?: AppConfig): App {
  if (typeof applicationId !== 'string' || !/^[a-zA-Z0-9._-]+$/.test(applicationId)) {
    throw new TopologyError(`app(): the application id must be letters, digits, '.', '_' or '-', got ${JSON.stringify(applicationId)}`);
  }
  if (typeof build !== 'function') throw new TopologyError(`app('${applicationId}'): the second argument must be a function (b) => { ... }`);
  const resolved = resolveAppConfig(config);
  return {
    [APP_BRAND]: true,
    applicationId,
    config: resolved,
    topology() {
      const ctx = new BuilderContext(applicationId, resolved, new TopologyBuilder(applicationId));
      ctx.factories = factories;
      build(new StreamsBuilder(ctx));
      return ctx.topology.build();
    },
  };
}

/** True for what `app()` returns, also across copies of the package. */
export function isApp(value: unknown): value is App {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[APP_BRAND] === true;
}
