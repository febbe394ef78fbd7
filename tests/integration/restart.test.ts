// Restart: stop the app and start a new one on the same database mid-journey. Every actor comes back as it was,
// deadlines that fell due while the app was down fire once after the restart, and undelivered outbox rows are
// relayed again without doing anything twice.
import test, { type ExecutionContext } from 'ava';
import knexFactory, { type Knex } from 'knex';
import type { Socket } from 'socket.io-client';
import { createApp, type App, type AppOptions } from '../../src/app.ts';
import type { ActorChange } from '../../src/kernel/actors/runtime.ts';
import type { Config } from '../../src/config.ts';
import type { StockLevel } from '../../src/modules/inventory/inventory.service.ts';
import {
  call,
  connect,
  createProduct,
  getJson,
  guestToken,
  inventoryInvariant,
  nextEvent,
  ok,
  replayOutbox,
  staffToken,
  startApp,
  tempDir,
  testConfig,
  ensureDatabase,
  TEST_CARD,
  type TestApp,
} from '../helpers/app.ts';

// ---------------------------------------------------------------- helpers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits (while the app is down, so there is nothing to listen to) until the wall clock has passed `at`. */
async function waitUntilPast(at: number): Promise<void> {
  const remaining = at - Date.now();
  if (remaining > 0) await sleep(remaining + 50);
}

/** Polls `read` until `done` holds, or fails after `timeoutMs` with the last value seen. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, label: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!done(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}; last value: ${JSON.stringify(last)}`);
    await sleep(25);
    last = await read();
  }
  return last;
}

interface Running {
  readonly app: App;
  readonly url: string;
  readonly databaseUrl: string;
  /** Stock levels published on `stockChanged$` since before `start()` (only for `bootWatched`). */
  readonly stockEvents: StockLevel[];
  /** Actor changes committed since before `start()` (only for `bootWatched`). */
  readonly changes: ActorChange[];
  stop(): Promise<void>;
}

/**
 * One test's apps and sockets, all on one data folder: every app still running
 * and every socket still open is closed in teardown, and the folder removed.
 */
function lifecycle(t: ExecutionContext) {
  const temp = tempDir('emporium-restart-');
  const apps = new Set<Running>();
  const sockets = new Set<Socket>();
  t.teardown(async () => {
    for (const socket of sockets) socket.close();
    for (const running of apps) await running.stop().catch(() => undefined);
    temp.cleanup();
  });

  const track = (app: App, url: string, databaseUrl: string, stockEvents: StockLevel[], changes: ActorChange[]): Running => {
    let stopped: Promise<void> | undefined;
    const running: Running = {
      app,
      url,
      databaseUrl,
      stockEvents,
      changes,
      stop: () => {
        apps.delete(running);
        return (stopped ??= app.stop());
      },
    };
    apps.add(running);
    return running;
  };

  return {
    dataDir: temp.dir,
    /** Starts the app on the test's data folder through the shared harness. */
    async boot(config: Partial<Config> = {}, app: AppOptions = {}): Promise<Running> {
      const started: TestApp = await startApp({ dataDir: temp.dir, config, app });
      return track(started.app, started.url, started.databaseUrl, [], []);
    },
    /**
     * Starts the app like `boot`, but listens to its stock and actor streams
     * before `start()`, so what start-up recovery does (before anyone can
     * connect) is seen too.
     */
    async bootWatched(config: Partial<Config> = {}): Promise<Running> {
      const resolved = testConfig(temp.dir, config);
      await ensureDatabase(resolved.databaseUrl);
      const app = createApp(resolved);
      const stockEvents: StockLevel[] = [];
      const changes: ActorChange[] = [];
      app.services.inventory.stockChanged$.subscribe((level) => stockEvents.push(level));
      app.runtime.changes$.subscribe((change) => changes.push(change));
      let url: string;
      try {
        ({ url } = await app.start());
      } catch (error) {
        await app.stop().catch(() => undefined);
        throw error;
      }
      return track(app, url, resolved.databaseUrl, stockEvents, changes);
    },
    async store(running: Running, token: string): Promise<Socket> {
      const socket = await connect(running.url, '/store', token);
      sockets.add(socket);
      return socket;
    },
    async warehouse(running: Running, token: string): Promise<Socket> {
      const socket = await connect(running.url, '/warehouse', token);
      sockets.add(socket);
      return socket;
    },
  };
}

