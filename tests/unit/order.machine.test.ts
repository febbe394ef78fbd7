import test, { type ExecutionContext } from 'ava';
import { SimulatedClock, createActor, initialTransition, transition, type SnapshotFrom } from 'xstate';
import { orderMachine, orderRefusal, type OrderEmitted, type OrderEvent, type OrderInput } from '../../src/modules/order/order.machine.ts';
import type { OrderLine } from '../../src/domain/types.ts';
import { emitted, emittedTypes, roundTrip } from '../helpers/machines.ts';

type OrderSnapshot = SnapshotFrom<typeof orderMachine>;

const T0 = 1_700_000_000_000;
const WINDOW = 15 * 60 * 1000;
const DEADLINE = T0 + WINDOW;
const SECOND = 1_000;

const ITEMS: readonly OrderLine[] = [
  { productId: 'p1', name: 'Teapot', sku: 'TEA-1', quantity: 2, unitPrice: 1_250 },
  { productId: 'p2', name: 'Cup', sku: 'CUP-1', quantity: 1, unitPrice: 500 },
];
const TOTAL = 2 * 1_250 + 500;

const input = (overrides: Partial<OrderInput> = {}): OrderInput => ({
  id: 'order-1',
  customerId: 'customer-1',
  cartId: 'cart-1',
  items: ITEMS,
  currency: 'EUR',
  shippingAddress: { name: 'Ada', line1: '1 Main St', city: 'Paris', postalCode: '75001', country: 'FR' },
  paymentWindowMs: WINDOW,
  at: T0,
  ...overrides,
});

const placed = (overrides: Partial<OrderInput> = {}): OrderSnapshot => initialTransition(orderMachine, input(overrides))[0];

const payRequested = (requestId = 'req-1', at = T0 + 60 * SECOND): OrderEvent => ({ type: 'PAY_REQUESTED', requestId, at });
const succeeded = (requestId = 'req-1', chargeId = 'ch-1', at = T0 + 70 * SECOND): OrderEvent => ({
  type: 'PAYMENT_SUCCEEDED',
  requestId,
  chargeId,
  at,
});
const declined = (requestId = 'req-1', reason = 'card_declined', at = T0 + 70 * SECOND): OrderEvent => ({
  type: 'PAYMENT_DECLINED',
  requestId,
  reason,
  at,
});
const cancel = (reason = 'customer request', at = T0 + 120 * SECOND): OrderEvent => ({ type: 'CANCEL', reason, at });
const shipmentCreated = (at = T0 + 200 * SECOND): OrderEvent => ({ type: 'SHIPMENT_CREATED', shipmentId: 'ship-1', at });
const shipmentShipped = (at = T0 + 300 * SECOND): OrderEvent => ({
  type: 'SHIPMENT_SHIPPED',
  carrier: 'DHL',
  trackingNumber: 'JD0123',
  at,
});
const shipmentDelivered = (at = T0 + 400 * SECOND): OrderEvent => ({ type: 'SHIPMENT_DELIVERED', at });

function accept(t: ExecutionContext, snapshot: OrderSnapshot, event: OrderEvent): [OrderSnapshot, OrderEmitted[]] {
  t.true(snapshot.can(event), `expected ${event.type} to be accepted in ${JSON.stringify(snapshot.value)}`);
  const [next, actions] = transition(orderMachine, snapshot, event);
  t.not(next, snapshot, `${event.type} returned the same snapshot`);
  return [next, emitted<OrderEmitted>(actions)];
}

function run(t: ExecutionContext, snapshot: OrderSnapshot, ...events: OrderEvent[]): OrderSnapshot {
  return events.reduce((current, event) => accept(t, current, event)[0], snapshot);
}

function reject(t: ExecutionContext, snapshot: OrderSnapshot, event: OrderEvent): void {
  t.false(snapshot.can(event), `expected ${event.type} to be rejected in ${JSON.stringify(snapshot.value)}`);
  const [next, actions] = transition(orderMachine, snapshot, event);
  t.is(next, snapshot, `${event.type} changed the snapshot`);
  t.deepEqual(actions, []);
}

