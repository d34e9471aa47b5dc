import { TopologyError } from '../../errors/index.js';
import type { ResolvedAppConfig } from '../../runtime/config.js';
import { serdes } from '../../serde/builtin.js';
import type { Serde } from '../../serde/serde.js';
import type { Windowed } from '../../state/store-types.js';
import type { StoreDefinition } from '../../state/store-definition.js';
import type { TopologyBuilder } from '../../topology/topology-builder.js';
import type { KGroupedStream } from '../kgrouped-stream.js';
import type { KStream } from '../kstream.js';
import type { KTable } from '../ktable.js';

/**
 * How DSL classes make each other without importing each other at runtime (KStream makes
 * KTables and back): app.ts, which sees them all, fills this in.
 */
export interface DslFactories {
  stream<K, V>(ctx: BuilderContext, node: string, keySerde: Serde<K> | undefined, valueSerde: Serde<V> | undefined, repartitionRequired?: boolean): KStream<K, V>;
  table<K, V>(ctx: BuilderContext, node: string, keySerde: Serde<K> | undefined, valueSerde: Serde<V> | undefined, store: string | undefined, windowGraceMs?: number): KTable<K, V>;
  groupedStream<K, V>(ctx: BuilderContext, node: string, keySerde: Serde<K>, valueSerde: Serde<V>): KGroupedStream<K, V>;
}

/** What every stream of one builder shares: the graph being written, the config, the name counter. */
export class BuilderContext {
  private index = 0;
  factories!: DslFactories;

  constructor(
    readonly applicationId: string,
    readonly config: ResolvedAppConfig,
    readonly topology: TopologyBuilder,
  ) {}

  /** Kafka Streams-style generated names (`KSTREAM-FILTER-0000000003`) unless the user named it. */
  nodeName(prefix: string, given?: string): string {
    const n = this.index++;
    if (given !== undefined) return given;
    return `${prefix}-${String(n).padStart(10, '0')}`;
  }

  /** A store definition from Materialized options, with defaults; declares it in the topology. */
  declareStore(def: StoreDefinition): string {
    this.topology.addStateStore(def);
    return def.name;
  }

  /** The serde of windowed keys over an inner key serde. */
  windowedSerde<K>(inner: Serde<K>): Serde<Windowed<K>> {
    return serdes.windowed(inner);
  }

  /** The serde to use where a topic is read or written, or a clear error saying how to give one. */
  requireSerde(which: 'key' | 'value', explicit: Serde<any> | undefined, known: Serde<any> | undefined, where: string): Serde<any> {
    const serde = explicit ?? known ?? (which === 'key' ? this.config.defaultKeySerde : this.config.defaultValueSerde);
    if (serde === undefined) {
      const option = which === 'key' ? 'defaultKeySerde' : 'defaultValueSerde';
      throw new TopologyError(
        `${where} has no ${which} serde: the ${which} type is not known here. Pass { ${which}: serdes.json() } (or another serde), or set ${option} in the app config`,
      );
    }
    return serde;
  }
}
