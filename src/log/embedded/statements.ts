import type Database from 'better-sqlite3';

type Stmt<P extends unknown[], R> = Database.Statement<P, R>;

/** A topic row, as the topics table holds it. */
export interface TopicRow {
  topic_id: number;
  name: string;
  partitions: number;
  cleanup_policy: string;
  internal: number;
}

export interface PartitionOffsetsRow {
  partition: number;
  log_start_offset: number;
  next_offset: number;
}

export interface MemberRow {
  member_id: string;
  generation: number;
  pid: number;
  hostname: string;
  started_at: number;
}

export interface CommittedRow {
  partition: number;
  committed_offset: number;
}

/**
 * Every SQL statement the embedded log runs, prepared once per connection. Compiling SQL is
 * the expensive part of a statement; the hot ones (append, fetch) must never be recompiled.
 */
export function prepareStatements(db: Database.Database): Statements {
  const topicColumns = 'topic_id, name, partitions, cleanup_policy, internal';
  return {
    // topics
    topicByName: db.prepare<[string], TopicRow>(`SELECT ${topicColumns} FROM topics WHERE name = ?`),
    allTopics: db.prepare<[], TopicRow>(`SELECT ${topicColumns} FROM topics ORDER BY name`),
    insertTopic: db
      .prepare<[string, number, string, number, number], number>(
        'INSERT INTO topics (name, partitions, cleanup_policy, internal, created_at) VALUES (?, ?, ?, ?, ?) RETURNING topic_id',
      )
      .pluck(),
    insertPartition: db.prepare<[number, number]>(
      'INSERT INTO partitions (topic_id, partition, log_start_offset, next_offset) VALUES (?, ?, 0, 0)',
    ),
    deleteTopic: db.prepare<[number]>('DELETE FROM topics WHERE topic_id = ?'),
    deletePartitions: db.prepare<[number]>('DELETE FROM partitions WHERE topic_id = ?'),
    deleteBatches: db.prepare<[number]>('DELETE FROM batches WHERE topic_id = ?'),
    deleteTopicOffsets: db.prepare<[string]>('DELETE FROM group_offsets WHERE topic = ?'),
    partitionOffsets: db.prepare<[number], PartitionOffsetsRow>(
      'SELECT partition, log_start_offset, next_offset FROM partitions WHERE topic_id = ? ORDER BY partition',
    ),
    partitionOffset: db.prepare<[number, number], PartitionOffsetsRow>(
      'SELECT partition, log_start_offset, next_offset FROM partitions WHERE topic_id = ? AND partition = ?',
    ),

    // append: both in the same transaction
    advancePartition: db
      .prepare<[number, number, number], number>(
        'UPDATE partitions SET next_offset = next_offset + ? WHERE topic_id = ? AND partition = ? RETURNING next_offset',
      )
      .pluck(),
    insertBatch: db.prepare<[number, number, number, number, Buffer]>(
      'INSERT INTO batches (topic_id, partition, last_offset, base_offset, payload) VALUES (?, ?, ?, ?, ?)',
    ),

    // fetch: rows are [base_offset, payload]
    fetchBatches: db
      .prepare<[number, number, number, number], [number, Buffer]>(
        'SELECT base_offset, payload FROM batches WHERE topic_id = ? AND partition = ? AND last_offset >= ? ORDER BY last_offset LIMIT ?',
      )
      .raw(true),
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),

    // consumer groups
    member: db.prepare<[string], MemberRow>(
      'SELECT member_id, generation, pid, hostname, started_at FROM group_members WHERE group_id = ?',
    ),
    generation: db.prepare<[string], number>('SELECT generation FROM groups WHERE group_id = ?').pluck(),
    setGeneration: db.prepare<[string, number]>(
      'INSERT INTO groups (group_id, generation) VALUES (?, ?) ON CONFLICT (group_id) DO UPDATE SET generation = excluded.generation',
    ),
    putMember: db.prepare<[string, string, number, number, string, number]>(
      'INSERT OR REPLACE INTO group_members (group_id, member_id, generation, pid, hostname, started_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    deleteMember: db.prepare<[string, string]>('DELETE FROM group_members WHERE group_id = ? AND member_id = ?'),
    committed: db.prepare<[string, string], CommittedRow>(
      'SELECT partition, committed_offset FROM group_offsets WHERE group_id = ? AND topic = ? ORDER BY partition',
    ),
    committedOne: db
      .prepare<[string, string, number], number>(
        'SELECT committed_offset FROM group_offsets WHERE group_id = ? AND topic = ? AND partition = ?',
      )
      .pluck(),
    putCommitted: db.prepare<[string, string, number, number, number]>(
      'INSERT INTO group_offsets (group_id, topic, partition, committed_offset, committed_at) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (group_id, topic, partition) DO UPDATE SET committed_offset = excluded.committed_offset, committed_at = excluded.committed_at',
    ),

    // transactional producers
    bumpEpoch: db
      .prepare<[string, number], number>(
        'INSERT INTO producers (transactional_id, epoch, updated_at) VALUES (?, 0, ?) ' +
          'ON CONFLICT (transactional_id) DO UPDATE SET epoch = epoch + 1, updated_at = excluded.updated_at RETURNING epoch',
      )
      .pluck(),
    epoch: db.prepare<[string], number>('SELECT epoch FROM producers WHERE transactional_id = ?').pluck(),
  };
}

/** The prepared statements of one connection (see prepareStatements). */
export interface Statements {
  readonly topicByName: Stmt<[string], TopicRow>;
  readonly allTopics: Stmt<[], TopicRow>;
  readonly insertTopic: Stmt<[string, number, string, number, number], number>;
  readonly insertPartition: Stmt<[number, number], unknown>;
  readonly deleteTopic: Stmt<[number], unknown>;
  readonly deletePartitions: Stmt<[number], unknown>;
  readonly deleteBatches: Stmt<[number], unknown>;
  readonly deleteTopicOffsets: Stmt<[string], unknown>;
  readonly partitionOffsets: Stmt<[number], PartitionOffsetsRow>;
  readonly partitionOffset: Stmt<[number, number], PartitionOffsetsRow>;
  readonly advancePartition: Stmt<[number, number, number], number>;
  readonly insertBatch: Stmt<[number, number, number, number, Buffer], unknown>;
  readonly fetchBatches: Stmt<[number, number, number, number], [number, Buffer]>;
  readonly dataVersion: Stmt<[], number>;
  readonly member: Stmt<[string], MemberRow>;
  readonly generation: Stmt<[string], number>;
  readonly setGeneration: Stmt<[string, number], unknown>;
  readonly putMember: Stmt<[string, string, number, number, string, number], unknown>;
  readonly deleteMember: Stmt<[string, string], unknown>;
  readonly committed: Stmt<[string, string], CommittedRow>;
  readonly committedOne: Stmt<[string, string, number], number>;
  readonly putCommitted: Stmt<[string, string, number, number, number], unknown>;
  readonly bumpEpoch: Stmt<[string, number], number>;
  readonly epoch: Stmt<[string], number>;
}