const paidOrder = (t: ExecutionContext) => run(t, placed(), payRequested(), succeeded());
const fulfillingOrder = (t: ExecutionContext) => run(t, paidOrder(t), shipmentCreated());
const shippedOrder = (t: ExecutionContext) => run(t, fulfillingOrder(t), shipmentShipped());

// --- placement -----------------------------------------------------------------

test('a placed order awaits payment, totals its lines, sets its payment deadline and emits order.placed', (t) => {
  const [order, actions] = initialTransition(orderMachine, input());
  t.is(order.value, 'awaitingPayment');
  t.is(order.status, 'active');
  t.is(order.context.total, TOTAL);
  t.is(order.context.paymentDeadline, DEADLINE);
  t.is(order.context.createdAt, T0);
  t.is(order.context.updatedAt, T0);
  t.deepEqual(order.context.items, ITEMS);
  t.is(order.context.cartId, 'cart-1');
  t.is(order.context.currency, 'EUR');
  t.is(order.context.paymentAttempts, 0);
  for (const key of ['pendingPayment', 'payment', 'lastPaymentError', 'refund', 'shipmentId', 'carrier', 'trackingNumber', 'cancelReason'] as const) {
    t.is(order.context[key], null, `${key} starts empty`);
  }
  t.deepEqual(emitted(actions), [{ type: 'order.placed', orderId: 'order-1', customerId: 'customer-1', total: TOTAL }]);
});

// --- payment -------------------------------------------------------------------

test('a payment request before the deadline starts authorizing and emits order.paymentRequested', (t) => {
  const [order, events] = accept(t, placed(), payRequested('req-1', DEADLINE - 1));
  t.is(order.value, 'authorizing');
  t.deepEqual(order.context.pendingPayment, { requestId: 'req-1', startedAt: DEADLINE - 1 });
  t.is(order.context.paymentAttempts, 1);
  t.is(order.context.updatedAt, DEADLINE - 1);
  t.deepEqual(events, [{ type: 'order.paymentRequested', orderId: 'order-1', requestId: 'req-1' }]);
});

test('a payment request at or after the deadline is rejected', (t) => {
  const order = placed();
  reject(t, order, payRequested('req-1', DEADLINE));
  reject(t, order, payRequested('req-1', DEADLINE + 1));
  reject(t, order, payRequested('req-1', DEADLINE + 24 * 3600 * SECOND));
});

test('only one payment attempt runs at a time', (t) => {
  const order = run(t, placed(), payRequested('req-1'));
  reject(t, order, payRequested('req-2', T0 + 65 * SECOND));
  reject(t, order, payRequested('req-1', T0 + 65 * SECOND));
});

test('a successful payment for the pending request records the charge and emits order.paid', (t) => {
  const authorizing = run(t, placed(), payRequested('req-1'));
  const [order, events] = accept(t, authorizing, succeeded('req-1', 'ch-42', T0 + 70 * SECOND));
  t.is(order.value, 'paid');
  t.deepEqual(order.context.payment, { requestId: 'req-1', chargeId: 'ch-42', amount: TOTAL, paidAt: T0 + 70 * SECOND });
  t.is(order.context.pendingPayment, null);
  t.is(order.context.lastPaymentError, null);
  t.is(order.context.updatedAt, T0 + 70 * SECOND);
  t.deepEqual(events, [{ type: 'order.paid', orderId: 'order-1', customerId: 'customer-1', chargeId: 'ch-42' }]);
});

test('a payment result for a different request is rejected', (t) => {
  const authorizing = run(t, placed(), payRequested('req-1'));
  reject(t, authorizing, succeeded('req-other'));
  reject(t, authorizing, declined('req-other'));
});

test('payment results are rejected when no payment is in flight', (t) => {
  const order = placed();
  reject(t, order, succeeded('req-1'));
  reject(t, order, declined('req-1'));
  const paid = paidOrder(t);
  reject(t, paid, succeeded('req-1', 'ch-again', T0 + 80 * SECOND));
  reject(t, paid, declined('req-1', 'late', T0 + 80 * SECOND));
});

