// The refusal reasons a client may branch on are one list (the protocol's REFUSAL_REASONS), and PROTOCOL.md §3.4
// documents exactly that list.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { EmporiumError, ERROR_CODES, REFUSAL_REASONS } from '../../src/client/index.ts';

const protocol = readFileSync(path.resolve(import.meta.dirname, '../../docs/PROTOCOL.md'), 'utf8');

test('PROTOCOL.md §3.4 lists every refusal reason the protocol declares, each with an error code, and no other', (t) => {
  const section = protocol.slice(protocol.indexOf('### 3.4 Refusal reasons'), protocol.indexOf('## 4. REST endpoints'));
  t.true(section.length > 0, 'the section exists');
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| `([A-Z_]+)` \|/gm)].map((match) => ({ reason: match[1]!, code: match[2]! }));
  t.deepEqual(rows.map((row) => row.reason).sort(), Object.keys(REFUSAL_REASONS).sort());
  for (const row of rows) t.true((ERROR_CODES as readonly string[]).includes(row.code), `${row.reason}: ${row.code} is an error code`);
});

test("the SDK's EmporiumError names the reason when it is one the protocol declares", (t) => {
  const refused = new EmporiumError({ code: 'INVALID_TRANSITION', message: 'order o1 is cancelled', details: { state: 'cancelled', reason: 'ORDER_CLOSED' } });
  t.is(refused.reason, 'ORDER_CLOSED');
  t.is(new EmporiumError({ code: 'INVALID_TRANSITION', message: 'x', details: { reason: 'SOMETHING_NEW' } }).reason, undefined);
  t.is(new EmporiumError({ code: 'INTERNAL', message: 'x' }).reason, undefined);
});
