// The modules' non-saga flows alone, over plain RxJS and fakes that record what they are asked (no app, no
// database, no sockets): offers-close-drops, offers-reprice-carts, mail, back-in-stock-push and recommendations.
// Each is given one event of every type the app emits, delivered as the relay delivers (one event per run), and
// the test checks what it asked of its dependencies for the types it consumes and that it asked nothing for the
// others; then that it takes its events one at a time, in order, and that a failure reaches the relay (a retry).
import test, { type ExecutionContext } from 'ava';
import { from, lastValueFrom, of } from 'rxjs';
import type { Push } from '../../src/kernel/gateway/pushes.ts';
import type { DomainEvent, DomainEventPayload, DomainEventType, FlowDefinition } from '../../src/kernel/outbox/flows.ts';
import type { CartService } from '../../src/modules/cart/cart.service.ts';
import { offersRepriceCarts } from '../../src/modules/cart/flows.ts';
import { mailFlow } from '../../src/modules/mail/flows.ts';
import type { MailEvent } from '../../src/modules/mail/mail.service.ts';
import { offersCloseDrops } from '../../src/modules/offers/flows.ts';
import { recordPaidOrders } from '../../src/modules/recommendations/flows.ts';
import { backInStockPush } from '../../src/modules/stock-alerts/flows.ts';

const T0 = 1_700_000_000_000;

/** One payload of every domain event type: the compiler fails this table when a module adds a type it lacks. */
const PAYLOADS: { readonly [T in DomainEventType]: Extract<DomainEventPayload, { type: T }> } = {
  'customer.registered': { type: 'customer.registered', customerId: 'cus_ada' },
  'cart.checkedOut': { type: 'cart.checkedOut', cartId: 'cart_1', orderId: 'order_1' },
  'cart.expired': { type: 'cart.expired', cartId: 'cart_2' },
  'order.placed': { type: 'order.placed', orderId: 'order_1', customerId: 'cus_ada', total: 3_000 },
  'order.paymentRequested': { type: 'order.paymentRequested', orderId: 'order_1', requestId: 'req_1' },
  'order.paymentDeclined': { type: 'order.paymentDeclined', orderId: 'order_1', reason: 'card declined' },
  'order.paid': { type: 'order.paid', orderId: 'order_1', customerId: 'cus_ada', chargeId: 'chg_1' },
  'order.shipped': { type: 'order.shipped', orderId: 'order_1', shipmentId: 'shp_1' },
  'order.delivered': { type: 'order.delivered', orderId: 'order_1' },
  'order.cancelled': { type: 'order.cancelled', orderId: 'order_2', refundDue: 3_000, chargeId: 'chg_2' },
  'order.expired': { type: 'order.expired', orderId: 'order_3' },
  'shipment.created': { type: 'shipment.created', shipmentId: 'shp_1', orderId: 'order_1' },
  'shipment.shipped': { type: 'shipment.shipped', shipmentId: 'shp_1', orderId: 'order_1', carrier: 'DHL', trackingNumber: 'JD014600003SE' },
  'shipment.delivered': { type: 'shipment.delivered', shipmentId: 'shp_1', orderId: 'order_1' },
  'shipment.exception': { type: 'shipment.exception', shipmentId: 'shp_1', orderId: 'order_1', reason: 'lost' },
  'shipment.cancelled': { type: 'shipment.cancelled', shipmentId: 'shp_2', orderId: 'order_2' },
  'offer.started': { type: 'offer.started', offerId: 'offer_started' },
  'offer.ended': { type: 'offer.ended', offerId: 'offer_ended', reason: 'ended' },
  'offer.soldOut': { type: 'offer.soldOut', offerId: 'offer_soldout' },
  'offer.restocked': { type: 'offer.restocked', offerId: 'offer_restocked' },
  'stock.backInStock': { type: 'stock.backInStock', customerId: 'cus_ada', productId: 'prod_teapot', name: 'Teapot', available: 3 },
};

function event<P extends DomainEventPayload>(seq: number, payload: P): DomainEvent<P> {
  return { seq, actorId: `actor_${seq}`, type: payload.type, payload, createdAt: T0 + seq };
}

/** One event of every type, in a fixed order, with rising sequence numbers. */
const EVERY_EVENT: readonly DomainEvent[] = Object.values(PAYLOADS).map((payload, i) => event(i + 1, payload as DomainEventPayload));

/** How the relay delivers: one event per run of the flow, awaited to completion (an error means "retry later"). */
function deliver(flow: FlowDefinition, delivered: DomainEvent): Promise<unknown> {
  return lastValueFrom(flow.run(of(delivered)), { defaultValue: undefined });
}

