// The three sagas alone, over plain RxJS and a real actor runtime on a temp SQLite file (no app, no HTTP, no
// sockets): each event is delivered the way the relay delivers it — one event per run, redelivered at will — and
// the actors, the saga anomalies and what the saga asked of inventory and of the payment provider are checked.
import test, { type ExecutionContext } from 'ava';
import { from, lastValueFrom, of } from 'rxjs';
import { shipmentIdFor } from '../../src/domain/ids.ts';
import type { OrderLine, ShippingAddress } from '../../src/domain/types.ts';
import { ActorRuntime } from '../../src/kernel/actors/runtime.ts';
import { SqliteActorWriter } from '../../src/kernel/db/actor-writer.ts';
import { ActorRepo } from '../../src/kernel/db/actor.repo.ts';
import { migrateLatest, openDb, type Db } from '../../src/kernel/db/db.ts';
import type { DomainEvent, DomainEventPayload, DomainEventType, FlowDefinition } from '../../src/kernel/outbox/flows.ts';
import { SagaAnomalies, SagaSteps } from '../../src/kernel/outbox/saga-steps.ts';
import type { ActorKinds } from '../../src/kernel/registry.ts';
import { cartKind } from '../../src/modules/cart/cart.kind.ts';
import { CheckoutService } from '../../src/modules/cart/checkout.service.ts';
import { checkoutSaga } from '../../src/modules/cart/flows.ts';
import type { CatalogService } from '../../src/modules/catalog/catalog.service.ts';
import { appMigrations } from '../../src/modules/index.ts';
import type { InventoryService } from '../../src/modules/inventory/inventory.service.ts';
import { orderSaga } from '../../src/modules/order/flows.ts';
import { orderKind } from '../../src/modules/order/order.kind.ts';
import type { PaymentProvider, RefundRequest } from '../../src/modules/order/payment-provider.ts';
import type { ProductView } from '../../src/protocol/index.ts';
import { shipmentSaga } from '../../src/modules/shipment/flows.ts';
import { shipmentKind } from '../../src/modules/shipment/shipment.kind.ts';
import { offerKind } from '../../src/modules/offers/offer.kind.ts';
import { ShipmentService } from '../../src/modules/shipment/shipment.service.ts';
import { folderForTest } from '../helpers/app.ts';

const T0 = 1_700_000_000_000;
const PAYMENT_WINDOW_MS = 15 * 60 * 1000;
const quiet = { warn: () => {}, error: () => {} };

const ITEMS: readonly OrderLine[] = [
  { productId: 'prod_teapot', name: 'Teapot', sku: 'TEA-1', quantity: 2, unitPrice: 1_250 },
  { productId: 'prod_cup', name: 'Cup', sku: 'CUP-1', quantity: 1, unitPrice: 500 },
];
const TOTAL = 2 * 1_250 + 500;
const ADDRESS: ShippingAddress = { name: 'Ada Lovelace', line1: '1 Main St', city: 'Paris', postalCode: '75001', country: 'FR' };

/** Inventory as the sagas see it: every request recorded, in order, as `[method, orderId]`. */
class RecordingInventory implements Pick<InventoryService, 'hold' | 'release' | 'commitSale'> {
  readonly calls: Array<['hold' | 'release' | 'commitSale', string]> = [];
  async hold(orderId: string): Promise<void> {
    this.calls.push(['hold', orderId]);
  }
  async release(orderId: string): Promise<void> {
    this.calls.push(['release', orderId]);
  }
  async commitSale(orderId: string): Promise<void> {
    this.calls.push(['commitSale', orderId]);
  }
}

/** A payment provider that only refunds, idempotently by key as a real one does: the same key answers the same refund. */
class RecordingPayments implements Pick<PaymentProvider, 'refund'> {
  readonly refunds: RefundRequest[] = [];
  private readonly byKey = new Map<string, string>();
  async refund(request: RefundRequest): Promise<{ refundId: string }> {
    this.refunds.push(request);
    const refundId = this.byKey.get(request.idempotencyKey) ?? `re_${this.byKey.size + 1}`;
    this.byKey.set(request.idempotencyKey, refundId);
    return { refundId };
  }
}

