import { argumentError, commonHelp, loggerFromFlags, logOptions, parseFlags, positionals, stateDirHelp } from '../args.js';
import type { Command } from '../command.js';
import { openLog } from '../open-log.js';
import { stopSignals } from '../signals.js';
import { topologyHelp, topologyOptions, typecheckWanted } from '../topology-flags.js';

const options = {
  ...topologyOptions,
  ...logOptions,
  keep: { type: 'boolean' },
  from: { type: 'string' },
} as const;

export const rebuild: Command = {
  name: 'rebuild',
  options,
  summary: 'rebuild a projection beside the live one and swap it in',
  help: `Usage: tributary rebuild <topology.ts> <projection> [flags]

Builds a new version of a projection's read model from offset 0 of its topic, beside the live
version, which keeps serving queries. It follows the live version until it has caught up, then
swaps atomically: queries never fail and never see a half-built view. Works while the application
runs (its projection moves to the new version at the swap) and while it is stopped. Progress
(records, records/s, ETA) goes to stderr. Interrupted or killed, a rebuild resumes where it
stopped when run again. Handlers see meta.replaying = true for every event a rebuild applies.

Flags:
${stateDirHelp}
  --keep               keep the old version after the swap (default: drop it)
  --from <datetime>    replay only from this time (ISO 8601, e.g. 2026-01-31T00:00:00Z), for
                       projections that declare replayFromTime: true
${topologyHelp}
${commonHelp}

Examples:
  tributary rebuild topologies/bank-accounts.ts balances
  tributary rebuild topologies/orders.ts recent-orders --from 2026-01-01T00:00:00Z --keep
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('rebuild', argv, options);
    const [file, name] = positionals('rebuild', given, ['<topology.ts>', '<projection>']);
    let from: Date | undefined;
    if (values.from !== undefined) {
      from = new Date(values.from);
      if (Number.isNaN(from.getTime())) throw argumentError('rebuild', `--from must be a date and time such as 2026-01-31T00:00:00Z, got '${values.from}'`);
    }
    const logger = loggerFromFlags('rebuild', values['log-level'], io);
    const [{ loadTopology }, { rebuildProjection }, { progressWriter, formatDuration }] = await Promise.all([
      import('../load-topology.js'),
      import('../../eventsourcing/rebuild.js'),
      import('../../eventsourcing/rebuild-progress.js'),
    ]);
    const { app, topology } = await loadTopology(file!, { cwd: io.cwd, typecheck: typecheckWanted(values), logger });
    const def = topology.projections.find((p) => p.projection.name === name);
    if (def === undefined) {
      const names = topology.projections.map((p) => p.projection.name);
      throw argumentError('rebuild', `'${file}' has no projection '${name}' (${names.length > 0 ? `projections: ${names.join(', ')}` : 'it has no projections'})`);
    }
    const projection = def.projection as import('../../eventsourcing/projection.js').Projection;
    const log = await openLog(values, { cwd: io.cwd });
    const abort = new AbortController();
    const signals = stopSignals(() => process.exit(1));
    void signals.received.then((signal) => {
      logger.info(`${signal}: stopping the rebuild after the batch in progress; run it again to resume`);
      abort.abort();
    });
    const progress = progressWriter(io.stderr as NodeJS.WritableStream & { isTTY?: boolean });
    try {
      const result = await rebuildProjection({
        projection,
        source: { topic: def.topic, keySerde: def.keySerde, valueSerde: def.valueSerde },
        log,
        logger,
        errors: app.config.errors,
        keep: values.keep === true,
        from,
        onProgress: (p) => progress.update(p),
        signal: abort.signal,
      });
      progress.done();
      io.stdout.write(
        `${name}: version ${result.version} is live (replaced version ${result.replaced}${result.dropped ? ', dropped' : ', kept'}); ` +
          `${result.resumed ? 'resumed, ' : ''}replayed ${result.applied} record(s)${result.skipped > 0 ? `, skipped ${result.skipped}` : ''} in ${formatDuration(result.elapsedMs)}\n`,
      );
      return 0;
    } finally {
      progress.done();
      signals.dispose();
      await log.close();
    }
  },
};