test('a declined payment returns to awaitingPayment with the reason and emits order.paymentDeclined', (t) => {
  const authorizing = run(t, placed(), payRequested('req-1'));
  const [order, events] = accept(t, authorizing, declined('req-1', 'insufficient_funds', T0 + 70 * SECOND));
  t.is(order.value, 'awaitingPayment');
  t.is(order.context.lastPaymentError, 'insufficient_funds');
  t.is(order.context.pendingPayment, null);
  t.is(order.context.payment, null);
  t.is(order.context.paymentAttempts, 1);
  t.is(order.context.paymentDeadline, DEADLINE, 'a decline does not extend the payment window');
  t.is(order.context.updatedAt, T0 + 70 * SECOND);
  t.deepEqual(events, [{ type: 'order.paymentDeclined', orderId: 'order-1', reason: 'insufficient_funds' }]);
});

test('after a decline the customer can retry with a new request, and the old request no longer counts', (t) => {
  const declinedOnce = run(t, placed(), payRequested('req-1'), declined('req-1', 'card_declined'));
  const [retrying, events] = accept(t, declinedOnce, payRequested('req-2', T0 + 90 * SECOND));
  t.is(retrying.value, 'authorizing');
  t.is(retrying.context.paymentAttempts, 2);
  t.deepEqual(retrying.context.pendingPayment, { requestId: 'req-2', startedAt: T0 + 90 * SECOND });
  t.deepEqual(events, [{ type: 'order.paymentRequested', orderId: 'order-1', requestId: 'req-2' }]);

  reject(t, retrying, succeeded('req-1', 'ch-stale', T0 + 95 * SECOND));

  const [paid] = accept(t, retrying, succeeded('req-2', 'ch-2', T0 + 100 * SECOND));
  t.is(paid.value, 'paid');
  t.is(paid.context.lastPaymentError, null, 'success clears the previous decline');
  t.is(paid.context.payment?.requestId, 'req-2');
  t.is(paid.context.payment?.chargeId, 'ch-2');
});

test('a retry after a decline is still bound by the original deadline', (t) => {
  const declinedLate = run(t, placed(), payRequested('req-1', DEADLINE - 10 * SECOND), declined('req-1', 'x', DEADLINE + SECOND));
  t.is(declinedLate.value, 'awaitingPayment');
  reject(t, declinedLate, payRequested('req-2', DEADLINE + 2 * SECOND));
  const [expired] = accept(t, declinedLate, { type: 'EXPIRE', at: DEADLINE + 2 * SECOND });
  t.is(expired.value, 'expired');
});

test('a payment requested in time counts even if its result arrives after the deadline', (t) => {
  const authorizing = run(t, placed(), payRequested('req-1', DEADLINE - SECOND));
  reject(t, authorizing, { type: 'EXPIRE', at: DEADLINE + 60 * SECOND });
  const [paid] = accept(t, authorizing, succeeded('req-1', 'ch-1', DEADLINE + 60 * SECOND));
  t.is(paid.value, 'paid');
});

// --- cancellation ---------------------------------------------------------------

test('cancelling an unpaid order owes no refund', (t) => {
  const [order, events] = accept(t, placed(), cancel('changed my mind', T0 + 120 * SECOND));
  t.is(order.value, 'cancelled');
  t.is(order.context.cancelReason, 'changed my mind');
  t.is(order.context.refund, null);
  t.is(order.context.updatedAt, T0 + 120 * SECOND);
  t.deepEqual(events, [{ type: 'order.cancelled', orderId: 'order-1', refundDue: 0, chargeId: null }]);
  reject(t, order, { type: 'REFUND_COMPLETED', refundId: 're-1', at: T0 + 130 * SECOND });
});

test('cancelling an unpaid order after a decline still owes no refund', (t) => {
  const order = run(t, placed(), payRequested(), declined());
  const [cancelled, events] = accept(t, order, cancel());
  t.is(cancelled.context.refund, null);
  t.deepEqual(events, [{ type: 'order.cancelled', orderId: 'order-1', refundDue: 0, chargeId: null }]);
});