/** The catalog as the checkout reads it when it makes an order: the products of the cart's lines, by id. */
const catalog: Pick<CatalogService, 'getProducts'> = {
  async getProducts(ids) {
    const products = ITEMS.filter((line) => ids.includes(line.productId)).map(
      (line): ProductView => ({
        id: line.productId,
        sku: line.sku,
        name: line.name,
        description: '',
        categoryId: 'cat_tea',
        price: line.unitPrice,
        currency: 'EUR',
        available: 10,
        version: 1,
        stockVersion: 1,
        images: [],
        attributes: {},
        archived: false,
        rating: { average: null, count: 0, histogram: [0, 0, 0, 0, 0] },
        createdAt: T0,
        updatedAt: T0,
        imageUrl: null,
      }),
    );
    return new Map(products.map((product) => [product.id, product]));
  },
};

interface OutboxRow {
  seq: number | string;
  actor_id: string;
  type: string;
  payload: string | DomainEventPayload;
  created_at: number | string;
}

async function setup(t: ExecutionContext) {
  const dir = folderForTest(t, 'emporium-sagas-');
  const db = openDb(`${dir}/sagas.sqlite`, appMigrations());
  t.teardown(() => db.close());
  await migrateLatest(db);
  const clock = { now: T0 };
  const read = () => clock.now;
  const actors = new ActorRepo(db.knex);
  const runtime = new ActorRuntime<ActorKinds>({
    repo: actors,
    writer: new SqliteActorWriter(db.knex),
    clock: read,
    logger: quiet,
    kinds: { cart: cartKind, order: orderKind, shipment: shipmentKind, offer: offerKind },
  });
  const logged: Array<{ object: object; message: string }> = [];
  const anomalies = new SagaAnomalies({ error: (object, message) => logged.push({ object, message }) });
  const steps = new SagaSteps(runtime, anomalies);
  const inventory = new RecordingInventory();
  const payments = new RecordingPayments();
  const shipments = new ShipmentService({ runtime, actors, clock: read });
  const services = { inventory: inventory as unknown as InventoryService, shipments };
  return {
    db,
    clock,
    read,
    actors,
    runtime,
    anomalies,
    logged,
    steps,
    inventory,
    payments,
    shipments,
    orders: orderSaga({ runtime, steps, services, payments: payments as unknown as PaymentProvider }),
    shipping: shipmentSaga({ runtime, steps, services }),
  };
}
type Setup = Awaited<ReturnType<typeof setup>>;

/** How the relay delivers: one event per run of the flow, awaited to completion (an error means "retry later"). */
function deliver(flow: FlowDefinition, event: DomainEvent): Promise<unknown> {
  return lastValueFrom(flow.run(of(event)), { defaultValue: undefined });
}

/** The events of `type` the actor's machine emitted, read back from the outbox as the relay reads them. */
async function emitted(db: Db, actorId: string, type: DomainEventType): Promise<DomainEvent[]> {
  const rows = (await db
    .knex('outbox')
    .where({ actor_id: actorId, type })
    .orderBy('seq')
    .select('seq', 'actor_id', 'type', 'payload', 'created_at')) as OutboxRow[];
  return rows.map((row) => ({
    seq: Number(row.seq),
    actorId: row.actor_id,
    type: row.type as DomainEventType,
    payload: typeof row.payload === 'string' ? (JSON.parse(row.payload) as DomainEventPayload) : row.payload,
    createdAt: Number(row.created_at),
  }));
}

/** The one event of `type` the actor emitted. */
async function theEvent(t: ExecutionContext, db: Db, actorId: string, type: DomainEventType): Promise<DomainEvent> {
  const events = await emitted(db, actorId, type);
  t.is(events.length, 1, `${actorId} emitted exactly one ${type}`);
  return events[0]!;
}

async function placedOrder({ runtime }: Setup, id: string) {
  const { actor } = await runtime.create('order', id, {
    id,
    customerId: 'cus_ada',
    cartId: `cart_${id}`,
    items: ITEMS,
    currency: 'EUR',
    shippingAddress: ADDRESS,
    paymentWindowMs: PAYMENT_WINDOW_MS,
    at: T0,
  });
  return actor;
}

async function paidOrder(s: Setup, id: string, chargeId = `chg_${id}`) {
  await placedOrder(s, id);
  await s.runtime.send('order', id, { type: 'PAY_REQUESTED', requestId: 'req_1', providerKey: `pay:${id}:req_1` });
  return s.runtime.send('order', id, { type: 'PAYMENT_SUCCEEDED', requestId: 'req_1', chargeId });
}

