import { TopologyError } from '../errors/index.js';
import { BranchProcessor, PassThroughProcessor } from './internals/stateless-processors.js';
import type { BuilderContext } from './internals/builder-context.js';
import type { KStream } from './kstream.js';

/**
 * The builder returned by `KStream.split()`: add branches in order, then end with
 * `defaultBranch()` or `noDefaultBranch()` to get the branch streams by name.
 */
export class BranchedKStream<K, V> {
  private readonly branches: { predicate: (key: K, value: V) => boolean; name: string }[] = [];
  private done = false;

  /** @internal `continueAt` makes the stream of a branch from its node (keeps this file free of a KStream import cycle). */
  constructor(
    private readonly ctx: BuilderContext,
    private readonly parentNode: string,
    private readonly prefix: string,
    private readonly continueAt: (nodeName: string) => KStream<K, V>,
  ) {}

  /** Adds a branch; its stream is keyed `<split name><name>` in the result (default: its 1-based position). */
  branch(predicate: (key: K, value: V) => boolean, name?: string): this {
    this.checkOpen();
    if (typeof predicate !== 'function') throw new TopologyError('branch() takes a predicate function (key, value) => boolean');
    const full = this.prefix + (name ?? String(this.branches.length + 1));
    if (this.branches.some((b) => b.name === full)) throw new TopologyError(`split: branch name '${full}' is used twice`);
    this.branches.push({ predicate, name: full });
    return this;
  }

  /** Ends the split; records that matched no branch go to the default branch (named `<split name>0` unless named). */
  defaultBranch(name?: string): Record<string, KStream<K, V>> {
    return this.finish(this.prefix + (name ?? '0'));
  }

  /** Ends the split; records that matched no branch are dropped. */
  noDefaultBranch(): Record<string, KStream<K, V>> {
    return this.finish(undefined);
  }

  private checkOpen(): void {
    if (this.done) throw new TopologyError('split: this split already ended with defaultBranch() or noDefaultBranch()');
  }

  private finish(defaultName: string | undefined): Record<string, KStream<K, V>> {
    this.checkOpen();
    this.done = true;
    const { ctx } = this;
    if (defaultName !== undefined && this.branches.some((b) => b.name === defaultName)) {
      throw new TopologyError(`split: default branch name '${defaultName}' is also a branch name`);
    }
    // As in Kafka Streams: a named split is a node called by its prefix and each branch a node
    // called by its full branch name; an unnamed split gets generated names.
    const splitNode = ctx.nodeName('KSTREAM-BRANCH', this.prefix === '' ? undefined : this.prefix);
    const nodeOf = (branch: string) => (this.prefix === '' ? `${splitNode}-${branch}` : branch);
    const names = this.branches.map((b) => b.name);
    const childNames = names.map(nodeOf);
    const defaultChild = defaultName === undefined ? undefined : nodeOf(defaultName);
    const predicates = this.branches.map((b) => b.predicate);
    ctx.topology.addProcessor({ name: splitNode, parents: [this.parentNode], supplier: () => new BranchProcessor(predicates, childNames, defaultChild), stores: [] });
    const result: Record<string, KStream<K, V>> = {};
    const all = defaultName === undefined ? names : [...names, defaultName];
    const allChildren = defaultChild === undefined ? childNames : [...childNames, defaultChild];
    all.forEach((branchName, i) => {
      const child = allChildren[i]!;
      ctx.topology.addProcessor({ name: child, parents: [splitNode], supplier: () => new PassThroughProcessor(), stores: [] });
      result[branchName] = this.continueAt(child);
    });
    return result;
  }
}
