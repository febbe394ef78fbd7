// The offer machine: its schedule as deadlines, a drop's quota mirror, and what may change when.
import test from 'ava';
import { initialTransition, transition } from 'xstate';
import { offerMachine, type OfferInput } from '../../src/modules/offers/offer.machine.ts';
import { emittedTypes } from '../helpers/machines.ts';

const T0 = 1_000_000;
const drop: OfferInput = {
  id: 'offer_1',
  name: 'Drop',
  terms: { sort: 'drop', productId: 'p1', dropPrice: 100, quota: 2, perCustomerLimit: 1 },
  startsAt: T0 + 1_000,
  endsAt: T0 + 10_000,
  createdBy: 'staff_1',
  at: T0,
};

test('START before its time and END before its end are refused; on time they start and end it, each once', (t) => {
  let [offer] = initialTransition(offerMachine, drop);
  t.is(transition(offerMachine, offer, { type: 'START', at: T0 + 999 })[0], offer, 'not due');
  const [live, started] = transition(offerMachine, offer, { type: 'START', at: T0 + 1_000 });
  t.is(live.value, 'live');
  t.deepEqual(emittedTypes(started), ['offer.started']);
  offer = live;
  t.is(transition(offerMachine, offer, { type: 'START', at: T0 + 2_000 })[0], offer, 'started once');
  t.is(transition(offerMachine, offer, { type: 'END', at: T0 + 9_999 })[0], offer);
  const [ended, endActions] = transition(offerMachine, offer, { type: 'END', at: T0 + 10_000 });
  t.is(ended.value, 'ended');
  t.deepEqual(emittedTypes(endActions), ['offer.ended']);
});

test('a drop whose units were all claimed before the sweep started it starts sold out', (t) => {
  const [offer] = initialTransition(offerMachine, drop);
  const [claimed] = transition(offerMachine, offer, { type: 'QUOTA', remaining: 0, at: T0 + 1_001 });
  t.is(claimed.value, 'scheduled');
  const [started, actions] = transition(offerMachine, claimed, { type: 'START', at: T0 + 1_500 });
  t.is(started.value, 'soldOut');
  t.deepEqual(emittedTypes(actions), ['offer.started', 'offer.soldOut']);
  const [again] = transition(offerMachine, started, { type: 'QUOTA', remaining: 1, at: T0 + 2_000 });
  t.is(again.value, 'live', 'units given back make it live again');
});

test('terms change only before the start and only within their sort; a closed offer takes nothing', (t) => {
  const [offer] = initialTransition(offerMachine, drop);
  const terms = { sort: 'drop', productId: 'p1', dropPrice: 90, quota: 5, perCustomerLimit: 2 } as const;
  const [updated] = transition(offerMachine, offer, { type: 'UPDATE', name: 'Drop 2', terms, startsAt: T0 + 1_000, endsAt: null, at: T0 + 10 });
  t.like(updated.context, { name: 'Drop 2', remaining: 5, endsAt: null });
  const sale = { sort: 'sale', discount: { type: 'percent', percent: 10 }, productIds: ['p1'], categoryIds: [] } as const;
  t.is(transition(offerMachine, offer, { type: 'UPDATE', name: 'x', terms: sale, startsAt: T0 + 1_000, endsAt: null, at: T0 + 10 })[0], offer);
  t.is(transition(offerMachine, offer, { type: 'UPDATE', name: 'x', terms, startsAt: T0 + 1_000, endsAt: null, at: T0 + 1_000 })[0], offer, 'at its start');
  const [cancelled, actions] = transition(offerMachine, offer, { type: 'CANCEL', reason: 'typo', at: T0 + 20 });
  t.is(cancelled.value, 'cancelled');
  t.deepEqual(emittedTypes(actions), ['offer.ended']);
  t.is(transition(offerMachine, cancelled, { type: 'QUOTA', remaining: 1, at: T0 + 30 })[0], cancelled);
});
