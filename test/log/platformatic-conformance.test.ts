import { openPlatformaticLog } from '../../src/log/platformatic/index.js';
import { logConformanceSuite } from './conformance.js';
import { withKafka } from './kafka-broker.js';

withKafka('Log conformance: platformatic', (brokers) =>
  logConformanceSuite('platformatic', async () => {
    const log = openPlatformaticLog({ brokers, clientId: 'conformance' });
    return {
      log,
      async cleanup() {
        await log.close();
      },
    };
  }),
);
