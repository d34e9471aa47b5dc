import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * This process's identity within an application, kept in `<stateDir>/<applicationId>/process-id`.
 *
 * It names the transactional producer a process shares across its tasks
 * (`<applicationId>-<processId>`). Unique per process, so two instances never fence each other;
 * stable across restarts on the same state directory, so a restarted process fences its previous
 * incarnation at once and the broker aborts the transaction that one left open, instead of
 * readers waiting for the transaction timeout (Kafka Streams keeps its process id in the state
 * directory for the same reason).
 */
export function processId(stateDir: string, applicationId: string): string {
  const dir = join(stateDir, applicationId);
  const file = join(dir, 'process-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
  } catch {
    // first start on this state directory
  }
  const id = randomUUID();
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${id}\n`);
  return id;
}
