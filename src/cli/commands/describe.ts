import { choiceFlag, commonHelp, loggerFromFlags, parseFlags, positionals } from '../args.js';
import type { Command } from '../command.js';
import { topologyHelp, topologyOptions, typecheckWanted } from '../topology-flags.js';

const formats = ['text', 'mermaid', 'dot'] as const;

const options = {
  ...topologyOptions,
  format: { type: 'string', short: 'f' },
} as const;

export const describe: Command = {
  name: 'describe',
  options,
  summary: 'print the topology of a topology file (text, Mermaid or DOT)',
  help: `Usage: tributary describe <topology.ts> [flags]

Loads the topology file and prints its sub-topologies, processors, and the topics it reads
and writes. Nothing is started and no log is opened.

Flags:
  -f, --format <fmt>   text | mermaid | dot (default text)
${topologyHelp}
${commonHelp}

Examples:
  tributary describe topologies/order-stats.ts
  tributary describe topologies/order-stats.ts --format dot | dot -Tsvg > topology.svg
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('describe', argv, options);
    const [file] = positionals('describe', given, ['<topology.ts>']);
    const format = choiceFlag('describe', 'format', values.format, formats) ?? 'text';
    const logger = loggerFromFlags('describe', values['log-level'], io);
    const { loadTopology } = await import('../load-topology.js');
    const { topology } = await loadTopology(file!, { cwd: io.cwd, typecheck: typecheckWanted(values), logger });
    const text = topology.describe(format);
    io.stdout.write(text.endsWith('\n') ? text : text + '\n');
    return 0;
  },
};
