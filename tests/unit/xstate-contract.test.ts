// Contract with XState: the runtime's fast transition helper must agree with XState's public `transition()`
// on every step of seeded random walks through each machine (next state, context, status, emitted events, and
// "no transition" as the very same snapshot object, which the runtime reads as a refusal). An XState upgrade
// that changes the internals the helper leans on fails here, not in production.
import test from 'ava';
import { initialTransition, transition, type AnyStateMachine } from 'xstate';
import { createTransition } from '../../src/kernel/actors/transition.ts';
import { cartMachine } from '../../src/modules/cart/cart.machine.ts';
import { offerMachine } from '../../src/modules/offers/offer.machine.ts';
import { orderMachine } from '../../src/modules/order/order.machine.ts';
import { shipmentMachine } from '../../src/modules/shipment/shipment.machine.ts';
import { mulberry32 } from '../helpers/history.ts';
import { emitted } from '../helpers/machines.ts';

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

interface Walk {
  readonly name: string;
  readonly machine: AnyStateMachine;
  readonly input: (at: number) => unknown;
  /** An event of any type the machine knows (valid or not in the current state), stamped `at`. */
  readonly event: (random: Random, at: number, context: any) => { type: string; at: number };
}

const products = ['p1', 'p2', 'p3'];
const line = { productId: 'p1', quantity: 2, unitPrice: 500, name: 'One', sku: 'ONE' };

const walks: Walk[] = [
  {
    name: 'cart',
    machine: cartMachine,
    input: (at) => ({ id: 'cart_1', customerId: 'cus_1', currency: 'EUR', ttlMs: 60_000, at }),
    event: (random, at, context) =>
      pick(random, [
        () => ({ type: 'ADD_ITEM', productId: pick(random, products), quantity: pick(random, [1, 3, 60, -1, 0.5]), unitPrice: pick(random, [100, 0, -5]), at }),
        () => ({ type: 'SET_QUANTITY', productId: pick(random, products), quantity: pick(random, [0, 2, 101]), unitPrice: 250, at }),
        () => ({ type: 'REMOVE_ITEM', productId: pick(random, products), at }),
        () => ({ type: 'ASSIGN_CUSTOMER', customerId: pick(random, ['cus_1', 'cus_2']), at }),
        () => ({ type: 'CHECKOUT_STARTED', orderId: `order_${Math.floor(random() * 3)}`, requestId: 'r1', shippingAddress: null, at }),
        () => ({ type: 'CHECKOUT_FAILED', orderId: context.checkout?.orderId ?? 'order_x', reason: 'OUT_OF_STOCK:p1', at }),
        () => ({ type: 'CHECKOUT_COMPLETED', orderId: random() < 0.8 ? (context.checkout?.orderId ?? 'order_x') : 'order_other', at }),
        () => ({ type: 'EXPIRE', at }),
        () => ({
          type: 'REPRICE',
          prices: [{ productId: pick(random, products), unitPrice: pick(random, [100, 80, -1]), listPrice: 100, offerId: pick(random, [null, 'offer_1']) }],
          at,
        }),
      ])(),
  },
  {
    name: 'offer',
    machine: offerMachine,
    input: (at) => ({
      id: 'offer_1',
      name: 'Drop',
      terms: { sort: 'drop', productId: 'p1', dropPrice: 100, quota: 5, perCustomerLimit: 1 },
      startsAt: at + 10_000,
      endsAt: at + 60_000,
      createdBy: 'staff_1',
      at,
    }),
    event: (random, at) =>
      pick(random, [
        () => ({ type: 'START', at }),
        () => ({ type: 'END', at }),
        () => ({ type: 'CANCEL', reason: 'typo', at }),
        () => ({ type: 'QUOTA', remaining: pick(random, [0, 1, 5]), at }),
        () => ({
          type: 'UPDATE',
          name: 'Drop 2',
          terms: pick(random, [
            { sort: 'drop', productId: 'p1', dropPrice: 90, quota: 3, perCustomerLimit: 1 },
            { sort: 'sale', discount: { type: 'percent', percent: 10 }, productIds: ['p1'], categoryIds: [] },
          ]),
          startsAt: at + 5_000,
          endsAt: null,
          at,
        }),
      ])(),
  },
  {
    name: 'order',
    machine: orderMachine,
    input: (at) => ({
      id: 'order_1',
      customerId: 'cus_1',
      cartId: 'cart_1',
      items: [line],
      currency: 'EUR',
      shippingAddress: null,
      paymentWindowMs: 60_000,
      at,
    }),
    event: (random, at, context) =>
      pick(random, [
        () => ({ type: 'PAY_REQUESTED', requestId: pick(random, ['r1', 'r2']), providerKey: 'pay:order_1:r1', at }),
        () => ({ type: 'PAYMENT_SUCCEEDED', requestId: context.pendingPayment?.requestId ?? 'r1', chargeId: 'chg_1', at }),
        () => ({ type: 'PAYMENT_DECLINED', requestId: context.pendingPayment?.requestId ?? 'r9', reason: 'card_declined', at }),
        () => ({ type: 'CANCEL', reason: 'changed my mind', at }),
        () => ({ type: 'EXPIRE', at }),
        () => ({ type: 'SHIPMENT_CREATED', shipmentId: 'ship_1', at }),
        () => ({ type: 'SHIPMENT_SHIPPED', carrier: 'Post', trackingNumber: 'T1', at }),
        () => ({ type: 'SHIPMENT_DELIVERED', at }),
        () => ({ type: 'REFUND_COMPLETED', refundId: 're_1', at }),
      ])(),
  },
  {
    name: 'shipment',
    machine: shipmentMachine,
    input: (at) => ({ id: 'ship_1', orderId: 'order_1', customerId: 'cus_1', items: [line], shippingAddress: null, at }),
    event: (random, at) =>
      pick(random, [
        () => ({ type: 'PICK', at }),
        () => ({ type: 'PACK', at }),
        () => ({ type: 'SHIP', carrier: 'Post', trackingNumber: 'T1', at }),
        () => ({ type: 'MARK_IN_TRANSIT', at }),
        () => ({ type: 'DELIVER', at }),
        () => ({ type: 'REPORT_EXCEPTION', reason: 'damaged', at }),
        () => ({ type: 'RESUME', at }),
        () => ({ type: 'CANCEL', at }),
      ])(),
  },
];

