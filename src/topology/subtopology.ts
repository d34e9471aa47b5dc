import type { NodeDef } from './nodes.js';

/**
 * A connected piece of the processor graph. Its tasks (one per input partition) are the unit of
 * parallelism; sub-topologies talk to each other only through repartition topics.
 */
export interface Subtopology {
  readonly id: number;
  /** Nodes in the order they were added, parents before children. */
  readonly nodes: readonly NodeDef[];
  /** Every topic its sources read, internal ones included. */
  readonly sourceTopics: readonly string[];
  /** Static topics its sinks write, internal ones included. */
  readonly sinkTopics: readonly string[];
}
