import type { NodeDef } from './nodes.js';
import type { Topology } from './topology.js';

export type DescribeFormat = 'text' | 'mermaid' | 'dot';

/** Renders a topology for people: the text of Kafka Streams' Topology#describe, or a diagram. */
export function describeTopology(topology: Topology, format: DescribeFormat): string {
  switch (format) {
    case 'text':
      return describeText(topology);
    case 'mermaid':
      return describeMermaid(topology);
    case 'dot':
      return describeDot(topology);
    default:
      throw new Error(`unknown describe format '${String(format)}': use text, mermaid or dot`);
  }
}

function childrenOf(topology: Topology): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const node of topology.nodes.values()) {
    if (node.kind === 'source') continue;
    for (const p of node.parents) children.set(p, [...(children.get(p) ?? []), node.name]);
  }
  return children;
}

function sinkTopicLabel(node: NodeDef & { kind: 'sink' }): string {
  return typeof node.topic === 'string' ? node.topic : '<chosen per record>';
}

function describeText(topology: Topology): string {
  const children = childrenOf(topology);
  const lines = ['Topologies:'];
  for (const s of topology.subtopologies) {
    lines.push(`   Sub-topology: ${s.id}`);
    for (const node of s.nodes) {
      const down = children.get(node.name) ?? [];
      switch (node.kind) {
        case 'source':
          lines.push(`    Source: ${node.name} (topics: [${node.topics.join(', ')}])`);
          break;
        case 'processor':
          lines.push(`    Processor: ${node.name} (stores: [${node.stores.join(', ')}])`);
          break;
        case 'sink':
          lines.push(`    Sink: ${node.name} (topic: ${sinkTopicLabel(node)})`);
          break;
      }
      if (down.length > 0) lines.push(`      --> ${down.join(', ')}`);
      if (node.kind !== 'source') lines.push(`      <-- ${node.parents.join(', ')}`);
    }
  }
  if (topology.stores.size > 0) {
    lines.push('Stores:');
    for (const st of topology.stores.values()) {
      const log =
        st.changelog === 'internal'
          ? `changelog ${topology.applicationId}-${st.name}-changelog`
          : st.changelog === 'none'
            ? 'not logged'
            : 'sourceTopic' in st.changelog
              ? `changelog = source topic ${st.changelog.sourceTopic}`
              : `changelog = output topic ${st.changelog.outputTopic}`;
      lines.push(`    ${st.name} (${st.kind}, ${log})`);
    }
  }
  if (topology.internalTopics.length > 0) {
    lines.push('Internal topics:');
    for (const t of topology.internalTopics) {
      lines.push(`    ${t.name} (${t.kind}, partitions: ${t.partitions ?? 'as its input'})`);
    }
  }
  return lines.join('\n') + '\n';
}

const safeId = (name: string) => name.replace(/[^A-Za-z0-9_]/g, '_');

function describeMermaid(topology: Topology): string {
  const lines = ['flowchart TD'];
  const topics = new Set<string>();
  const edges: string[] = [];
  for (const s of topology.subtopologies) {
    lines.push(`  subgraph sub${s.id}["Sub-topology ${s.id}"]`);
    for (const node of s.nodes) {
      const shape = node.kind === 'source' ? `[/"${node.name}"/]` : node.kind === 'sink' ? `[\\"${node.name}"\\]` : `["${node.name}"]`;
      lines.push(`    n_${safeId(node.name)}${shape}`);
      if (node.kind === 'source') {
        for (const t of node.topics) {
          topics.add(t);
          edges.push(`  t_${safeId(t)} --> n_${safeId(node.name)}`);
        }
      } else {
        for (const p of node.parents) edges.push(`  n_${safeId(p)} --> n_${safeId(node.name)}`);
        if (node.kind === 'sink') {
          const t = sinkTopicLabel(node);
          topics.add(t);
          edges.push(`  n_${safeId(node.name)} --> t_${safeId(t)}`);
        }
      }
    }
    lines.push('  end');
  }
  for (const t of topics) lines.push(`  t_${safeId(t)}[("${t}")]`);
  return [...lines, ...edges].join('\n') + '\n';
}

function describeDot(topology: Topology): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = ['digraph topology {', '  rankdir=LR;', '  node [fontname="Helvetica"];'];
  const topics = new Set<string>();
  const edges: string[] = [];
  for (const s of topology.subtopologies) {
    lines.push(`  subgraph cluster_${s.id} {`, `    label=${q(`Sub-topology ${s.id}`)};`);
    for (const node of s.nodes) {
      const shape = node.kind === 'source' ? 'invhouse' : node.kind === 'sink' ? 'house' : 'box';
      lines.push(`    ${q(node.name)} [shape=${shape}];`);
      if (node.kind === 'source') {
        for (const t of node.topics) {
          topics.add(t);
          edges.push(`  ${q('topic:' + t)} -> ${q(node.name)};`);
        }
      } else {
        for (const p of node.parents) edges.push(`  ${q(p)} -> ${q(node.name)};`);
        if (node.kind === 'sink') {
          const t = sinkTopicLabel(node);
          topics.add(t);
          edges.push(`  ${q(node.name)} -> ${q('topic:' + t)};`);
        }
      }
    }
    lines.push('  }');
  }
  for (const t of topics) lines.push(`  ${q('topic:' + t)} [shape=cylinder, label=${q(t)}];`);
  return [...lines, ...edges, '}'].join('\n') + '\n';
}
