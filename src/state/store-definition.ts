import type { ConsumedRecord } from '../log/types.js';
import type { Serde } from '../serde/serde.js';
import type { BackendKind } from './backend/types.js';

export type StoreKind = 'key-value' | 'window' | 'session';

/**
 * A state store as the topology declares it. The runtime creates one instance per task, in
 * the task's backend, with a changelog topic `<applicationId>-<name>-changelog` unless
 * `changelog` says otherwise.
 */
export interface StoreDefinition {
  readonly name: string;
  readonly kind: StoreKind;
  readonly keySerde: Serde<any>;
  readonly valueSerde: Serde<any>;
  /** Default: the app's `stateBackend`. */
  readonly backend?: BackendKind;
  /**
   * 'internal' (default): a compacted changelog topic of its own. 'none': not logged (state is
   * lost with the local files). { sourceTopic }: the store is a copy of that input topic, which
   * serves as its changelog, so nothing extra is written. { outputTopic }: the store's processor
   * writes that topic itself, as ordinary output (an event-sourced aggregate and its events
   * topic): the store emits no changelog records, its checkpoint is the topic's end offset after
   * each commit, as with 'internal', and restore reads the topic with `restoreRecord`.
   */
  readonly changelog: 'internal' | 'none' | { sourceTopic: string } | { outputTopic: string };
  /**
   * How restore turns one changelog record into the key's new stored value, given its current
   * one (bytes; null deletes). Default: the record's value as is. A fold here rebuilds state
   * that is not a copy of the topic, e.g. an aggregate from its events.
   */
  readonly restoreRecord?: RestoreRecordFn;
  /** Window and session stores: how long data is kept, in ms of stream time. */
  readonly retentionMs?: number;
  /** Window stores: keep several values per key and timestamp (stream-stream join buffers). */
  readonly retainDuplicates?: boolean;
}

/** Restore of one record: `current` is the key's value so far (undefined when absent). */
export type RestoreRecordFn = (current: Buffer | undefined, record: ConsumedRecord) => Buffer | null;

export function changelogTopicOf(applicationId: string, store: StoreDefinition): string | undefined {
  if (store.changelog === 'none') return undefined;
  if (store.changelog === 'internal') return `${applicationId}-${store.name}-changelog`;
  return 'sourceTopic' in store.changelog ? store.changelog.sourceTopic : store.changelog.outputTopic;
}

/**
 * Whether the task itself writes the store's changelog ('internal' or { outputTopic }): then a
 * commit's end offsets are its checkpoints and restore reads to the topic's end. Otherwise (a
 * source topic) the consumed offsets are, and restore stops at the group's committed offset.
 */
export function writesOwnChangelog(store: StoreDefinition): boolean {
  return store.changelog === 'internal' || (typeof store.changelog === 'object' && 'outputTopic' in store.changelog);
}