const WALKS_PER_MACHINE = 60;
const STEPS_PER_WALK = 40;

for (const walk of walks) {
  test(`${walk.name}: the runtime's transition helper agrees with XState's transition() on ${WALKS_PER_MACHINE} random walks`, (t) => {
    const fast = createTransition(walk.machine);
    let compared = 0;
    let refusals = 0;
    for (let seed = 1; seed <= WALKS_PER_MACHINE; seed++) {
      const random = mulberry32(seed * 7919);
      let at = 1_000_000;
      let [snapshot] = initialTransition(walk.machine, walk.input(at) as never);
      for (let step = 0; step < STEPS_PER_WALK && snapshot.status === 'active'; step++) {
        at += Math.floor(random() * 20_000); // sometimes past the cart's expiry or the order's payment window
        const event = walk.event(random, at, snapshot.context);
        const where = `${walk.name} seed ${seed} step ${step}: ${JSON.stringify(event)} in ${JSON.stringify(snapshot.value)}`;
        const [expected, expectedActions] = transition(walk.machine, snapshot, event as never);
        const [actual, actualActions] = fast(snapshot as never, event as never);
        compared++;
        t.is(actual === snapshot, expected === snapshot, `${where}: both see the same refusal`);
        if (expected === snapshot) {
          refusals++;
          continue;
        }
        t.deepEqual(actual.value, expected.value, where);
        t.deepEqual(actual.context, expected.context, where);
        t.is(actual.status, expected.status, where);
        t.deepEqual(emitted(actualActions), emitted(expectedActions), `${where}: the same domain events`);
        snapshot = actual as typeof snapshot;
      }
    }
    t.log(`${compared} transitions compared, ${refusals} of them refusals`);
    t.true(refusals > 0 && refusals < compared, 'the walks exercise both accepted and refused events');
  });
}

test('xstate is pinned to an exact version, so an upgrade is a deliberate change that runs this contract', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  t.regex(pkg.dependencies.xstate ?? '', /^\d+\.\d+\.\d+$/);
});
