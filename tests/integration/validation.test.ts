// Malformed input on /store and /warehouse: every bad payload (a topic with an invalid id, a payload that is not an object)
// is a VALIDATION ack, nothing changes, nobody else suffers; a null or missing payload counts as an empty one.
// Tests run serially: each starts its own app, server and database, and timing-sensitive checks (rate limits) get the CPU to themselves.
import test, { type ExecutionContext } from 'ava';
import type { Socket } from 'socket.io-client';
import type { Ack, CartView, ProductView } from '../../src/protocol/index.ts';
import { data, failed } from '../helpers/acks.ts';
import {
  call,
  createProduct,
  getJson,
  guestToken,
  inventoryInvariant,
  ok,
  registerCustomer,
  socketForTest,
  staffToken,
  startApp,
  TEST_CARD,
  type TestApp,
} from '../helpers/app.ts';

type Cart = { cart: CartView };

const LONG_ID = 'x'.repeat(10_000);

/** A VALIDATION error with a message, and no trace of the server's insides. */
function assertValidation(t: ExecutionContext, ack: Ack<unknown>, label: string): void {
  t.false(ack.ok, `${label} was refused`);
  if (ack.ok) return;
  t.is(ack.error.code, 'VALIDATION', `${label}: ${ack.error.code} ${ack.error.message}`);
  t.is(typeof ack.error.message, 'string', label);
  t.true(ack.error.message.length > 0, label);
  t.true(ack.error.message.length < 5_000, `${label}: the message does not echo huge input`);
  const text = JSON.stringify(ack);
  t.false(/\bat \S.*\.(ts|js):\d+/.test(text), `${label}: no stack trace in ${text.slice(0, 300)}`);
  t.false(text.includes('.ts:'), `${label}: no source location`);
  t.false(text.includes('"stack"'), `${label}: no stack field`);
  t.false(text.includes(LONG_ID), `${label}: the huge id is not echoed back`);
}

interface World {
  readonly app: TestApp;
  readonly owner: Socket;
  readonly bystander: Socket;
  readonly cartId: string;
  readonly bystanderCartId: string;
  readonly productId: string;
  readonly ownerToken: string;
}

async function world(t: ExecutionContext, config: Parameters<typeof startApp>[0] = {}): Promise<World> {
  const app = await startApp(config);
  t.teardown(() => app.stop());
  const product = await createProduct(app.app, { onHand: 10, price: 1_000 });
  const owner = await registerCustomer(app.url, 'Owner');
  const other = await registerCustomer(app.url, 'Bystander');
  const ownerSocket = await socketForTest(t, app.url, '/store', owner.token);
  const bystander = await socketForTest(t, app.url, '/store', other.token);
  const { cart } = await ok<{ cart: CartView }>(ownerSocket, 'cart:create', {});
  await ok(ownerSocket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 });
  const { cart: bystanderCart } = await ok<{ cart: CartView }>(bystander, 'cart:create', {});
  return { app, owner: ownerSocket, bystander, cartId: cart.id, bystanderCartId: bystanderCart.id, productId: product.id, ownerToken: owner.token };
}

/** What must not move: the owner's cart (read on the server side) and the product's stock. */
async function state(w: World) {
  const cart = await w.app.app.runtime.get('cart', w.cartId);
  const product = (await getJson<ProductView>(`${w.app.url}/api/products/${w.productId}`)).body;
  const carts = await w.app.app.db.knex('actors').where({ kind: 'cart' }).count({ n: '*' });
  return {
    version: cart?.version ?? -1,
    state: cart?.state,
    items: cart?.snapshot.context.items,
    available: product.available,
    stockVersion: product.stockVersion,
    carts: Number((carts[0] as { n: number | string }).n),
  };
}

