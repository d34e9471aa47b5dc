import type { Serde } from '../serde/serde.js';
import type { BackendKind } from '../state/backend/types.js';

/**
 * How a stateful operation keeps its state: the store's name (for interactive queries and
 * its changelog topic `<applicationId>-<store>-changelog`), serdes, backend, and logging.
 */
export interface Materialized<K, V> {
  /** Default: a generated name like KSTREAM-AGGREGATE-STATE-STORE-0000000003. */
  store?: string;
  key?: Serde<K>;
  value?: Serde<V>;
  /** Default: the app's stateBackend. */
  backend?: BackendKind;
  /** Log changes to a changelog topic (default true). Without it, state is lost with the local files. */
  logging?: boolean;
  /** Window and session stores: keep data this long (default: window size + grace, at least 1 day). */
  retentionMs?: number;
}
