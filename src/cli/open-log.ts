import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Log } from '../log/types.js';
import type { KafkaLogOptions } from '../log/kafka/options.js';
import type { PlatformaticSaslOptions } from '../log/platformatic/options.js';
import { ArgumentError, CommandError } from './errors.js';

export interface LogFlags {
  'state-dir'?: string | undefined;
  brokers?: string | undefined;
  'kafka-client-id'?: string | undefined;
  'kafka-client'?: string | undefined;
  'sasl-mechanism'?: string | undefined;
  'sasl-username'?: string | undefined;
  ssl?: boolean | undefined;
  'ssl-ca'?: string | undefined;
  'ssl-cert'?: string | undefined;
  'ssl-key'?: string | undefined;
  'session-timeout-ms'?: string | undefined;
}

export interface OpenLogOptions {
  /** Directory relative paths resolve against. */
  cwd: string;
  /** Fail instead of creating an empty log (read-only commands: a typo in --state-dir should not create one). */
  mustExist?: boolean;
}

export const defaultStateDir = '.tributary';

/** The brokers given by --brokers or TRIBUTARY_BROKERS; undefined means the embedded log. */
export function brokersFrom(flags: LogFlags): string | undefined {
  const given = flags.brokers ?? process.env.TRIBUTARY_BROKERS;
  return given === undefined || given.trim() === '' ? undefined : given.trim();
}

/**
 * The one place that picks the log backend from the command-line flags: Apache Kafka with
 * --brokers (or TRIBUTARY_BROKERS), else the embedded log under --state-dir.
 */
export async function openLog(flags: LogFlags, options: OpenLogOptions): Promise<Log> {
  const brokers = brokersFrom(flags);
  if (brokers !== undefined) return openKafka(brokers, flags);
  const kafkaOnly = (['kafka-client-id', 'kafka-client', 'sasl-mechanism', 'sasl-username', 'ssl', 'ssl-ca', 'ssl-cert', 'ssl-key', 'session-timeout-ms'] as const).filter((f) => flags[f] !== undefined);
  if (kafkaOnly.length > 0) throw new ArgumentError(`--${kafkaOnly[0]} applies to Kafka only: give --brokers too (or TRIBUTARY_BROKERS)`);
  const dir = resolve(options.cwd, flags['state-dir'] ?? defaultStateDir);
  const path = join(dir, 'log.db');
  if (options.mustExist && !existsSync(path)) {
    throw new CommandError(`no embedded log at ${path}: nothing has been produced there yet (wrong --state-dir?)`);
  }
  mkdirSync(dir, { recursive: true });
  // Imported here so that commands that never open a log (help, describe) do not load SQLite.
  const { openEmbeddedLog } = await import('../log/embedded/index.js');
  return openEmbeddedLog({ path });
}

const saslMechanisms = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

function readPem(flag: string, file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ArgumentError(`--${flag}: cannot read '${file}': ${(e as Error).message}`);
  }
}

/** Kafka options from the flags; secrets only from the environment (command lines show in `ps`). */
export function kafkaOptionsFrom(brokers: string, flags: LogFlags): KafkaLogOptions {
  const options: KafkaLogOptions = { brokers, clientId: flags['kafka-client-id'] ?? 'tributary', logLevel: 'error' };
  const mechanism = flags['sasl-mechanism'];
  if (mechanism !== undefined) {
    if (!(saslMechanisms as readonly string[]).includes(mechanism)) throw new ArgumentError(`--sasl-mechanism must be one of ${saslMechanisms.join(', ')}, got '${mechanism}'`);
    const username = flags['sasl-username'];
    const password = process.env.TRIBUTARY_SASL_PASSWORD;
    if (username === undefined) throw new ArgumentError('--sasl-mechanism needs --sasl-username');
    if (password === undefined || password === '') throw new ArgumentError('--sasl-mechanism needs the password in the TRIBUTARY_SASL_PASSWORD environment variable');
    options.sasl = { mechanism: mechanism as (typeof saslMechanisms)[number], username, password } as KafkaLogOptions['sasl'];
  } else if (flags['sasl-username'] !== undefined) {
    throw new ArgumentError('--sasl-username needs --sasl-mechanism');
  }
  const ca = readPem('ssl-ca', flags['ssl-ca']);
  const cert = readPem('ssl-cert', flags['ssl-cert']);
  const key = readPem('ssl-key', flags['ssl-key']);
  if (ca !== undefined || cert !== undefined || key !== undefined) options.ssl = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  else if (flags.ssl) options.ssl = true;
  const session = flags['session-timeout-ms'];
  if (session !== undefined) {
    const n = Number(session);
    if (!/^\d+$/.test(session) || n < 1000) throw new ArgumentError(`--session-timeout-ms must be an integer >= 1000, got '${session}'`);
    options.consumer = { sessionTimeoutMs: n, rebalanceTimeoutMs: Math.max(n, 10_000) };
  }
  return options;
}

/** The Kafka clients Tributary runs on: kafkajs (the default) and @platformatic/kafka. */
export const kafkaClients = ['kafkajs', 'platformatic'] as const;

/** --kafka-client, else TRIBUTARY_KAFKA_CLIENT, else kafkajs. */
export function kafkaClientFrom(flags: LogFlags): (typeof kafkaClients)[number] {
  const fromFlag = flags['kafka-client'] !== undefined;
  const given = (flags['kafka-client'] ?? process.env.TRIBUTARY_KAFKA_CLIENT ?? '').trim();
  if (given === '') return 'kafkajs';
  if (!(kafkaClients as readonly string[]).includes(given)) {
    throw new ArgumentError(`${fromFlag ? '--kafka-client' : 'TRIBUTARY_KAFKA_CLIENT'} must be one of ${kafkaClients.join(', ')}, got '${given}'`);
  }
  return given as (typeof kafkaClients)[number];
}

async function openKafka(brokers: string, flags: LogFlags): Promise<Log> {
  const client = kafkaClientFrom(flags);
  const options = kafkaOptionsFrom(brokers, flags);
  try {
    if (client === 'platformatic') {
      const { openPlatformaticLog } = await import('../log/platformatic/index.js');
      const { clientId, ssl, sasl, consumer } = options;
      // kafkaOptionsFrom() builds sasl from the --sasl-* flags: plain or scram, username, password
      return openPlatformaticLog({ brokers, clientId, ssl, consumer, ...(sasl ? { sasl: sasl as PlatformaticSaslOptions } : {}) });
    }
    const { openKafkaLog } = await import('../log/kafka/index.js');
    return openKafkaLog(options);
  } catch (e) {
    // a malformed broker list: say which flag it came from
    throw new ArgumentError(`--brokers: ${(e as Error).message}`);
  }
}

/** True when --state-dir holds a log (or Kafka is used); `topics` lists nothing rather than creating one. */
export function logExists(flags: LogFlags, cwd: string): boolean {
  if (brokersFrom(flags) !== undefined) return true;
  return existsSync(join(resolve(cwd, flags['state-dir'] ?? defaultStateDir), 'log.db'));
}