test.serial('malformed /store payloads are VALIDATION errors that change nothing', async (t) => {
  const w = await world(t);
  const { cartId, productId } = w;
  const before = await state(w);
  t.is(before.version, 2);

  const address = { name: 'A', line1: 'B', city: 'C', postalCode: '1', country: 'DE' };
  const cases: Array<[string, string, unknown]> = [
    // wrong types
    ['quantity as a string', 'cart:addItem', { cartId, productId, quantity: '2' }],
    ['quantity as a boolean', 'cart:addItem', { cartId, productId, quantity: true }],
    ['quantity as an object', 'cart:addItem', { cartId, productId, quantity: { $gt: 0 } }],
    ['quantity as an array', 'cart:addItem', { cartId, productId, quantity: [1] }],
    ['cartId as a number', 'cart:addItem', { cartId: 12, productId, quantity: 1 }],
    ['productId as an object', 'cart:addItem', { cartId, productId: { id: productId }, quantity: 1 }],
    ['cartId null', 'cart:get', { cartId: null }],
    // missing fields
    ['missing quantity', 'cart:addItem', { cartId, productId }],
    ['missing productId', 'cart:addItem', { cartId, quantity: 1 }],
    ['missing cartId', 'cart:addItem', { productId, quantity: 1 }],
    ['empty object', 'cart:setQuantity', {}],
    ['no payload at all', 'cart:get', undefined],
    ['missing requestId', 'cart:checkout', { cartId }],
    // unknown extra fields
    ['an extra field', 'cart:addItem', { cartId, productId, quantity: 1, unitPrice: 1 }],
    ['a __proto__ field', 'cart:addItem', JSON.parse(`{"cartId":"${cartId}","productId":"${productId}","quantity":1,"__proto__":{"admin":true}}`)],
    ['an extra field on cart:create', 'cart:create', { customerId: 'cus_someone' }],
    ['an extra field on orders:list', 'orders:list', { all: true }],
    ['an extra field in the address', 'cart:checkout', { cartId, requestId: 'r-1', shippingAddress: { ...address, phone: '1' } }],
    // quantities
    ['negative quantity', 'cart:addItem', { cartId, productId, quantity: -1 }],
    ['zero quantity', 'cart:addItem', { cartId, productId, quantity: 0 }],
    ['fractional quantity', 'cart:addItem', { cartId, productId, quantity: 1.5 }],
    ['tiny fractional quantity', 'cart:addItem', { cartId, productId, quantity: 1e-9 }],
    ['absurd quantity', 'cart:addItem', { cartId, productId, quantity: 1e9 }],
    ['above the line maximum', 'cart:addItem', { cartId, productId, quantity: 101 }],
    ['MAX_SAFE_INTEGER', 'cart:addItem', { cartId, productId, quantity: Number.MAX_SAFE_INTEGER }],
    ['NaN (sent as null)', 'cart:addItem', { cartId, productId, quantity: Number.NaN }],
    ['Infinity (sent as null)', 'cart:addItem', { cartId, productId, quantity: Number.POSITIVE_INFINITY }],
    ['"NaN"', 'cart:addItem', { cartId, productId, quantity: 'NaN' }],
    ['"Infinity"', 'cart:addItem', { cartId, productId, quantity: 'Infinity' }],
    ['"1e3"', 'cart:addItem', { cartId, productId, quantity: '1e3' }],
    ['" 2 "', 'cart:addItem', { cartId, productId, quantity: ' 2 ' }],
    ['"0x10"', 'cart:addItem', { cartId, productId, quantity: '0x10' }],
    ['negative setQuantity', 'cart:setQuantity', { cartId, productId, quantity: -3 }],
    ['fractional setQuantity', 'cart:setQuantity', { cartId, productId, quantity: 2.5 }],
    ['absurd setQuantity', 'cart:setQuantity', { cartId, productId, quantity: 1e9 }],
    ['"0" setQuantity', 'cart:setQuantity', { cartId, productId, quantity: '0' }],
    // ids
    ['cartId with spaces', 'cart:get', { cartId: 'cart 1 2' }],
    ['cartId with a leading space', 'cart:addItem', { cartId: ` ${cartId}`, productId, quantity: 1 }],
    ['productId with spaces', 'cart:addItem', { cartId, productId: `${productId} `, quantity: 1 }],
    ['empty cartId', 'cart:get', { cartId: '' }],
    ['10,000-char cartId', 'cart:get', { cartId: LONG_ID }],
    ['10,000-char productId', 'cart:addItem', { cartId, productId: LONG_ID, quantity: 1 }],
    ['SQL in an id', 'cart:get', { cartId: "x' OR '1'='1" }],
    ['path in an id', 'order:get', { orderId: '../../etc/passwd' }],
    ['10,000-char orderId', 'order:get', { orderId: LONG_ID }],
    ['shipmentId with a newline', 'shipment:get', { shipmentId: 'ship_1\nship_2' }],
    ['requestId with spaces', 'cart:checkout', { cartId, requestId: 'my request' }],
    ['10,000-char requestId', 'cart:checkout', { cartId, requestId: LONG_ID }],
    // payload shapes
    ['an array payload', 'cart:addItem', [cartId, productId, 1]],
    ['an array of the object', 'cart:get', [{ cartId }]],
    ['a string payload', 'cart:get', cartId],
    ['a number payload', 'cart:addItem', 42],
    ['a boolean payload', 'cart:removeItem', true],
    ['null for a command with fields', 'cart:addItem', null],
    ['an array for cart:create', 'cart:create', []],
    ['a string for orders:list', 'orders:list', 'all'],
    // checkout and payment details
    ['an address with a bad country', 'cart:checkout', { cartId, requestId: 'r-2', shippingAddress: { ...address, country: 'Germany' } }],
    ['an address with blank fields', 'cart:checkout', { cartId, requestId: 'r-3', shippingAddress: { ...address, name: '   ' } }],
    ['an address as a string', 'cart:checkout', { cartId, requestId: 'r-4', shippingAddress: 'Berlin' }],
    ['a card number with letters', 'order:pay', { orderId: 'order_1', requestId: 'p-1', payment: { ...TEST_CARD, cardNumber: '4242abcd42424242' } }],
    ['an expMonth as a string', 'order:pay', { orderId: 'order_1', requestId: 'p-2', payment: { ...TEST_CARD, expMonth: '12' } }],
    ['an expMonth of 13', 'order:pay', { orderId: 'order_1', requestId: 'p-3', payment: { ...TEST_CARD, expMonth: 13 } }],
    ['a card with an extra field', 'order:pay', { orderId: 'order_1', requestId: 'p-4', payment: { ...TEST_CARD, pin: '0000' } }],
    ['no payment', 'order:pay', { orderId: 'order_1', requestId: 'p-5' }],
    // topics
    ['a numeric topic', 'subscribe', { topic: 5 }],
    ['an empty topic', 'subscribe', { topic: '' }],
    ['a 10,000-char topic', 'subscribe', { topic: `cart:${LONG_ID}` }],
    ['an unknown topic kind', 'subscribe', { topic: 'everything' }],
    ['a topic without an id', 'subscribe', { topic: 'cart:' }],
    ['the staff board on /store', 'subscribe', { topic: 'shipments' }],
    ['unsubscribe with no topic', 'unsubscribe', {}],
    // unknown commands
    ['an unknown command', 'cart:destroy', { cartId }],
    ['a warehouse command on /store', 'stock:restock', { productId, quantity: 5 }],
    ['an inherited property as a command', 'constructor', {}],
    ['__proto__ as a command', '__proto__', {}],
    ['hasOwnProperty as a command', 'hasOwnProperty', { cartId }],
    ['a 10,000-char command name', LONG_ID, {}],
  ];

  for (const [label, name, payload] of cases) {
    const ack = await call(w.owner, name, payload);
    assertValidation(t, ack, label);
    t.deepEqual(await state(w), before, `${label}: nothing changed`);
    t.like(await call(w.bystander, 'cart:get', { cartId: w.bystanderCartId }), { ok: true }, `${label}: the bystander is still served`);
  }

  // Two payloads where one is expected.
  assertValidation(
    t,
    await (w.owner.timeout(5_000).emitWithAck('cart:addItem', { cartId, productId, quantity: 1 }, { quantity: 5 }) as Promise<Ack<unknown>>),
    'two payloads',
  );
  t.deepEqual(await state(w), before);

  // The owner's own connection still works, and so does the bystander's for writes.
  const { cart } = await ok<{ cart: CartView }>(w.owner, 'cart:get', { cartId });
  t.is(cart.version, before.version);
  const { cart: bystanderCart } = await ok<{ cart: CartView }>(w.bystander, 'cart:addItem', { cartId: w.bystanderCartId, productId, quantity: 1 });
  t.is(bystanderCart.itemCount, 1);
  t.deepEqual(await inventoryInvariant(w.app.app), { ok: true, problems: [] });
});

