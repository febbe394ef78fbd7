// The actor runtime against a real SQLite file: rejected events write nothing, compare-and-set losers reload, passivation, outbox dispatch.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { App } from '../../src/app.ts';
import type { CartView, OrderView } from '../../src/protocol/index.ts';
import { AppError } from '../../src/domain/errors.ts';
import { newId } from '../../src/domain/ids.ts';
import { connect, createProduct, guestToken, ok, startApp, TEST_CARD, type TestApp } from '../helpers/app.ts';

/** No background sweep during these tests: every step here is driven by the test. */
const QUIET = { sweepIntervalMs: 3_600_000 };

async function started(t: { teardown(fn: () => Promise<void>): void }, options: Parameters<typeof startApp>[0] = {}): Promise<TestApp> {
  const app = await startApp({ ...options, config: { ...QUIET, ...options.config } });
  t.teardown(() => app.stop());
  return app;
}

async function newCart(app: App, customerId = 'guest_runtime_test') {
  const id = newId('cart');
  const { actor, created } = await app.runtime.create('cart', id, { id, customerId, currency: 'EUR', ttlMs: 3_600_000, at: Date.now() });
  return { id, actor, created };
}

async function stored(app: App, id: string) {
  const row = (await app.db.knex('actors').where({ id }).first()) as { version: number; state: string; snapshot: string; updated_at: number };
  const journal = (await app.db.knex('actor_journal').where({ actor_id: id }).orderBy('version').select('version', 'event')) as Array<{
    version: number;
    event: string;
  }>;
  const outbox = await app.db.knex('outbox').where({ actor_id: id }).count({ n: '*' }).first();
  return {
    version: Number(row.version),
    state: row.state,
    snapshot: row.snapshot,
    updatedAt: Number(row.updated_at),
    journalVersions: journal.map((entry) => Number(entry.version)),
    journalEvents: journal.map((entry) => JSON.parse(entry.event) as { type: string; productId?: string }),
    outbox: Number(outbox?.n ?? 0),
  };
}

test.serial('an event the machine does not accept is refused with its reason, or INVALID_TRANSITION, and writes nothing', async (t) => {
  const { app } = await started(t);
  const { id, created } = await newCart(app);
  t.true(created);
  await app.runtime.send('cart', id, { type: 'ADD_ITEM', productId: 'prod_a', quantity: 2, unitPrice: 100 });
  const before = await stored(app, id);
  t.is(before.version, 2);
  t.deepEqual(before.journalVersions, [1, 2]);

  const rejected = [
    // Not handled in `active` at all: the machine has no rule to name.
    [{ type: 'CHECKOUT_COMPLETED', orderId: 'order_x' }, 'INVALID_TRANSITION', undefined],
    // Handled, but its guard says no; the cart says why: no such line, a quantity over the line maximum.
    [{ type: 'REMOVE_ITEM', productId: 'prod_missing' }, 'NOT_FOUND', 'LINE_NOT_FOUND'],
    [{ type: 'ADD_ITEM', productId: 'prod_a', quantity: 1_000, unitPrice: 100 }, 'VALIDATION', 'QUANTITY_LIMIT'],
    // A past-expiry event before expiry: a timer's event, with no rule for a customer.
    [{ type: 'EXPIRE' }, 'INVALID_TRANSITION', undefined],
  ] as const;
  for (const [event, code, reason] of rejected) {
    const error = await t.throwsAsync(app.runtime.send('cart', id, event as never), { instanceOf: AppError });
    t.is((error as AppError).code, code, event.type);
    t.is(((error as AppError).details as { reason?: string } | undefined)?.reason, reason, event.type);
  }
  const after = await stored(app, id);
  t.deepEqual(after, before);
  const live = await app.runtime.get('cart', id);
  t.is(live?.version, 2);
  t.is(live?.snapshot.context.items[0]?.quantity, 2);

  // A final actor accepts nothing either.
  const order = newId('order');
  await app.runtime.send('cart', id, { type: 'CHECKOUT_STARTED', orderId: order, requestId: 'r1' });
  await app.runtime.send('cart', id, { type: 'CHECKOUT_COMPLETED', orderId: order });
  const done = await stored(app, id);
  t.is(done.state, 'checkedOut');
  const error = await t.throwsAsync(app.runtime.send('cart', id, { type: 'ADD_ITEM', productId: 'prod_a', quantity: 1, unitPrice: 100 }), {
    instanceOf: AppError,
  });
  t.is((error as AppError).code, 'INVALID_TRANSITION');
  t.deepEqual(await stored(app, id), done);

  // An unknown actor is NOT_FOUND, and a second create of the same id returns the first.
  const missing = await t.throwsAsync(app.runtime.send('cart', 'cart_missing', { type: 'EXPIRE' }), { instanceOf: AppError });
  t.is((missing as AppError).code, 'NOT_FOUND');
  const again = await app.runtime.create('cart', id, { id, customerId: 'someone_else', currency: 'EUR', ttlMs: 1, at: Date.now() });
  t.false(again.created);
  t.is(again.actor.version, done.version);
  t.deepEqual(await stored(app, id), done);
});

