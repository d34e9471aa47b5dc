import { TopologyError } from '../errors/index.js';
import { describeTopology, type DescribeFormat } from './describe.js';
import type { InternalTopicDef, NodeDef, ProjectionDef } from './nodes.js';
import type { Subtopology } from './subtopology.js';
import type { StoreDefinition } from '../state/store-definition.js';

/**
 * A compiled topology: sub-topologies, the topics they read and write, and the internal topics
 * the application owns. Immutable; the runtime instantiates tasks from it.
 */
export class Topology {
  /** Topics read from outside the application. */
  readonly sourceTopics: readonly string[];
  /** Topics written by name (not through a topic-name extractor) outside the application. */
  readonly sinkTopics: readonly string[];
  private readonly bySourceTopic = new Map<string, Subtopology>();
  private readonly internalByName: Map<string, InternalTopicDef>;

  constructor(
    readonly applicationId: string,
    readonly subtopologies: readonly Subtopology[],
    readonly internalTopics: readonly InternalTopicDef[],
    readonly nodes: ReadonlyMap<string, NodeDef>,
    readonly stores: ReadonlyMap<string, StoreDefinition> = new Map(),
    /** Sets of topics that must have equal partition counts (the inputs of joins). */
    readonly copartitionGroups: readonly (readonly string[])[] = [],
    /** Read models fed from topics (`stream.project()`), run beside the tasks by the projection host. */
    readonly projections: readonly ProjectionDef[] = [],
  ) {
    this.internalByName = new Map(internalTopics.map((t) => [t.name, t]));
    for (const s of subtopologies) for (const t of s.sourceTopics) this.bySourceTopic.set(t, s);
    const isInternal = (t: string) => this.internalByName.has(t);
    this.sourceTopics = [...this.bySourceTopic.keys()].filter((t) => !isInternal(t));
    this.sinkTopics = [...new Set(subtopologies.flatMap((s) => s.sinkTopics))].filter((t) => !isInternal(t));
  }

  /** The stores the processors of a sub-topology use. */
  storesOf(subtopology: Subtopology): StoreDefinition[] {
    const names = new Set<string>();
    for (const n of subtopology.nodes) if (n.kind === 'processor') for (const s of n.stores) names.add(s);
    return [...names].map((n) => this.stores.get(n)!);
  }

  /** The sub-topology whose processors use a store. */
  subtopologyOfStore(store: string): Subtopology | undefined {
    return this.subtopologies.find((s) => s.nodes.some((n) => n.kind === 'processor' && n.stores.includes(store)));
  }

  /** The sub-topology that reads a topic. */
  subtopologyOf(topic: string): Subtopology | undefined {
    return this.bySourceTopic.get(topic);
  }

  isInternalTopic(topic: string): boolean {
    return this.internalByName.has(topic);
  }

  /**
   * Partition counts of the internal topics, given those of the external topics: a repartition
   * topic without a fixed count gets the largest count among the inputs of the sub-topology that
   * writes it, as in Kafka Streams.
   */
  resolveInternalPartitions(external: ReadonlyMap<string, number>): Map<string, number> {
    const resolved = new Map<string, number>();
    const resolving = new Set<string>();
    const countOf = (topic: string): number => {
      const known = external.get(topic) ?? resolved.get(topic);
      if (known !== undefined) return known;
      const def = this.internalByName.get(topic);
      if (def === undefined) throw new TopologyError(`topic '${topic}' does not exist: create it first`);
      if (def.partitions !== undefined) {
        resolved.set(topic, def.partitions);
        return def.partitions;
      }
      if (resolving.has(topic)) throw new TopologyError(`cannot work out the partition count of '${topic}': give it one with { partitions }`);
      resolving.add(topic);
      // A changelog has one partition per task of the sub-topology that owns its store.
      const changelogOwner = def.kind === 'changelog' ? this.subtopologyOfStore(topic.slice(this.applicationId.length + 1, -'-changelog'.length)) : undefined;
      const writers = changelogOwner !== undefined ? [changelogOwner] : this.subtopologies.filter((s) => s.sinkTopics.includes(topic));
      const counts = writers.flatMap((s) => s.sourceTopics.map(countOf));
      const n = counts.length > 0 ? Math.max(...counts) : 1;
      resolving.delete(topic);
      resolved.set(topic, n);
      return n;
    };
    for (const def of this.internalTopics) countOf(def.name);
    // A repartition topic feeding a join gets the partition count of the join's other inputs.
    for (const group of this.copartitionGroups) {
      const fixed = group.filter((t) => !this.internalByName.has(t) || this.internalByName.get(t)!.partitions !== undefined);
      if (fixed.length === 0) continue;
      const n = Math.max(...fixed.map(countOf));
      for (const t of group) if (this.internalByName.get(t)?.partitions === undefined && this.internalByName.has(t)) resolved.set(t, n);
    }
    return resolved;
  }

  /** Kafka Streams-style text (Topology#describe), or a Mermaid or Graphviz DOT drawing. */
  describe(format: DescribeFormat = 'text'): string {
    return describeTopology(this, format);
  }

  toString(): string {
    return this.describe('text');
  }
}
