import { commonHelp, loggerFromFlags, logOptions, parseFlags, positionals, stateDirHelp } from '../args.js';
import type { Command } from '../command.js';
import { openLog } from '../open-log.js';
import { formatTable } from '../table.js';
import { topologyHelp, topologyOptions, typecheckWanted } from '../topology-flags.js';

const options = {
  ...topologyOptions,
  ...logOptions,
  json: { type: 'boolean' },
} as const;

export const lag: Command = {
  name: 'lag',
  options,
  summary: "show an application's consumer lag per partition and per task owner",
  help: `Usage: tributary lag <topology.ts> [flags]

Prints the consumer lag of the topology's application (its consumer group is the application
id): for each partition it reads, its repartition topics included, the log end offset (Kafka: the
last stable offset), the group's committed offset, the lag between them, the task that owns the
partition and the group member running that task. Then the lag per owner. Works whether the
application runs or not; on Kafka the owners come from the group's description, on the embedded
log the owner is the one running instance (or none).

Flags:
  --json               print { application, total, partitions: [...], owners: [...] } instead
${stateDirHelp}
${topologyHelp}
${commonHelp}

Examples:
  tributary lag topologies/order-stats.ts
  tributary lag topologies/order-stats.ts --brokers kafka:9092 --json
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('lag', argv, options);
    const [file] = positionals('lag', given, ['<topology.ts>']);
    const logger = loggerFromFlags('lag', values['log-level'], io);
    const [{ loadTopology }, { consumerGroupLag, ownersByPartition }] = await Promise.all([import('../load-topology.js'), import('../../ops/lag.js')]);
    const { app, topology } = await loadTopology(file!, { cwd: io.cwd, typecheck: typecheckWanted(values), logger });
    const log = await openLog(values, { cwd: io.cwd, mustExist: true });
    try {
      const group = app.applicationId;
      const lags = await consumerGroupLag(log, group, topology);
      const description = log.admin.describeGroup === undefined ? undefined : await log.admin.describeGroup(group);
      const ownerOf = ownersByPartition(description);
      const rows = lags.map((l) => {
        const owner = ownerOf(l.topic, l.partition);
        const name = owner === undefined ? '-' : log.kind === 'kafka' ? `${owner.host} ${owner.memberId}` : owner.host;
        return { ...l, owner: name };
      });
      const total = rows.reduce((n, r) => n + r.lag, 0);
      const byOwner = new Map<string, { tasks: Set<string>; partitions: number; lag: number }>();
      for (const r of rows) {
        const o = byOwner.get(r.owner) ?? { tasks: new Set(), partitions: 0, lag: 0 };
        o.tasks.add(r.task);
        o.partitions++;
        o.lag += r.lag;
        byOwner.set(r.owner, o);
      }
      const owners = [...byOwner].map(([owner, o]) => ({ owner, tasks: [...o.tasks].sort(compareTaskIds), partitions: o.partitions, lag: o.lag }));
      if (values.json) {
        const partitions = rows.map((r) => ({ topic: r.topic, partition: r.partition, task: r.task, logEnd: r.logEnd, committed: r.committed ?? null, lag: r.lag, owner: r.owner === '-' ? null : r.owner }));
        io.stdout.write(JSON.stringify({ application: group, total, partitions, owners: owners.map((o) => ({ ...o, owner: o.owner === '-' ? null : o.owner })) }) + '\n');
        return 0;
      }
      if (rows.length === 0) {
        io.stdout.write(`${group}: none of its topics exists yet\n`);
        return 0;
      }
      io.stdout.write(
        formatTable(
          ['TOPIC', 'PARTITION', 'TASK', 'LOG-END', 'COMMITTED', 'LAG', 'OWNER'],
          rows.map((r) => [r.topic, r.partition, r.task, r.logEnd, r.committed ?? '-', r.lag, r.owner]),
        ),
      );
      io.stdout.write('\n');
      io.stdout.write(formatTable(['OWNER', 'TASKS', 'PARTITIONS', 'LAG'], owners.map((o) => [o.owner, o.tasks.join(','), o.partitions, o.lag])));
      io.stdout.write(`\n${group}: total lag ${total}${description !== undefined && description.members.length === 0 ? ' (no live member: the application is not running)' : ''}\n`);
      return 0;
    } finally {
      await log.close();
    }
  },
};

/** `0_2` before `0_10`, and sub-topology first. */
function compareTaskIds(a: string, b: string): number {
  const [as, ap] = a.split('_').map(Number) as [number, number];
  const [bs, bp] = b.split('_').map(Number) as [number, number];
  return as - bs || ap - bp;
}
