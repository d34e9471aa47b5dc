export { testTopology, TopologyTestDriver, TestInputTopic, TestOutputTopic, type TestTopologyOptions, type TopicSerdes } from './test-topology.js';
export type { TestRecord, PipeOptions } from './test-records.js';
export { deciderSpec, type DeciderSpecification, type DeciderThen } from '../eventsourcing/decider-spec.js';
