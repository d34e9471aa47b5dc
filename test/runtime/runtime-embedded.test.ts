import { openEmbeddedLog } from '../../src/log/embedded/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimeSuite } from './runtime-suite.js';

runtimeSuite('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-rtlog-'));
  const log = openEmbeddedLog({ path: join(dir, 'log.db') });
  return {
    log,
    async cleanup() {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