for (const [label, build] of [
  ['paid', paidOrder],
  ['fulfilling', fulfillingOrder],
] as const) {
  test(`cancelling a ${label} order leaves the full charge pending refund and emits it as refundDue`, (t) => {
    const order = build(t);
    t.is(order.value, label);
    const [cancelled, events] = accept(t, order, cancel('out of stock', T0 + 250 * SECOND));
    t.is(cancelled.value, 'cancelled');
    t.is(cancelled.context.cancelReason, 'out of stock');
    t.deepEqual(cancelled.context.refund, { amount: TOTAL, chargeId: 'ch-1', status: 'pending', refundId: null });
    t.deepEqual(cancelled.context.payment, order.context.payment, 'the payment record is kept');
    t.deepEqual(events, [{ type: 'order.cancelled', orderId: 'order-1', refundDue: TOTAL, chargeId: 'ch-1' }]);
  });
}

test('REFUND_COMPLETED marks a pending refund refunded, once', (t) => {
  const cancelled = run(t, paidOrder(t), cancel());
  const [refunded, events] = accept(t, cancelled, { type: 'REFUND_COMPLETED', refundId: 're-1', at: T0 + 500 * SECOND });
  t.is(refunded.value, 'cancelled');
  t.deepEqual(refunded.context.refund, { amount: TOTAL, chargeId: 'ch-1', status: 'refunded', refundId: 're-1' });
  t.is(refunded.context.updatedAt, T0 + 500 * SECOND);
  t.deepEqual(events, []);
  reject(t, refunded, { type: 'REFUND_COMPLETED', refundId: 're-2', at: T0 + 600 * SECOND });
});

test('REFUND_COMPLETED is rejected outside a cancelled order', (t) => {
  const refund: OrderEvent = { type: 'REFUND_COMPLETED', refundId: 're-1', at: T0 + 500 * SECOND };
  reject(t, placed(), refund);
  reject(t, paidOrder(t), refund);
  reject(t, fulfillingOrder(t), refund);
});

test('an order cannot be cancelled while its payment is being authorized', (t) => {
  reject(t, run(t, placed(), payRequested()), cancel());
});

test('an order cannot be cancelled once shipped', (t) => {
  const shipped = shippedOrder(t);
  reject(t, shipped, cancel('too late', T0 + 350 * SECOND));
  const delivered = run(t, shipped, shipmentDelivered());
  reject(t, delivered, cancel('too late', T0 + 450 * SECOND));
});

test('a cancelled order cannot be cancelled again, paid or expired', (t) => {
  const cancelled = run(t, placed(), cancel());
  reject(t, cancelled, cancel('again', T0 + 130 * SECOND));
  reject(t, cancelled, payRequested('req-9', T0 + 130 * SECOND));
  reject(t, cancelled, { type: 'EXPIRE', at: DEADLINE + SECOND });
  reject(t, cancelled, shipmentCreated());
});

// --- expiry ----------------------------------------------------------------------

test('EXPIRE before the payment deadline is rejected; at or after it an unpaid order expires and emits order.expired', (t) => {
  const order = placed();
  reject(t, order, { type: 'EXPIRE', at: DEADLINE - 1 });
  const [expired, events] = accept(t, order, { type: 'EXPIRE', at: DEADLINE });
  t.is(expired.value, 'expired');
  t.is(expired.status, 'done', 'expired is final');
  t.is(expired.context.updatedAt, DEADLINE);
  t.deepEqual(events, [{ type: 'order.expired', orderId: 'order-1' }]);
  for (const event of [payRequested('req-1', DEADLINE + 1), cancel('x', DEADLINE + 1), { type: 'EXPIRE', at: DEADLINE + 1 } as OrderEvent]) {
    reject(t, expired, event);
  }
});

test('EXPIRE is rejected in every state but awaitingPayment, however late', (t) => {
  const late: OrderEvent = { type: 'EXPIRE', at: DEADLINE + 365 * 24 * 3600 * SECOND };
  reject(t, run(t, placed(), payRequested()), late);
  reject(t, paidOrder(t), late);
  reject(t, fulfillingOrder(t), late);
  reject(t, shippedOrder(t), late);
  reject(t, run(t, shippedOrder(t), shipmentDelivered()), late);
  reject(t, run(t, placed(), cancel()), late);
});

// --- fulfilment -------------------------------------------------------------------

