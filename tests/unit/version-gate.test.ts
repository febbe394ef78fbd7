// The client's reconnect rule: take the subscribe answer, then only newer pushes.
import test from 'ava';
import { VersionGate } from '../../src/client/versions.ts';

test('only newer versions pass for actor topics, answers included', (t) => {
  const gate = new VersionGate();
  t.true(gate.accept('cart:c1', 3, true));
  t.false(gate.accept('cart:c1', 3, false), 'a push of the version the answer brought');
  t.false(gate.accept('cart:c1', 2, false), 'a stale push');
  t.true(gate.accept('cart:c1', 4, false));
  t.false(gate.accept('cart:c1', 4, true), 'a re-subscribe answer of the version already held');
  t.true(gate.accept('cart:c1', 5, true));
});

test('a product answer passes after a stock push of the same version, once', (t) => {
  const gate = new VersionGate();
  t.true(gate.accept('product:p1', 7, false), 'the stock push arrived first');
  t.true(gate.accept('product:p1', 7, true), 'the full view of the same version still passes');
  t.false(gate.accept('product:p1', 7, true), 'but not twice');
  t.false(gate.accept('product:p1', 7, false));
  t.true(gate.accept('product:p1', 8, false));
});

test('topics are independent, the shipments list always passes, and forget starts over', (t) => {
  const gate = new VersionGate();
  t.true(gate.accept('order:o1', 5, true));
  t.true(gate.accept('order:o2', 1, true));
  t.true(gate.accept('shipments', 0, true));
  t.true(gate.accept('shipments', 0, true));
  gate.forget('order:o1');
  t.true(gate.accept('order:o1', 2, true));
});
