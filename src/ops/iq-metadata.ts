/**
 * Who serves which task, for interactive queries across instances (Kafka Streams'
 * `application.server` and `queryMetadataForKey`). An instance advertises its query endpoint
 * (`host:port`) with its tasks when it joins its group (PartitionGrouping.endpoint); the group
 * leader sends every member the whole map (src/log/kafka/grouping-assigner.ts), which the
 * consumer exposes as LogConsumer.groupAssignment().
 *
 * advertiseEndpoint() gets there without the runtime knowing: it wraps the Log the runtime is
 * given, adds the endpoint to the grouping of the consumer the runtime makes, and keeps that
 * consumer to read the map from.
 *
 * @example
 * const { log, groupView } = advertiseEndpoint(openKafkaLog({ brokers }), 'pod-0.app.ns.svc:9464');
 * const runtime = new StreamsRuntime(myApp, { log });
 * const router = new IqRouter({ runtime, endpoint: 'pod-0.app.ns.svc:9464', groupView });
 */
import type { ConsumerOptions, GroupMemberAssignment, Log, LogConsumer } from '../log/types.js';

/**
 * What this instance knows of its group:
 * - `single`: the log has one member per group (embedded log): every task is local;
 * - `unknown`: not joined yet, rejoining (a rebalance), or the assignment carried no map;
 * - `group`: every member's endpoint and tasks (units) as of the last assignment.
 */
export type GroupView = { kind: 'single' } | { kind: 'unknown' } | { kind: 'group'; members: readonly GroupMemberAssignment[] };

export interface AdvertisedLog {
  /** The log to give the runtime: the same log, whose grouping consumers advertise `endpoint`. */
  log: Log;
  /** The group as the runtime's consumer last saw it. */
  groupView(): GroupView;
}

export interface AdvertiseOptions {
  /** Only a consumer of this group (the application id) is advertised and watched. Default: any consumer with a grouping. */
  groupId?: string;
}

/**
 * Wraps `log` so the runtime's group consumer advertises `endpoint` (see the file comment). A
 * function is asked at each join (a server listening on port 0 knows its port only once it listens).
 */
export function advertiseEndpoint(log: Log, endpoint: string | (() => string), options: AdvertiseOptions = {}): AdvertisedLog {
  const resolve = typeof endpoint === 'function' ? endpoint : () => endpoint;
  if (typeof endpoint === 'string') checkEndpoint(endpoint);
  let watched: LogConsumer | undefined;
  const wrapped: Log = {
    get kind() {
      return log.kind;
    },
    get capabilities() {
      return log.capabilities;
    },
    get admin() {
      return log.admin;
    },
    producer: (o) => log.producer(o),
    consumer(o: ConsumerOptions): LogConsumer {
      const grouping = o.grouping;
      if (grouping === undefined || (options.groupId !== undefined && o.groupId !== options.groupId)) return log.consumer(o);
      const consumer = log.consumer({
        ...o,
        grouping: {
          groups: grouping.groups,
          localUnits: () => grouping.localUnits(),
          get endpoint() {
            return checkEndpoint(resolve());
          },
        },
      });
      watched = consumer;
      return consumer;
    },
    close: () => log.close(),
  };
  return {
    log: wrapped,
    groupView(): GroupView {
      if (log.capabilities.exclusiveGroupMember !== false) return { kind: 'single' };
      const members = watched?.groupAssignment?.();
      return members === undefined ? { kind: 'unknown' } : { kind: 'group', members };
    },
  };
}

/** `host:port` (IPv6 hosts in brackets), returned as is; anything else is a TypeError. */
export function checkEndpoint(endpoint: string): string {
  if (!/^(\[[0-9a-fA-F:]+\]|[^\s:/]+):\d+$/.test(endpoint)) throw new TypeError(`query endpoint '${endpoint}' is not host:port`);
  return endpoint;
}