/** A paid order with its shipment created and linked (`fulfilling`), as the payment saga leaves it. */
async function fulfillingOrder(s: Setup, id: string) {
  const order = await paidOrder(s, id);
  const shipment = await s.shipments.createForOrder(order);
  await s.runtime.send('order', id, { type: 'SHIPMENT_CREATED', shipmentId: shipment.id });
  return shipment;
}

/** The warehouse moves a shipment to `shipped` through the real service. */
async function ship(s: Setup, shipmentId: string) {
  await s.shipments.advance(shipmentId, { to: 'picking' });
  await s.shipments.advance(shipmentId, { to: 'packed' });
  return s.shipments.advance(shipmentId, { to: 'shipped', carrier: 'DHL', trackingNumber: 'JD014600003SE' });
}

test('order.paid opens one shipment, links the order to it and holds its stock; a redelivery changes nothing and is no anomaly', async (t) => {
  const s = await setup(t);
  const orderId = 'order_paid1';
  await paidOrder(s, orderId, 'chg_paid1');
  const paid = await theEvent(t, s.db, orderId, 'order.paid');
  t.deepEqual(paid.payload, { type: 'order.paid', orderId, customerId: 'cus_ada', chargeId: 'chg_paid1' });

  await deliver(s.orders, paid);

  const shipmentId = shipmentIdFor(orderId);
  const shipment = await s.runtime.get('shipment', shipmentId);
  t.is(shipment?.state, 'pending');
  t.is(shipment?.snapshot.context.orderId, orderId);
  t.deepEqual(shipment?.snapshot.context.items, ITEMS);
  t.deepEqual(shipment?.snapshot.context.shippingAddress, ADDRESS);
  const order = await s.runtime.get('order', orderId);
  t.is(order?.state, 'fulfilling', 'SHIPMENT_CREATED moved the order on');
  t.is(order?.snapshot.context.shipmentId, shipmentId);
  t.deepEqual(s.inventory.calls, [['hold', orderId]], 'the stock is held, once');
  t.is((await emitted(s.db, shipmentId, 'shipment.created')).length, 1);

  await deliver(s.orders, paid); // redelivery (e.g. the relay lost its lease after the work was done)

  t.is((await s.runtime.get('order', orderId))?.version, order?.version, 'the order is not changed again');
  t.is((await s.runtime.get('shipment', shipmentId))?.version, shipment?.version, 'the shipment is not changed again');
  t.is((await s.actors.listByKind('shipment', { limit: 10 })).length, 1, 'still one shipment');
  t.is((await emitted(s.db, shipmentId, 'shipment.created')).length, 1);
  // The hold is asked again (not guarded by a step), for the same order: InventoryService documents it as safe to repeat.
  t.deepEqual(s.inventory.calls, [
    ['hold', orderId],
    ['hold', orderId],
  ]);
  t.is(s.anomalies.total, 0);
  t.deepEqual(s.logged, []);
});

test('order.cancelled after payment releases the stock, cancels the shipment and refunds once under refund:<orderId>; a redelivery refunds nothing more', async (t) => {
  const s = await setup(t);
  const orderId = 'order_cancel1';
  const shipment = await fulfillingOrder(s, orderId);
  await s.runtime.send('order', orderId, { type: 'CANCEL', reason: 'customer request' });
  const cancelled = await theEvent(t, s.db, orderId, 'order.cancelled');
  t.deepEqual(cancelled.payload, { type: 'order.cancelled', orderId, refundDue: TOTAL, chargeId: `chg_${orderId}` });

  await deliver(s.orders, cancelled);

  t.deepEqual(s.inventory.calls, [['release', orderId]], 'the stock goes back');
  const stopped = await s.runtime.get('shipment', shipment.id);
  t.is(stopped?.state, 'cancelled', 'the shipment is stopped');
  const expectedRefund: RefundRequest = { idempotencyKey: `refund:${orderId}`, orderId, chargeId: `chg_${orderId}`, amount: TOTAL, currency: 'EUR' };
  t.deepEqual(s.payments.refunds, [expectedRefund], 'the provider is asked for the refund once');
  const refunded = await s.runtime.get('order', orderId);
  t.is(refunded?.state, 'cancelled');
  t.deepEqual(
    refunded?.snapshot.context.refund,
    { amount: TOTAL, chargeId: `chg_${orderId}`, status: 'refunded', refundId: 're_1' },
    'REFUND_COMPLETED recorded',
  );
  t.is(refunded?.snapshot.context.cancelReason, 'customer request');

  await deliver(s.orders, cancelled); // redelivery

  // The provider is asked again, under the same key, so it answers with the same refund instead of paying twice.
  t.deepEqual(s.payments.refunds, [expectedRefund, expectedRefund]);
  t.deepEqual(new Set(s.payments.refunds.map((request) => request.idempotencyKey)), new Set([`refund:${orderId}`]));
  const after = await s.runtime.get('order', orderId);
  t.is(after?.version, refunded?.version, 'the order records no second refund');
  t.is(after?.snapshot.context.refund?.refundId, 're_1');
  t.is((await s.runtime.get('shipment', shipment.id))?.version, stopped?.version, 'the shipment is not cancelled twice');
  t.is(s.anomalies.total, 0);
});

