import { openKafkaLog } from '../../src/log/kafka/index.js';
import { logConformanceSuite } from './conformance.js';
import { withKafka } from './kafka-broker.js';

withKafka('Log conformance: kafka', (brokers) =>
  logConformanceSuite('kafka', async () => {
    const log = openKafkaLog({ brokers, clientId: 'conformance', logLevel: 'nothing' });
    return {
      log,
      async cleanup() {
        await log.close();
      },
    };
  }),
);
