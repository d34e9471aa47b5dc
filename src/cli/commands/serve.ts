import { commonHelp, intFlag, loggerFromFlags, parseFlags, positionals } from '../args.js';
import type { Command } from '../command.js';
import { stopSignals } from '../signals.js';
import { topologyHelp, topologyOptions, typecheckWanted } from '../topology-flags.js';

const options = {
  ...topologyOptions,
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
} as const;

const defaultPort = 8080;

export const serve: Command = {
  name: 'serve',
  options,
  summary: "answer queries on a topology's projections over HTTP (JSON)",
  help: `Usage: tributary serve <topology.ts> [flags]

Serves the named queries of the topology's projections as JSON, until Ctrl-C or SIGTERM. Only
queries a projection declares (queries: { name: (db, params) => rows }) are served, each against
the live version of its read model, resolved per request (a rebuild's swap is seen at once):

  GET /projections                             the projections, their live version and queries
  GET /projections/<name>                      its versions (live, building, retired)
  GET /projections/<name>/queries/<query>?a=1  { "result": <what the query returned> }

Errors are JSON { "error": "..." } with status 404 (unknown projection or query) or 500.

Flags:
  -p, --port <port>    port to listen on (default ${defaultPort}; 0 picks a free one)
  --host <host>        address to listen on (default 127.0.0.1)
${topologyHelp}
${commonHelp}

Examples:
  tributary serve topologies/bank-accounts.ts --port 8081
  curl 'http://127.0.0.1:8081/projections/balances/queries/byId?id=acct-1'
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('serve', argv, options);
    const [file] = positionals('serve', given, ['<topology.ts>']);
    const port = intFlag('serve', 'port', values.port, 0) ?? defaultPort;
    const logger = loggerFromFlags('serve', values['log-level'], io);
    const [{ loadTopology }, { serveProjections }] = await Promise.all([import('../load-topology.js'), import('../../eventsourcing/projection-http.js')]);
    const { topology } = await loadTopology(file!, { cwd: io.cwd, typecheck: typecheckWanted(values), logger });
    const projections = topology.projections.map((p) => p.projection as import('../../eventsourcing/projection.js').Projection);
    if (projections.length === 0) logger.warn(`'${file}' has no projections: every query will be a 404`);
    const signals = stopSignals(() => process.exit(1));
    try {
      const server = await serveProjections({ projections, port, host: values.host ?? '127.0.0.1' });
      io.stdout.write(`serving ${projections.length} projection(s) (${projections.map((p) => p.name).join(', ')}) on ${server.url}/projections\n`);
      const signal = await signals.received;
      logger.info(`${signal}: stopping`);
      await server.close();
      return 0;
    } finally {
      signals.dispose();
    }
  },
};
