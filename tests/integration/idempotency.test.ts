// Same requestId, same result: cart:create, checkout and payment repeated sequentially, concurrently and from two sockets
// (a requestId is the caller's own; a declined payment replays its decline); no lost cart updates.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { Ack, CartView, OrderView } from '../../src/protocol/index.ts';
import type { App } from '../../src/app.ts';
import { data, failed } from '../helpers/acks.ts';
import {
  appForTest,
  call,
  connect,
  createProduct,
  DECLINED_CARD,
  inventoryInvariant,
  ok,
  registerCustomer,
  socketForTest,
  startApp,
  TEST_CARD,
  type TestApp,
} from '../helpers/app.ts';

type OrderAck = Ack<{ order: OrderView }>;
type Cart = { cart: CartView };
type Order = { order: OrderView };

interface Setup {
  readonly app: App;
  readonly url: string;
  readonly productId: string;
  readonly sockets: readonly [Socket, Socket];
}

/** An app, a product and one customer signed in on two sockets. */
async function setup(t: { teardown(fn: () => void | Promise<void>): void }, onHand = 50): Promise<Setup> {
  // A provider that takes a moment, so concurrent duplicates really overlap the charge in flight.
  const started: TestApp = await startApp({ config: { paymentLatencyMs: 25 } });
  t.teardown(() => started.stop());
  const product = await createProduct(started.app, { onHand, price: 2500 });
  const { token } = await registerCustomer(started.url);
  const sockets = [await connect(started.url, '/store', token), await connect(started.url, '/store', token)] as const;
  t.teardown(() => {
    for (const socket of sockets) socket.close();
  });
  return { app: started.app, url: started.url, productId: product.id, sockets };
}

async function cartWith(socket: Socket, productId: string, quantity: number): Promise<CartView> {
  const { cart } = await ok<{ cart: CartView }>(socket, 'cart:create', {});
  return (await ok<{ cart: CartView }>(socket, 'cart:addItem', { cartId: cart.id, productId, quantity })).cart;
}

const checkout = (socket: Socket, cartId: string, requestId: string) => call<{ order: OrderView }>(socket, 'cart:checkout', { cartId, requestId });
const pay = (socket: Socket, orderId: string, requestId: string) => call<{ order: OrderView }>(socket, 'order:pay', { orderId, requestId, payment: TEST_CARD });

function orderOf(t: { fail(message: string): void }, ack: OrderAck): OrderView {
  if (!ack.ok) {
    t.fail(`expected an order, got ${ack.error.code}: ${ack.error.message}`);
    throw new Error(ack.error.message);
  }
  return ack.data.order;
}

