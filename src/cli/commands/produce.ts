import { createInterface } from 'node:readline';
import type { Log, OutgoingRecord } from '../../log/types.js';
import { argumentError, commonHelp, commonOptions, intFlag, loggerFromFlags, logOptions, parseFlags, positionals, stateDirHelp } from '../args.js';
import type { Logger } from '../../runtime/logger.js';
import type { Command } from '../command.js';
import { CommandError } from '../errors.js';
import { openLog } from '../open-log.js';
import { BadLineError, parseRecordLine, type LineFormat } from '../record-json.js';
import { serdeFlagHelp, writeSerdeFlag } from '../serde-flags.js';

const options = {
  ...commonOptions,
  ...logOptions,
  'key-serde': { type: 'string' },
  'value-serde': { type: 'string' },
  partitions: { type: 'string', short: 'p' },
  'batch-size': { type: 'string' },
} as const;

const defaultBatchSize = 1000;

export const produce: Command = {
  name: 'produce',
  options,
  summary: 'write JSON lines from stdin to a topic',
  help: `Usage: tributary produce <topic> [flags] < records.jsonl

Reads one record per line from stdin and appends them to the topic, creating it if needed:
  {"key": "c1", "value": {"amount": 5}, "timestamp": 1700000000000, "headers": {"source": "cli"}, "partition": 0}
Only "key" or "value" is required; a missing timestamp is now, a missing partition is chosen by key.
A line that is not such an object (e.g. 42 or {"amount": 5}) is a value with a null key.
Blank lines are skipped. Records are written in batches; a bad line stops the command with its
line number, and nothing of its batch is written. The count written goes to stderr.

Flags:
  --key-serde <serde>    ${serdeFlagHelp} (default string)
  --value-serde <serde>  ${serdeFlagHelp} (default json)
  -p, --partitions <n>   partition count when the topic is created here (default 1)
  --batch-size <n>       lines per atomic write (default ${defaultBatchSize})
${stateDirHelp}
${commonHelp}

Example:
  echo '{"key":"c1","value":{"amount":5}}' | tributary produce orders
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('produce', argv, options);
    const [topic] = positionals('produce', given, ['<topic>']);
    if (topic!.trim() === '') throw argumentError('produce', 'the topic name is empty');
    const keySerde = writeSerdeFlag('produce', 'key-serde', values['key-serde'], 'string');
    const valueSerde = writeSerdeFlag('produce', 'value-serde', values['value-serde'], 'json');
    const partitions = intFlag('produce', 'partitions', values.partitions, 1);
    const batchSize = intFlag('produce', 'batch-size', values['batch-size'], 1) ?? defaultBatchSize;
    const logger = loggerFromFlags('produce', values['log-level'], io);

    const log = await openLog(values, { cwd: io.cwd });
    try {
      const format: LineFormat = { topic: topic!, partitions: await ensureTopic(log, topic!, partitions, logger), keySerde, valueSerde, now: 0 };
      if ((io.stdin as { isTTY?: boolean }).isTTY) io.stderr.write(`reading records for '${topic}' from stdin, one JSON per line (Ctrl-D to end)\n`);
      const producer = log.producer();
      let written = 0;
      let batch: OutgoingRecord[] = [];
      let batchFirstLine = 1;
      let lineNo = 0;
      const flush = async () => {
        if (batch.length > 0) await producer.send(batch);
        written += batch.length;
        batch = [];
        batchFirstLine = lineNo + 1;
      };
      try {
        for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity })) {
          lineNo++;
          if (line.trim() === '') continue;
          try {
            format.now = Date.now();
            batch.push(parseRecordLine(line, format));
          } catch (err) {
            if (!(err instanceof BadLineError)) throw err;
            // Earlier batches are in the log; the bad line's batch was never sent.
            const outcome = written === 0 ? 'nothing was written' : `${written} record(s) before line ${batchFirstLine} were written to '${topic}', nothing from line ${batchFirstLine} on`;
            throw new CommandError(`line ${lineNo}: ${err.message}\n${outcome}`);
          }
          if (batch.length >= batchSize) await flush();
        }
        await flush();
      } finally {
        await producer.close();
      }
      io.stderr.write(`${written} record(s) written to '${topic}'\n`);
      return 0;
    } finally {
      await log.close();
    }
  },
};

/** Creates the topic when it is missing; returns its partition count. */
async function ensureTopic(log: Log, topic: string, partitions: number | undefined, logger: Logger): Promise<number> {
  if (!(await log.admin.listTopics()).includes(topic)) {
    await log.admin.createTopics([{ name: topic, partitions: partitions ?? 1 }]);
    logger.info(`created topic '${topic}' with ${partitions ?? 1} partition(s)`);
    return partitions ?? 1;
  }
  const [description] = await log.admin.describeTopics([topic]);
  if (partitions !== undefined && description!.partitions !== partitions) {
    throw new CommandError(`topic '${topic}' already exists with ${description!.partitions} partition(s), not ${partitions}`);
  }
  return description!.partitions;
}
