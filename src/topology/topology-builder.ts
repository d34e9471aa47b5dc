import { TopologyError } from '../errors/index.js';
import type { InternalTopicDef, NodeDef, ProcessorNodeDef, ProjectionDef, SinkNodeDef, SourceNodeDef } from './nodes.js';
import type { StoreDefinition } from '../state/store-definition.js';
import { Topology } from './topology.js';
import type { Subtopology } from './subtopology.js';

/**
 * The processor-level graph the DSL writes into (Kafka Streams' InternalTopologyBuilder).
 * Adding checks names and parents at once, so a mistake fails at the line that made it;
 * build() splits the graph into sub-topologies and checks what needs the whole graph.
 */
export class TopologyBuilder {
  private readonly nodes = new Map<string, NodeDef>();
  private readonly topicToSource = new Map<string, string>();
  private readonly internalTopics = new Map<string, InternalTopicDef>();
  private readonly stores = new Map<string, StoreDefinition>();
  private readonly copartitionGroups: string[][] = [];
  private readonly copartitionTopicGroups: string[][] = [];
  private readonly projections: ProjectionDef[] = [];

  constructor(readonly applicationId: string) {}

  addSource(def: Omit<SourceNodeDef, 'kind'>): void {
    if (def.topics.length === 0) throw new TopologyError(`source '${def.name}' needs at least one topic`);
    for (const topic of def.topics) {
      checkTopicName(topic, `source '${def.name}'`);
      const other = this.topicToSource.get(topic);
      if (other !== undefined) {
        throw new TopologyError(`topic '${topic}' is already read by source '${other}': read a topic once and reuse the stream`);
      }
    }
    this.add({ kind: 'source', ...def });
    for (const topic of def.topics) this.topicToSource.set(topic, def.name);
  }

  addProcessor(def: Omit<ProcessorNodeDef, 'kind'>): void {
    this.checkParents(def.name, def.parents);
    this.add({ kind: 'processor', ...def });
  }

  addSink(def: Omit<SinkNodeDef, 'kind'>): void {
    this.checkParents(def.name, def.parents);
    if (typeof def.topic === 'string') checkTopicName(def.topic, `sink '${def.name}'`);
    this.add({ kind: 'sink', ...def });
  }

  addInternalTopic(def: InternalTopicDef): void {
    if (this.internalTopics.has(def.name)) throw new TopologyError(`internal topic '${def.name}' is defined twice: give the operation another name`);
    if (def.partitions !== undefined && (!Number.isInteger(def.partitions) || def.partitions < 1)) {
      throw new TopologyError(`internal topic '${def.name}': partitions must be a positive integer, got ${def.partitions}`);
    }
    this.internalTopics.set(def.name, def);
  }

  /** Declares a state store; processors connect to it by listing its name in `stores`. */
  addStateStore(def: StoreDefinition): void {
    if (!def.name || !/^[a-zA-Z0-9._-]+$/.test(def.name)) throw new TopologyError(`store name ${JSON.stringify(def.name)} must be letters, digits, '.', '_' or '-'`);
    if (this.stores.has(def.name)) throw new TopologyError(`the store name '${def.name}' is used twice: give each store its own name`);
    this.stores.set(def.name, def);
    if (def.changelog === 'internal') {
      this.addInternalTopic({ name: `${this.applicationId}-${def.name}-changelog`, kind: 'changelog' });
    }
  }

  /**
   * The inputs of these nodes must be co-partitioned (a join): the topics feeding them must have
   * the same partition count, checked when the application starts.
   */
  addCopartitionGroup(nodeNames: string[]): void {
    for (const n of nodeNames) if (!this.nodes.has(n)) throw new TopologyError(`co-partitioning: node '${n}' does not exist`);
    this.copartitionGroups.push(nodeNames);
  }

  /** These topics must have the same partition count (a decider's commands and events), checked at start. */
  addCopartitionTopics(topics: string[]): void {
    for (const t of topics) checkTopicName(t, 'co-partitioning');
    this.copartitionTopicGroups.push(topics);
  }

  /**
   * Projects the stream of node `nodeName` into a read model. The projection reads a topic, so
   * the stream must be one: a source of one topic, or a stream written to one topic by name
   * (a sink of this node, e.g. the events of an event-sourced aggregate).
   */
  addProjection(nodeName: string, projection: { readonly name: string }): void {
    const node = this.nodes.get(nodeName);
    if (node === undefined) throw new TopologyError(`project(): node '${nodeName}' does not exist`);
    if (this.projections.some((p) => p.projection.name === projection.name)) {
      throw new TopologyError(`the projection name '${projection.name}' is used twice: give each projection its own name`);
    }
    const sink = [...this.nodes.values()].find((n): n is SinkNodeDef => n.kind === 'sink' && n.parents.includes(nodeName) && typeof n.topic === 'string');
    let def: ProjectionDef | undefined;
    if (node.kind === 'source' && node.topics.length === 1) def = { topic: node.topics[0]!, keySerde: node.keySerde, valueSerde: node.valueSerde, projection };
    else if (sink !== undefined) def = { topic: sink.topic as string, keySerde: sink.keySerde, valueSerde: sink.valueSerde, projection };
    if (def === undefined) {
      throw new TopologyError(
        `project('${projection.name}'): a projection reads a topic, but this stream is computed by '${nodeName}': ` +
          `write it to a topic with .to('<topic>') and project b.stream('<topic>') instead`,
      );
    }
    this.projections.push(def);
  }