async function count(app: App, table: string, where: Record<string, unknown>): Promise<number> {
  const row = await app.db.knex(table).where(where).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

const cartRows = (app: App, where: Record<string, unknown> = {}) => count(app, 'actors', { kind: 'cart', ...where });
const chargeRows = (app: App, orderId: string) => count(app, 'payment_charges', { order_id: orderId, kind: 'charge' });

async function assertOneOrder(
  t: { is(a: unknown, b: unknown, m?: string): void; true(v: boolean, m?: string): void },
  app: App,
  productId: string,
  quantity: number,
) {
  t.is(await count(app, 'actors', { kind: 'order' }), 1, 'one order row');
  t.is(await count(app, 'reservations', { product_id: productId }), 1, 'one reservation');
  const stock = await app.services.inventory.level(productId);
  t.is(stock?.reserved, quantity);
  const invariant = await inventoryInvariant(app);
  t.true(invariant.ok, invariant.problems.join('\n'));
}

test.serial('cart:create: the same requestId gives the same cart, sequentially and 5x concurrently, with one row each', async (t) => {
  const { app, url } = await appForTest(t);
  const customer = await registerCustomer(url);
  const socket = await socketForTest(t, url, '/store', customer.token);

  const first = data(t, await call<Cart>(socket, 'cart:create', { requestId: 'create-1' })).cart;
  t.is(first.state, 'active');
  t.is(first.customerId, customer.customerId);
  const again = data(t, await call<Cart>(socket, 'cart:create', { requestId: 'create-1' })).cart;
  t.is(again.id, first.id);
  t.is(await cartRows(app), 1, 'one cart row after the same requestId twice');

  // The retry answers with the cart as it is now, and still creates nothing.
  const product = await createProduct(app, { onHand: 10 });
  await ok<Cart>(socket, 'cart:addItem', { cartId: first.id, productId: product.id, quantity: 2 });
  const later = data(t, await call<Cart>(socket, 'cart:create', { requestId: 'create-1' })).cart;
  t.is(later.id, first.id);
  t.is(later.itemCount, 2);
  t.is(await cartRows(app), 1);

  const burst = await Promise.all(Array.from({ length: 5 }, () => call<Cart>(socket, 'cart:create', { requestId: 'create-burst' })));
  const burstIds = new Set(burst.map((ack, i) => data(t, ack, `burst ${i}`).cart.id));
  t.is(burstIds.size, 1, 'five concurrent creates with one requestId give one cart');
  t.false(burstIds.has(first.id));
  t.is(await cartRows(app), 2, 'the burst added exactly one cart row');

  // Without a requestId every call is a new cart.
  const plainA = data(t, await call<Cart>(socket, 'cart:create', {})).cart;
  const plainB = data(t, await call<Cart>(socket, 'cart:create', {})).cart;
  t.not(plainA.id, plainB.id);
  t.false([first.id, ...burstIds].includes(plainA.id));
  t.is(await cartRows(app), 4);

  // The requestId is scoped to the caller: another customer with the same one gets a cart of its own.
  const other = await registerCustomer(url);
  const otherSocket = await socketForTest(t, url, '/store', other.token);
  const theirs = data(t, await call<Cart>(otherSocket, 'cart:create', { requestId: 'create-1' })).cart;
  t.not(theirs.id, first.id);
  t.is(theirs.customerId, other.customerId);
  t.is(theirs.itemCount, 0);
  t.is(await cartRows(app), 5);
  t.is(await cartRows(app, { owner_id: customer.customerId }), 4);
  t.is(await cartRows(app, { owner_id: other.customerId }), 1);
  failed(t, await call(otherSocket, 'cart:get', { cartId: first.id }), 'FORBIDDEN', 'the first customer cart stays theirs');
});

test.serial('checkout: the same requestId twice in a row returns the same order', async (t) => {
  const { app, productId, sockets } = await setup(t);
  const cart = await cartWith(sockets[0], productId, 2);
  const first = orderOf(t, await checkout(sockets[0], cart.id, 'req-seq'));
  const second = orderOf(t, await checkout(sockets[0], cart.id, 'req-seq'));
  t.is(second.id, first.id);
  t.is(second.cartId, cart.id);
  // From the other socket of the same customer too.
  const third = orderOf(t, await checkout(sockets[1], cart.id, 'req-seq'));
  t.is(third.id, first.id);
  await assertOneOrder(t, app, productId, 2);

  // A new request on a cart that is already checked out is refused, and changes nothing.
  const other = await checkout(sockets[0], cart.id, 'req-other');
  t.false(other.ok);
  if (!other.ok) t.is(other.error.code, 'INVALID_TRANSITION');
  await assertOneOrder(t, app, productId, 2);
  const { cart: after } = await ok<{ cart: CartView }>(sockets[0], 'cart:get', { cartId: cart.id });
  t.is(after.state, 'checkedOut');
  t.is(after.orderId, first.id);
});

test.serial('checkout: the same requestId 10 times at once from one socket gives one order', async (t) => {
  const { app, productId, sockets } = await setup(t);
  const cart = await cartWith(sockets[0], productId, 3);
  const acks = await Promise.all(Array.from({ length: 10 }, () => checkout(sockets[0], cart.id, 'req-burst')));
  const ids = acks.map((ack) => orderOf(t, ack).id);
  t.is(new Set(ids).size, 1);
  await assertOneOrder(t, app, productId, 3);
});

test.serial('checkout: the same requestId at once from two sockets of one customer gives one order', async (t) => {
  const { app, productId, sockets } = await setup(t);
  const cart = await cartWith(sockets[0], productId, 1);
  const acks = await Promise.all(Array.from({ length: 10 }, (_, i) => checkout(sockets[i % 2]!, cart.id, 'req-two-sockets')));
  const ids = acks.map((ack) => orderOf(t, ack).id);
  t.is(new Set(ids).size, 1);
  await assertOneOrder(t, app, productId, 1);
  const other = await checkout(sockets[1], cart.id, 'req-different');
  t.false(other.ok);
  if (!other.ok) t.is(other.error.code, 'INVALID_TRANSITION');
  await assertOneOrder(t, app, productId, 1);
});

async function paidOutcomes(app: App, orderId: string) {
  await app.relay.drain();
  return {
    charges: await count(app, 'payment_charges', { order_id: orderId, kind: 'charge' }),
    paid: await count(app, 'outbox', { actor_id: orderId, type: 'order.paid' }),
    requested: await count(app, 'outbox', { actor_id: orderId, type: 'order.paymentRequested' }),
  };
}

const PAID_STATES = new Set(['paid', 'fulfilling']);

test.serial('pay: the same requestId twice in a row charges once', async (t) => {
  const { app, productId, sockets } = await setup(t);
  const cart = await cartWith(sockets[0], productId, 2);
  const order = orderOf(t, await checkout(sockets[0], cart.id, 'co-1'));
  const first = orderOf(t, await pay(sockets[0], order.id, 'pay-seq'));
  const second = orderOf(t, await pay(sockets[0], order.id, 'pay-seq'));
  t.true(PAID_STATES.has(first.state), first.state);
  t.true(PAID_STATES.has(second.state), second.state);
  t.is(first.id, order.id);
  t.is(second.payment?.chargeId, first.payment?.chargeId);
  t.is(first.payment?.amount, 5000);
  t.deepEqual(await paidOutcomes(app, order.id), { charges: 1, paid: 1, requested: 1 });

  // A new payment request for a paid order is refused and charges nothing.
  const again = await pay(sockets[1], order.id, 'pay-other');
  t.false(again.ok);
  if (!again.ok) t.is(again.error.code, 'INVALID_TRANSITION');
  t.deepEqual(await paidOutcomes(app, order.id), { charges: 1, paid: 1, requested: 1 });
  const { order: now } = await ok<{ order: OrderView }>(sockets[0], 'order:get', { orderId: order.id });
  t.is(now.paymentAttempts, 1);
  t.is(now.payment?.chargeId, first.payment?.chargeId);
});

test.serial('pay: the same requestId 10 times at once from one socket charges once', async (t) => {
  const { app, productId, sockets } = await setup(t);
  const cart = await cartWith(sockets[0], productId, 1);
  const order = orderOf(t, await checkout(sockets[0], cart.id, 'co-1'));
  const acks = await Promise.all(Array.from({ length: 10 }, () => pay(sockets[0], order.id, 'pay-burst')));
  const orders = acks.map((ack) => orderOf(t, ack));
  t.true(
    orders.every((o) => o.id === order.id && PAID_STATES.has(o.state)),
    orders.map((o) => o.state).join(','),
  );
  t.is(new Set(orders.map((o) => o.payment?.chargeId)).size, 1);
  t.deepEqual(await paidOutcomes(app, order.id), { charges: 1, paid: 1, requested: 1 });
  const again = await pay(sockets[0], order.id, 'pay-later');
  t.false(again.ok);
  if (!again.ok) t.is(again.error.code, 'INVALID_TRANSITION');
  t.deepEqual(await paidOutcomes(app, order.id), { charges: 1, paid: 1, requested: 1 });
});

test.serial('pay: the same requestId at once from two sockets of one customer charges once', async (t) => {
  const { app, productId, sockets } = await setup(t);
  const cart = await cartWith(sockets[1], productId, 4);
  const order = orderOf(t, await checkout(sockets[1], cart.id, 'co-1'));
  const acks = await Promise.all(Array.from({ length: 10 }, (_, i) => pay(sockets[i % 2]!, order.id, 'pay-two-sockets')));
  const orders = acks.map((ack) => orderOf(t, ack));
  t.true(
    orders.every((o) => o.id === order.id && PAID_STATES.has(o.state)),
    orders.map((o) => o.state).join(','),
  );
  t.is(new Set(orders.map((o) => o.payment?.chargeId)).size, 1);
  t.deepEqual(await paidOutcomes(app, order.id), { charges: 1, paid: 1, requested: 1 });
  // Paying keeps the reservation: still exactly the order's units reserved.
  await assertOneOrder(t, app, productId, 4);
});

test.serial('order:pay: a declined requestId replays the decline (even with a good card); a new requestId pays', async (t) => {
  const { app, url } = await appForTest(t);
  const product = await createProduct(app, { onHand: 5, price: 1500 });
  const customer = await registerCustomer(url);
  const socket = await socketForTest(t, url, '/store', customer.token);
  const cart = await cartWith(socket, product.id, 1);
  const { order } = await ok<Order>(socket, 'cart:checkout', { cartId: cart.id, requestId: 'co-decline' });

  const declined = data(t, await call<Order>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-1', payment: DECLINED_CARD })).order;
  t.is(declined.state, 'awaitingPayment');
  t.is(declined.lastPaymentError, 'card_declined');
  t.is(declined.paymentAttempts, 1);
  t.is(declined.payment, null);
  t.is(await chargeRows(app, order.id), 1);

  for (const payment of [TEST_CARD, DECLINED_CARD]) {
    const replay = data(t, await call<Order>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-1', payment })).order;
    t.is(replay.state, 'awaitingPayment', `replay with ${payment.cardNumber}`);
    t.is(replay.lastPaymentError, 'card_declined');
    t.is(replay.paymentAttempts, declined.paymentAttempts, 'no new attempt');
    t.is(replay.version, declined.version, 'the order did not change');
    t.is(replay.payment, null);
  }
  const stored = (await ok<Order>(socket, 'order:get', { orderId: order.id })).order;
  t.is(stored.version, declined.version);
  t.is(stored.paymentAttempts, 1);
  t.is(await chargeRows(app, order.id), 1, 'the provider was not asked again');

  const paid = data(t, await call<Order>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-2', payment: TEST_CARD })).order;
  t.true(PAID_STATES.has(paid.state), paid.state);
  t.truthy(paid.payment);
  t.is(paid.paymentAttempts, 2);
  t.is(await chargeRows(app, order.id), 2);
});

test.serial('50 concurrent cart:addItem on one cart: no lost update, one journal row per accepted command', async (t) => {
  const { app, productId, sockets } = await setup(t, 1_000);
  const { cart } = await ok<{ cart: CartView }>(sockets[0], 'cart:create', {});
  t.is(cart.version, 1);
  const acks = await Promise.all(
    Array.from({ length: 50 }, (_, i) => call<{ cart: CartView }>(sockets[i % 2]!, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 })),
  );
  const accepted = acks.flatMap((ack) => (ack.ok ? [ack.data.cart] : []));
  const refused = acks.flatMap((ack) => (ack.ok ? [] : [ack.error]));
  t.true(accepted.length > 0);
  // quantity 1 of a product with plenty of stock, 50 < the line maximum: nothing has a reason to be refused.
  t.deepEqual(refused, []);
  // Each accepted command saw its own version; together they are 2..N+1 with no gaps or repeats.
  t.deepEqual(
    accepted.map((c) => c.version).sort((a, b) => a - b),
    Array.from({ length: accepted.length }, (_, i) => i + 2),
  );
  t.deepEqual(
    accepted.map((c) => c.items[0]!.quantity).sort((a, b) => a - b),
    Array.from({ length: accepted.length }, (_, i) => i + 1),
  );

  const { cart: final } = await ok<{ cart: CartView }>(sockets[0], 'cart:get', { cartId: cart.id });
  t.is(final.version, 1 + accepted.length);
  t.is(final.items.length, 1);
  t.is(final.items[0]!.quantity, accepted.length);
  const stored = (await app.db.knex('actors').where({ id: cart.id }).first('version')) as { version: number };
  t.is(Number(stored.version), final.version);

  const journal = (await app.db.knex('actor_journal').where({ actor_id: cart.id }).orderBy('version').select('version', 'event')) as Array<{
    version: number;
    event: string;
  }>;
  t.is(journal.length, 1 + accepted.length);
  t.deepEqual(
    journal.map((row) => Number(row.version)),
    Array.from({ length: journal.length }, (_, i) => i + 1),
  );
  t.is((JSON.parse(journal[0]!.event) as { type: string }).type, 'xstate.init');
  t.true(journal.slice(1).every((row) => (JSON.parse(row.event) as { type: string }).type === 'ADD_ITEM'));
});
