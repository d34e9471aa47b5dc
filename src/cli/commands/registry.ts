import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { argumentError, commonHelp, commonOptions, intFlag, loggerFromFlags, parseFlags, positionals } from '../args.js';
import type { Command } from '../command.js';
import { stopSignals } from '../signals.js';

const options = {
  ...commonOptions,
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  file: { type: 'string' },
} as const;

const defaultPort = 8081;
const defaultFile = '.tributary/registry.db';

export const registry: Command = {
  name: 'registry',
  options,
  summary: 'run an embedded Confluent-compatible schema registry (Avro)',
  help: `Usage: tributary registry [flags]

Runs a schema registry that speaks the REST API of Confluent Schema Registry that clients use
(@kafkajs/confluent-schema-registry, schemaRegistryAvro()), for Avro schemas, kept in a SQLite
file. New versions are checked against the subject's compatibility level (BACKWARD by default).
Prints its URL on stdout, then serves until Ctrl-C or SIGTERM (exit code 0).

It has no authentication: keep it on 127.0.0.1 unless the network around it is trusted.

Flags:
  -p, --port <port>    TCP port, 0 for any free one (default ${defaultPort})
  --host <address>     address to listen on (default 127.0.0.1)
  --file <path>        the SQLite file that holds the schemas (default ${defaultFile})
${commonHelp}

Examples:
  tributary registry
  tributary registry --port 18081 --file /var/lib/tributary/registry.db
`,
  async run(argv, io) {
    const { values, positionals: given } = parseFlags('registry', argv, options);
    positionals('registry', given, []);
    const port = intFlag('registry', 'port', values.port, 0) ?? defaultPort;
    if (port > 65535) throw argumentError('registry', `--port must be at most 65535, got '${values.port}'`);
    const host = values.host ?? '127.0.0.1';
    if (host.trim() === '') throw argumentError('registry', '--host is empty');
    if (values.file !== undefined && values.file.trim() === '') throw argumentError('registry', '--file is empty');
    const file = resolve(io.cwd, values.file ?? defaultFile);
    const logger = loggerFromFlags('registry', values['log-level'], io);
    if (!isLoopback(host)) logger.warn(`the schema registry listens on ${host} without authentication: anyone who can reach it can register schemas`);

    const { startSchemaRegistry } = await import('../../ops/registry/index.js');
    const signals = stopSignals((signal) => {
      io.stderr.write(`tributary registry: ${signal} again: exiting now\n`);
      process.exit(1);
    });
    try {
      const server = await startSchemaRegistry({ port, host, file, logger });
      io.stdout.write(`${server.url}\n`);
      const signal = await signals.received;
      logger.info(`${signal}: stopping the schema registry`);
      await server.close();
      return 0;
    } finally {
      signals.dispose();
    }
  },
};

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}