  hasStore(name: string): boolean {
    return this.stores.has(name);
  }

  hasNode(name: string): boolean {
    return this.nodes.has(name);
  }

  build(): Topology {
    if (this.nodes.size === 0) throw new TopologyError(`application '${this.applicationId}' defines no streams: call b.stream(...) in its build function`);
    for (const node of this.nodes.values()) {
      if (node.kind !== 'processor') continue;
      for (const store of node.stores) {
        if (!this.stores.has(store)) throw new TopologyError(`processor '${node.name}' uses store '${store}', which is not declared`);
      }
    }
    const subtopologies = this.groupSubtopologies();
    checkNoTopicCycle(subtopologies);
    const groups = this.copartitionGroups.map((nodes) => [...new Set(nodes.flatMap((n) => this.sourceTopicsUpstreamOf(n)))]);
    for (const topics of this.copartitionTopicGroups) groups.push([...topics]);
    return new Topology(this.applicationId, subtopologies, [...this.internalTopics.values()], new Map(this.nodes), new Map(this.stores), groups, [...this.projections]);
  }

  /** The topics read by the sources a node descends from. */
  private sourceTopicsUpstreamOf(name: string): string[] {
    const node = this.nodes.get(name)!;
    if (node.kind === 'source') return [...node.topics];
    return [...new Set(node.parents.flatMap((p) => this.sourceTopicsUpstreamOf(p)))];
  }

  private add(node: NodeDef): void {
    if (!node.name) throw new TopologyError('a node name must not be empty');
    if (this.nodes.has(node.name)) throw new TopologyError(`the name '${node.name}' is used twice: every operation in a topology needs its own name`);
    this.nodes.set(node.name, node);
  }

  private checkParents(name: string, parents: readonly string[]): void {
    if (parents.length === 0) throw new TopologyError(`'${name}' needs a parent node`);
    for (const parent of parents) {
      const node = this.nodes.get(parent);
      if (node === undefined) throw new TopologyError(`'${name}' names parent '${parent}', which does not exist`);
      if (node.kind === 'sink') throw new TopologyError(`'${name}' cannot follow sink '${parent}': a sink ends a stream`);
    }
  }

  /** Connected components of the node graph, numbered in the order their first node was added. */
  private groupSubtopologies(): Subtopology[] {
    const parentOf = new Map<string, string>();
    const find = (n: string): string => {
      let root = n;
      while (parentOf.has(root)) root = parentOf.get(root)!;
      return root;
    };
    const union = (a: string, b: string) => {
      const ra = find(a);
      const rb = find(b);
      if (ra !== rb) parentOf.set(rb, ra);
    };
    for (const node of this.nodes.values()) {
      if (node.kind !== 'source') for (const p of node.parents) union(p, node.name);
    }
    // Processors sharing a state store must run in the same task.
    const storeOwner = new Map<string, string>();
    for (const node of this.nodes.values()) {
      if (node.kind !== 'processor') continue;
      for (const store of node.stores) {
        const owner = storeOwner.get(store);
        if (owner === undefined) storeOwner.set(store, node.name);
        else union(owner, node.name);
      }
    }
    const groups = new Map<string, NodeDef[]>();
    for (const node of this.nodes.values()) {
      const root = find(node.name);
      let group = groups.get(root);
      if (group === undefined) groups.set(root, (group = []));
      group.push(node);
    }
    let id = 0;
    return [...groups.values()].map((nodes) => {
      const sourceTopics = nodes.flatMap((n) => (n.kind === 'source' ? [...n.topics] : []));
      const sinkTopics = [...new Set(nodes.flatMap((n) => (n.kind === 'sink' && typeof n.topic === 'string' ? [n.topic] : [])))];
      if (sourceTopics.length === 0) {
        throw new TopologyError(`nodes ${nodes.map((n) => `'${n.name}'`).join(', ')} are not connected to any source topic`);
      }
      return { id: id++, nodes, sourceTopics, sinkTopics };
    });
  }
}

function checkTopicName(topic: string, where: string): void {
  if (typeof topic !== 'string' || topic.length === 0) throw new TopologyError(`${where}: topic name must be a non-empty string`);
  if (topic.length > 249 || !/^[a-zA-Z0-9._-]+$/.test(topic)) {
    throw new TopologyError(`${where}: '${topic}' is not a valid topic name (letters, digits, '.', '_', '-'; at most 249 characters)`);
  }
}

/**
 * A topic that a sub-topology writes and that leads back to its own input loops records forever
 * (and in Kafka Streams silently). Refuse it at build time, naming the loop.
 */
function checkNoTopicCycle(subtopologies: Subtopology[]): void {
  // Edge a -> b when some sub-topology reads topic a and writes topic b.
  const edges = new Map<string, string[]>();
  for (const s of subtopologies) {
    for (const from of s.sourceTopics) edges.set(from, [...(edges.get(from) ?? []), ...s.sinkTopics]);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (topic: string): void => {
    const seen = state.get(topic);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const loop = [...stack.slice(stack.indexOf(topic)), topic];
      throw new TopologyError(`topics form a cycle: ${loop.join(' -> ')}: a topology must not read what it writes`);
    }
    state.set(topic, 'visiting');
    stack.push(topic);
    for (const next of edges.get(topic) ?? []) visit(next);
    stack.pop();
    state.set(topic, 'done');
  };
  for (const topic of edges.keys()) visit(topic);
}
