import { join, resolve } from 'node:path';
import { argumentError, commonHelp, loggerFromFlags, logOptions, parseFlags, positionals, stateDirHelp } from '../args.js';
import type { Command } from '../command.js';
import { brokersFrom, defaultStateDir, openLog } from '../open-log.js';
import { topologyHelp, topologyOptions, typecheckWanted } from '../topology-flags.js';

const options = {
  ...topologyOptions,
  ...logOptions,
  'to-earliest': { type: 'boolean' },
  'to-datetime': { type: 'string' },
  'by-duration': { type: 'string' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
} as const;

export const reset: Command = {
  name: 'reset',
  options,
  summary: 'reset an application so its next run reprocesses its input (the application reset tool)',
  help: `Usage: tributary reset <topology.ts> [--to-earliest | --to-datetime <ISO> | --by-duration <d>] [flags]

Resets the application so that its next run reprocesses its input from a point, with empty state,
and its projections rebuild from that point. Prints the plan, then (unless --dry-run) what it did:
  - input offsets: the application group's committed offsets of its source topics go to the
    earliest offsets, or to the first record at or after a time (found by a binary search that
    assumes timestamps mostly non-decreasing along a partition). The commands topic of an
    event-sourced aggregate is kept where it is: its commands were decided already, and the
    aggregate is rebuilt from its events topic, which a reset never touches.
  - internal topics (<app>-...-repartition, <app>-...-changelog) are deleted; the next start
    creates them again. Output topics and events topics are never touched.
  - local state <state-dir>/state/<applicationId> is removed (on Kafka, only this machine's: run
    reset with each instance's --state-dir, or remove theirs).
  - projections: a new empty version of each read model starting at the reset point is swapped
    in and the older versions are dropped. A reset to a time is refused for a projection that
    does not declare replayFromTime: true (its view needs every event since offset 0).
It refuses while an instance of the application runs (a live member in its group or a projection's).
Run it again to finish a reset that failed part way.

Flags:
  --to-earliest        reset to the earliest offsets (the default)
  --to-datetime <ISO>  reset to a time, e.g. 2026-01-31T00:00:00Z
  --by-duration <d>    reset to now minus a duration: ISO 8601 (P1DT2H, PT90M) or 90m, 2h, 7d, 30s
  --dry-run            print the plan and change nothing
  --force              Kafka: wait (up to 2 minutes) for members of stopped or killed instances to
                       leave the group (their session times out) instead of refusing at once. It
                       cannot remove members of instances that still run: stop them first.
                       Embedded log: members of dead processes never block a reset, and a live
                       process always does (stop it: its pid is in the message); --force changes nothing.
${stateDirHelp}
${topologyHelp}
${commonHelp}

Examples:
  tributary reset topologies/order-stats.ts --dry-run
  tributary reset topologies/order-stats.ts --to-datetime 2026-01-31T00:00:00Z
  tributary reset topologies/bank-accounts.ts --brokers localhost:9092 --by-duration 2h
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('reset', argv, options);
    const [file] = positionals('reset', given, ['<topology.ts>']);
    const chosen = (['to-earliest', 'to-datetime', 'by-duration'] as const).filter((f) => values[f] !== undefined && values[f] !== false);
    if (chosen.length > 1) throw argumentError('reset', `give one of --to-earliest, --to-datetime, --by-duration, not ${chosen.map((f) => `--${f}`).join(' and ')}`);
    let at: Date | undefined;
    if (values['to-datetime'] !== undefined) {
      at = new Date(values['to-datetime']);
      if (Number.isNaN(at.getTime())) throw argumentError('reset', `--to-datetime must be a date and time such as 2026-01-31T00:00:00Z, got '${values['to-datetime']}'`);
    }
    if (values['by-duration'] !== undefined) {
      const ms = parseDuration(values['by-duration']);
      if (ms === undefined) throw argumentError('reset', `--by-duration must be a duration such as PT90M, P1DT2H, 90m, 2h or 7d, got '${values['by-duration']}'`);
      at = new Date(Date.now() - ms);
    }
    const logger = loggerFromFlags('reset', values['log-level'], io);
    const [{ loadTopology }, { planReset, executeReset, describeResetPlan, runningGroups }] = await Promise.all([import('../load-topology.js'), import('../../eventsourcing/app-reset.js')]);
    const { topology } = await loadTopology(file!, { cwd: io.cwd, typecheck: typecheckWanted(values), logger });
    const log = await openLog(values, { cwd: io.cwd });
    try {
      const stateRoot = resolve(io.cwd, values['state-dir'] ?? defaultStateDir);
      const plan = await planReset({ topology, log, stateDir: join(stateRoot, 'state'), point: at === undefined ? { kind: 'earliest' } : { kind: 'time', at } });
      const brokers = brokersFrom(values);
      const where = brokers !== undefined ? `Kafka (${brokers})` : `the embedded log ${join(stateRoot, 'log.db')}`;
      io.stdout.write(describeResetPlan(plan, where));
      if (values['dry-run']) {
        const running = await runningGroups(plan, log);
        if (running === undefined) io.stdout.write('  (whether an instance runs is checked when the reset is carried out)\n');
        else if (running.length > 0) io.stdout.write(`  REFUSED: group(s) ${running.join(', ')} have a live member: the application runs; stop it first\n`);
        const refused = plan.refusals.length > 0 || (running?.length ?? 0) > 0;
        io.stdout.write(refused ? 'Dry run: this reset would be refused (see above); nothing was changed.\n' : 'Dry run: nothing was changed.\n');
        return refused ? 1 : 0;
      }
      io.stdout.write('Done:\n');
      await executeReset(plan, { log, topology, force: values.force === true, onStep: (line) => io.stdout.write(`  ${line}\n`) });
      io.stdout.write(`'${plan.applicationId}' is reset: its next run starts from the reset point.\n`);
      return 0;
    } finally {
      await log.close();
    }
  },
};

/** Milliseconds of `PnDTnHnMnS` (ISO 8601, days and smaller) or `90m`, `2h`, `7d`, `30s`, `500ms`; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const short = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (short !== null) return Number(short[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[short[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  const iso = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(text.trim());
  if (iso === null || text.trim().toUpperCase() === 'P' || /T$/i.test(text.trim())) return undefined;
  const [, d, h, m, s] = iso;
  if (d === undefined && h === undefined && m === undefined && s === undefined) return undefined;
  return (Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0)) * 1000;
}
