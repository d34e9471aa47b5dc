import { openKafkaLog } from '../../src/log/kafka/index.js';
import { withKafka } from '../log/kafka-broker.js';
import { runtimeSuite } from './runtime-suite.js';

withKafka('StreamsRuntime on the kafka log', (brokers) =>
  runtimeSuite(
    'kafka',
    async () => {
      const log = openKafkaLog({ brokers, clientId: 'runtime-suite', logLevel: 'nothing', consumer: { sessionTimeoutMs: 6000, rebalanceTimeoutMs: 6000 } });
      return { log, cleanup: () => log.close() };
    },
    // a Kafka fetch comes back empty after fetchMaxWaitMs: idle must be longer than that
    { idleMs: 1000 },
  ),
);