/** Opens the database of a stopped app directly with knex (better-sqlite3 for a file, pg for a postgres URL). */
function openStoppedDb(databaseUrl: string): Knex {
  return /^postgres(ql)?:\/\//.test(databaseUrl)
    ? knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } })
    : knexFactory({ client: 'better-sqlite3', connection: { filename: databaseUrl }, useNullAsDefault: true });
}

/** A new cart holding `lines`, checked out: the order it became. */
async function placeOrder(
  store: Socket,
  lines: ReadonlyArray<readonly [productId: string, quantity: number]>,
  requestId = `co-${Math.random().toString(36).slice(2)}`,
) {
  const { cart } = await ok(store, 'cart:create', {});
  for (const [productId, quantity] of lines) await ok(store, 'cart:addItem', { cartId: cart.id, productId, quantity });
  const { order } = await ok(store, 'cart:checkout', { cartId: cart.id, requestId });
  return order;
}

/** Pays `orderId` and waits until its shipment exists and is linked; returns the order then. */
async function payAndAwaitShipment(store: Socket, orderId: string, requestId: string) {
  await ok(store, 'subscribe', { topic: `order:${orderId}` });
  const linked = nextEvent(store, 'order:updated', (order: any) => order.id === orderId && order.shipmentId !== null);
  const { order: paid } = await ok(store, 'order:pay', { orderId, requestId, payment: TEST_CARD });
  if (paid.shipmentId !== null) return paid;
  return linked;
}

async function stockOf(app: App, productId: string) {
  const level = await app.services.inventory.level(productId);
  if (!level) throw new Error(`no product ${productId}`);
  return level;
}

async function reservationsOf(app: App, orderId: string) {
  return (await app.db.knex('reservations').where({ order_id: orderId }).orderBy('product_id')) as Array<{
    product_id: string;
    quantity: number;
    status: string;
    expires_at: number | null;
  }>;
}

/** Shipment actors whose snapshot belongs to `orderId`, read from the table (not the cache). */
async function shipmentRowsFor(knex: Knex, orderId: string) {
  const rows = (await knex('actors').where({ kind: 'shipment' }).select('id', 'version', 'state', 'snapshot')) as Array<{
    id: string;
    version: number;
    state: string;
    snapshot: string;
  }>;
  return rows.filter((row) => (JSON.parse(row.snapshot) as { context: { orderId: string } }).context.orderId === orderId);
}

// ---------------------------------------------------------------- the journey survives a restart