test('the happy path runs from placed to delivered and emits each domain event once, in order', (t) => {
  const [order0, placedActions] = initialTransition(orderMachine, input());
  const events: OrderEmitted[] = emitted<OrderEmitted>(placedActions);
  const values: unknown[] = [order0.value];
  let order = order0;
  for (const event of [payRequested(), succeeded(), shipmentCreated(), shipmentShipped(), shipmentDelivered()]) {
    const [next, emittedNow] = accept(t, order, event);
    t.is(next.context.updatedAt, event.at, `${event.type} bumps updatedAt`);
    t.is(next.context.createdAt, T0);
    events.push(...emittedNow);
    values.push(next.value);
    order = next;
  }
  t.deepEqual(values, ['awaitingPayment', 'authorizing', 'paid', 'fulfilling', 'shipped', 'delivered']);
  t.is(order.status, 'done', 'delivered is final');
  t.is(order.context.shipmentId, 'ship-1');
  t.is(order.context.carrier, 'DHL');
  t.is(order.context.trackingNumber, 'JD0123');
  t.deepEqual(events, [
    { type: 'order.placed', orderId: 'order-1', customerId: 'customer-1', total: TOTAL },
    { type: 'order.paymentRequested', orderId: 'order-1', requestId: 'req-1' },
    { type: 'order.paid', orderId: 'order-1', customerId: 'customer-1', chargeId: 'ch-1' },
    { type: 'order.shipped', orderId: 'order-1', shipmentId: 'ship-1' },
    { type: 'order.delivered', orderId: 'order-1' },
  ]);
});

test('creating the shipment records it without emitting', (t) => {
  const [order, events] = accept(t, paidOrder(t), shipmentCreated(T0 + 200 * SECOND));
  t.is(order.value, 'fulfilling');
  t.is(order.context.shipmentId, 'ship-1');
  t.deepEqual(events, []);
});

test('shipment progress out of order is rejected', (t) => {
  const order = placed();
  reject(t, order, shipmentCreated());
  reject(t, order, shipmentShipped());
  reject(t, order, shipmentDelivered());
  const paid = paidOrder(t);
  reject(t, paid, shipmentShipped());
  reject(t, paid, shipmentDelivered());
  const fulfilling = fulfillingOrder(t);
  reject(t, fulfilling, shipmentCreated());
  reject(t, fulfilling, shipmentDelivered());
  const shipped = shippedOrder(t);
  reject(t, shipped, shipmentCreated());
  reject(t, shipped, shipmentShipped());
});

test('a delivered order accepts nothing more', (t) => {
  const delivered = run(t, shippedOrder(t), shipmentDelivered());
  const at = T0 + 1_000 * SECOND;
  const events: OrderEvent[] = [
    payRequested('req-9', at),
    succeeded('req-1', 'ch-1', at),
    declined('req-1', 'x', at),
    cancel('x', at),
    { type: 'EXPIRE', at },
    shipmentCreated(at),
    shipmentShipped(at),
    shipmentDelivered(at),
    { type: 'REFUND_COMPLETED', refundId: 're-1', at },
  ];
  for (const event of events) reject(t, delivered, event);
});

// --- no hidden timers ----------------------------------------------------------------

test('in a live actor on a simulated clock, the order holds no timers: only an EXPIRE past the deadline expires it', (t) => {
  const clock = new SimulatedClock();
  clock.set(T0);
  const actor = createActor(orderMachine, { input: input({ at: clock.now() }), clock });
  const heard: OrderEmitted[] = [];
  actor.on('*', (event) => heard.push(event));
  actor.start();
  t.deepEqual(
    heard.map((event) => event.type),
    ['order.placed'],
  );

  const before = actor.getSnapshot();
  const deadline = before.context.paymentDeadline;
  t.is(deadline, T0 + WINDOW);

  clock.increment(10_000 * WINDOW);
  t.is(actor.getSnapshot(), before, 'the snapshot did not change while time passed');
  t.is(actor.getSnapshot().value, 'awaitingPayment');
  t.deepEqual(actor.system.getSnapshot()._scheduledEvents, {}, 'no delayed events are scheduled');
  t.is(heard.length, 1);

  actor.send({ type: 'EXPIRE', at: deadline - 1 });
  t.is(actor.getSnapshot(), before, 'an EXPIRE stamped before the deadline is rejected, whatever the clock says');

  actor.send({ type: 'EXPIRE', at: clock.now() });
  t.is(actor.getSnapshot().value, 'expired');
  t.is(actor.getSnapshot().status, 'done');
  t.deepEqual(
    heard.map((event) => event.type),
    ['order.placed', 'order.expired'],
  );
  actor.stop();
});