test('order.cancelled before payment releases the stock and asks no refund', async (t) => {
  const s = await setup(t);
  const orderId = 'order_cancel0';
  await placedOrder(s, orderId);
  await s.runtime.send('order', orderId, { type: 'CANCEL', reason: 'customer request' });
  const cancelled = await theEvent(t, s.db, orderId, 'order.cancelled');
  t.deepEqual(cancelled.payload, { type: 'order.cancelled', orderId, refundDue: 0, chargeId: null });

  await deliver(s.orders, cancelled);

  t.deepEqual(s.inventory.calls, [['release', orderId]]);
  t.deepEqual(s.payments.refunds, []);
  t.is(await s.runtime.get('shipment', shipmentIdFor(orderId)), undefined, 'there was no shipment to stop, and none is made');
  t.is((await s.runtime.get('order', orderId))?.snapshot.context.refund, null);
  t.is(s.anomalies.total, 0);
});

test('order.expired releases the stock and does nothing else', async (t) => {
  const s = await setup(t);
  const orderId = 'order_expire1';
  await placedOrder(s, orderId);
  s.clock.now = T0 + PAYMENT_WINDOW_MS; // the payment deadline passes; the runtime's sweep expires the order
  t.is(await s.runtime.sweepDeadlines(), 1);
  t.is((await s.runtime.get('order', orderId))?.state, 'expired');
  const expired = await theEvent(t, s.db, orderId, 'order.expired');
  t.deepEqual(expired.payload, { type: 'order.expired', orderId });

  await deliver(s.orders, expired);

  t.deepEqual(s.inventory.calls, [['release', orderId]]);
  t.deepEqual(s.payments.refunds, []);
  t.is(await s.runtime.get('shipment', shipmentIdFor(orderId)), undefined);
  t.is(s.anomalies.total, 0);
});

test('shipment.shipped before the order is linked fails the delivery and sells nothing; once linked it commits the sale and ships the order', async (t) => {
  const s = await setup(t);
  const orderId = 'order_race1';
  const order = await paidOrder(s, orderId);
  // The warehouse got the shipment moving before the payment saga's SHIPMENT_CREATED reached the order.
  const shipment = await s.shipments.createForOrder(order);
  await ship(s, shipment.id);
  const shipped = await theEvent(t, s.db, shipment.id, 'shipment.shipped');
  t.deepEqual(shipped.payload, { type: 'shipment.shipped', shipmentId: shipment.id, orderId, carrier: 'DHL', trackingNumber: 'JD014600003SE' });

  await t.throwsAsync(deliver(s.shipping, shipped), { message: /not linked to its shipment yet/ }, 'the relay sees an error and retries');
  t.deepEqual(s.inventory.calls, [], 'nothing is sold');
  const unlinked = await s.runtime.get('order', orderId);
  t.is(unlinked?.state, 'paid');
  t.is(unlinked?.version, order.version);

  await s.runtime.send('order', orderId, { type: 'SHIPMENT_CREATED', shipmentId: shipment.id }); // the payment saga catches up
  await deliver(s.shipping, shipped); // the relay's retry

  t.deepEqual(s.inventory.calls, [['commitSale', orderId]], 'the reservation becomes a sale');
  const sold = await s.runtime.get('order', orderId);
  t.is(sold?.state, 'shipped');
  t.is(sold?.snapshot.context.carrier, 'DHL');
  t.is(sold?.snapshot.context.trackingNumber, 'JD014600003SE');
  t.deepEqual((await theEvent(t, s.db, orderId, 'order.shipped')).payload, { type: 'order.shipped', orderId, shipmentId: shipment.id });
  t.is(s.anomalies.total, 0);
});