test('a restart mid-journey brings back every cart, order, shipment and stock level as it was, and the journey continues', async (t) => {
  const life = lifecycle(t);
  let node = await life.boot();
  const a = await createProduct(node.app, { onHand: 10, price: 1200 });
  const b = await createProduct(node.app, { onHand: 6, price: 500 });
  const staff = await staffToken(node.app);
  const token = await guestToken(node.url);
  let store = await life.store(node, token);
  let warehouse = await life.warehouse(node, staff);

  // A cart with items, an order awaiting payment, and a paid order whose shipment is packed.
  const { cart: created } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: created.id, productId: a.id, quantity: 2 });
  const { cart: openCart } = await ok(store, 'cart:addItem', { cartId: created.id, productId: b.id, quantity: 1 });
  const waiting = await placeOrder(store, [[a.id, 3]]);
  const toShip = await placeOrder(store, [
    [a.id, 1],
    [b.id, 2],
  ]);
  const fulfilling = await payAndAwaitShipment(store, toShip.id, 'pay-to-ship');
  const shipmentId: string = fulfilling.shipmentId;
  await ok(warehouse, 'shipment:advance', { shipmentId, to: 'picking' });
  await ok(warehouse, 'shipment:advance', { shipmentId, to: 'packed' });

  const observe = async () => ({
    openCart: (await ok(store, 'cart:get', { cartId: openCart.id })).cart,
    waitingCart: (await ok(store, 'cart:get', { cartId: waiting.cartId })).cart,
    waiting: (await ok(store, 'order:get', { orderId: waiting.id })).order,
    fulfilling: (await ok(store, 'order:get', { orderId: toShip.id })).order,
    shipment: (await ok(store, 'shipment:get', { shipmentId })).shipment,
    carts: (await ok(store, 'carts:list', {})).carts,
    orders: (await ok(store, 'orders:list', {})).orders,
    staffShipment: (await ok(warehouse, 'shipment:get', { shipmentId })).shipment,
    board: (await ok(warehouse, 'shipments:list', {})).shipments,
    stockA: (await ok(warehouse, 'stock:get', { productId: a.id })).stock,
    stockB: (await ok(warehouse, 'stock:get', { productId: b.id })).stock,
    productA: (await getJson(`${node.url}/api/products/${a.id}`)).body,
    productB: (await getJson(`${node.url}/api/products/${b.id}`)).body,
  });

  const before = await observe();
  t.is(before.openCart.state, 'active');
  t.is(before.openCart.version, 3);
  t.deepEqual(
    before.openCart.items.map((line: any) => [line.productId, line.quantity]),
    [
      [a.id, 2],
      [b.id, 1],
    ],
  );
  t.is(before.waiting.state, 'awaitingPayment');
  t.is(before.fulfilling.state, 'fulfilling');
  t.is(before.shipment.state, 'packed');
  t.deepEqual([before.stockA.onHand, before.stockA.available], [10, 6]);
  t.deepEqual([before.stockB.onHand, before.stockB.available], [6, 4]);

  store.close();
  warehouse.close();
  await node.stop();

  node = await life.boot();
  // The same tokens still open the store and the warehouse (same JWT secret, same accounts).
  store = await life.store(node, token);
  warehouse = await life.warehouse(node, staff);
  const after = await observe();
  t.deepEqual(after, before, 'every view, version and stock level is exactly as before the restart');
  t.deepEqual((await inventoryInvariant(node.app)).problems, []);

  // The journey continues: pay the waiting order, ship the packed shipment to its door, change the open cart.
  const paidLater = await payAndAwaitShipment(store, waiting.id, 'pay-after-restart');
  t.is(paidLater.state, 'fulfilling');
  t.truthy(paidLater.shipmentId);
  t.is((await ok(store, 'shipment:get', { shipmentId: paidLater.shipmentId })).shipment.state, 'pending');

  await ok(store, 'subscribe', { topic: `order:${toShip.id}` });
  const delivered = nextEvent(store, 'order:updated', (order: any) => order.id === toShip.id && order.state === 'delivered');
  const shipped = await ok(warehouse, 'shipment:advance', { shipmentId, to: 'shipped' });
  t.is(shipped.shipment.state, 'shipped');
  t.is(shipped.shipment.version, before.shipment.version + 1);
  await ok(warehouse, 'shipment:advance', { shipmentId, to: 'inTransit' });
  const done = await ok(warehouse, 'shipment:advance', { shipmentId, to: 'delivered' });
  t.is(done.shipment.state, 'delivered');
  t.is((await delivered).state, 'delivered');

  const changed = await ok(store, 'cart:addItem', { cartId: openCart.id, productId: a.id, quantity: 1 });
  t.is(changed.cart.version, before.openCart.version + 1);
  t.deepEqual(
    changed.cart.items.map((line: any) => [line.productId, line.quantity]),
    [
      [a.id, 3],
      [b.id, 1],
    ],
  );
  const lastOrder = (await ok(store, 'cart:checkout', { cartId: openCart.id, requestId: 'co-after-restart' })).order;
  t.is(lastOrder.state, 'awaitingPayment');

  // Shipping sold 1 A and 2 B; the paid waiting order (3 A) and the last checkout (3 A, 1 B) hold the rest.
  t.deepEqual(
    [await stockOf(node.app, a.id), await stockOf(node.app, b.id)].map((s) => [s.onHand, s.reserved, s.available]),
    [
      [9, 6, 3],
      [4, 1, 3],
    ],
  );
  t.deepEqual((await inventoryInvariant(node.app)).problems, []);
});

