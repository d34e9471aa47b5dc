import type { StreamsRuntime } from '../../runtime/streams-runtime.js';
import { argumentError, commonHelp, intFlag, loggerFromFlags, logOptions, parseFlags, positionals, stateDirHelp } from '../args.js';
import type { Command, CliIO } from '../command.js';
import { defaultStateDir, openLog } from '../open-log.js';
import { join, resolve } from 'node:path';
import { stopSignals } from '../signals.js';
import { topologyHelp, topologyOptions, typecheckWanted } from '../topology-flags.js';

const options = {
  ...topologyOptions,
  ...logOptions,
  'until-idle': { type: 'boolean' },
  'idle-ms': { type: 'string' },
} as const;

const defaultIdleMs = 1000;

type Outcome = { kind: 'idle' } | { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'stopped' } | { kind: 'failed'; error: unknown };

export const run: Command = {
  name: 'run',
  options,
  summary: 'run a topology file on the embedded log',
  help: `Usage: tributary run <topology.ts> [flags]

Type-checks and loads the topology file, opens the embedded log and processes records until
Ctrl-C or SIGTERM, which finish the current batch, commit and stop (exit code 0).

Flags:
${stateDirHelp}
  --until-idle         stop once all input is processed and committed and nothing new arrived
                       for --idle-ms, then print a summary (records in, out per topic, dropped)
  --idle-ms <ms>       how long "idle" is, with --until-idle (default ${defaultIdleMs})
${topologyHelp}
${commonHelp}

Examples:
  tributary run topologies/order-stats.ts
  tributary run topologies/order-stats.ts --state-dir /tmp/demo --until-idle
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('run', argv, options);
    const [file] = positionals('run', given, ['<topology.ts>']);
    const idleMs = intFlag('run', 'idle-ms', values['idle-ms'], 1);
    if (idleMs !== undefined && !values['until-idle']) throw argumentError('run', '--idle-ms only applies with --until-idle');
    const logger = loggerFromFlags('run', values['log-level'], io);

    // The runtime and the topology loader are imported only now, so that --help and flag errors are quick.
    const [{ loadTopology }, { StreamsRuntime }] = await Promise.all([import('../load-topology.js'), import('../../runtime/streams-runtime.js')]);
    const { app } = await loadTopology(file!, { cwd: io.cwd, typecheck: typecheckWanted(values), logger });
    const signals = stopSignals((signal) => {
      io.stderr.write(`tributary run: ${signal} again: exiting without a clean shutdown\n`);
      process.exit(1);
    });
    const log = await openLog(values, { cwd: io.cwd });
    try {
      const stateDir = join(resolve(io.cwd, values['state-dir'] ?? defaultStateDir), 'state');
      const runtime = new StreamsRuntime(app, { log, logger, stateDir });
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
