// Cart rules and their codes: at most 100 of a product and 50 lines (VALIDATION, nothing changes), stock (OUT_OF_STOCK),
// a line that is not there (NOT_FOUND), no changes once checked out (INVALID_TRANSITION, even for a sold-out product).
// They are judged inside the cart's serialized step, so concurrent commands on one cart see each other (issue 7, finding 3).
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { CartView, OrderView } from '../../src/protocol/index.ts';
import { MAX_CART_LINES, MAX_LINE_QUANTITY } from '../../src/domain/types.ts';
import { failed } from '../helpers/acks.ts';
import { call, connect, createProduct, guestToken, ok, registerCustomer, socketForTest, startApp, type TestApp } from '../helpers/app.ts';

let app: TestApp;
let store: Socket;

test.before(async () => {
  app = await startApp();
  await createProduct(app.app, { onHand: 1 }); // makes the test category once, before tests run in parallel
  store = await connect(app.url, '/store', await guestToken(app.url));
});

test.after.always(async () => {
  store?.close();
  await app?.stop();
});

type Outcome =
  | { ok: true; data: { cart: { version: number; items: Array<{ productId: string; quantity: number }> } } }
  | { ok: false; error: { code: string; details?: any } };

const codes = (acks: readonly Outcome[]) => acks.map((ack) => (ack.ok ? 'ok' : ack.error.code)).sort();

type Cart = { cart: CartView };
type Order = { order: OrderView };

async function cartWith(socket: Socket, productId: string, quantity: number): Promise<CartView> {
  const { cart } = await ok<Cart>(socket, 'cart:create', {});
  return (await ok<Cart>(socket, 'cart:addItem', { cartId: cart.id, productId, quantity })).cart;
}

test('four simultaneous adds of 8 units with 8 available: one is accepted, three are OUT_OF_STOCK, the cart holds 8', async (t) => {
  const product = await createProduct(app.app, { onHand: 8 });
  const { cart } = await ok(store, 'cart:create', {});
  const acks = (await Promise.all(
    Array.from({ length: 4 }, () => call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 8 })),
  )) as Outcome[];
  t.deepEqual(codes(acks), ['OUT_OF_STOCK', 'OUT_OF_STOCK', 'OUT_OF_STOCK', 'ok']);
  for (const ack of acks) {
    if (!ack.ok) t.deepEqual(ack.error.details, { productId: product.id, available: 8, requested: 16 });
  }
  const { cart: after } = await ok(store, 'cart:get', { cartId: cart.id });
  t.deepEqual(
    after.items.map((line: { quantity: number }) => line.quantity),
    [8],
  );
  t.is(after.version, 2, 'only the accepted add wrote a version');
});

test('simultaneous setQuantity and addItem never put more in the cart than is available', async (t) => {
  const product = await createProduct(app.app, { onHand: 10 });
  const { cart } = await ok(store, 'cart:create', {});
  const acks = (await Promise.all([
    ...Array.from({ length: 5 }, () => call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 3 })),
    ...Array.from({ length: 3 }, (_, i) => call(store, 'cart:setQuantity', { cartId: cart.id, productId: product.id, quantity: 8 + i })),
  ])) as Outcome[];
  t.true(
    acks.every((ack) => ack.ok || ack.error.code === 'OUT_OF_STOCK'),
    JSON.stringify(codes(acks)),
  );
  for (const ack of acks) if (ack.ok) t.true(ack.data.cart.items[0]!.quantity <= 10);
  const { cart: after } = await ok(store, 'cart:get', { cartId: cart.id });
  t.true(after.items[0].quantity <= 10);
});

test('simultaneous adds past the line quantity limit: the ones that would exceed it are VALIDATION with details', async (t) => {
  const product = await createProduct(app.app, { onHand: 1000 });
  const { cart } = await ok(store, 'cart:create', {});
  const half = MAX_LINE_QUANTITY / 2;
  const acks = (await Promise.all(
    Array.from({ length: 3 }, () => call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: half })),
  )) as Outcome[];
  t.deepEqual(codes(acks), ['VALIDATION', 'ok', 'ok']);
  const refused = acks.find((ack) => !ack.ok) as Extract<Outcome, { ok: false }>;
  t.deepEqual(refused.error.details, { productId: product.id, requested: MAX_LINE_QUANTITY + half, reason: 'QUANTITY_LIMIT' });
  const { cart: after } = await ok(store, 'cart:get', { cartId: cart.id });
  t.is(after.items[0].quantity, MAX_LINE_QUANTITY);
});

test('simultaneous adds of new products past the line limit: exactly the extra ones are VALIDATION', async (t) => {
  const { cart } = await ok(store, 'cart:create', {});
  const products = [];
  for (let i = 0; i < MAX_CART_LINES + 3; i++) products.push(await createProduct(app.app, { onHand: 5 }));
  const acks = (await Promise.all(
    products.map((product) => call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 })),
  )) as Outcome[];
  const refused = acks.filter((ack) => !ack.ok) as Array<Extract<Outcome, { ok: false }>>;
  t.is(refused.length, 3);
  t.true(
    refused.every((ack) => ack.error.code === 'VALIDATION'),
    JSON.stringify(refused.map((ack) => ack.error)),
  );
  const { cart: after } = await ok(store, 'cart:get', { cartId: cart.id });
  t.is(after.items.length, MAX_CART_LINES);
});