// ---------------------------------------------------------------- deadlines that fall due while the app is down

test('an order whose payment window closes while the app is down expires after the restart and releases its stock exactly once', async (t) => {
  const life = lifecycle(t);
  const config = { paymentWindowMs: 2000 };
  let node = await life.boot(config);
  const product = await createProduct(node.app, { onHand: 5 });
  const token = await guestToken(node.url);
  let store = await life.store(node, token);
  const order = await placeOrder(store, [[product.id, 3]]);
  t.is(order.state, 'awaitingPayment');
  t.is(order.version, 1);
  t.deepEqual(await reservationsOf(node.app, order.id).then((rows) => rows.map((r) => [r.quantity, r.status])), [[3, 'active']]);
  const reservedLevel = await stockOf(node.app, product.id);
  t.deepEqual([reservedLevel.onHand, reservedLevel.reserved, reservedLevel.available], [5, 3, 2]);

  store.close();
  await node.stop();
  t.true(Date.now() < order.paymentDeadline, 'the app was stopped before the payment deadline');
  await waitUntilPast(order.paymentDeadline);

  // Restart after the deadline: start-up recovery delivers the timeout before anyone can connect.
  node = await life.bootWatched(config);
  store = await life.store(node, token);
  const expired = await until(
    async () => (await ok(store, 'order:get', { orderId: order.id })).order,
    (view) => view.state === 'expired',
    'the order to expire',
  );
  t.is(expired.version, order.version + 1);
  t.true(expired.updatedAt >= order.paymentDeadline, 'the expiry is stamped after the deadline');

  const released = await stockOf(node.app, product.id);
  t.deepEqual([released.onHand, released.reserved, released.available], [5, 0, 5]);
  const reservations = await reservationsOf(node.app, order.id);
  t.deepEqual(
    reservations.map((r) => [r.product_id, r.quantity, r.status]),
    [[product.id, 3, 'released']],
  );
  // Exactly one stock change was published for the product: the release.
  const pushes = node.stockEvents.filter((level) => level.productId === product.id);
  t.deepEqual(
    pushes.map((level) => [level.available, level.onHand, level.reserved]),
    [[5, 5, 0]],
  );
  t.is(pushes[0]!.version, released.version);
  t.deepEqual(
    node.changes.filter((change) => change.id === order.id).map((change) => [change.state, change.version]),
    [['expired', order.version + 1]],
  );
  // A client that (re)subscribes sees the released stock, and REST agrees.
  const topic = await ok(store, 'subscribe', { topic: `product:${product.id}` });
  t.is(topic.view.available, 5);
  t.is((await getJson<{ available: number }>(`${node.url}/api/products/${product.id}`)).body.available, 5);
  // An expired order cannot be paid.
  const late = await call(store, 'order:pay', { orderId: order.id, requestId: 'too-late', payment: TEST_CARD });
  t.false(late.ok);
  if (!late.ok) t.is(late.error.code, 'INVALID_TRANSITION');
  t.deepEqual((await inventoryInvariant(node.app)).problems, []);

  // A second restart changes nothing: same version, same stock (and stock version), no stock pushes.
  store.close();
  await node.stop();
  node = await life.bootWatched(config);
  store = await life.store(node, token);
  const again = (await ok(store, 'order:get', { orderId: order.id })).order;
  t.deepEqual(again, expired);
  t.deepEqual(await stockOf(node.app, product.id), released);
  t.deepEqual(await reservationsOf(node.app, order.id), reservations);
  t.deepEqual(
    node.stockEvents.filter((level) => level.productId === product.id),
    [],
  );
  t.deepEqual(
    node.changes.filter((change) => change.id === order.id),
    [],
  );

  // Even replaying the order's whole outbox (order.placed, order.expired) after a third restart releases nothing twice.
  store.close();
  await node.stop();
  const knex = openStoppedDb(node.databaseUrl);
  try {
    const reset = await replayOutbox(knex, order.id);
    t.is(reset, 2, 'order.placed and order.expired are replayed');
  } finally {
    await knex.destroy();
  }
  node = await life.bootWatched(config);
  store = await life.store(node, token);
  t.deepEqual((await ok(store, 'order:get', { orderId: order.id })).order, expired);
  t.deepEqual(await stockOf(node.app, product.id), released);
  t.deepEqual(await reservationsOf(node.app, order.id), reservations);
  t.deepEqual(
    node.stockEvents.filter((level) => level.productId === product.id),
    [],
  );
  const pending = await node.app.db.knex('outbox').where({ actor_id: order.id }).whereNull('dispatched_at').count({ n: '*' }).first();
  t.is(Number((pending as { n: number | string }).n), 0, 'the replayed rows were delivered again');
  t.deepEqual((await inventoryInvariant(node.app)).problems, []);
});