test('shipment.delivered delivers its shipped order', async (t) => {
  const s = await setup(t);
  const orderId = 'order_deliver1';
  const shipment = await fulfillingOrder(s, orderId);
  await ship(s, shipment.id);
  await s.runtime.send('order', orderId, { type: 'SHIPMENT_SHIPPED', carrier: 'DHL', trackingNumber: 'JD014600003SE' });
  await s.shipments.advance(shipment.id, { to: 'delivered' });
  const delivered = await theEvent(t, s.db, shipment.id, 'shipment.delivered');
  t.deepEqual(delivered.payload, { type: 'shipment.delivered', shipmentId: shipment.id, orderId });

  await deliver(s.shipping, delivered);

  const order = await s.runtime.get('order', orderId);
  t.is(order?.state, 'delivered');
  t.deepEqual((await theEvent(t, s.db, orderId, 'order.delivered')).payload, { type: 'order.delivered', orderId });

  await deliver(s.shipping, delivered); // redelivery
  t.is((await s.runtime.get('order', orderId))?.version, order?.version);
  t.deepEqual(s.inventory.calls, [], 'delivery moves no stock');
  t.is(s.anomalies.total, 0);
});

test("shipment.cancelled cancels its order with the payload's reason, or as cancelled by the warehouse when it gives none", async (t) => {
  const s = await setup(t);
  const withReason = await fulfillingOrder(s, 'order_whcancel1');
  const withoutReason = await fulfillingOrder(s, 'order_whcancel2');
  await s.runtime.send('shipment', withReason.id, { type: 'CANCEL', reason: 'cancelled by the customer' });
  await s.runtime.send('shipment', withoutReason.id, { type: 'CANCEL' });
  const first = await theEvent(t, s.db, withReason.id, 'shipment.cancelled');
  const second = await theEvent(t, s.db, withoutReason.id, 'shipment.cancelled');
  t.deepEqual(first.payload, { type: 'shipment.cancelled', shipmentId: withReason.id, orderId: 'order_whcancel1', reason: 'cancelled by the customer' });
  t.deepEqual(second.payload, { type: 'shipment.cancelled', shipmentId: withoutReason.id, orderId: 'order_whcancel2' }, 'no reason at all in the payload');

  await deliver(s.shipping, first);
  await deliver(s.shipping, second);

  const one = await s.runtime.get('order', 'order_whcancel1');
  const two = await s.runtime.get('order', 'order_whcancel2');
  t.is(one?.state, 'cancelled');
  t.is(one?.snapshot.context.cancelReason, 'cancelled by the customer');
  t.is(two?.state, 'cancelled');
  t.is(two?.snapshot.context.cancelReason, 'shipment cancelled by the warehouse');
  // Each cancelled order owes its refund now: its own order.cancelled carries it to the order saga.
  t.deepEqual((await theEvent(t, s.db, 'order_whcancel2', 'order.cancelled')).payload, {
    type: 'order.cancelled',
    orderId: 'order_whcancel2',
    refundDue: TOTAL,
    chargeId: 'chg_order_whcancel2',
  });

  await deliver(s.shipping, second); // redelivery
  t.is((await s.runtime.get('order', 'order_whcancel2'))?.version, two?.version);
  t.is(s.anomalies.total, 0);
});

test('a saga step the actor refuses although it never took it is recorded as an anomaly under its step name, not swallowed', async (t) => {
  const s = await setup(t);
  const orderId = 'order_unpaid1';
  const placed = await placedOrder(s, orderId);
  // A shipment delivered for an order nobody paid: a broken invariant (no such shipment can exist).
  const delivered: DomainEvent = {
    seq: 9_001,
    actorId: shipmentIdFor(orderId),
    type: 'shipment.delivered',
    payload: { type: 'shipment.delivered', shipmentId: shipmentIdFor(orderId), orderId },
    createdAt: T0,
  };

  await deliver(s.shipping, delivered); // the delivery itself succeeds: retrying would never help

  const order = await s.runtime.get('order', orderId);
  t.is(order?.state, 'awaitingPayment');
  t.is(order?.version, placed.version, 'nothing was written');
  t.is(s.anomalies.total, 1);
  t.deepEqual([...s.anomalies.byStep()], [['shipment.delivered', 1]]);
  t.deepEqual(s.logged, [
    {
      object: {
        step: 'shipment.delivered',
        kind: 'order',
        id: orderId,
        event: 'SHIPMENT_DELIVERED',
        state: 'awaitingPayment',
        refusal: {
          code: 'INVALID_TRANSITION',
          message: 'order in state awaitingPayment does not accept SHIPMENT_DELIVERED',
          details: { state: 'awaitingPayment', event: 'SHIPMENT_DELIVERED' },
        },
      },
      message: 'saga step refused by an actor that had not taken it',
    },
  ]);
});

