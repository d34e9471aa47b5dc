// The runtime suite on the second Kafka backend (@platformatic/kafka): the same topologies, inputs
// and expected outputs as on kafkajs and the embedded log.
import { openPlatformaticLog } from '../../src/log/platformatic/index.js';
import { withKafka } from '../log/kafka-broker.js';
import { runtimeSuite } from './runtime-suite.js';

withKafka('StreamsRuntime on the platformatic log', (brokers) =>
  runtimeSuite(
    'platformatic',
    async () => {
      const log = openPlatformaticLog({ brokers, clientId: 'runtime-suite-pk', consumer: { sessionTimeoutMs: 6000, rebalanceTimeoutMs: 6000 } });
      return { log, cleanup: () => log.close() };
    },
    // a Kafka fetch comes back empty after fetchMaxWaitMs: idle must be longer than that
    { idleMs: 1000 },
  ),
);
