// Regressions from review: stalled payments, per-actor event order, released reservations, stale copies, auth throttling.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { OrderView, ShipmentView } from '../../src/protocol/index.ts';
import { paymentKey } from '../../src/services/order.service.ts';
import {
  call,
  connect,
  createProduct,
  guestToken,
  nextEvent,
  ok,
  postJson,
  registerCustomer,
  staffToken,
  startApp,
  TEST_CARD,
  type TestApp,
} from '../helpers/app.ts';

async function boot(t: import('ava').ExecutionContext, options: Parameters<typeof startApp>[0] = {}): Promise<TestApp> {
  const app = await startApp(options);
  t.teardown(() => app.stop());
  return app;
}

async function open(t: import('ava').ExecutionContext, url: string, namespace: '/store' | '/warehouse', token: string): Promise<Socket> {
  const socket = await connect(url, namespace, token);
  t.teardown(() => socket.close());
  return socket;
}

async function orderFor(app: TestApp, store: Socket, onHand = 5): Promise<OrderView> {
  const product = await createProduct(app.app, { onHand, price: 1500 });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  return (await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-${cart.id}` })).order;
}

test.serial('a payment outliving the stall sweep can no longer succeed late: one outcome, no double charge', async (t) => {
  let offset = 0;
  const app = await boot(t, { config: { paymentLatencyMs: 1500, sweepIntervalMs: 3_600_000 }, app: { clock: () => Date.now() + offset } });
  const store = await open(t, app.url, '/store', await guestToken(app.url));
  const order = await orderFor(app, store);

  const slow = call<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-1', payment: TEST_CARD });
  await new Promise((resolve) => setTimeout(resolve, 200));
  offset += 31_000; // the order has now been authorizing for longer than the stall threshold
  await app.app.sweep();

  const first = await slow;
  t.true(first.ok);
  if (!first.ok) return;
  t.is(first.data.order.state, 'awaitingPayment');
  t.is(first.data.order.lastPaymentError, 'payment_interrupted');
  const ledger = await app.app.db.knex('payment_charges').where({ idempotency_key: paymentKey(order.id, 'pay-1') });
  t.is(ledger.length, 1);
  t.is(ledger[0].status, 'declined', 'the late charge lost to the closed key');

  const second = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-2', payment: TEST_CARD });
  t.not(second.order.state, 'awaitingPayment');
  const succeeded = await app.app.db.knex('payment_charges').where({ order_id: order.id, kind: 'charge', status: 'succeeded' });
  t.is(succeeded.length, 1, 'charged exactly once');
});

test.serial("an actor's domain events are relayed in order even when one fails: the order follows its shipment to delivered", async (t) => {
  const app = await boot(t);
  const customer = await registerCustomer(app.url);
  const store = await open(t, app.url, '/store', customer.token);
  const warehouse = await open(t, app.url, '/warehouse', await staffToken(app.app));
  const order = await orderFor(app, store);
  const paid = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay', payment: TEST_CARD });
  await app.app.relay.drain();
  const shipmentId = (await ok<{ order: OrderView }>(store, 'order:get', { orderId: paid.order.id })).order.shipmentId!;
  t.truthy(shipmentId);

  // The sale fails once (a database hiccup): shipment.shipped must be retried before shipment.delivered runs.
  const inventory = app.app.services.inventory;
  const commitSale = inventory.commitSale.bind(inventory);
  let failures = 0;
  inventory.commitSale = async (orderId: string) => {
    if (failures++ === 0) throw new Error('simulated hiccup');
    return commitSale(orderId);
  };
  t.teardown(() => {
    inventory.commitSale = commitSale;
  });
  for (const to of ['picking', 'packed', 'shipped', 'delivered'] as const) {
    await ok<{ shipment: ShipmentView }>(warehouse, 'shipment:advance', { shipmentId, to });
  }
  await ok(store, 'subscribe', { topic: `order:${order.id}` });
  const delivered = nextEvent<OrderView>(store, 'order:updated', (view) => view.state === 'delivered', 20_000);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && (await app.app.runtime.get('order', order.id))?.state !== 'delivered') {
    await app.app.relay.drain();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.is((await delivered).state, 'delivered');
  t.is(failures, 2, 'the failed step ran again');
  const pending = await app.app.db.knex('outbox').whereNull('dispatched_at');
  t.is(pending.length, 0);
});

test.serial('a checkout resumed after its reservation was released fails instead of making an order with no stock', async (t) => {
  const app = await boot(t);
  const product = await createProduct(app.app, { onHand: 3 });
  const inventory = app.app.services.inventory;
  const reserved = await inventory.reserve('order_released1', 'cart_released1', [{ productId: product.id, quantity: 2 }], Date.now() + 60_000);
  t.true(reserved.ok);
  t.true((await inventory.reserve('order_released1', 'cart_released1', [{ productId: product.id, quantity: 2 }], Date.now() + 60_000)).ok, 'a retry is fine');
  await inventory.release('order_released1');
  const again = await inventory.reserve('order_released1', 'cart_released1', [{ productId: product.id, quantity: 2 }], Date.now() + 60_000);
  t.deepEqual(again, { ok: false, reason: 'RELEASED' });
  t.is((await inventory.level(product.id))?.reserved, 0);
});

(process.env.TEST_POSTGRES_URL ? test.serial : test.serial.skip)('PostgreSQL: a node with a stale copy judges events on the stored state, not its cache', async (t) => {
  const one = await boot(t);
  const two = await boot(t, { dataDir: one.dataDir });
  const id = 'cart_stalecopy';
  await one.app.runtime.create('cart', id, { id, customerId: 'c1', currency: 'EUR', ttlMs: 3_600_000, at: Date.now() });
  await one.app.runtime.send('cart', id, { type: 'ADD_ITEM', productId: 'p1', quantity: 1, unitPrice: 100 });
  // Node two removes the line; node one still caches it, so REMOVE_ITEM p2 (added by two) looks invalid to its cache.
  await two.app.runtime.send('cart', id, { type: 'ADD_ITEM', productId: 'p2', quantity: 1, unitPrice: 100 });
  const removed = await one.app.runtime.send('cart', id, { type: 'REMOVE_ITEM', productId: 'p2' });
  t.is(removed.version, 4);
  t.deepEqual(removed.snapshot.context.items.map((line) => line.productId), ['p1']);
});

test.serial('login and registration are throttled per client', async (t) => {
  const app = await boot(t, { config: { authAttemptsPerMinute: 3 } });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await postJson(`${app.url}/api/auth/login`, { email: 'nobody@example.com', password: 'wrong-password' })).status);
  t.deepEqual(statuses, [401, 401, 401, 429, 429]);
  const refused = await postJson<{ ok: boolean; error: { code: string } }>(`${app.url}/api/auth/login`, { email: 'x@example.com', password: 'y' });
  t.like(refused.body, { ok: false, error: { code: 'RATE_LIMITED' } });
  t.is((await postJson(`${app.url}/api/auth/guest`, {})).status, 200, 'guest tokens are not throttled by it');
});
