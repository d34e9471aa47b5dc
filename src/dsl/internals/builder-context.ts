import { TopologyError } from '../../errors/index.js';
import type { ResolvedAppConfig } from '../../runtime/config.js';
import type { Serde } from '../../serde/serde.js';
import type { TopologyBuilder } from '../../topology/topology-builder.js';

/** What every stream of one builder shares: the graph being written, the config, the name counter. */
export class BuilderContext {
  private index = 0;

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
