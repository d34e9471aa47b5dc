import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import { logConformanceSuite } from './conformance.js';

logConformanceSuite('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-log-'));
  const log = openEmbeddedLog({ path: join(dir, 'log.db') });
  return {
    log,
    async cleanup() {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
