// The JSON-lines record format of `produce` and `tail`, in process.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BadLineError, formatRecordLine, parseRecordLine, type LineFormat } from '../../src/cli/record-json.js';

const format: LineFormat = { topic: 't', partitions: 2, keySerde: 'string', valueSerde: 'json', now: 1000 };

describe('parseRecordLine', () => {
  test('an envelope', () => {
    const r = parseRecordLine('{"key":"k","value":{"a":1},"timestamp":5,"headers":{"h":"v"},"partition":1}', format);
    assert.deepEqual(r, { topic: 't', key: Buffer.from('k'), value: Buffer.from('{"a":1}'), timestamp: 5, headers: { h: Buffer.from('v') }, partition: 1 });
  });

  test('an object with other fields than the envelope is a bare value', () => {
    const r = parseRecordLine('{"value":1,"unit":"kg"}', format);
    assert.deepEqual([r.key, r.value?.toString(), r.timestamp], [null, '{"value":1,"unit":"kg"}', 1000]);
  });

  test('a key without a value is a tombstone', () => {
    assert.equal(parseRecordLine('{"key":"k"}', format).value, null);
  });

  test('errors say what is wrong', () => {
    assert.throws(() => parseRecordLine('{', format), (e: Error) => e instanceof BadLineError && /^invalid JSON: /.test(e.message));
    assert.throws(() => parseRecordLine('{"key":"k","value":1,"partition":2}', format), /partition must be an integer from 0 to 1/);
    assert.throws(() => parseRecordLine('{"value":"x"}', { ...format, valueSerde: 'int32' }), /value: the int32 serde needs a JSON number/);
    assert.throws(() => parseRecordLine('{"value":1.5}', { ...format, valueSerde: 'int32' }), /value: int32 serde: 1\.5 is not a 32-bit integer/);
    assert.throws(() => parseRecordLine('{"value":"%%"}', { ...format, valueSerde: 'bytes' }), /value: the bytes serde needs a base64 string/);
  });
});

describe('formatRecordLine', () => {
  const record = { topic: 't', partition: 0, offset: 3, timestamp: 9, key: Buffer.from('k'), value: Buffer.from('{"a":1}'), headers: { h: Buffer.from('v') } };

  test('auto shows JSON as JSON and other text as a string', () => {
    assert.equal(formatRecordLine(record, { keySerde: 'string', valueSerde: 'auto' }), '{"topic":"t","partition":0,"offset":3,"timestamp":9,"key":"k","value":{"a":1},"headers":{"h":"v"}}');
    assert.equal(JSON.parse(formatRecordLine({ ...record, value: Buffer.from('plain') }, { keySerde: 'string', valueSerde: 'auto' })).value, 'plain');
  });

  test('bytes a serde cannot read are shown, not fatal', () => {
    const line = JSON.parse(formatRecordLine(record, { keySerde: 'int32', valueSerde: 'auto' }));
    assert.equal(line.key.undecodable, Buffer.from('k').toString('base64'));
    assert.match(line.key.error, /int32 serde: expected 4 bytes/);
  });
});
