import { IllegalStateError } from '../errors/index.js';

/**
 * A task's lifecycle, as in Kafka Streams: created -> restoring (state catching up with its
 * changelog) -> running; suspended while a rebalance decides whether it stays; closed at the end.
 */
export type TaskState = 'created' | 'restoring' | 'running' | 'suspended' | 'closed';

const allowed: Record<TaskState, readonly TaskState[]> = {
  created: ['restoring', 'closed'],
  restoring: ['running', 'suspended', 'closed'],
  running: ['suspended', 'closed'],
  suspended: ['restoring', 'running', 'closed'],
  closed: [],
};

export function checkTransition(taskId: string, from: TaskState, to: TaskState): void {
  if (!allowed[from].includes(to)) {
    throw new IllegalStateError(`task ${taskId}: cannot go from ${from} to ${to} (allowed: ${allowed[from].join(', ') || 'none'})`);
  }
}