test('simultaneous removals of one line: one is accepted, the others are NOT_FOUND', async (t) => {
  const product = await createProduct(app.app, { onHand: 5 });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 });
  const acks = (await Promise.all([
    ...Array.from({ length: 3 }, () => call(store, 'cart:removeItem', { cartId: cart.id, productId: product.id })),
    call(store, 'cart:setQuantity', { cartId: cart.id, productId: product.id, quantity: 0 }),
  ])) as Outcome[];
  t.deepEqual(codes(acks), ['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'ok']);
  const { cart: after } = await ok(store, 'cart:get', { cartId: cart.id });
  t.deepEqual(after.items, []);
  t.is(after.version, 3);
});

test('a change racing a checkout is judged on the state it meets: INVALID_TRANSITION once the cart is checking out, never a lost line', async (t) => {
  const product = await createProduct(app.app, { onHand: 50 });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  const [checkout, ...adds] = await Promise.all([
    call(store, 'cart:checkout', { cartId: cart.id, requestId: `race-${cart.id}` }),
    ...Array.from({ length: 5 }, () => call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 })),
  ]);
  t.true(checkout.ok);
  const accepted = (adds as Outcome[]).filter((ack) => ack.ok).length;
  t.true((adds as Outcome[]).every((ack) => ack.ok || ack.error.code === 'INVALID_TRANSITION'));
  // The order holds exactly what the cart held when checkout locked it: the line plus the adds accepted before.
  const order = (checkout as { ok: true; data: { order: { items: Array<{ quantity: number }> } } }).data.order;
  t.is(order.items[0]!.quantity, 1 + accepted);
});

test('cart limits: taking one product over 100 is VALIDATION and changes nothing', async (t) => {
  const product = await createProduct(app.app, { onHand: 500 });
  const socket = await socketForTest(t, app.url, '/store', (await registerCustomer(app.url)).token);
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

test('cart limits: a 51st distinct product is VALIDATION; the 50 lines stay and still take changes', async (t) => {
  const products = [];
  for (let i = 0; i < 51; i++) products.push(await createProduct(app.app, { onHand: 10 }));
  const socket = await socketForTest(t, app.url, '/store', (await registerCustomer(app.url)).token);
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

test('cart limits: setQuantity 0 for a product not in the cart is NOT_FOUND', async (t) => {
  const inCart = await createProduct(app.app, { onHand: 10 });
  const notInCart = await createProduct(app.app, { onHand: 10 });
  const socket = await socketForTest(t, app.url, '/store', (await registerCustomer(app.url)).token);
  const cart = await cartWith(socket, inCart.id, 2);

  failed(t, await call(socket, 'cart:setQuantity', { cartId: cart.id, productId: notInCart.id, quantity: 0 }), 'NOT_FOUND', 'setQuantity 0 not in cart');
  t.is((await ok<Cart>(socket, 'cart:get', { cartId: cart.id })).cart.version, cart.version);
  // For a line that is there, 0 removes it.
  const emptied = (await ok<Cart>(socket, 'cart:setQuantity', { cartId: cart.id, productId: inCart.id, quantity: 0 })).cart;
  t.deepEqual(emptied.items, []);
});

test('cart limits: changing a checked-out cart is INVALID_TRANSITION, not OUT_OF_STOCK, even for a sold-out product', async (t) => {
  const last = await createProduct(app.app, { onHand: 1 });
  const never = await createProduct(app.app, { onHand: 0 });
  const socket = await socketForTest(t, app.url, '/store', (await registerCustomer(app.url)).token);
  const cart = await cartWith(socket, last.id, 1);
  const { order } = await ok<Order>(socket, 'cart:checkout', { cartId: cart.id, requestId: 'co-sold-out' });
  t.is(order.state, 'awaitingPayment');
  t.is((await app.app.services.inventory.level(last.id))?.available, 0, 'the checkout took the last unit');

  const again = failed(t, await call(socket, 'cart:addItem', { cartId: cart.id, productId: last.id, quantity: 1 }), 'INVALID_TRANSITION', 'addItem sold out');
  t.like(again.details as object, { state: 'checkedOut' });
  failed(t, await call(socket, 'cart:addItem', { cartId: cart.id, productId: never.id, quantity: 1 }), 'INVALID_TRANSITION', 'addItem never stocked');
  failed(t, await call(socket, 'cart:setQuantity', { cartId: cart.id, productId: last.id, quantity: 5 }), 'INVALID_TRANSITION', 'setQuantity');
  failed(t, await call(socket, 'cart:removeItem', { cartId: cart.id, productId: last.id }), 'INVALID_TRANSITION', 'removeItem');
});