test.serial('malformed /warehouse payloads are VALIDATION errors that change nothing', async (t) => {
  const w = await world(t);
  const staff = await socketForTest(t, w.app.url, '/warehouse', await staffToken(w.app.app));
  const otherStaff = await socketForTest(t, w.app.url, '/warehouse', await staffToken(w.app.app));
  const { productId } = w;
  const before = await state(w);

  const cases: Array<[string, string, unknown]> = [
    ['restock quantity 0', 'stock:restock', { productId, quantity: 0 }],
    ['restock quantity -5', 'stock:restock', { productId, quantity: -5 }],
    ['restock quantity 1.5', 'stock:restock', { productId, quantity: 1.5 }],
    ['restock quantity 1e9', 'stock:restock', { productId, quantity: 1e9 }],
    ['restock quantity "10"', 'stock:restock', { productId, quantity: '10' }],
    ['restock quantity "NaN"', 'stock:restock', { productId, quantity: 'NaN' }],
    ['restock quantity NaN', 'stock:restock', { productId, quantity: Number.NaN }],
    ['restock without productId', 'stock:restock', { quantity: 5 }],
    ['restock with an extra field', 'stock:restock', { productId, quantity: 5, onHand: 1_000 }],
    ['restock of an id with spaces', 'stock:restock', { productId: 'prod 1', quantity: 5 }],
    ['restock of a 10,000-char id', 'stock:restock', { productId: LONG_ID, quantity: 5 }],
    ['restock as an array', 'stock:restock', [productId, 5]],
    ['restock as a string', 'stock:restock', productId],
    ['restock as null', 'stock:restock', null],
    ['stock:get with no id', 'stock:get', {}],
    ['advance to a made-up state', 'shipment:advance', { shipmentId: 'ship_1', to: 'flying' }],
    ['advance to pending', 'shipment:advance', { shipmentId: 'ship_1', to: 'pending' }],
    ['advance without to', 'shipment:advance', { shipmentId: 'ship_1' }],
    ['advance with a tracking number with spaces', 'shipment:advance', { shipmentId: 'ship_1', to: 'shipped', trackingNumber: 'AB 12' }],
    ['advance with a numeric tracking number', 'shipment:advance', { shipmentId: 'ship_1', to: 'shipped', trackingNumber: 12345 }],
    ['advance with an extra field', 'shipment:advance', { shipmentId: 'ship_1', to: 'picking', force: true }],
    ['advance a 10,000-char id', 'shipment:advance', { shipmentId: LONG_ID, to: 'picking' }],
    ['list a made-up state', 'shipments:list', { state: 'lost' }],
    ['list with limit 0', 'shipments:list', { limit: 0 }],
    ['list with limit 1e9', 'shipments:list', { limit: 1e9 }],
    ['list with a string', 'shipments:list', 'all'],
    ['subscribe to an unknown topic', 'subscribe', { topic: 'cart:anything' }],
    ['subscribe with a number', 'subscribe', { topic: 1 }],
    ['a store command on /warehouse', 'cart:create', {}],
    ['an unknown command', 'stock:zero', { productId }],
  ];
  for (const [label, name, payload] of cases) {
    assertValidation(t, await call(staff, name, payload), label);
    t.deepEqual(await state(w), before, `${label}: nothing changed`);
    t.like(
      await call(otherStaff, 'stock:get', { productId }),
      { ok: true, data: { stock: { available: 10, onHand: 10 } } },
      `${label}: other staff still served`,
    );
  }

  const { stock } = await ok<{ stock: { onHand: number } }>(staff, 'stock:restock', { productId, quantity: 5 });
  t.is(stock.onHand, 15, 'the staff connection is still usable');
});

