import type { Log } from '../../log/types.js';
import { argumentError, commonHelp, intFlag, loggerFromFlags, logOptions, commonOptions, parseFlags, positionals, stateDirHelp } from '../args.js';
import type { Command, CliIO } from '../command.js';
import { CommandError } from '../errors.js';
import { logExists, openLog } from '../open-log.js';
import { formatTable } from '../table.js';

const options = {
  ...commonOptions,
  ...logOptions,
  create: { type: 'string' },
  partitions: { type: 'string', short: 'p' },
  compact: { type: 'boolean' },
  delete: { type: 'string' },
} as const;

export const topics: Command = {
  name: 'topics',
  options,
  summary: 'list, create or delete topics of the embedded log',
  help: `Usage: tributary topics [flags]
       tributary topics --create <name> [--partitions N] [--compact] [flags]
       tributary topics --delete <name> [flags]

Without --create or --delete, lists the topics with their partitions, cleanup policy and
record count.

Flags:
  --create <name>      create a topic
  -p, --partitions <n> its partition count, with --create (default 1)
  --compact            make it a compacted topic (cleanup policy compact), with --create
  --delete <name>      delete a topic and its records
${stateDirHelp}
${commonHelp}
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('topics', argv, options);
    positionals('topics', given, []);
    const logger = loggerFromFlags('topics', values['log-level'], io);
    if (values.create !== undefined && values.delete !== undefined) throw argumentError('topics', '--create and --delete cannot be used together');
    const partitions = intFlag('topics', 'partitions', values.partitions, 1);
    if (values.create === undefined) {
      if (partitions !== undefined) throw argumentError('topics', '--partitions only applies with --create');
      if (values.compact) throw argumentError('topics', '--compact only applies with --create');
    }
    for (const name of [values.create, values.delete]) {
      if (name !== undefined && name.trim() === '') throw argumentError('topics', 'the topic name is empty');
    }

    if (values.create === undefined && values.delete === undefined && !logExists(values, io.cwd)) {
      io.stderr.write('no topics (no embedded log in the state dir yet)\n');
      return 0;
    }
    const log = await openLog(values, { cwd: io.cwd, mustExist: values.delete !== undefined });
    try {
      if (values.create !== undefined) {
        const name = values.create;
        if ((await log.admin.listTopics()).includes(name)) throw new CommandError(`topic '${name}' already exists`);
        await log.admin.createTopics([{ name, partitions: partitions ?? 1, cleanupPolicy: values.compact ? 'compact' : 'delete' }]);
        logger.info(`created topic '${name}'`, { partitions: partitions ?? 1, cleanupPolicy: values.compact ? 'compact' : 'delete' });
      } else if (values.delete !== undefined) {
        const name = values.delete;
        if (!(await log.admin.listTopics()).includes(name)) throw new CommandError(`no topic '${name}'`);
        await log.admin.deleteTopics([name]);
        logger.info(`deleted topic '${name}'`);
      } else {
        await list(log, io);
      }
      return 0;
    } finally {
      await log.close();
    }
  },
};

async function list(log: Log, io: CliIO): Promise<void> {
  const names = (await log.admin.listTopics()).sort();
  if (names.length === 0) {
    io.stderr.write('no topics\n');
    return;
  }
  const descriptions = await log.admin.describeTopics(names);
  const rows: (string | number)[][] = [];
  for (const d of descriptions) {
    const records = (await log.admin.offsets(d.name)).reduce((n, p) => n + (p.high - p.low), 0);
    rows.push([d.name, d.partitions, d.cleanupPolicy, d.internal ? 'yes' : 'no', records]);
  }
  io.stdout.write(formatTable(['TOPIC', 'PARTITIONS', 'CLEANUP', 'INTERNAL', 'RECORDS'], rows));
}
