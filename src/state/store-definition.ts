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
   * serves as its changelog, so nothing extra is written.
   */
  readonly changelog: 'internal' | 'none' | { sourceTopic: string };
  /** Window and session stores: how long data is kept, in ms of stream time. */
  readonly retentionMs?: number;
  /** Window stores: keep several values per key and timestamp (stream-stream join buffers). */
  readonly retainDuplicates?: boolean;
}

export function changelogTopicOf(applicationId: string, store: StoreDefinition): string | undefined {
  if (store.changelog === 'none') return undefined;
  if (store.changelog === 'internal') return `${applicationId}-${store.name}-changelog`;
  return store.changelog.sourceTopic;
}
