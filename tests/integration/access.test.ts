// Who may do what: ownership of carts, orders and shipments, handshake auth per namespace, and the REST surface's answers.
// Tests run serially: each starts its own app, server and database, and timing-sensitive checks (rate limits) get the CPU to themselves.
import test, { type ExecutionContext } from 'ava';
import { SignJWT } from 'jose';
import type { Socket } from 'socket.io-client';
import type { CartView, OrderView, ProductView, ShipmentView } from '../../src/protocol/index.ts';
import {
  TEST_CARD,
  call,
  connect,
  createProduct,
  getJson,
  guestToken,
  nextEvent,
  ok,
  postJson,
  registerCustomer,
  staffToken,
  startApp,
  type TestApp,
} from '../helpers/app.ts';

const SECRET = 'test-secret-test-secret-test-secret';

async function boot(t: ExecutionContext): Promise<TestApp> {
  const app = await startApp();
  t.teardown(() => app.stop());
  return app;
}

async function open(t: ExecutionContext, url: string, namespace: string, token: string | undefined): Promise<Socket> {
  const socket = await connect(url, namespace, token);
  t.teardown(() => {
    socket.close();
  });
  return socket;
}

/** Resolves with the connect_error a refused handshake gives. */
async function refused(url: string, namespace: string, token: string | undefined): Promise<Error & { data?: { code?: string; message?: string } }> {
  try {
    const socket = await connect(url, namespace, token);
    socket.close();
  } catch (error) {
    return error as Error & { data?: { code?: string } };
  }
  throw new Error(`${namespace} accepted the connection`);
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function noStack(t: ExecutionContext, body: unknown): void {
  const text = JSON.stringify(body);
  t.false(/\bat \S.*\.(ts|js):\d+/.test(text), `no stack trace in ${text}`);
  t.false(text.includes('.ts:'), `no source location in ${text}`);
  t.false(/"stack"/.test(text), `no stack field in ${text}`);
}

test.serial("a customer cannot read, change or follow another customer's cart, order or shipment", async (t) => {
  const app = await boot(t);
  const product = await createProduct(app.app, { onHand: 10, price: 1_500 });
  const alice = await registerCustomer(app.url, 'Alice');
  const bob = await registerCustomer(app.url, 'Bob');
  const a = await open(t, app.url, '/store', alice.token);
  const b = await open(t, app.url, '/store', bob.token);

  // Alice: an open cart, and a paid order with its shipment.
  const { cart: openCart } = await ok<{ cart: CartView }>(a, 'cart:create', {});
  await ok(a, 'cart:addItem', { cartId: openCart.id, productId: product.id, quantity: 1 });
  const { cart: boughtCart } = await ok<{ cart: CartView }>(a, 'cart:create', {});
  await ok(a, 'cart:addItem', { cartId: boughtCart.id, productId: product.id, quantity: 2 });
  const { order: placed } = await ok<{ order: OrderView }>(a, 'cart:checkout', { cartId: boughtCart.id, requestId: 'alice-checkout-1' });
  await ok(a, 'subscribe', { topic: `order:${placed.id}` });
  const fulfilling = nextEvent<OrderView>(a, 'order:updated', (o) => o.state === 'fulfilling');
  await ok(a, 'order:pay', { orderId: placed.id, requestId: 'alice-pay-1', payment: TEST_CARD });
  const shipmentId = (await fulfilling).shipmentId!;
  t.truthy(shipmentId);
  // A second, unpaid order, for the pay and cancel attempts.
  const { cart: thirdCart } = await ok<{ cart: CartView }>(a, 'cart:create', {});
  await ok(a, 'cart:addItem', { cartId: thirdCart.id, productId: product.id, quantity: 1 });
  const { order: unpaid } = await ok<{ order: OrderView }>(a, 'cart:checkout', { cartId: thirdCart.id, requestId: 'alice-checkout-2' });

  const snapshot = async () => ({
    cart: (await ok<{ cart: CartView }>(a, 'cart:get', { cartId: openCart.id })).cart,
    order: (await ok<{ order: OrderView }>(a, 'order:get', { orderId: placed.id })).order,
    unpaid: (await ok<{ order: OrderView }>(a, 'order:get', { orderId: unpaid.id })).order,
    shipment: (await ok<{ shipment: ShipmentView }>(a, 'shipment:get', { shipmentId })).shipment,
    available: (await getJson<ProductView>(`${app.url}/api/products/${product.id}`)).body.available,
  });
  const before = await snapshot();
  t.is(before.unpaid.state, 'awaitingPayment');

  const attempts: Array<[string, unknown]> = [
    ['cart:get', { cartId: openCart.id }],
    ['cart:addItem', { cartId: openCart.id, productId: product.id, quantity: 1 }],
    ['cart:setQuantity', { cartId: openCart.id, productId: product.id, quantity: 5 }],
    ['cart:removeItem', { cartId: openCart.id, productId: product.id }],
    ['cart:checkout', { cartId: openCart.id, requestId: 'bob-steals-1' }],
    ['subscribe', { topic: `cart:${openCart.id}` }],
    ['order:get', { orderId: placed.id }],
    ['order:pay', { orderId: unpaid.id, requestId: 'bob-pays-1', payment: TEST_CARD }],
    ['order:cancel', { orderId: placed.id }],
    ['order:cancel', { orderId: unpaid.id }],
    ['subscribe', { topic: `order:${placed.id}` }],
    ['shipment:get', { shipmentId }],
    ['subscribe', { topic: `shipment:${shipmentId}` }],
  ];
  const pushesToBob: string[] = [];
  b.onAny((event: string) => pushesToBob.push(event));
  for (const [name, payload] of attempts) {
    const ack = await call(b, name, payload);
    t.like(ack, { ok: false, error: { code: 'FORBIDDEN' } }, `${name} ${JSON.stringify(payload)}`);
    if (!ack.ok) t.true(ack.error.message.length > 0);
    noStack(t, ack);
  }

  // Nothing of Alice's changed, and Bob's own data did not grow from hers.
  t.deepEqual(await snapshot(), before);
  t.deepEqual(await ok(b, 'orders:list', {}), { orders: [], nextCursor: null });
  t.deepEqual(await ok(b, 'carts:list', {}), { carts: [] });

  // Bob joined none of her rooms: a change to her cart reaches Alice, not Bob.
  const alicePush = nextEvent<CartView>(a, 'cart:updated', (c) => c.id === openCart.id);
  await ok(a, 'subscribe', { topic: `cart:${openCart.id}` });
  await ok(a, 'cart:setQuantity', { cartId: openCart.id, productId: product.id, quantity: 2 });
  await alicePush;
  await ok(b, 'orders:list', {}); // a round trip after the push: anything sent to Bob would be here by now
  t.deepEqual(pushesToBob, []);

  // Unknown ids are NOT_FOUND, not FORBIDDEN.
  t.like(await call(b, 'cart:get', { cartId: 'cart_doesnotexist' }), { ok: false, error: { code: 'NOT_FOUND' } });
  t.like(await call(b, 'order:get', { orderId: 'order_doesnotexist' }), { ok: false, error: { code: 'NOT_FOUND' } });
  t.like(await call(b, 'shipment:get', { shipmentId: 'ship_doesnotexist' }), { ok: false, error: { code: 'NOT_FOUND' } });

  // A guest is a stranger too.
  const guest = await open(t, app.url, '/store', await guestToken(app.url));
  t.like(await call(guest, 'order:get', { orderId: placed.id }), { ok: false, error: { code: 'FORBIDDEN' } });
  t.like(await call(guest, 'cart:get', { cartId: openCart.id }), { ok: false, error: { code: 'FORBIDDEN' } });
});

test.serial('the handshake refuses missing, garbage, tampered and foreign tokens', async (t) => {
  const app = await boot(t);
  const customer = await registerCustomer(app.url);

  for (const [label, token] of [
    ['no token', undefined],
    ['empty token', ''],
    ['garbage', 'not-a-jwt'],
    ['three garbage parts', 'aaa.bbb.ccc'],
  ] as const) {
    const error = await refused(app.url, '/store', token);
    t.is(error.data?.code, 'UNAUTHORIZED', label);
    noStack(t, error.data);
  }

  // A customer token whose payload was edited to claim the staff role, signature kept.
  const [header, payload, signature] = customer.token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const tampered = `${header}.${base64url({ ...claims, role: 'staff' })}.${signature}`;
  t.is((await refused(app.url, '/store', tampered)).data?.code, 'UNAUTHORIZED');
  t.is((await refused(app.url, '/warehouse', tampered)).data?.code, 'UNAUTHORIZED');

  // A signature flipped in its first character.
  const flipped = `${header}.${payload}.${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
  t.is((await refused(app.url, '/store', flipped)).data?.code, 'UNAUTHORIZED');

  // A well-formed staff token signed with another secret.
  const forged = await new SignJWT({ role: 'staff' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('cus_forged')
    .setIssuer('emporium')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode('another-secret-another-secret-xx'));
  t.is((await refused(app.url, '/warehouse', forged)).data?.code, 'UNAUTHORIZED');

  // The right secret but the `none` algorithm.
  const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...claims, role: 'admin' })}.`;
  t.is((await refused(app.url, '/store', unsigned)).data?.code, 'UNAUTHORIZED');

  // An expired token signed with the right secret.
  const expired = await new SignJWT({ role: 'customer' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(customer.customerId)
    .setIssuer('emporium')
    .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
    .sign(new TextEncoder().encode(SECRET));
  t.is((await refused(app.url, '/store', expired)).data?.code, 'UNAUTHORIZED');

  // The genuine token works.
  const socket = await open(t, app.url, '/store', customer.token);
  t.true(socket.connected);
});

test.serial('/warehouse is for staff only; the default namespace is refused', async (t) => {
  const app = await boot(t);
  const customer = await registerCustomer(app.url);
  const product = await createProduct(app.app, { onHand: 3 });

  const customerRefused = await refused(app.url, '/warehouse', customer.token);
  t.is(customerRefused.data?.code, 'FORBIDDEN');
  t.is((await refused(app.url, '/warehouse', await guestToken(app.url))).data?.code, 'FORBIDDEN');
  t.is((await refused(app.url, '/warehouse', undefined)).data?.code, 'UNAUTHORIZED');

  const staff = await open(t, app.url, '/warehouse', await staffToken(app.app));
  t.true(staff.connected);
  t.deepEqual(await ok(staff, 'shipments:list', {}), { shipments: [] });
  const { stock } = await ok<{ stock: { available: number; onHand: number } }>(staff, 'stock:restock', { productId: product.id, quantity: 2 });
  t.like(stock, { available: 5, onHand: 5 });
  t.like(await call(staff, 'subscribe', { topic: 'shipments' }), { ok: true });

  // Staff commands do not exist on /store.
  const store = await open(t, app.url, '/store', customer.token);
  t.like(await call(store, 'stock:restock', { productId: product.id, quantity: 100 }), { ok: false, error: { code: 'VALIDATION' } });
  t.like(await call(store, 'subscribe', { topic: 'shipments' }), { ok: false, error: { code: 'VALIDATION' } });
  t.is((await getJson<ProductView>(`${app.url}/api/products/${product.id}`)).body.available, 5);

  for (const token of [customer.token, undefined]) {
    const error = await refused(app.url, '/', token);
    t.truthy(error.data?.code, 'the default namespace answers with a protocol error');
  }
  t.is((await refused(app.url, '/', customer.token)).data?.code, 'NOT_FOUND');
  const unknown = await refused(app.url, '/nope', customer.token);
  t.truthy(unknown.message);
});

test.serial('REST: health, readiness and the product catalog with filters and pagination', async (t) => {
  const app = await boot(t);
  t.like(await getJson(`${app.url}/health`), { status: 200, body: { status: 'ok' } });
  t.like(await getJson(`${app.url}/ready`), { status: 200, body: { status: 'ready' } });

  const catalog = app.app.services.catalog;
  const kitchen = await catalog.createCategory({ slug: 'kitchen', name: 'Kitchen' });
  const garden = await catalog.createCategory({ slug: 'garden', name: 'Garden' });
  const make = (name: string, categoryId: string, price: number, onHand: number) =>
    catalog.createProduct({ sku: `SKU-${name.replaceAll(' ', '-')}`, name, categoryId, price, onHand, description: `${name} for the home` });
  const kettle = await make('Blue Kettle', kitchen.id, 3_000, 4);
  const pan = await make('Iron Pan', kitchen.id, 5_000, 0);
  const whisk = await make('Blue Whisk', kitchen.id, 800, 9);
  const hose = await make('Garden Hose', garden.id, 2_200, 2);
  const rake = await make('Rake', garden.id, 1_900, 1);

  type Page = { items: ProductView[]; page: number; pageSize: number; total: number };
  const list = async (query: string) => {
    const { status, body } = await getJson<Page>(`${app.url}/api/products${query}`);
    t.is(status, 200, query);
    return body;
  };
  const ids = (page: Page) => page.items.map((p) => p.id);

  const all = await list('');
  t.is(all.total, 5);
  t.is(all.page, 1);
  t.is(all.pageSize, 20);
  t.deepEqual(ids(all), [kettle.id, whisk.id, hose.id, pan.id, rake.id], 'sorted by name by default');
  t.like(all.items[0], { name: 'Blue Kettle', price: 3_000, currency: 'EUR', available: 4 });

  const page1 = await list('?pageSize=2&page=1');
  const page2 = await list('?pageSize=2&page=2');
  const page3 = await list('?pageSize=2&page=3');
  t.is(page1.total, 5);
  t.is(page2.total, 5);
  t.deepEqual([...ids(page1), ...ids(page2), ...ids(page3)], ids(all));
  t.is(page3.items.length, 1);
  t.deepEqual(ids(await list('?pageSize=2&page=4')), []);

  t.deepEqual(ids(await list('?q=blue')).sort(), [kettle.id, whisk.id].sort());
  t.deepEqual(ids(await list('?q=BLUE%20KETTLE')), [kettle.id]);
  t.deepEqual(ids(await list('?q=%25')), [], 'a % in q is a literal, not a wildcard');
  t.deepEqual(ids(await list('?q=garden')).sort(), [hose.id, rake.id].sort(), 'q matches the category name too');
  t.deepEqual(ids(await list('?category=garden')).sort(), [hose.id, rake.id].sort());
  t.deepEqual(ids(await list(`?category=${kitchen.id}`)), ids(await list('?category=kitchen')), 'a category by id or by slug');
  t.is((await list('?category=kitchen')).total, 3);
  t.is((await list('?category=nothing-here')).total, 0);
  t.deepEqual(ids(await list('?minPrice=2000&maxPrice=3000')).sort(), [kettle.id, hose.id].sort());
  t.deepEqual(ids(await list('?maxPrice=1000')), [whisk.id]);
  const inStock = await list('?inStock=true');
  t.is(inStock.total, 4);
  t.false(ids(inStock).includes(pan.id));
  t.deepEqual(ids(await list('?sort=price')), [whisk.id, rake.id, hose.id, kettle.id, pan.id]);
  t.deepEqual(ids(await list('?sort=-price')), [pan.id, kettle.id, hose.id, rake.id, whisk.id]);
  const combined = await list('?category=kitchen&inStock=1&sort=-price&pageSize=1');
  t.is(combined.total, 2);
  t.deepEqual(ids(combined), [kettle.id]);

  for (const query of ['?pageSize=0', '?pageSize=1000', '?page=0', '?minPrice=abc', '?minPrice=-5', '?sort=cheapest', '?inStock=maybe', '?maxPrice=1.5']) {
    const { status, body } = await getJson<{ ok: boolean; error: { code: string; message: string } }>(`${app.url}/api/products${query}`);
    t.is(status, 400, query);
    t.like(body, { ok: false, error: { code: 'VALIDATION' } }, query);
    t.true(body.error.message.length > 0);
    noStack(t, body);
  }
  // Unknown parameters such as cache-busters are ignored, not refused.
  const busted = await getJson<{ total: number }>(`${app.url}/api/products?_=12345&pageSize=1`);
  t.is(busted.status, 200);
  t.true(busted.body.total > 0);

  const one = await getJson<ProductView>(`${app.url}/api/products/${hose.id}`);
  t.is(one.status, 200);
  t.like(one.body, { id: hose.id, name: 'Garden Hose', available: 2, categoryId: garden.id });
  const missing = await getJson<{ ok: boolean; error: { code: string } }>(`${app.url}/api/products/unknown`);
  t.is(missing.status, 404);
  t.like(missing.body, { ok: false, error: { code: 'NOT_FOUND' } });
  const noRoute = await getJson<{ ok: boolean; error: { code: string } }>(`${app.url}/api/nothing`);
  t.is(noRoute.status, 404);
  t.like(noRoute.body, { ok: false, error: { code: 'NOT_FOUND' } });
});

test.serial('REST: auth errors are plain protocol errors without stack traces', async (t) => {
  const app = await boot(t);
  const customer = await registerCustomer(app.url);
  type ErrorReply = { ok: boolean; error: { code: string; message: string } };

  const duplicate = await postJson<ErrorReply>(`${app.url}/api/auth/register`, { email: customer.email, password: 'another password', name: 'Twin' });
  t.is(duplicate.status, 409);
  t.like(duplicate.body, { ok: false, error: { code: 'CONFLICT' } });
  const shouting = await postJson<ErrorReply>(`${app.url}/api/auth/register`, {
    email: customer.email.toUpperCase(),
    password: 'another password',
    name: 'Twin',
  });
  t.is(shouting.status, 409, 'emails compare case-insensitively');

  const wrong = await postJson<ErrorReply>(`${app.url}/api/auth/login`, { email: customer.email, password: 'not the password' });
  t.is(wrong.status, 401);
  t.like(wrong.body, { ok: false, error: { code: 'UNAUTHORIZED' } });
  const nobody = await postJson<ErrorReply>(`${app.url}/api/auth/login`, { email: 'nobody@example.com', password: 'whatever123' });
  t.is(nobody.status, 401);
  t.is(nobody.body.error.message, wrong.body.error.message, 'an unknown email and a wrong password look the same');

  const good = await postJson<{ token: string; customer: { id: string } }>(`${app.url}/api/auth/login`, { email: customer.email, password: customer.password });
  t.is(good.status, 200);
  t.is(good.body.customer.id, customer.customerId);

  for (const body of [
    { email: 'not-an-email', password: 'long enough pw', name: 'X' },
    { email: 'short@example.com', password: 'short', name: 'X' },
    { email: 'x@example.com' },
  ]) {
    const invalid = await postJson<ErrorReply>(`${app.url}/api/auth/register`, body);
    t.is(invalid.status, 400, JSON.stringify(body));
    t.like(invalid.body, { ok: false, error: { code: 'VALIDATION' } });
    noStack(t, invalid.body);
  }

  for (const raw of ['{"email": "a@b.c", "password": ', 'not json at all', '{"email":"a@b.c"}}']) {
    const response = await fetch(`${app.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
    t.is(response.status, 400, raw);
    const text = await response.text();
    const body = JSON.parse(text) as ErrorReply;
    t.like(body, { ok: false, error: { code: 'VALIDATION' } });
    t.true(body.error.message.length > 0);
    noStack(t, text);
    t.false(text.includes('node_modules'));
  }

  const me = await getJson<ErrorReply>(`${app.url}/api/me`, 'garbage-token');
  t.is(me.status, 401);
  t.like(me.body, { ok: false, error: { code: 'UNAUTHORIZED' } });
  for (const reply of [duplicate.body, wrong.body, nobody.body, me.body]) noStack(t, reply);
});
