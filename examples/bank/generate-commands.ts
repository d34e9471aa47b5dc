/**
 * Demo data for topologies/bank-accounts.ts: JSON lines of account commands for
 * `tributary produce account-commands`, each with a correlation-id header. Deterministic for a
 * seed. Each account is opened first; about one withdrawal in three asks for more than a
 * typical balance, so some are rejected as overdrafts.
 *
 *   node --import tsx examples/bank/generate-commands.ts --count 1000 --seed 42 --accounts 20
 */
import { parseArgs } from 'node:util';
import { seededRandom } from '../prng.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '42' },
    accounts: { type: 'string', default: '20' },
  },
});

const random = seededRandom(Number(values.seed));
const count = Number(values.count);
const accounts = Number(values.accounts);
const owners = ['ann', 'bob', 'cai', 'dee', 'eli', 'fay', 'gus', 'hal'] as const;
const start = Date.UTC(2026, 0, 1);
const opened = new Set<string>();
const out: string[] = [];
for (let i = 0; i < count; i++) {
  const id = `acc-${String(Math.floor(random() * accounts)).padStart(3, '0')}`;
  let value: Record<string, unknown>;
  if (!opened.has(id)) {
    opened.add(id);
    value = { type: 'open', owner: owners[Math.floor(random() * owners.length)] };
  } else if (random() < 0.55) {
    value = { type: 'deposit', amount: 100 * (1 + Math.floor(random() * 50)) };
  } else {
    // Cents; up to 100.00 usually, up to 500.00 one time in three (often more than the balance).
    const max = random() < 0.33 ? 50_000 : 10_000;
    value = { type: 'withdraw', amount: 100 * (1 + Math.floor((random() * max) / 100)) };
  }
  const headers = { 'correlation-id': `cmd-${values.seed}-${i}` };
  out.push(JSON.stringify({ key: id, value, timestamp: start + i * 1000, headers }));
  if (out.length >= 1000) {
    process.stdout.write(out.join('\n') + '\n');
    out.length = 0;
  }
}
if (out.length > 0) process.stdout.write(out.join('\n') + '\n');
