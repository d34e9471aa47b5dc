import { TopologyError } from '../errors/index.js';
import type { Cancellable, Processor, ProcessorContext, PunctuationType, Punctuator, RecordMetadata, StreamRecord } from './types.js';

/** What every node of one task shares: ids, clocks, the record being processed, scheduling. */
export interface TaskContext {
  readonly applicationId: string;
  readonly taskId: string;
  recordMetadata(): RecordMetadata | null;
  streamTime(): number;
  wallClockTime(): number;
  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator, nodeName: string): Cancellable;
  requestCommit(): void;
  /** The typed store named `name`, if the task has it. */
  stateStore(name: string): unknown;
  /** Counts a record a DSL operator dropped on purpose (late, null key), by reason. */
  recordDropped(reason: string): void;
  /** Keys an aggregation may hold back until the commit (0: none; see AppConfig.recordCacheSize). */
  readonly recordCacheSize: number;
  /**
   * Runs `forward` (a held update going downstream at a commit) under the processing-error
   * handling, as a punctuator runs: its output is cut off if it throws.
   */
  forwardHeld(nodeName: string, forward: () => void): void;
}

/** What DSL processors get beyond the public ProcessorContext. */
export interface InternalProcessorContext<K = unknown, V = unknown> extends ProcessorContext<K, V> {
  recordDropped(reason: string): void;
  readonly recordCacheSize: number;
  /** Forwards a held update (see TaskContext.forwardHeld). */
  forwardHeld(forward: () => void): void;
}

/**
 * What a DSL processor that holds updates back (UpdateCache) does at the task's commits. Not on
 * the public Processor: the task calls these through its nodes.
 */
export interface CommitAware {
  /** Forward what is held, before the commit takes the task's output. */
  beforeCommit(): void;
  /** Drop what is held: the uncommitted work is being thrown away. */
  discardUncommitted(): void;
}

/** Anything a node can forward records to. */
export interface RecordSink {
  readonly name: string;
  process(record: StreamRecord<unknown, unknown>): void;
}

/**
 * One processor of a task, wired to its children. Each node has its own context so that
 * `forward()` knows whose children to call, with no "current node" bookkeeping per record.
 */
export class ProcessorNode implements RecordSink, InternalProcessorContext<unknown, unknown> {
  private children: RecordSink[] = [];
  private readonly childByName = new Map<string, RecordSink>();

  constructor(
    readonly name: string,
    private readonly processor: Processor<unknown, unknown, unknown, unknown>,
    private readonly task: TaskContext,
    /** Stores this processor may use. */
    private readonly stores: readonly string[] = [],
  ) {}

  get applicationId(): string {
    return this.task.applicationId;
  }

  get taskId(): string {
    return this.task.taskId;
  }

  addChild(child: RecordSink): void {
    this.children.push(child);
    this.childByName.set(child.name, child);
  }

  init(): void {
    this.processor.init?.(this);
  }

  process(record: StreamRecord<unknown, unknown>): void {
    this.processor.process(record);
  }

  close(): void {
    this.processor.close?.();
  }

  beforeCommit(): void {
    (this.processor as Partial<CommitAware>).beforeCommit?.();
  }

  discardUncommitted(): void {
    (this.processor as Partial<CommitAware>).discardUncommitted?.();
  }

  get recordCacheSize(): number {
    return this.task.recordCacheSize;
  }

  forwardHeld(forward: () => void): void {
    this.task.forwardHeld(this.name, forward);
  }

  forward(record: StreamRecord<unknown, unknown>, childName?: string): void {
    if (childName !== undefined) {
      const child = this.childByName.get(childName);
      if (child === undefined) throw new TopologyError(`'${this.name}' has no child named '${childName}' (children: ${[...this.childByName.keys()].join(', ') || 'none'})`);
      child.process(record);
      return;
    }
    const children = this.children;
    for (let i = 0; i < children.length; i++) children[i]!.process(record);
  }

  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable {
    return this.task.schedule(intervalMs, type, punctuator, this.name);
  }

  recordMetadata(): RecordMetadata | null {
    return this.task.recordMetadata();
  }

  currentStreamTimeMs(): number {
    return this.task.streamTime();
  }

  currentSystemTimeMs(): number {
    return this.task.wallClockTime();
  }

  commit(): void {
    this.task.requestCommit();
  }

  recordDropped(reason: string): void {
    this.task.recordDropped(reason);
  }

  getStateStore<S = unknown>(name: string): S {
    if (!this.stores.includes(name)) {
      throw new TopologyError(`processor '${this.name}' is not connected to store '${name}': pass { stores: ['${name}'] } where it is added (connected: ${this.stores.join(', ') || 'none'})`);
    }
    const store = this.task.stateStore(name);
    if (store === undefined) throw new TopologyError(`store '${name}' does not exist in task ${this.task.taskId}`);
    return store as S;
  }
}
