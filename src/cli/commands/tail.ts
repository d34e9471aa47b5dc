import type { Log, TopicPartition } from '../../log/types.js';
import type { Logger } from '../../runtime/logger.js';
import { argumentError, commonHelp, commonOptions, intFlag, loggerFromFlags, logOptions, parseFlags, positionals, stateDirHelp } from '../args.js';
import type { Command, CliIO } from '../command.js';
import { CommandError } from '../errors.js';
import { openLog } from '../open-log.js';
import { formatRecordLine, type OutputFormat } from '../record-json.js';
import { readSerdeFlag } from '../serde-flags.js';
import { stopSignals } from '../signals.js';

const options = {
  ...commonOptions,
  ...logOptions,
  'from-beginning': { type: 'boolean' },
  max: { type: 'string', short: 'n' },
  'exit-at-end': { type: 'boolean' },
  'key-serde': { type: 'string' },
  'value-serde': { type: 'string' },
} as const;

/** How long one poll waits for new records; also how quickly Ctrl-C is noticed. */
const pollMs = 200;

export const tail: Command = {
  name: 'tail',
  options,
  summary: 'print the records of a topic as JSON lines, following new ones',
  help: `Usage: tributary tail <topic> [flags]

Prints one JSON line per record to stdout:
  {"topic":"orders","partition":0,"offset":0,"timestamp":1700000000000,"key":"c1","value":{"amount":5},"headers":{"source":"cli"}}
and keeps following new records until Ctrl-C, --max or --exit-at-end. Reads every partition
directly (no consumer group, nothing is committed).

Flags:
  --from-beginning       start at the oldest record (default: only records arriving from now on)
  -n, --max <n>          stop after printing n records
  --exit-at-end          stop once every partition reaches the end offset it had at start
  --key-serde <serde>    auto | string | json | int32 | float64 | bytes (default string)
  --value-serde <serde>  same choices (default auto: JSON when the bytes parse as JSON, else text);
                         bytes print as base64
${stateDirHelp}
${commonHelp}

Example:
  tributary tail orders --from-beginning --exit-at-end | jq .value
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('tail', argv, options);
    const [topic] = positionals('tail', given, ['<topic>']);
    const max = intFlag('tail', 'max', values.max, 1);
    const format: OutputFormat = {
      keySerde: readSerdeFlag('tail', 'key-serde', values['key-serde'], 'string'),
      valueSerde: readSerdeFlag('tail', 'value-serde', values['value-serde'], 'auto'),
    };
    if (topic!.trim() === '') throw argumentError('tail', 'the topic name is empty');
    const logger = loggerFromFlags('tail', values['log-level'], io);

    const log = await openLog(values, { cwd: io.cwd, mustExist: true });
    const signals = stopSignals(() => process.exit(0));
    try {
      const followOptions = { fromBeginning: values['from-beginning'] ?? false, max, exitAtEnd: values['exit-at-end'] ?? false, format, logger };
      return await follow(log, topic!, followOptions, io, signals.received);
    } finally {
      signals.dispose();
      await log.close();
    }
  },
};

interface FollowOptions {
  fromBeginning: boolean;
  max: number | undefined;
  exitAtEnd: boolean;
  format: OutputFormat;
  logger: Logger;
}

async function follow(log: Log, topic: string, options: FollowOptions, io: CliIO, stop: Promise<unknown>): Promise<number> {
  if (!(await log.admin.listTopics()).includes(topic)) throw new CommandError(`no topic '${topic}' (see 'tributary topics')`);
  let stopping = false;
  // A reader that went away (`tail ... | head`) ends the tail quietly, like Ctrl-C.
  const readerGone = new Promise<void>((resolve) => {
    io.stdout.on('error', () => resolve());
    io.stdout.on('close', () => resolve());
  });
  const ended = Promise.race([stop, readerGone]);
  void ended.then(() => (stopping = true));

  const offsets = await log.admin.offsets(topic);
  const end = new Map(offsets.map((o) => [o.partition, o.high]));
  const consumer = log.consumer({});
  try {
    const partitions: TopicPartition[] = offsets.map((o) => ({ topic, partition: o.partition }));
    consumer.assign(partitions);
    for (const o of offsets) consumer.seek({ topic, partition: o.partition }, options.fromBeginning ? o.low : o.high);
    // With --exit-at-end a partition is done once it reaches its end offset from the start.
    const pending = new Set(offsets.filter((o) => consumer.position({ topic, partition: o.partition }) < o.high).map((o) => o.partition));
    if (options.exitAtEnd) consumer.pause(partitions.filter((tp) => !pending.has(tp.partition)));
    options.logger.debug(`tailing '${topic}'`, { from: Object.fromEntries(partitions.map((tp) => [tp.partition, consumer.position(tp)])) });

    let printed = 0;
    while (!stopping && !(options.exitAtEnd && pending.size === 0)) {
      const records = await consumer.poll(pollMs);
      let out = '';
      for (const r of records) {
        if (options.exitAtEnd && r.offset >= end.get(r.partition)!) continue;
        out += formatRecordLine(r, options.format) + '\n';
        printed++;
        if (options.max !== undefined && printed >= options.max) {
          stopping = true;
          break;
        }
      }
      if (options.exitAtEnd) {
        for (const partition of pending) {
          const tp = { topic, partition };
          if (consumer.position(tp) >= end.get(partition)!) {
            pending.delete(partition);
            consumer.pause([tp]);
          }
        }
      }
      if (out !== '' && !io.stdout.write(out)) await drained(io.stdout, ended);
    }
    return 0;
  } finally {
    await consumer.close();
  }
}

function drained(stream: NodeJS.WritableStream, stop: Promise<unknown>): Promise<unknown> {
  return Promise.race([new Promise((resolve) => stream.once('drain', resolve)), stop]);
}