test('cart.checkedOut creates the missing order of a checked-out cart, once; an event for a cart that is not checked out creates none', async (t) => {
  const s = await setup(t);
  const checkout = new CheckoutService({
    runtime: s.runtime,
    actors: s.actors,
    catalog: catalog as unknown as CatalogService,
    // Not reached: ensureOrder takes the cart's lines as priced.
    offers: undefined as never,
    inventory: s.inventory as unknown as InventoryService,
    steps: s.steps,
    clock: s.read,
    paymentWindowMs: PAYMENT_WINDOW_MS,
    reservationGraceMs: 60_000,
  });
  const saga = checkoutSaga({ runtime: s.runtime, checkout });

  // The node that checked the cart out died between CHECKOUT_COMPLETED and creating the order.
  const cartId = 'cart_crash1';
  const orderId = 'order_crash1';
  await s.runtime.create('cart', cartId, { id: cartId, customerId: 'cus_ada', currency: 'EUR', ttlMs: 3_600_000, at: T0 });
  for (const line of ITEMS)
    await s.runtime.send('cart', cartId, { type: 'ADD_ITEM', productId: line.productId, quantity: line.quantity, unitPrice: line.unitPrice });
  await s.runtime.send('cart', cartId, { type: 'CHECKOUT_STARTED', orderId, requestId: 'req_checkout', shippingAddress: ADDRESS });
  await s.runtime.send('cart', cartId, { type: 'CHECKOUT_COMPLETED', orderId });
  const checkedOut = await theEvent(t, s.db, cartId, 'cart.checkedOut');
  t.deepEqual(checkedOut.payload, { type: 'cart.checkedOut', cartId, orderId });
  t.is(await s.runtime.get('order', orderId), undefined);

  await deliver(saga, checkedOut);

  const order = await s.runtime.get('order', orderId);
  t.is(order?.state, 'awaitingPayment');
  t.is(order?.snapshot.context.cartId, cartId);
  t.is(order?.snapshot.context.customerId, 'cus_ada');
  t.deepEqual(order?.snapshot.context.items, ITEMS, 'lines priced as in the cart, named from the catalog');
  t.is(order?.snapshot.context.total, TOTAL);
  t.deepEqual(order?.snapshot.context.shippingAddress, ADDRESS);
  t.is(order?.snapshot.context.paymentDeadline, T0 + PAYMENT_WINDOW_MS);

  await deliver(saga, checkedOut); // redelivery
  t.is((await s.runtime.get('order', orderId))?.version, order?.version, 'the same order, untouched');
  t.is((await emitted(s.db, orderId, 'order.placed')).length, 1, 'placed once');

  // An event for a cart that is not (or no longer) checked out: nothing to finish.
  await s.runtime.create('cart', 'cart_active1', { id: 'cart_active1', customerId: 'cus_ada', currency: 'EUR', ttlMs: 3_600_000, at: T0 });
  await deliver(saga, {
    ...checkedOut,
    seq: 9_002,
    actorId: 'cart_active1',
    payload: { type: 'cart.checkedOut', cartId: 'cart_active1', orderId: 'order_ghost1' },
  });
  t.is(await s.runtime.get('order', 'order_ghost1'), undefined);
  t.deepEqual(s.inventory.calls, [], 'finishing a checkout moves no stock (it was reserved before the cart completed)');
  t.is(s.anomalies.total, 0);
});

test('events given to a saga together go through its steps one at a time, in order: shipped then delivered, however batched', async (t) => {
  const s = await setup(t);
  const orderId = 'order_batch1';
  const shipment = await fulfillingOrder(s, orderId);
  await ship(s, shipment.id);
  await s.shipments.advance(shipment.id, { to: 'delivered' });
  const shipped = await theEvent(t, s.db, shipment.id, 'shipment.shipped');
  const delivered = await theEvent(t, s.db, shipment.id, 'shipment.delivered');

  // One run with both events: the delivered step must wait for the shipped step (the order must be shipped first).
  await lastValueFrom(s.shipping.run(from([shipped, delivered])), { defaultValue: undefined });

  t.is((await s.runtime.get('order', orderId))?.state, 'delivered');
  t.deepEqual(s.inventory.calls, [['commitSale', orderId]]);
  t.is(s.anomalies.total, 0);
});
