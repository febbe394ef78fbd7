// Cart rules are judged inside the cart's serialized step: concurrent commands on one cart see each other,
// so stock, line and quantity limits and line existence hold with the documented codes (issue 7, finding 3).
import test from 'ava';
import type { Socket } from 'socket.io-client';
import { MAX_CART_LINES, MAX_LINE_QUANTITY } from '../../src/domain/types.ts';
import { call, connect, createProduct, guestToken, ok, startApp, type TestApp } from '../helpers/app.ts';

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

type Outcome = { ok: true; data: { cart: { version: number; items: Array<{ productId: string; quantity: number }> } } } | { ok: false; error: { code: string; details?: any } };

const codes = (acks: readonly Outcome[]) => acks.map((ack) => (ack.ok ? 'ok' : ack.error.code)).sort();

test('four simultaneous adds of 8 units with 8 available: one is accepted, three are OUT_OF_STOCK, the cart holds 8', async (t) => {
  const product = await createProduct(app.app, { onHand: 8 });
  const { cart } = await ok(store, 'cart:create', {});
  const acks = await Promise.all(Array.from({ length: 4 }, () => call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 8 }))) as Outcome[];
  t.deepEqual(codes(acks), ['OUT_OF_STOCK', 'OUT_OF_STOCK', 'OUT_OF_STOCK', 'ok']);
  for (const ack of acks) {
    if (!ack.ok) t.deepEqual(ack.error.details, { productId: product.id, available: 8, requested: 16 });
  }
  const { cart: after } = await ok(store, 'cart:get', { cartId: cart.id });
  t.deepEqual(after.items.map((line: { quantity: number }) => line.quantity), [8]);
  t.is(after.version, 2, 'only the accepted add wrote a version');
});

test('simultaneous setQuantity and addItem never put more in the cart than is available', async (t) => {
  const product = await createProduct(app.app, { onHand: 10 });
  const { cart } = await ok(store, 'cart:create', {});
  const acks = (await Promise.all([
    ...Array.from({ length: 5 }, () => call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 3 })),
    ...Array.from({ length: 3 }, (_, i) => call(store, 'cart:setQuantity', { cartId: cart.id, productId: product.id, quantity: 8 + i })),
  ])) as Outcome[];
  t.true(acks.every((ack) => ack.ok || ack.error.code === 'OUT_OF_STOCK'), JSON.stringify(codes(acks)));
  for (const ack of acks) if (ack.ok) t.true(ack.data.cart.items[0]!.quantity <= 10);
  const { cart: after } = await ok(store, 'cart:get', { cartId: cart.id });
  t.true(after.items[0].quantity <= 10);
});

test('simultaneous adds past the line quantity limit: the ones that would exceed it are VALIDATION with details', async (t) => {
  const product = await createProduct(app.app, { onHand: 1000 });
  const { cart } = await ok(store, 'cart:create', {});
  const half = MAX_LINE_QUANTITY / 2;
  const acks = (await Promise.all(Array.from({ length: 3 }, () => call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: half })))) as Outcome[];
  t.deepEqual(codes(acks), ['VALIDATION', 'ok', 'ok']);
  const refused = acks.find((ack) => !ack.ok) as Extract<Outcome, { ok: false }>;
  t.deepEqual(refused.error.details, { productId: product.id, requested: MAX_LINE_QUANTITY + half });
  const { cart: after } = await ok(store, 'cart:get', { cartId: cart.id });
  t.is(after.items[0].quantity, MAX_LINE_QUANTITY);
});

test('simultaneous adds of new products past the line limit: exactly the extra ones are VALIDATION', async (t) => {
  const { cart } = await ok(store, 'cart:create', {});
  const products = [];
  for (let i = 0; i < MAX_CART_LINES + 3; i++) products.push(await createProduct(app.app, { onHand: 5 }));
  const acks = (await Promise.all(products.map((product) => call(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 })))) as Outcome[];
  const refused = acks.filter((ack) => !ack.ok) as Array<Extract<Outcome, { ok: false }>>;
  t.is(refused.length, 3);
  t.true(refused.every((ack) => ack.error.code === 'VALIDATION'), JSON.stringify(refused.map((ack) => ack.error)));
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