test.serial('validation: a topic with an invalid id and a non-object payload are VALIDATION; null counts as no payload', async (t) => {
  const app = await startApp();
  t.teardown(() => app.stop());
  const { url } = app;
  const socket = await socketForTest(t, url, '/store', await guestToken(url));

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

test.serial('a command without an ack does not crash anything; the connection stays usable', async (t) => {
  const w = await world(t);
  const before = await state(w);
  // Malformed, unknown and payload-less commands with no ack callback: the server has no one to answer.
  w.owner.emit('cart:addItem', { cartId: w.cartId, productId: w.productId, quantity: -1 });
  w.owner.emit('cart:addItem', { cartId: w.cartId, productId: w.productId, quantity: 'lots' });
  w.owner.emit('cart:addItem');
  w.owner.emit('cart:get', null);
  w.owner.emit('no:such:command', { a: 1 });
  w.owner.emit('cart:get', 'x'.repeat(1_000));
  w.owner.emit('cart:checkout', [1, 2, 3]);
  // Commands in one connection are handled in order: the answer to this one comes after all of the above.
  const { cart } = await ok<{ cart: CartView }>(w.owner, 'cart:get', { cartId: w.cartId });
  t.is(cart.version, before.version);
  t.true(w.owner.connected);
  t.deepEqual(await state(w), before);

  // A valid command without an ack is still carried out.
  const pushed = new Promise<CartView>((resolve) => w.owner.once('cart:updated', resolve));
  await ok(w.owner, 'subscribe', { topic: `cart:${w.cartId}` });
  w.owner.emit('cart:setQuantity', { cartId: w.cartId, productId: w.productId, quantity: 3 });
  t.is((await pushed).items[0]?.quantity, 3);
  t.like(await call(w.bystander, 'cart:get', { cartId: w.bystanderCartId }), { ok: true });
});

test.serial('an oversize message disconnects its sender only; nothing changes', async (t) => {
  const w = await world(t);
  t.true(w.app.app.config.maxMessageBytes < 200_000);
  const before = await state(w);
  const disconnected = new Promise<string>((resolve) => w.owner.once('disconnect', (reason) => resolve(reason)));
  const ack = call(w.owner, 'cart:addItem', { cartId: w.cartId, productId: w.productId, quantity: 1, note: 'x'.repeat(200 * 1024) }).then(
    (answer) => ({ answer }),
    (error: unknown) => ({ error }),
  );
  const reason = await disconnected;
  t.truthy(reason);
  t.false(w.owner.connected);
  const outcome = await ack;
  t.true('error' in outcome, 'the oversize command is never answered');

  t.deepEqual(await state(w), before);
  t.like(await call(w.bystander, 'cart:addItem', { cartId: w.bystanderCartId, productId: w.productId, quantity: 1 }), { ok: true });

  // The sender may come back and finds its cart as it was.
  const again = await socketForTest(t, w.app.url, '/store', w.ownerToken);
  const { cart } = await ok<{ cart: CartView }>(again, 'cart:get', { cartId: w.cartId });
  t.is(cart.version, before.version);
  t.deepEqual(
    cart.items.map((l) => l.quantity),
    [2],
  );
  // A message just under the limit is fine.
  const under = await call(again, 'cart:get', { cartId: w.cartId, pad: 'y'.repeat(30_000) });
  assertValidation(t, under, 'padding field under the limit');
  t.true(again.connected);
  t.deepEqual(await inventoryInvariant(w.app.app), { ok: true, problems: [] });
});

test.serial('a burst over the budget is RATE_LIMITED; a flood of commands is cut off; other clients are still served', async (t) => {
  const w = await world(t, { config: { maxCommandsPerSecond: 5 } });
  const before = await state(w);

  // A burst a little over the budget: the excess is refused, the connection stays.
  const burster = await socketForTest(t, w.app.url, '/store', w.ownerToken);
  const burst = await Promise.all(Array.from({ length: 8 }, () => call(burster, 'cart:get', { cartId: w.cartId }, 5_000)));
  const burstServed = burst.filter((a) => a.ok).length;
  const burstLimited = burst.filter((a) => !a.ok && a.error.code === 'RATE_LIMITED').length;
  t.true(burstServed >= 5 && burstServed <= 6, `the bucket's worth was served (${burstServed})`);
  t.is(burstServed + burstLimited, 8);
  t.true(burstLimited >= 2);
  t.true(burster.connected, 'a short burst is not a flood');
  // The bucket refills: poll (bounded) until a command is served again. Retrying faster than the
  // refill rate would itself count as flooding, so each retry waits a little over one token's time.
  const deadline = Date.now() + 5_000;
  let refilled = false;
  while (!refilled && Date.now() < deadline) {
    refilled = (await call(burster, 'cart:get', { cartId: w.cartId }, 5_000)).ok;
    if (!refilled) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  t.true(refilled, 'served again once the bucket refilled');

  // A flood: 50 at once. Some are refused with RATE_LIMITED, then the server cuts the flooder off.
  const flooder = await socketForTest(t, w.app.url, '/store', w.ownerToken);
  const cutOff = new Promise<string>((resolve) => flooder.once('disconnect', (reason) => resolve(reason)));
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => call(flooder, 'cart:get', { cartId: w.cartId }, 5_000)));
  const answered = results.filter((r): r is PromiseFulfilledResult<Ack<unknown>> => r.status === 'fulfilled').map((r) => r.value);
  const served = answered.filter((a) => a.ok);
  const limited = answered.filter((a) => !a.ok && a.error.code === 'RATE_LIMITED');
  t.true(limited.length >= 1, `some commands were RATE_LIMITED (${limited.length})`);
  t.true(served.length <= 6, `no more than the bucket allows were served (${served.length})`);
  t.is(served.length + limited.length, answered.length, 'every answer is a result or RATE_LIMITED');
  for (const ack of limited) {
    if (!ack.ok) {
      t.true(ack.error.message.length > 0);
      t.false(JSON.stringify(ack).includes('.ts:'));
    }
  }
  t.truthy(await cutOff);

  // Other clients have their own budget; nothing changed.
  t.like(await call(w.bystander, 'cart:get', { cartId: w.bystanderCartId }), { ok: true });
  t.true(burster.connected, 'the flood on another connection did not cut the burster off');
  t.deepEqual(await state(w), before);
});
