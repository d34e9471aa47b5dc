/**
 * Tributary's public API. Everything a topology file, a test or an embedding program uses is
 * exported here; anything else is internal and may change.
 */
export { app, isApp, type App } from './dsl/app.js';
export { StreamsBuilder, type Consumed } from './dsl/streams-builder.js';
export { KStream, type Named, type Produced, type Repartitioned, type ProcessOptions } from './dsl/kstream.js';
export { BranchedKStream } from './dsl/branched-kstream.js';
export { KTable, untilWindowCloses, type Suppressed } from './dsl/ktable.js';
export { KGroupedStream, TimeWindowedKStream } from './dsl/kgrouped-stream.js';
export { SessionWindowedKStream } from './dsl/session-windowed-kstream.js';
export { KGroupedTable } from './dsl/kgrouped-table.js';
export { GlobalKTable } from './dsl/global-ktable.js';
export type { StreamJoined } from './dsl/kstream.js';
export { TimeWindows, SlidingWindows, SessionWindows, JoinWindows } from './dsl/windows.js';
export type { Materialized } from './dsl/materialized.js';
export type { Grouped } from './dsl/kstream.js';
export type {
  KeyValueStore,
  ReadOnlyKeyValueStore,
  WindowStore,
  ReadOnlyWindowStore,
  SessionStore,
  ReadOnlySessionStore,
  KeyValue,
  Windowed,
  TimeWindow,
} from './state/store-types.js';
export type { BackendKind } from './state/backend/types.js';
export { serdes } from './serde/builtin.js';
export type { Serde } from './serde/serde.js';
export type { AsyncSerdeHooks } from './serde/serde.js';
export type { AvroSchema, AvroSerde, AvroSerdeOptions, AvroTypeOptions } from './serde/avro.js';
export {
  schemaRegistryAvro,
  type SchemaRegistryAvroOptions,
  type SchemaRegistrySerde,
  type SubjectNameStrategy,
  type RegistryReaderSchema,
} from './serde/schema-registry-avro.js';
export { SchemaNotLoadedError } from './serde/schema-registry-errors.js';
export { startSchemaRegistry, type SchemaRegistryOptions, type SchemaRegistryServer, type CompatibilityLevel } from './ops/registry/index.js';
export type {
  Processor,
  ProcessorContext,
  ProcessorSupplier,
  StreamRecord,
  RecordMetadata,
  PunctuationType,
  Punctuator,
  Cancellable,
} from './processor/types.js';
export type { Topology } from './topology/topology.js';
export type { DescribeFormat } from './topology/describe.js';
export type { TopicNameExtractor, StreamPartitioner, TimestampExtractor } from './topology/nodes.js';
export type { AppConfig, ErrorHandling, ErrorHandlingConfig, ProcessingGuarantee } from './runtime/config.js';
export { DEAD_LETTER_HEADERS } from './runtime/error-handling.js';
export { createLogger, type Logger, type LogLevel } from './runtime/logger.js';
export { StreamsRuntime, type StreamsRuntimeOptions } from './runtime/streams-runtime.js';
export type { RuntimeStatus, RuntimeObserver, RuntimeStats, RuntimeState } from './runtime/streams-runtime.js';
export { startOpsServer, type OpsServer, type OpsServerOptions } from './ops/http-server.js';
export { RuntimeMetrics, type RuntimeMetricsOptions } from './ops/metrics.js';
export { storeQueryHandler, type StoreQueryHandler, type StoreQueryOptions, type KeyOwner, type KeyLocation } from './ops/http-stores.js';
export { consumerGroupLag, type PartitionLag } from './ops/lag.js';
export { reject, isRejection, VERSION_CONFLICT, type Decider, type Decision, type Rejection, type RejectedCommand, type AggregateSnapshot } from './eventsourcing/decider.js';
export type { EventSourcedSpec, EventSourcedSerdes } from './eventsourcing/event-sourced.js';
export { EVENT_SOURCING_HEADERS } from './eventsourcing/event-sourcing-headers.js';
export { deciderSpec, type DeciderSpecification, type DeciderThen } from './eventsourcing/decider-spec.js';
export { sqliteProjection, type SqliteProjectionOptions } from './eventsourcing/sqlite-projection.js';
export { isProjection, type Projection, type ProjectionMeta, type ProjectionQueryParams } from './eventsourcing/projection.js';
export { postgresProjection, type PostgresProjectionOptions, type PgClient } from './eventsourcing/postgres-projection.js';
export { rebuildProjection, type RebuildOptions, type RebuildProgress, type RebuildResult } from './eventsourcing/rebuild.js';
export { projectionQueryHandler, serveProjections, type ProjectionQueryHandler, type ProjectionServer } from './eventsourcing/projection-http.js';
export { projectionGroupId } from './eventsourcing/projection-runner.js';
export type { ProjectionSource } from './eventsourcing/projection-batch.js';
export { testTopology, TopologyTestDriver, TestInputTopic, TestOutputTopic, type TestTopologyOptions, type TopicSerdes } from './testing/test-topology.js';
export type { TestRecord, PipeOptions } from './testing/test-records.js';
export type { Headers } from './log/types.js';
export {
  TributaryError,
  TopologyError,
  UsageError,
  SerdeError,
  ProcessingError,
  FencedError,
  StaleMemberError,
  ApplicationRunningError,
  TopicError,
  IllegalStateError,
  ClosedError,
} from './errors/index.js';
