export { Topology } from './topology.js';
export { TopologyBuilder } from './topology-builder.js';
export type { DescribeFormat } from './describe.js';
export type { Subtopology } from './subtopology.js';
export type * from './nodes.js';
