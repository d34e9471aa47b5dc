/**
 * What flows between KTable operators: the new value of a key and the one it replaces, so
 * that downstream aggregations can subtract the old and joins can retract (Kafka Streams'
 * Change<V>). `toStream()` turns it back into plain values (the new one).
 */
export interface Change<V> {
  newValue: V | null;
  oldValue: V | null;
}

export function change<V>(newValue: V | null | undefined, oldValue: V | null | undefined): Change<V> {
  return { newValue: newValue ?? null, oldValue: oldValue ?? null };
}