test('a payment deadline that falls shortly after a restart is delivered by the live sweep, with pushes to subscribers', async (t) => {
  const life = lifecycle(t);
  const config = { paymentWindowMs: 4000, sweepIntervalMs: 100 };
  let node = await life.boot(config);
  const product = await createProduct(node.app, { onHand: 4 });
  const token = await guestToken(node.url);
  let store = await life.store(node, token);
  const order = await placeOrder(store, [[product.id, 4]]);
  store.close();
  await node.stop();

  node = await life.boot(config);
  store = await life.store(node, token);
  const orderTopic = await ok(store, 'subscribe', { topic: `order:${order.id}` });
  const productTopic = await ok(store, 'subscribe', { topic: `product:${product.id}` });
  t.is(orderTopic.view.state, 'awaitingPayment', 'the restart happened before the deadline');
  t.is(orderTopic.view.version, order.version);
  t.is(productTopic.view.available, 0);

  const expired = nextEvent(store, 'order:updated', (view: any) => view.id === order.id && view.state === 'expired', 15_000);
  const restocked = nextEvent(store, 'stock:changed', (push: any) => push.productId === product.id, 15_000);
  const [expiredView, push] = await Promise.all([expired, restocked]);
  t.is(expiredView.version, order.version + 1);
  t.true(expiredView.updatedAt >= order.paymentDeadline, 'not expired before its deadline');
  t.is(push.available, 4);
  t.deepEqual(
    (await reservationsOf(node.app, order.id)).map((r) => r.status),
    ['released'],
  );
  t.deepEqual((await inventoryInvariant(node.app)).problems, []);
});

test('a cart whose time-to-live runs out while the app is down expires after the restart; other actors are untouched', async (t) => {
  const life = lifecycle(t);
  const config = { cartTtlMs: 60_000 };
  // The app comes back two minutes later (its clock says so): no test waits on real time, however slow the machine.
  const later = { clock: () => Date.now() + 120_000 };
  let node = await life.boot(config);
  const product = await createProduct(node.app, { onHand: 8 });
  const token = await guestToken(node.url);
  let store = await life.store(node, token);
  const { cart: created } = await ok(store, 'cart:create', {});
  const { cart } = await ok(store, 'cart:addItem', { cartId: created.id, productId: product.id, quantity: 2 });
  t.is(cart.state, 'active');
  // A cart that was checked out before the stop has no deadline any more, and its order waits for payment.
  const order = await placeOrder(store, [[product.id, 1]]);
  const checkedOut = (await ok(store, 'cart:get', { cartId: order.cartId })).cart;
  t.is(checkedOut.state, 'checkedOut');

  store.close();
  await node.stop();
  t.true(Date.now() < cart.expiresAt, 'the app was stopped before the cart expired');

  node = await life.boot(config, later);
  store = await life.store(node, token);
  const expired = await until(
    async () => (await ok(store, 'cart:get', { cartId: cart.id })).cart,
    (view) => view.state === 'expired',
    'the cart to expire',
  );
  t.is(expired.version, cart.version + 1);
  t.deepEqual(expired.items, cart.items);
  const refused = await call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  t.false(refused.ok);
  if (!refused.ok) t.is(refused.error.code, 'INVALID_TRANSITION');
  t.deepEqual((await ok(store, 'cart:get', { cartId: order.cartId })).cart, checkedOut);
  t.deepEqual((await ok(store, 'order:get', { orderId: order.id })).order, order);
  const level = await stockOf(node.app, product.id);
  t.deepEqual([level.onHand, level.reserved], [8, 1], 'a cart holds no stock, so its expiry moves none');

  // A second restart changes nothing.
  store.close();
  await node.stop();
  node = await life.boot(config, later);
  store = await life.store(node, token);
  t.deepEqual((await ok(store, 'cart:get', { cartId: cart.id })).cart, expired);
  t.deepEqual((await ok(store, 'order:get', { orderId: order.id })).order, order);
  t.deepEqual(await stockOf(node.app, product.id), level);
  t.deepEqual((await inventoryInvariant(node.app)).problems, []);
});