// --- persistence -----------------------------------------------------------------------

const probes = (at: number): OrderEvent[] => [
  payRequested('req-9', at),
  payRequested('req-9', DEADLINE),
  succeeded('req-1', 'ch-9', at),
  succeeded('req-other', 'ch-9', at),
  declined('req-1', 'nope', at),
  declined('req-other', 'nope', at),
  cancel('probe', at),
  { type: 'EXPIRE', at: DEADLINE - 1 },
  { type: 'EXPIRE', at: DEADLINE },
  shipmentCreated(at),
  shipmentShipped(at),
  shipmentDelivered(at),
  { type: 'REFUND_COMPLETED', refundId: 're-9', at },
];

function assertSameBehaviour(t: ExecutionContext, original: OrderSnapshot, restored: OrderSnapshot): void {
  t.deepEqual(restored.value, original.value);
  t.deepEqual(restored.context, original.context);
  t.is(restored.status, original.status);
  for (const event of probes(T0 + 500 * SECOND)) {
    const [a, aActions] = transition(orderMachine, original, event);
    const [b, bActions] = transition(orderMachine, restored, event);
    const label = `${event.type} in ${JSON.stringify(original.value)}`;
    t.is(restored.can(event), original.can(event), label);
    t.deepEqual(b.value, a.value, label);
    t.deepEqual(b.context, a.context, label);
    t.deepEqual(emitted(bActions), emitted(aActions), label);
  }
}

test('a snapshot round-trips through JSON and behaves the same afterwards', (t) => {
  const states = [
    placed(),
    run(t, placed(), payRequested('req-1')),
    run(t, placed(), payRequested('req-1'), declined('req-1')),
    paidOrder(t),
    fulfillingOrder(t),
    shippedOrder(t),
    run(t, paidOrder(t), cancel()),
  ];
  for (const original of states) assertSameBehaviour(t, original, roundTrip(orderMachine, original));

  // A restored order awaiting its payment result finishes normally, and does not re-emit order.placed.
  const restored = roundTrip(orderMachine, run(t, placed(), payRequested('req-1')));
  const [paid, actions] = transition(orderMachine, restored, succeeded('req-1', 'ch-1'));
  t.is(paid.value, 'paid');
  t.deepEqual(emittedTypes(actions), ['order.paid']);
});

test('orderRefusal names the rule behind every refused pay or cancel, and is null exactly when the machine takes it', (t) => {
  const authorizing = run(t, placed(), payRequested());
  const orders = {
    awaitingPayment: placed(),
    authorizing,
    paid: paidOrder(t),
    fulfilling: fulfillingOrder(t),
    shipped: shippedOrder(t),
    delivered: run(t, shippedOrder(t), shipmentDelivered()),
    cancelled: run(t, placed(), cancel()),
    expired: run(t, placed(), { type: 'EXPIRE', at: DEADLINE }),
  };
  const asks: OrderEvent[] = [payRequested('req-2'), payRequested('req-2', DEADLINE), cancel()];
  const reasons = new Set<string>();
  for (const [name, order] of Object.entries(orders)) {
    for (const ask of asks) {
      const [next] = transition(orderMachine, order, ask);
      const refusal = orderRefusal(String(order.value), order.context, ask);
      t.is(refusal === null, next !== order, `${name} ${JSON.stringify(ask)}: ${refusal?.reason ?? 'taken'}`);
      if (refusal) reasons.add(refusal.reason);
    }
  }
  t.deepEqual([...reasons].sort(), ['ALREADY_PAID', 'ALREADY_SHIPPED', 'ORDER_CLOSED', 'PAYMENT_IN_PROGRESS', 'PAYMENT_WINDOW_CLOSED']);
  // Saga events are not the customer's doing: a refused one has no rule to name.
  t.is(orderRefusal('awaitingPayment', placed().context, shipmentDelivered()), null);
});