async function deliverEach(flow: FlowDefinition, events: readonly DomainEvent[]): Promise<void> {
  for (const delivered of events) await deliver(flow, delivered);
}

const consumed = (types: readonly DomainEventType[]) => EVERY_EVENT.filter((delivered) => types.includes(delivered.type));

/**
 * A fake dependency method: records each call's argument and counts how many calls are under way at once (each
 * answers after a turn of the event loop, so calls that a flow overlapped would overlap here).
 */
function recorder<A, R>(answer: (arg: A) => R) {
  const calls: A[] = [];
  let running = 0;
  let mostAtOnce = 0;
  const call = async (arg: A): Promise<R> => {
    calls.push(arg);
    running++;
    mostAtOnce = Math.max(mostAtOnce, running);
    try {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return answer(arg);
    } finally {
      running--;
    }
  };
  return { calls, call, mostAtOnce: () => mostAtOnce };
}

/** Given many events in one run, the flow makes its calls one at a time, in the order of the events. */
async function oneAtATime<A>(t: ExecutionContext, flow: FlowDefinition, fake: ReturnType<typeof recorder<A, unknown>>, expected: readonly A[]) {
  await lastValueFrom(flow.run(from(EVERY_EVENT)), { defaultValue: undefined });
  t.deepEqual(fake.calls, expected, 'every consumed event of the batch, in order');
  t.is(fake.mostAtOnce(), 1, 'never two calls at once');
}

test('offers-close-drops: a critical flow on offer.ended that closes the drop of every ended or cancelled offer, and of nothing else', async (t) => {
  const closeDrop = recorder<string, void>(() => undefined);
  const flow = offersCloseDrops({ offers: { closeDrop: closeDrop.call } });
  t.is(flow.name, 'offers-close-drops', 'the name keys its delivery records: it must not change');
  t.is(flow.delivery, 'critical');
  t.deepEqual(flow.on, ['offer.ended']);

  await deliverEach(flow, EVERY_EVENT);
  t.deepEqual(closeDrop.calls, ['offer_ended'], 'started, sold out and restocked offers keep their drop open');

  await deliver(flow, event(100, { type: 'offer.ended', offerId: 'offer_cancelled', reason: 'cancelled' }));
  t.deepEqual(closeDrop.calls, ['offer_ended', 'offer_cancelled'], 'a cancelled offer ends too');

  await deliver(flow, event(100, { type: 'offer.ended', offerId: 'offer_cancelled', reason: 'cancelled' }));
  t.deepEqual(closeDrop.calls.slice(2), ['offer_cancelled'], 'a redelivery closes it again (closing is idempotent in the repository)');
});

test('offers-reprice-carts: a best-effort flow that re-prices the carts of an offer that started, ended, sold out or came back', async (t) => {
  const reprice = recorder<string, number>(() => 2);
  const flow = offersRepriceCarts({ repriceForOffer: reprice.call } as unknown as CartService);
  t.is(flow.name, 'offers-reprice-carts');
  t.is(flow.delivery, 'best-effort');
  t.deepEqual([...flow.on].sort(), ['offer.ended', 'offer.restocked', 'offer.soldOut', 'offer.started']);

  await deliverEach(flow, EVERY_EVENT);
  t.deepEqual(reprice.calls, ['offer_started', 'offer_ended', 'offer_soldout', 'offer_restocked'], 'one re-pricing per offer event, no other event');
});

test('mail: a best-effort flow that hands every event owing a mail to the queue as it came (its seq keys the mail), and no other event', async (t) => {
  const enqueue = recorder<MailEvent, void>(() => undefined);
  const flow = mailFlow({ mail: { enqueue: enqueue.call } });
  t.is(flow.name, 'mail');
  t.is(flow.delivery, 'best-effort');

  await deliverEach(flow, EVERY_EVENT);
  const expected = [
    'customer.registered',
    'order.placed',
    'order.paid',
    'order.shipped',
    'order.delivered',
    'order.cancelled',
    'order.expired',
    'stock.backInStock',
  ] as const;
  t.deepEqual([...flow.on].sort(), [...expected].sort());
  t.deepEqual(
    enqueue.calls.map((queued) => queued.type),
    [...expected],
    'no mail for a payment request or decline, a cart, a shipment or an offer',
  );
  t.deepEqual(enqueue.calls, consumed(expected), 'the events themselves, unchanged: seq, actor, payload and time');
});