// ---------------------------------------------------------------- the outbox is relayed again after a restart

test('outbox rows left undispatched by a stop are relayed after the restart: the paid order still has exactly one shipment', async (t) => {
  const life = lifecycle(t);
  let node = await life.boot();
  const product = await createProduct(node.app, { onHand: 4 });
  const token = await guestToken(node.url);
  const staff = await staffToken(node.app);
  let store = await life.store(node, token);
  const order = await placeOrder(store, [[product.id, 2]]);
  const { order: paid } = await ok(store, 'order:pay', { orderId: order.id, requestId: 'pay-once', payment: TEST_CARD });
  t.is(paid.state === 'paid' || paid.state === 'fulfilling', true, `paid, got ${paid.state}`);
  store.close();
  await node.stop();

  // As if the process had stopped before the relay ran: the order's domain events are undelivered again.
  const knex = openStoppedDb(node.databaseUrl);
  let before: { order: { version: number; state: string }; shipments: Array<{ id: string; version: number; state: string }>; stock: unknown };
  try {
    const orderRow = (await knex('actors').where({ id: order.id }).first('version', 'state')) as { version: number; state: string };
    const shipments = (await shipmentRowsFor(knex, order.id)).map(({ id, version, state }) => ({ id, version, state }));
    const stock = await knex('products').where({ id: product.id }).first('on_hand', 'reserved', 'stock_version');
    before = { order: orderRow, shipments, stock };
    t.is(orderRow.state, 'fulfilling');
    t.is(shipments.length, 1);
    const types = (await knex('outbox').where({ actor_id: order.id }).orderBy('seq').pluck('type')) as string[];
    t.true(types.includes('order.paid'), `outbox of the order: ${types.join(', ')}`);
    const reset = await replayOutbox(knex, order.id);
    t.is(reset, types.length);
  } finally {
    await knex.destroy();
  }

  node = await life.boot();
  const knexAfter = node.app.db.knex;
  const undelivered = await knexAfter('outbox').where({ actor_id: order.id }).whereNull('dispatched_at').count({ n: '*' }).first();
  t.is(Number((undelivered as { n: number | string }).n), 0, 'start-up recovery relayed every row');
  const shipments = (await shipmentRowsFor(knexAfter, order.id)).map(({ id, version, state }) => ({ id, version, state }));
  t.deepEqual(shipments, before.shipments, 'exactly the one shipment, unchanged');
  t.deepEqual(await knexAfter('actors').where({ id: order.id }).first('version', 'state'), before.order, 'the order did not move');
  t.deepEqual(await knexAfter('products').where({ id: product.id }).first('on_hand', 'reserved', 'stock_version'), before.stock);
  t.deepEqual(
    (await reservationsOf(node.app, order.id)).map((r) => [r.quantity, r.status, r.expires_at]),
    [[2, 'active', null]],
    'the paid order still holds its stock, without expiry',
  );

  // And the order carries on to delivery with that shipment.
  store = await life.store(node, token);
  const warehouse = await life.warehouse(node, staff);
  const view = (await ok(store, 'order:get', { orderId: order.id })).order;
  t.is(view.shipmentId, before.shipments[0]!.id);
  const board = (await ok(warehouse, 'shipments:list', {})).shipments.filter((s: any) => s.orderId === order.id);
  t.is(board.length, 1);
  await ok(store, 'subscribe', { topic: `order:${order.id}` });
  const delivered = nextEvent(store, 'order:updated', (o: any) => o.id === order.id && o.state === 'delivered');
  for (const to of ['picking', 'packed', 'shipped', 'inTransit', 'delivered']) await ok(warehouse, 'shipment:advance', { shipmentId: view.shipmentId, to });
  await delivered;
  const sold = await stockOf(node.app, product.id);
  t.deepEqual([sold.onHand, sold.reserved], [2, 0]);
  t.deepEqual((await inventoryInvariant(node.app)).problems, []);
});

