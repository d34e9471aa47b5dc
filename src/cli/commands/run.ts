import type { OpsServer } from '../../ops/http-server.js';
import type { StreamsRuntime } from '../../runtime/streams-runtime.js';
import { argumentError, commonHelp, intFlag, loggerFromFlags, logOptions, parseFlags, positionals, stateDirHelp } from '../args.js';
import type { Command, CliIO } from '../command.js';
import { defaultStateDir, openLog } from '../open-log.js';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { stopSignals } from '../signals.js';
import { topologyHelp, topologyOptions, typecheckWanted } from '../topology-flags.js';

const options = {
  ...topologyOptions,
  ...logOptions,
  'until-idle': { type: 'boolean' },
  'idle-ms': { type: 'string' },
  'http-port': { type: 'string' },
  'http-host': { type: 'string' },
  'advertised-endpoint': { type: 'string' },
} as const;

const defaultIdleMs = 1000;

type Outcome = { kind: 'idle' } | { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'stopped' } | { kind: 'failed'; error: unknown };

export const run: Command = {
  name: 'run',
  options,
  summary: 'run a topology file on the embedded log or Apache Kafka',
  help: `Usage: tributary run <topology.ts> [flags]

Type-checks and loads the topology file, opens the embedded log and processes records until
Ctrl-C or SIGTERM, which finish the current batch, commit and stop (exit code 0).

Flags:
${stateDirHelp}
  --until-idle         stop once all input is processed and committed and nothing new arrived
                       for --idle-ms, then print a summary (records in, out per topic, dropped)
  --idle-ms <ms>       how long "idle" is, with --until-idle (default ${defaultIdleMs})
  --http-port <port>   serve /metrics (Prometheus), /healthz, /ready and /stores/<store>/... on this
                       port (0 picks a free one; the address is logged). Off without it
  --http-host <host>   interface for --http-port (default 127.0.0.1: the endpoints have no authentication)
  --advertised-endpoint <host:port>
                       where other instances reach this one's --http-port for interactive
                       queries (default: the --http-host and port; or TRIBUTARY_ADVERTISED_ENDPOINT);
                       a query for a key another instance owns is forwarded there
${topologyHelp}
${commonHelp}

Examples:
  tributary run topologies/order-stats.ts
  tributary run topologies/order-stats.ts --state-dir /tmp/demo --until-idle
  tributary run topologies/order-stats.ts --http-port 9464    # then curl 127.0.0.1:9464/metrics
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('run', argv, options);
    const [file] = positionals('run', given, ['<topology.ts>']);
    const idleMs = intFlag('run', 'idle-ms', values['idle-ms'], 1);
    if (idleMs !== undefined && !values['until-idle']) throw argumentError('run', '--idle-ms only applies with --until-idle');
    const httpPort = intFlag('run', 'http-port', values['http-port'], 0);
    if (httpPort !== undefined && httpPort > 65535) throw argumentError('run', `--http-port must be at most 65535, got '${httpPort}'`);
    if (values['http-host'] !== undefined && httpPort === undefined) throw argumentError('run', '--http-host only applies with --http-port');
    const advertised = values['advertised-endpoint'] ?? process.env.TRIBUTARY_ADVERTISED_ENDPOINT;
    if (values['advertised-endpoint'] !== undefined && httpPort === undefined) throw argumentError('run', '--advertised-endpoint only applies with --http-port');
    if (advertised !== undefined && !/^(\[[0-9a-fA-F:]+\]|[^\s:/]+):\d+$/.test(advertised)) {
      throw argumentError('run', `--advertised-endpoint must be host:port, got '${advertised}'`);
    }
    const logger = loggerFromFlags('run', values['log-level'], io);

    // The runtime and the topology loader are imported only now, so that --help and flag errors are quick.
    const [{ loadTopology }, { StreamsRuntime }] = await Promise.all([import('../load-topology.js'), import('../../runtime/streams-runtime.js')]);
    const { app } = await loadTopology(file!, { cwd: io.cwd, typecheck: typecheckWanted(values), logger });
    const signals = stopSignals((signal) => {
      io.stderr.write(`tributary run: ${signal} again: exiting without a clean shutdown\n`);
      process.exit(1);
    });
    const log = await openLog(values, { cwd: io.cwd });
    let ops: OpsServer | undefined;
    try {
      const stateDir = join(resolve(io.cwd, values['state-dir'] ?? defaultStateDir), 'state');
      // With --http-port, the runtime's group consumer advertises this instance's query endpoint,
      // so any instance can forward a store query to the owner of the key's task.
      let endpoint: string | undefined;
      const { advertiseEndpoint } = await import('../../ops/iq-metadata.js');
      const advertisedLog = httpPort !== undefined ? advertiseEndpoint(log, () => endpoint ?? '127.0.0.1:0', { groupId: app.applicationId }) : undefined;
      const runtime = new StreamsRuntime(app, { log: advertisedLog?.log ?? log, logger, stateDir });
      // before start(), so that /ready answers 503 while tasks restore
      if (httpPort !== undefined && advertisedLog !== undefined) {
        const [{ startOpsServer }, { IqRouter }] = await Promise.all([import('../../ops/http-server.js'), import('../../ops/iq-router.js')]);
        const router = new IqRouter({ runtime, endpoint: () => endpoint ?? '127.0.0.1:0', groupView: advertisedLog.groupView });
        ops = await startOpsServer(runtime, { port: httpPort, host: values['http-host'], logger, stores: router.storeQueryOptions() });
        const host = values['http-host'] ?? '127.0.0.1';
        endpoint = advertised ?? `${host === '0.0.0.0' || host === '::' ? hostname() : host}:${ops.port}`;
      }
      const stopped = runtime.stopped.then(
        (): Outcome => ({ kind: 'stopped' }),
        (error: unknown): Outcome => ({ kind: 'failed', error }),
      );
      const signalled = signals.received.then((signal): Outcome => ({ kind: 'signal', signal }));
      await runtime.start();
      logger.info(`running '${app.applicationId}'`, { file, until: values['until-idle'] ? 'idle' : 'Ctrl-C' });

      const waits: Promise<Outcome>[] = [stopped, signalled];
      if (values['until-idle']) {
        waits.push(
          runtime.waitUntilIdle(idleMs ?? defaultIdleMs).then(
            (): Outcome => ({ kind: 'idle' }),
            (error: unknown): Outcome => ({ kind: 'failed', error }),
          ),
        );
      }
      const outcome = await Promise.race(waits);
      if (outcome.kind === 'failed') throw outcome.error;
      if (outcome.kind === 'signal') logger.info(`${outcome.signal}: stopping '${app.applicationId}'`);
      await runtime.close();
      if (outcome.kind === 'idle') printSummary(io, app.applicationId, runtime.stats());
      return 0;
    } finally {
      signals.dispose();
      await ops?.close();
      await log.close();
    }
  },
};

function printSummary(io: CliIO, applicationId: string, stats: ReturnType<StreamsRuntime['stats']>): void {
  const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  const detail = (counts: Record<string, number>) => {
    const parts = Object.entries(counts).map(([name, n]) => `${name}: ${n}`);
    return parts.length > 0 ? ` (${parts.join(', ')})` : '';
  };
  io.stdout.write(
    `${applicationId}: idle, stopped\n` +
      `  records in:  ${stats.recordsIn}\n` +
      `  records out: ${total(stats.recordsOut)}${detail(stats.recordsOut)}\n` +
      `  dropped:     ${total(stats.dropped)}${detail(stats.dropped)}\n` +
      `  restored:    ${stats.restored} changelog record(s) into local state\n`,
  );
}