test('back-in-stock-push: a best-effort flow that pushes stock:backInStock to the subscriber alone, with the product and nothing personal', async (t) => {
  const pushes: Push[] = [];
  const flow = backInStockPush({ pushes: { next: (push) => pushes.push(push) } });
  t.is(flow.name, 'back-in-stock-push');
  t.is(flow.delivery, 'best-effort');
  t.deepEqual(flow.on, ['stock.backInStock']);

  await deliverEach(flow, EVERY_EVENT);
  await deliver(flow, event(100, { type: 'stock.backInStock', customerId: 'gst_guest1', productId: 'prod_cup', name: 'Cup', available: 1 }));

  t.is(pushes.length, 2, 'one push per back-in-stock event, none for any other event');
  t.deepEqual(pushes[0]!.topics, ['~principal:cus_ada'], "the customer's own room, on whichever node its sockets are");
  t.is(pushes[0]!.event, 'stock:backInStock');
  t.deepEqual(pushes[0]!.payload(), [{ productId: 'prod_teapot', name: 'Teapot', available: 3 }], 'no customer id in the notice');
  t.deepEqual(pushes[1]!.topics, ['~principal:gst_guest1'], 'a guest subscriber gets its push too');
  t.deepEqual(pushes[1]!.payload(), [{ productId: 'prod_cup', name: 'Cup', available: 1 }]);
});

test('recommendations: a best-effort flow that records each paid order, and no other order event', async (t) => {
  // The second answer is "not counted" (already counted, or an unknown order): the delivery still succeeds.
  let answers = 0;
  const recordPaid = recorder<DomainEvent, boolean>(() => ++answers === 1);
  const flow = recordPaidOrders({ recommendations: { recordPaid: recordPaid.call } });
  t.is(flow.name, 'recommendations');
  t.is(flow.delivery, 'best-effort');
  t.deepEqual(flow.on, ['order.paid']);

  await deliverEach(flow, EVERY_EVENT);
  const paid = consumed(['order.paid']);
  t.deepEqual(recordPaid.calls, paid, 'order.paid as it came, and nothing for placed, cancelled, expired or shipped orders');

  await deliver(flow, paid[0]!); // redelivery: the service answers false, and that is no failure
  t.deepEqual(recordPaid.calls, [...paid, ...paid]);
});

test('each flow takes a batch of events one at a time, in order', async (t) => {
  const closeDrop = recorder<string, void>(() => undefined);
  await oneAtATime(t, offersCloseDrops({ offers: { closeDrop: closeDrop.call } }), closeDrop, ['offer_ended']);

  const reprice = recorder<string, number>(() => 0);
  await oneAtATime(t, offersRepriceCarts({ repriceForOffer: reprice.call } as unknown as CartService), reprice, [
    'offer_started',
    'offer_ended',
    'offer_soldout',
    'offer_restocked',
  ]);

  const enqueue = recorder<MailEvent, void>(() => undefined);
  const mail = mailFlow({ mail: { enqueue: enqueue.call } });
  await oneAtATime(t, mail, enqueue, consumed(mail.on) as MailEvent[]);

  const recordPaid = recorder<DomainEvent, boolean>(() => true);
  await oneAtATime(t, recordPaidOrders({ recommendations: { recordPaid: recordPaid.call } }), recordPaid, consumed(['order.paid']));

  const pushes: Push[] = [];
  const backInStock = event(200, PAYLOADS['stock.backInStock']);
  await lastValueFrom(backInStockPush({ pushes: { next: (push) => pushes.push(push) } }).run(from([backInStock, { ...backInStock, seq: 201 }])), {
    defaultValue: undefined,
  });
  t.is(pushes.length, 2);
});

test("a dependency's failure fails the delivery, so the relay retries it later", async (t) => {
  const boom = () => {
    throw new Error('database unavailable');
  };
  const ended = event(1, PAYLOADS['offer.ended']);
  await t.throwsAsync(deliver(offersCloseDrops({ offers: { closeDrop: recorder<string, void>(boom).call } }), ended), { message: 'database unavailable' });
  await t.throwsAsync(deliver(offersRepriceCarts({ repriceForOffer: recorder<string, number>(boom).call } as unknown as CartService), ended), {
    message: 'database unavailable',
  });
  await t.throwsAsync(deliver(mailFlow({ mail: { enqueue: recorder<MailEvent, void>(boom).call } }), event(2, PAYLOADS['order.placed'])), {
    message: 'database unavailable',
  });
  await t.throwsAsync(
    deliver(recordPaidOrders({ recommendations: { recordPaid: recorder<DomainEvent, boolean>(boom).call } }), event(3, PAYLOADS['order.paid'])),
    { message: 'database unavailable' },
  );
  const failingPushes = { next: boom };
  await t.throwsAsync(deliver(backInStockPush({ pushes: failingPushes }), event(4, PAYLOADS['stock.backInStock'])), { message: 'database unavailable' });
});
