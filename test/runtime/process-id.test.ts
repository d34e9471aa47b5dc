import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { processId } from '../../src/runtime/process-id.js';

const root = mkdtempSync(join(tmpdir(), 'tributary-process-id-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('a process id is stable on its state directory and differs between directories', () => {
  const first = processId(join(root, 'a'), 'app');
  assert.match(first, /^[0-9a-f-]{36}$/);
  assert.equal(processId(join(root, 'a'), 'app'), first, 'a restart on the same state directory keeps its id');
  assert.notEqual(processId(join(root, 'b'), 'app'), first, 'another instance gets its own');
  assert.notEqual(processId(join(root, 'a'), 'other-app'), first, 'another application gets its own');
});

test('a damaged process-id file is replaced', () => {
  const dir = join(root, 'c');
  const first = processId(dir, 'app');
  writeFileSync(join(dir, 'app', 'process-id'), 'garbage');
  const second = processId(dir, 'app');
  assert.notEqual(second, first);
  assert.equal(processId(dir, 'app'), second);
});
