/** `<subtopology>_<partition>`, as in Kafka Streams. */
export type TaskId = string & { readonly __brand: 'TaskId' };

export function taskId(subtopology: number, partition: number): TaskId {
  return `${subtopology}_${partition}` as TaskId;
}