test('replaying the whole outbox after a restart changes no actor, no stock and no payment', async (t) => {
  const life = lifecycle(t);
  let node = await life.boot();
  const product = await createProduct(node.app, { onHand: 20 });
  const token = await guestToken(node.url);
  const staff = await staffToken(node.app);
  const store = await life.store(node, token);
  const warehouse = await life.warehouse(node, staff);

  // Delivered, cancelled after payment (refunded), cancelled unpaid, fulfilling, awaiting payment.
  const delivered = await placeOrder(store, [[product.id, 2]]);
  const deliveredPaid = await payAndAwaitShipment(store, delivered.id, 'pay-d');
  await ok(store, 'subscribe', { topic: `order:${delivered.id}` });
  const deliveredEvent = nextEvent(store, 'order:updated', (o: any) => o.id === delivered.id && o.state === 'delivered');
  for (const to of ['picking', 'packed', 'shipped', 'inTransit', 'delivered']) {
    await ok(warehouse, 'shipment:advance', { shipmentId: deliveredPaid.shipmentId, to });
  }
  await deliveredEvent;

  const refunded = await placeOrder(store, [[product.id, 3]]);
  await payAndAwaitShipment(store, refunded.id, 'pay-r');
  await ok(store, 'subscribe', { topic: `order:${refunded.id}` });
  const refundedEvent = nextEvent(store, 'order:updated', (o: any) => o.id === refunded.id && o.refund?.status === 'refunded');
  await ok(store, 'order:cancel', { orderId: refunded.id });
  await refundedEvent;

  const cancelled = await placeOrder(store, [[product.id, 1]]);
  await ok(store, 'order:cancel', { orderId: cancelled.id });
  const fulfilling = await placeOrder(store, [[product.id, 4]]);
  await payAndAwaitShipment(store, fulfilling.id, 'pay-f');
  const waiting = await placeOrder(store, [[product.id, 5]]);
  store.close();
  warehouse.close();
  await node.stop();

  const dump = async (knex: Knex) => ({
    actors: await knex('actors').orderBy('id').select('id', 'kind', 'version', 'state', 'snapshot'),
    journal: Number(((await knex('actor_journal').count({ n: '*' }).first()) as { n: number | string }).n),
    products: await knex('products').where({ id: product.id }).select('on_hand', 'reserved', 'stock_version'),
    reservations: await knex('reservations').orderBy('id').select('order_id', 'product_id', 'quantity', 'status', 'expires_at'),
    charges: await knex('payment_charges').orderBy('id').select('id', 'kind', 'order_id', 'amount', 'status'),
  });

  const knex = openStoppedDb(node.databaseUrl);
  let before: Awaited<ReturnType<typeof dump>>;
  try {
    before = await dump(knex);
    const reset = await replayOutbox(knex);
    t.true(reset > 10, `${reset} outbox rows replayed`);
  } finally {
    await knex.destroy();
  }
  t.deepEqual(
    before.products.map((p: any) => [Number(p.on_hand), Number(p.reserved)]),
    [[18, 9]],
    'sold 2; fulfilling (4) and waiting (5) hold 9',
  );

  node = await life.boot();
  const after = await dump(node.app.db.knex);
  t.deepEqual(after, before, 'replaying every domain event changed nothing');
  const pending = await node.app.db.knex('outbox').whereNull('dispatched_at').count({ n: '*' }).first();
  t.is(Number((pending as { n: number | string }).n), 0);
  t.deepEqual(
    [delivered, refunded, cancelled, fulfilling, waiting].map((o) => (after.actors as any[]).find((row) => row.id === o.id)?.state),
    ['delivered', 'cancelled', 'cancelled', 'fulfilling', 'awaitingPayment'],
  );
  t.deepEqual((await inventoryInvariant(node.app)).problems, []);
});
