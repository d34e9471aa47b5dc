/**
 * The kafkajs client of one Kafka log: brokers, TLS/SASL, timeouts and logging. Producers,
 * consumers and the admin of the log are all made from it (each with its own connections).
 */
import { Kafka, logLevel as KafkaJsLevel, type LogEntry } from 'kafkajs';
import type { KafkaLogEntry, KafkaLogLevel, KafkaLogOptions } from './options.js';
import { parseBrokers } from './options.js';

const LEVELS: Record<KafkaLogLevel, KafkaJsLevel> = {
  nothing: KafkaJsLevel.NOTHING,
  error: KafkaJsLevel.ERROR,
  warn: KafkaJsLevel.WARN,
  info: KafkaJsLevel.INFO,
  debug: KafkaJsLevel.DEBUG,
};

const NAMES: Record<number, KafkaLogEntry['level']> = {
  [KafkaJsLevel.ERROR]: 'error',
  [KafkaJsLevel.WARN]: 'warn',
  [KafkaJsLevel.INFO]: 'info',
  [KafkaJsLevel.DEBUG]: 'debug',
};

/**
 * Lines kafkajs logs as errors for conditions that it, or this backend, retries and recovers
 * from: a CONCURRENT_TRANSACTIONS answer right after a commit (tulios/kafkajs#1315), and a
 * group that is rebalancing.
 */
function isRecoveredNoise(entry: LogEntry): boolean {
  const error = String((entry.log as { error?: unknown }).error ?? '');
  return (
    error.includes('another concurrent operation on the same transaction') ||
    error.includes('The group is rebalancing') ||
    error.includes('The coordinator is loading and hence can')
  );
}

/** Where log lines go when KafkaLogOptions.logger is not given: one line each on stderr. */
export function defaultSink(entry: KafkaLogEntry): void {
  const extra = Object.keys(entry.fields).length > 0 ? ` ${JSON.stringify(entry.fields)}` : '';
  process.stderr.write(`[kafkajs ${entry.level}] ${entry.namespace ? `${entry.namespace}: ` : ''}${entry.message}${extra}\n`);
}

export function createKafkaClient(options: KafkaLogOptions): Kafka {
  const brokers = parseBrokers(options.brokers);
  const level = LEVELS[options.logLevel ?? 'error'] ?? KafkaJsLevel.ERROR;
  const sink = options.logger ?? defaultSink;
  return new Kafka({
    clientId: options.clientId ?? 'tributary',
    brokers,
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    ...(options.sasl !== undefined ? { sasl: options.sasl } : {}),
    ...(options.socketFactory !== undefined ? { socketFactory: options.socketFactory } : {}),
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    logLevel: level,
    logCreator: () => (entry: LogEntry) => {
      if (entry.level === KafkaJsLevel.ERROR && isRecoveredNoise(entry)) return;
      const { message, timestamp: _t, logger: _l, ...fields } = entry.log as LogEntry['log'] & Record<string, unknown>;
      sink({ level: NAMES[entry.level] ?? 'info', namespace: entry.namespace, message: String(message), fields });
    },
  });
}
