import { parseArgs } from 'node:util';
import { createLogger, type Logger, type LogLevel } from '../runtime/logger.js';
import { ArgumentError } from './errors.js';

/** A command's flags, in util.parseArgs' form. */
export type Options = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string }>>;

/** What parseFlags() returns for those flags: a string or a boolean each, absent when not given. */
export type FlagValues<T extends Options> = { [K in keyof T]?: T[K] extends { type: 'string' } ? string : boolean };

/** Flags every command takes. */
export const commonOptions = {
  help: { type: 'boolean', short: 'h' },
  'log-level': { type: 'string' },
} as const satisfies Options;

/** Flags of the commands that open the log. */
export const logOptions = {
  'state-dir': { type: 'string' },
  brokers: { type: 'string' },
  'kafka-client-id': { type: 'string' },
  'kafka-client': { type: 'string' },
  'sasl-mechanism': { type: 'string' },
  'sasl-username': { type: 'string' },
  ssl: { type: 'boolean' },
  'ssl-ca': { type: 'string' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
  'session-timeout-ms': { type: 'string' },
} as const satisfies Options;

export const commonHelp = `  --log-level <level>  debug | info | warn | error | silent (default info); logs go to stderr
  -h, --help           show this help`;

export const stateDirHelp = `  --state-dir <dir>    where the embedded log lives, as <dir>/log.db, and local state (default ./.tributary)
  --brokers <list>     use Apache Kafka instead: host:port[,host:port...] (or TRIBUTARY_BROKERS)
  --kafka-client-id <id>        client id brokers see (default tributary)
  --kafka-client <name>         kafkajs (default) | platformatic (@platformatic/kafka: KIP-447
                                fencing, one transaction per process); or TRIBUTARY_KAFKA_CLIENT
  --sasl-mechanism <m>          plain | scram-sha-256 | scram-sha-512, with --sasl-username;
                                the password comes from TRIBUTARY_SASL_PASSWORD, never a flag
  --ssl                         TLS to the brokers (also implied by --ssl-ca/--ssl-cert)
  --ssl-ca <file>  --ssl-cert <file>  --ssl-key <file>   PEM files for TLS
  --session-timeout-ms <ms>     consumer group session timeout (default 10000)`;

export function argumentError(command: string, what: string): ArgumentError {
  return new ArgumentError(`${what}. See 'tributary ${command} --help'.`);
}

/** util.parseArgs in strict mode, with its errors reworded as "tributary <cmd>: ... See --help". */
export function parseFlags<T extends Options>(command: string, argv: string[], options: T): { values: FlagValues<T>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values: values as FlagValues<T>, positionals };
  } catch (err) {
    throw argumentError(command, describeParseError(err));
  }
}

function describeParseError(err: unknown): string {
  const { code, message } = err as { code?: string; message: string };
  const flag = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) return `unknown flag ${flag}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
    return message.includes('does not take an argument') ? `${flag} does not take a value` : `${flag} needs a value`;
  }
  return message.split('. ')[0]!;
}

/** Checks the positional arguments against their names, e.g. ['<topology.ts>']. */
export function positionals(command: string, given: string[], names: string[]): string[] {
  if (given.length < names.length) throw argumentError(command, `missing ${names[given.length]}`);
  if (given.length > names.length) throw argumentError(command, `unexpected argument '${given[names.length]}'`);
  return given;
}

export function intFlag(command: string, flag: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw argumentError(command, `--${flag} must be an integer >= ${min}, got '${raw}'`);
  }
  return n;
}

export function choiceFlag<C extends string>(command: string, flag: string, raw: string | undefined, choices: readonly C[]): C | undefined {
  if (raw === undefined) return undefined;
  if (!(choices as readonly string[]).includes(raw)) {
    throw argumentError(command, `--${flag} must be one of ${choices.join(', ')}, got '${raw}'`);
  }
  return raw as C;
}

const levels = ['debug', 'info', 'warn', 'error', 'silent'] as const satisfies readonly LogLevel[];

export function loggerFromFlags(command: string, raw: string | undefined, io: { stderr: NodeJS.WritableStream }): Logger {
  const level = choiceFlag(command, 'log-level', raw, levels) ?? 'info';
  return createLogger({ level, write: (line) => io.stderr.write(line + '\n') });
}