test.serial('losing the compare-and-set to another node reloads and applies on top: no lost update', async (t) => {
  const one = await started(t);
  // A second node on the same SQLite file, as another process behind the load balancer would be.
  const two = await started(t, { dataDir: one.dataDir });
  t.is(two.databaseUrl, one.databaseUrl);

  const { id } = await newCart(one.app);
  await one.app.runtime.send('cart', id, { type: 'ADD_ITEM', productId: 'prod_a', quantity: 1, unitPrice: 100 });
  t.is((await one.app.runtime.get('cart', id))?.version, 2, 'node one holds version 2 in memory');

  // Node two changes the cart behind node one's back.
  const fromTwo = await two.app.runtime.send('cart', id, { type: 'ADD_ITEM', productId: 'prod_b', quantity: 5, unitPrice: 300 });
  t.is(fromTwo.version, 3);
  // On SQLite memory is trusted for reads (one writer process); on PostgreSQL reads go to the database.
  const expectedRead = one.app.db.dialect === 'postgres' ? 3 : 2;
  t.is((await one.app.runtime.get('cart', id))?.version, expectedRead, 'node one reads per its database mode');

  // Node one's next command loses the compare-and-set, reloads version 3 and applies on top of it.
  const fromOne = await one.app.runtime.send('cart', id, { type: 'ADD_ITEM', productId: 'prod_a', quantity: 2, unitPrice: 100 });
  t.is(fromOne.version, 4);
  t.deepEqual(
    fromOne.snapshot.context.items.map((line) => [line.productId, line.quantity]),
    [
      ['prod_a', 3],
      ['prod_b', 5],
    ],
  );

  // And the other way round.
  const back = await two.app.runtime.send('cart', id, { type: 'REMOVE_ITEM', productId: 'prod_a' });
  t.is(back.version, 5);
  t.deepEqual(
    back.snapshot.context.items.map((line) => [line.productId, line.quantity]),
    [['prod_b', 5]],
  );

  const row = await stored(one.app, id);
  t.is(row.version, 5);
  t.deepEqual(row.journalVersions, [1, 2, 3, 4, 5]);
  t.deepEqual(
    row.journalEvents.map((event) => `${event.type}:${event.productId ?? ''}`),
    ['xstate.init:', 'ADD_ITEM:prod_a', 'ADD_ITEM:prod_b', 'ADD_ITEM:prod_a', 'REMOVE_ITEM:prod_a'],
  );
  const persisted = JSON.parse(row.snapshot) as { context: { items: Array<{ productId: string; quantity: number }> } };
  t.deepEqual(
    persisted.context.items.map((line) => [line.productId, line.quantity]),
    [['prod_b', 5]],
  );

  // A rejected event on the stale node is judged against the newest state, not its old copy.
  const stale = await t.throwsAsync(one.app.runtime.send('cart', id, { type: 'REMOVE_ITEM', productId: 'prod_a' }), { instanceOf: AppError });
  t.is((stale as AppError).code, 'NOT_FOUND');
  t.like((stale as AppError).details, { reason: 'LINE_NOT_FOUND' });
  t.is((await stored(one.app, id)).version, 5);
});

