// The review fixes of b0db958: cart:create requestId, declined payments replayed, cart limits as VALIDATION,
// adopted carts drop former subscribers, topic id validation, graceful shutdown, SDK reconnects, CORS, inStock=false.
import { createServer, type AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { io, type Socket } from 'socket.io-client';
import type { App } from '../../src/app.ts';
import { connectStore, EmporiumError, type StoreConnection } from '../../src/client/index.ts';
import type { Ack, CartView, ErrorCode, OrderView } from '../../src/protocol/index.ts';
import type { Config } from '../../src/config.ts';
import {
  call,
  connect,
  createProduct,
  DECLINED_CARD,
  getJson,
  guestToken,
  ok,
  nextEvent,
  postJson,
  record,
  registerCustomer,
  startApp,
  TEST_CARD,
  tempDir,
  type TestApp,
} from '../helpers/app.ts';

type Cart = { cart: CartView };
type Order = { order: OrderView };

// ---------------------------------------------------------------- helpers

/** Starts an app whose stop() may be called by the test and again (harmlessly) in teardown. */
async function launch(t: ExecutionContext, options: { dataDir?: string; config?: Partial<Config> } = {}): Promise<TestApp> {
  const started = await startApp(options);
  let stopped: Promise<void> | undefined;
  const running: TestApp = { ...started, stop: () => (stopped ??= started.stop()) };
  t.teardown(() => running.stop().catch(() => undefined));
  return running;
}

/** A /store socket closed in teardown. */
async function open(t: ExecutionContext, url: string, token: string): Promise<Socket> {
  const socket = await connect(url, '/store', token);
  t.teardown(() => {
    socket.close();
  });
  return socket;
}

/** A data folder removed in teardown (after the apps on it have stopped: teardowns run last-registered first). */
function dataFolder(t: ExecutionContext): string {
  const temp = tempDir('emporium-review-');
  t.teardown(() => temp.cleanup());
  return temp.dir;
}

function data<T>(t: ExecutionContext, ack: Ack<T>, label = 'command'): T {
  if (!ack.ok) {
    const { error } = ack;
    t.fail(`${label}: expected ok, got ${error.code}: ${error.message}`);
    throw new Error(error.message);
  }
  return ack.data;
}

function failed(t: ExecutionContext, ack: Ack<unknown>, code: ErrorCode, label = 'command'): { code: string; message: string; details?: unknown } {
  if (ack.ok) {
    t.fail(`${label}: expected ${code}, got ok`);
    throw new Error(`${label} unexpectedly succeeded`);
  }
  t.is(ack.error.code, code, `${label}: ${ack.error.message}`);
  return ack.error;
}

async function cartRows(app: App, where: Record<string, unknown> = {}): Promise<number> {
  const row = await app.db.knex('actors').where({ kind: 'cart', ...where }).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

async function chargeRows(app: App, orderId: string): Promise<number> {
  const row = await app.db.knex('payment_charges').where({ order_id: orderId, kind: 'charge' }).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

async function waitUntil(predicate: () => boolean, label: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${label}`);
    await sleep(20);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Emits a command; resolves with its ack, or with 'disconnected' if the connection drops first. */
function ackOrDisconnect(socket: Socket, event: string, payload: unknown): Promise<{ ack: Ack<unknown> } | 'disconnected'> {
  return new Promise((resolve) => {
    if (!socket.connected) return resolve('disconnected');
    const onDisconnect = () => resolve('disconnected');
    socket.once('disconnect', onDisconnect);
    socket.emit(event, payload, (ack: Ack<unknown>) => {
      socket.off('disconnect', onDisconnect);
      resolve({ ack });
    });
  });
}

async function cartWith(socket: Socket, productId: string, quantity: number): Promise<CartView> {
  const { cart } = await ok<Cart>(socket, 'cart:create', {});
  return (await ok<Cart>(socket, 'cart:addItem', { cartId: cart.id, productId, quantity })).cart;
}

const PAID = ['paid', 'fulfilling'];

// ---------------------------------------------------------------- cart:create requestId

test.serial('cart:create: the same requestId gives the same cart, sequentially and 5x concurrently, with one row each', async (t) => {
  const { app, url } = await launch(t);
  const customer = await registerCustomer(url);
  const socket = await open(t, url, customer.token);

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
  const otherSocket = await open(t, url, other.token);
  const theirs = data(t, await call<Cart>(otherSocket, 'cart:create', { requestId: 'create-1' })).cart;
  t.not(theirs.id, first.id);
  t.is(theirs.customerId, other.customerId);
  t.is(theirs.itemCount, 0);
  t.is(await cartRows(app), 5);
  t.is(await cartRows(app, { owner_id: customer.customerId }), 4);
  t.is(await cartRows(app, { owner_id: other.customerId }), 1);
  failed(t, await call(otherSocket, 'cart:get', { cartId: first.id }), 'FORBIDDEN', 'the first customer cart stays theirs');
});

// ---------------------------------------------------------------- order:pay decline replay

test.serial('order:pay: a declined requestId replays the decline (even with a good card); a new requestId pays', async (t) => {
  const { app, url } = await launch(t);
  const product = await createProduct(app, { onHand: 5, price: 1500 });
  const customer = await registerCustomer(url);
  const socket = await open(t, url, customer.token);
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
  t.true(PAID.includes(paid.state), paid.state);
  t.truthy(paid.payment);
  t.is(paid.paymentAttempts, 2);
  t.is(await chargeRows(app, order.id), 2);
});

// ---------------------------------------------------------------- cart limits

test.serial('cart limits: taking one product over 100 is VALIDATION and changes nothing', async (t) => {
  const { app, url } = await launch(t);
  const product = await createProduct(app, { onHand: 500 });
  const socket = await open(t, url, (await registerCustomer(url)).token);
  const cart = await cartWith(socket, product.id, 60);

  const over = failed(t, await call(socket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 41 }), 'VALIDATION', 'addItem 60+41');
  t.regex(over.message, /100/);
  const unchanged = (await ok<Cart>(socket, 'cart:get', { cartId: cart.id })).cart;
  t.is(unchanged.version, cart.version);
  t.is(unchanged.itemCount, 60);

  const full = (await ok<Cart>(socket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 40 })).cart;
  t.is(full.itemCount, 100, 'exactly 100 is allowed');
  const one = failed(t, await call(socket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 }), 'VALIDATION', 'addItem 100+1');
  t.true(one.message.length > 0);
  failed(t, await call(socket, 'cart:setQuantity', { cartId: cart.id, productId: product.id, quantity: 101 }), 'VALIDATION', 'setQuantity 101');
  t.is((await ok<Cart>(socket, 'cart:get', { cartId: cart.id })).cart.itemCount, 100);
});

test.serial('cart limits: a 51st distinct product is VALIDATION; the 50 lines stay and still take changes', async (t) => {
  const { app, url } = await launch(t);
  const products = [];
  for (let i = 0; i < 51; i++) products.push(await createProduct(app, { onHand: 10 }));
  const socket = await open(t, url, (await registerCustomer(url)).token);
  const { cart } = await ok<Cart>(socket, 'cart:create', {});
  let latest = cart;
  for (const product of products.slice(0, 50)) latest = (await ok<Cart>(socket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 })).cart;
  t.is(latest.items.length, 50);

  const extra = products[50]!;
  const added = failed(t, await call(socket, 'cart:addItem', { cartId: cart.id, productId: extra.id, quantity: 1 }), 'VALIDATION', '51st addItem');
  t.regex(added.message, /50/);
  const set = failed(t, await call(socket, 'cart:setQuantity', { cartId: cart.id, productId: extra.id, quantity: 1 }), 'VALIDATION', '51st setQuantity');
  t.true(set.message.length > 0);
  const after = (await ok<Cart>(socket, 'cart:get', { cartId: cart.id })).cart;
  t.is(after.items.length, 50);
  t.is(after.version, latest.version);

  // A line already in the cart can still grow, and once one is removed the 51st fits.
  const grown = (await ok<Cart>(socket, 'cart:addItem', { cartId: cart.id, productId: products[0]!.id, quantity: 2 })).cart;
  t.is(grown.items.length, 50);
  await ok<Cart>(socket, 'cart:removeItem', { cartId: cart.id, productId: products[1]!.id });
  const swapped = (await ok<Cart>(socket, 'cart:addItem', { cartId: cart.id, productId: extra.id, quantity: 1 })).cart;
  t.is(swapped.items.length, 50);
});

test.serial('cart limits: setQuantity 0 for a product not in the cart is NOT_FOUND', async (t) => {
  const { app, url } = await launch(t);
  const inCart = await createProduct(app, { onHand: 10 });
  const notInCart = await createProduct(app, { onHand: 10 });
  const socket = await open(t, url, (await registerCustomer(url)).token);
  const cart = await cartWith(socket, inCart.id, 2);

  failed(t, await call(socket, 'cart:setQuantity', { cartId: cart.id, productId: notInCart.id, quantity: 0 }), 'NOT_FOUND', 'setQuantity 0 not in cart');
  t.is((await ok<Cart>(socket, 'cart:get', { cartId: cart.id })).cart.version, cart.version);
  // For a line that is there, 0 removes it.
  const emptied = (await ok<Cart>(socket, 'cart:setQuantity', { cartId: cart.id, productId: inCart.id, quantity: 0 })).cart;
  t.deepEqual(emptied.items, []);
});

test.serial('cart limits: changing a checked-out cart is INVALID_TRANSITION, not OUT_OF_STOCK, even for a sold-out product', async (t) => {
  const { app, url } = await launch(t);
  const last = await createProduct(app, { onHand: 1 });
  const never = await createProduct(app, { onHand: 0 });
  const socket = await open(t, url, (await registerCustomer(url)).token);
  const cart = await cartWith(socket, last.id, 1);
  const { order } = await ok<Order>(socket, 'cart:checkout', { cartId: cart.id, requestId: 'co-sold-out' });
  t.is(order.state, 'awaitingPayment');
  t.is((await app.services.inventory.level(last.id))?.available, 0, 'the checkout took the last unit');

  const again = failed(t, await call(socket, 'cart:addItem', { cartId: cart.id, productId: last.id, quantity: 1 }), 'INVALID_TRANSITION', 'addItem sold out');
  t.like(again.details as object, { state: 'checkedOut' });
  failed(t, await call(socket, 'cart:addItem', { cartId: cart.id, productId: never.id, quantity: 1 }), 'INVALID_TRANSITION', 'addItem never stocked');
  failed(t, await call(socket, 'cart:setQuantity', { cartId: cart.id, productId: last.id, quantity: 5 }), 'INVALID_TRANSITION', 'setQuantity');
  failed(t, await call(socket, 'cart:removeItem', { cartId: cart.id, productId: last.id }), 'INVALID_TRANSITION', 'removeItem');
});

// ---------------------------------------------------------------- ownership change

test.serial('adoption: a guest socket subscribed to the cart stops receiving cart:updated once a customer adopts it', async (t) => {
  const { app, url } = await launch(t);
  const product = await createProduct(app, { onHand: 20 });
  const guest = await guestToken(url);
  const guestSocket = await open(t, url, guest);
  const cart = await cartWith(guestSocket, product.id, 1);
  await ok(guestSocket, 'subscribe', { topic: `cart:${cart.id}` });
  const guestLog = record(guestSocket, ['cart:updated']);
  // The guest's subscription is live: its own change is pushed to it.
  const ownPush = nextEvent<CartView>(guestSocket, 'cart:updated', (view) => view.id === cart.id && view.itemCount === 2);
  await ok<Cart>(guestSocket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  await ownPush;

  const email = `adopter-${process.pid}-${Date.now()}@example.com`;
  const registered = await postJson<{ token: string; customer: { id: string }; adoptedCarts: string[] }>(
    `${url}/api/auth/register`,
    { email, password: 'correct horse battery', name: 'Adopter' },
    guest,
  );
  t.is(registered.status, 201);
  t.deepEqual(registered.body.adoptedCarts, [cart.id]);

  const customerSocket = await open(t, url, registered.body.token);
  const subscribed = await ok<{ view: CartView }>(customerSocket, 'subscribe', { topic: `cart:${cart.id}` });
  const adoptedVersion = subscribed.view.version;
  t.is(subscribed.view.customerId, registered.body.customer.id);

  const pushed = nextEvent<CartView>(customerSocket, 'cart:updated', (view) => view.id === cart.id && view.version > adoptedVersion);
  const changed = (await ok<Cart>(customerSocket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 3 })).cart;
  const push = await pushed;
  t.is(push.version, changed.version);
  t.is(push.itemCount, 5);

  // Bounded grace for a push that would be on its way to the guest: one more round trip on its socket.
  await call(guestSocket, 'carts:list', {});
  const leaked = guestLog.filter(({ payload }) => (payload as CartView).version > adoptedVersion);
  t.deepEqual(leaked, [], 'the guest socket saw no change made after the adoption');
  // Whatever the guest did see is at most the adoption itself.
  for (const { payload } of guestLog) t.true((payload as CartView).version <= adoptedVersion);

  failed(t, await call(guestSocket, 'cart:get', { cartId: cart.id }), 'FORBIDDEN', 'guest cart:get after adoption');
  failed(t, await call(guestSocket, 'subscribe', { topic: `cart:${cart.id}` }), 'FORBIDDEN', 'guest subscribe after adoption');
});

// ---------------------------------------------------------------- payload and topic validation

test.serial('validation: a topic with an invalid id and a non-object payload are VALIDATION; null counts as no payload', async (t) => {
  const { url } = await launch(t);
  const socket = await open(t, url, await guestToken(url));

  const bad = failed(t, await call(socket, 'subscribe', { topic: 'cart:a b' }), 'VALIDATION', 'subscribe cart:a b');
  t.true(bad.message.length > 0);
  failed(t, await call(socket, 'subscribe', { topic: 'order:x/y' }), 'VALIDATION', 'subscribe order:x/y');

  failed(t, await call(socket, 'cart:create', 'cart'), 'VALIDATION', 'cart:create string');
  failed(t, await call(socket, 'cart:get', null), 'VALIDATION', 'cart:get null (cartId missing)');
  // Socket.IO sends an undefined argument as null: that is an empty payload, not a malformed one.
  t.is(data(t, (await call(socket, 'cart:create', null)) as Ack<Cart>, 'cart:create null').cart.state, 'active');
  // No payload argument at all is still an empty payload.
  const bare = (await socket.timeout(15_000).emitWithAck('cart:create')) as Ack<Cart>;
  t.is(data(t, bare, 'cart:create without payload').cart.state, 'active');
});

// ---------------------------------------------------------------- graceful shutdown

test.serial('shutdown: a payment in flight is finished and answered; later commands get UNAVAILABLE or a disconnect; nothing stays authorizing', async (t) => {
  const dataDir = dataFolder(t);
  const node = await launch(t, { dataDir, config: { paymentLatencyMs: 400 } });
  const product = await createProduct(node.app, { onHand: 5 });
  const customer = await registerCustomer(node.url);
  const socket = await open(t, node.url, customer.token);
  const bystander = await open(t, node.url, customer.token);
  const cart = await cartWith(socket, product.id, 1);
  const { order } = await ok<Order>(socket, 'cart:checkout', { cartId: cart.id, requestId: 'co-shutdown' });

  const payAck = call<Order>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-shutdown', payment: TEST_CARD });
  await sleep(100);
  const stopping = node.stop();
  const late = await Promise.all([ackOrDisconnect(socket, 'order:get', { orderId: order.id }), ackOrDisconnect(bystander, 'carts:list', {})]);

  const paid = data(t, await payAck, 'the pay in flight').order;
  t.true(PAID.includes(paid.state), `paid during shutdown, got ${paid.state}`);
  t.log('after stop() began:', late.map((outcome) => (outcome === 'disconnected' ? 'disconnected' : outcome.ack.ok ? 'ok' : outcome.ack.error.code)).join(', '));
  for (const outcome of late) {
    if (outcome === 'disconnected') t.pass();
    else failed(t, outcome.ack, 'UNAVAILABLE', 'a command after stop() began');
  }
  await stopping;

  const reopened = await launch(t, { dataDir });
  const stored = await reopened.app.runtime.get('order', order.id);
  t.truthy(stored);
  t.not(stored!.state, 'authorizing');
  t.true(PAID.includes(stored!.state), stored!.state);
});

// ---------------------------------------------------------------- SDK

test.serial('SDK: call, EmporiumError, and after a restart on the same port it reconnects, re-subscribes without duplicates and gets later pushes', async (t) => {
  const port = await freePort();
  const dataDir = dataFolder(t);
  const first = await launch(t, { dataDir, config: { port } });
  const product = await createProduct(first.app, { onHand: 50 });
  const customer = await registerCustomer(first.url);
  const errors: Array<{ error: Error; topic: string }> = [];
  const store: StoreConnection = await connectStore(first.url, { token: customer.token, timeoutMs: 5_000, onError: (error, topic) => errors.push({ error, topic }) });
  t.teardown(() => store.close());

  const { cart } = await store.call('cart:create', {});
  const views: CartView[] = [];
  await store.subscribe<CartView>(`cart:${cart.id}`, (view) => views.push(view));
  t.deepEqual(views.map((v) => v.version), [cart.version], 'the subscribe answer is delivered');

  const added = await store.call('cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  t.is(added.cart.itemCount, 1);
  await waitUntil(() => views.some((v) => v.version === added.cart.version), 'the addItem push arrives');

  const missing = await t.throwsAsync(store.call('cart:get', { cartId: 'cart_missing' }), { instanceOf: EmporiumError });
  t.is(missing?.code, 'NOT_FOUND');
  const invalid = await t.throwsAsync(store.call('cart:addItem', { cartId: cart.id, productId: product.id, quantity: 0 }), { instanceOf: EmporiumError });
  t.is(invalid?.code, 'VALIDATION');

  const disconnected = new Promise<void>((resolve) => store.socket.once('disconnect', () => resolve()));
  await first.stop();
  await disconnected;
  const second = await launch(t, { dataDir, config: { port } });
  t.is(second.url, first.url);
  await waitUntil(() => store.socket.connected, 'the SDK reconnects by itself', 20_000);

  // Changes through another client reach the SDK's listener: the first may come with the re-subscribe answer,
  // the second can only come as a push on the re-joined topic.
  const other = await open(t, second.url, customer.token);
  const third = (await ok<Cart>(other, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 })).cart;
  await waitUntil(() => views.some((v) => v.version === third.version), 'the first change after the restart reaches the listener');
  const fourth = (await ok<Cart>(other, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 3 })).cart;
  await waitUntil(() => views.some((v) => v.version === fourth.version), 'the second change after the restart is pushed');
  t.is(views.at(-1)!.itemCount, 6);

  const versions = views.map((v) => v.version);
  t.deepEqual(versions, [cart.version, added.cart.version, third.version, fourth.version], 'each version once, in order');
  t.deepEqual(errors, []);
  const again = await store.call('cart:get', { cartId: cart.id });
  t.is(again.cart.version, fourth.version);
});

test.serial('SDK: onError is called when re-subscribing after a restart is refused (the guest cart was adopted)', async (t) => {
  const port = await freePort();
  const dataDir = dataFolder(t);
  const first = await launch(t, { dataDir, config: { port } });
  const guest = await guestToken(first.url);
  const errors: Array<{ error: Error; topic: string }> = [];
  const store = await connectStore(first.url, { token: guest, timeoutMs: 5_000, onError: (error, topic) => errors.push({ error, topic }) });
  t.teardown(() => store.close());

  const { cart } = await store.call('cart:create', {});
  const topic = `cart:${cart.id}`;
  const views: CartView[] = [];
  await store.subscribe<CartView>(topic, (view) => views.push(view));
  const registered = await postJson<{ adoptedCarts: string[] }>(
    `${first.url}/api/auth/register`,
    { email: `sdk-adopter-${process.pid}-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Adopter' },
    guest,
  );
  t.is(registered.status, 201);
  t.deepEqual(registered.body.adoptedCarts, [cart.id]);
  await t.throwsAsync(store.call('cart:get', { cartId: cart.id }), { instanceOf: EmporiumError, message: /./ });

  const disconnected = new Promise<void>((resolve) => store.socket.once('disconnect', () => resolve()));
  await first.stop();
  await disconnected;
  await launch(t, { dataDir, config: { port } });
  await waitUntil(() => errors.length > 0, 'onError reports the refused re-subscription', 20_000);

  t.is(errors.length, 1);
  t.is(errors[0]!.topic, topic);
  t.true(errors[0]!.error instanceof EmporiumError);
  t.is((errors[0]!.error as EmporiumError).code, 'FORBIDDEN');
  t.true(store.socket.connected);
});

// ---------------------------------------------------------------- CORS and origins

test.serial('REST CORS: a preflight from an allowed origin is answered with it; another origin gets no allow-origin', async (t) => {
  const { url } = await launch(t);
  const preflight = (origin: string) =>
    fetch(`${url}/api/products`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET' } });

  const allowed = await preflight('http://localhost:3000');
  t.true(allowed.status >= 200 && allowed.status < 300, `preflight status ${allowed.status}`);
  t.is(allowed.headers.get('access-control-allow-origin'), 'http://localhost:3000');
  t.regex(allowed.headers.get('access-control-allow-methods') ?? '', /GET/);

  const evil = await preflight('http://evil.example');
  t.is(evil.headers.get('access-control-allow-origin'), null);

  // Simple requests too.
  const get = await fetch(`${url}/api/products`, { headers: { origin: 'http://localhost:3000' } });
  t.is(get.status, 200);
  t.is(get.headers.get('access-control-allow-origin'), 'http://localhost:3000');
  const evilGet = await fetch(`${url}/api/products`, { headers: { origin: 'http://evil.example' } });
  t.is(evilGet.headers.get('access-control-allow-origin'), null);
});

function connectWithOrigin(url: string, token: string, origin: string): Promise<Socket> {
  const socket = io(`${url}/store`, { auth: { token }, transports: ['websocket'], extraHeaders: { origin }, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

test.serial('Socket.IO origin allowlist: a websocket from a foreign Origin is refused; an allowed Origin connects', async (t) => {
  const { url } = await launch(t);
  const token = await guestToken(url);

  const refused = await t.throwsAsync(connectWithOrigin(url, token, 'http://evil.example'));
  t.truthy(refused);
  t.log('foreign origin refused with:', refused?.message);
  t.is((refused as Error & { data?: unknown }).data, undefined, 'refused at the HTTP upgrade, not by the handshake middleware');

  const socket = await connectWithOrigin(url, token, 'http://localhost:3000');
  t.teardown(() => {
    socket.close();
  });
  t.true(socket.connected);
  t.is(data(t, await call<Cart>(socket, 'cart:create', {})).cart.state, 'active');
});

// ---------------------------------------------------------------- catalog

test.serial('GET /api/products?inStock=false returns only sold-out products', async (t) => {
  const { app, url } = await launch(t);
  const plenty = await createProduct(app, { onHand: 5, name: 'Plenty Widget' });
  const none = await createProduct(app, { onHand: 0, name: 'Never Stocked Widget' });
  const reservedAway = await createProduct(app, { onHand: 1, name: 'Reserved Widget' });
  const socket = await open(t, url, (await registerCustomer(url)).token);
  const cart = await cartWith(socket, reservedAway.id, 1);
  await ok<Order>(socket, 'cart:checkout', { cartId: cart.id, requestId: 'co-stock' });

  type Page = { items: Array<{ id: string; available: number }>; total: number };
  const soldOut = await getJson<Page>(`${url}/api/products?inStock=false&pageSize=100`);
  t.is(soldOut.status, 200);
  const ids = soldOut.body.items.map((p) => p.id);
  t.true(ids.includes(none.id));
  t.true(ids.includes(reservedAway.id), 'a product whose stock is all reserved is sold out');
  t.false(ids.includes(plenty.id));
  t.true(soldOut.body.items.every((p) => p.available <= 0));
  t.is(soldOut.body.total, soldOut.body.items.length);

  const zero = await getJson<Page>(`${url}/api/products?inStock=0&pageSize=100`);
  t.deepEqual(zero.body.items.map((p) => p.id).sort(), [...ids].sort());

  const inStock = await getJson<Page>(`${url}/api/products?inStock=true&pageSize=100`);
  const inIds = inStock.body.items.map((p) => p.id);
  t.true(inIds.includes(plenty.id));
  t.false(inIds.includes(none.id));
  t.false(inIds.includes(reservedAway.id));
});