test.serial('passivation drops idle actors from memory; the next command brings them back whole', async (t) => {
  const { app, url } = await started(t);
  const product = await createProduct(app, { onHand: 20, price: 700 });
  const token = await guestToken(url);
  const socket: Socket = await connect(url, '/store', token);
  t.teardown(() => {
    socket.close();
  });
  const { cart } = await ok<{ cart: CartView }>(socket, 'cart:create', {});
  const withItem = (await ok<{ cart: CartView }>(socket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 })).cart;
  const { cart: other } = await ok<{ cart: CartView }>(socket, 'cart:create', {});
  await ok(socket, 'cart:addItem', { cartId: other.id, productId: product.id, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(socket, 'cart:checkout', { cartId: other.id, requestId: 'co-1' });
  await app.relay.drain();

  const beforeCart = await app.runtime.get('cart', cart.id);
  const beforeOrder = await app.runtime.get('order', order.id);
  t.truthy(beforeCart);
  t.truthy(beforeOrder);
  const live = app.runtime.liveCount;
  t.true(live >= 3, `expected the carts and the order in memory, found ${live}`);

  // Idle for 0 ms or more: every actor not busy right now leaves memory.
  const dropped = app.runtime.passivate(0);
  t.is(dropped, live);
  t.is(app.runtime.liveCount, 0);

  // The next command rehydrates from the database with the same state and version, and goes on from there.
  const readBack = await ok<{ cart: CartView }>(socket, 'cart:get', { cartId: cart.id });
  t.deepEqual(readBack.cart, withItem);
  const rehydrated = await app.runtime.get('cart', cart.id);
  t.is(rehydrated?.version, beforeCart!.version);
  t.is(rehydrated?.state, beforeCart!.state);
  t.deepEqual(rehydrated?.snapshot.context, beforeCart!.snapshot.context);
  t.is(app.runtime.liveCount, 1);

  const more = (await ok<{ cart: CartView }>(socket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 })).cart;
  t.is(more.version, withItem.version + 1);
  t.is(more.items[0]!.quantity, 3);

  // The passivated order comes back the same and can still be paid.
  app.runtime.passivate(0);
  t.is(app.runtime.liveCount, 0);
  const orderBack = await app.runtime.get('order', order.id);
  t.is(orderBack?.version, beforeOrder!.version);
  t.is(orderBack?.state, 'awaitingPayment');
  t.deepEqual(orderBack?.snapshot.context, beforeOrder!.snapshot.context);
  app.runtime.passivate(0);
  const { order: paid } = await ok<{ order: OrderView }>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-1', payment: TEST_CARD });
  t.true(paid.state === 'paid' || paid.state === 'fulfilling', paid.state);

  // An actor with a command queued or running is not dropped.
  app.runtime.passivate(0);
  const inFlight = app.runtime.send('cart', cart.id, { type: 'ADD_ITEM', productId: product.id, quantity: 1, unitPrice: 700 });
  t.is(app.runtime.passivate(0), 0);
  const applied = await inFlight;
  t.is(applied.version, more.version + 1);
  t.is((await stored(app, cart.id)).version, applied.version);
});

test.serial('the outbox rows of a checkout and a payment are all dispatched after relay.drain()', async (t) => {
  const { app, url } = await started(t);
  const product = await createProduct(app, { onHand: 5 });
  const socket = await connect(url, '/store', await guestToken(url));
  t.teardown(() => {
    socket.close();
  });
  const { cart } = await ok<{ cart: CartView }>(socket, 'cart:create', {});
  await ok(socket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 });
  const { order } = await ok<{ order: OrderView }>(socket, 'cart:checkout', { cartId: cart.id, requestId: 'co-1' });
  await ok(socket, 'order:pay', { orderId: order.id, requestId: 'pay-1', payment: TEST_CARD });

  await app.relay.drain();

  const rows = (await app.db.knex('outbox').orderBy('seq').select('seq', 'actor_id', 'type', 'dispatched_at')) as Array<{
    seq: number;
    actor_id: string;
    type: string;
    dispatched_at: number | null;
  }>;
  const deliveries = (await app.db.knex('outbox_deliveries').select('seq', 'flow', 'state', 'attempts', 'last_error')) as Array<{
    state: string;
    attempts: number;
    last_error: string | null;
  }>;
  t.true(deliveries.length > 0);
  const types = rows.map((row) => row.type);
  for (const expected of ['cart.checkedOut', 'order.placed', 'order.paymentRequested', 'order.paid'])
    t.true(types.includes(expected), `${expected} in ${types.join(',')}`);
  t.true(
    rows.every((row) => row.dispatched_at !== null),
    JSON.stringify(rows.filter((row) => row.dispatched_at === null)),
  );
  t.true(
    deliveries.every((row) => row.state === 'done' && Number(row.attempts) === 0 && row.last_error === null),
    JSON.stringify(deliveries),
  );
  // The payment saga ran: the order is fulfilling, a shipment exists and the reservation is held past its expiry.
  const { order: now } = await ok<{ order: OrderView }>(socket, 'order:get', { orderId: order.id });
  t.is(now.state, 'fulfilling');
  t.truthy(now.shipmentId);
  const held = (await app.db.knex('reservations').where({ order_id: order.id }).select('status', 'expires_at')) as Array<{
    status: string;
    expires_at: number | null;
  }>;
  t.deepEqual(held, [{ status: 'active', expires_at: null }]);
  const pending = await app.db.knex('outbox').whereNull('dispatched_at').count({ n: '*' }).first();
  t.is(Number(pending?.n), 0);
});
