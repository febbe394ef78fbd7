// Customer accounts: sessions end on logout, on a password change and when the token expires (their sockets are
// disconnected); the profile and e-mail change; an address book whose default a checkout uses; order history a page
// at a time; and deletion, which refuses while orders are under way and then erases personal data everywhere.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { AddressView, CartView, OrderView } from '../../src/protocol/index.ts';
import { failed } from '../helpers/acks.ts';
import { call, connect, createProduct, getJson, guestToken, ok, postJson, registerCustomer, socketForTest, startApp, type TestApp } from '../helpers/app.ts';

let app: TestApp;

test.before(async () => {
  app = await startApp();
});

test.after.always(async () => {
  await app?.stop();
});

async function send<T = unknown>(method: 'PATCH' | 'DELETE' | 'POST', path: string, body: unknown, token: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${app.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

const disconnected = (socket: Socket) => new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));

const HOME = { name: 'Ada Lovelace', line1: '12 St James Sq', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' } as const;
const OFFICE = { name: 'Ada Lovelace', line1: '1 Analytical Way', city: 'Cambridge', postalCode: 'CB2 1TN', country: 'GB' } as const;

test.serial('logout revokes the token and disconnects the sockets that used it; other sessions stay', async (t) => {
  const customer = await registerCustomer(app.url);
  const other = (await postJson<{ token: string }>(`${app.url}/api/auth/login`, { email: customer.email, password: customer.password })).body.token;
  const socket = await socketForTest(t, app.url, '/store', customer.token);
  const otherSocket = await socketForTest(t, app.url, '/store', other);
  const gone = disconnected(socket);
  // The rooms logout reaches a socket through cannot be left on request (a stolen token could stay connected).
  const claims = JSON.parse(Buffer.from(customer.token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string; sub: string };
  for (const topic of [`~token:${claims.jti}`, `~principal:${claims.sub}`]) failed(t, await call(socket, 'unsubscribe', { topic }), 'VALIDATION', topic);

  const { status } = await send('POST', '/api/auth/logout', undefined, customer.token);
  t.is(status, 204);
  t.is(await gone, 'io server disconnect');
  const me = await getJson<{ error: { code: string; message: string } }>(`${app.url}/api/me`, customer.token);
  t.is(me.status, 401);
  t.regex(me.body.error.message, /revoked/);
  await t.throwsAsync(connect(app.url, '/store', customer.token), { message: /revoked/ });

  t.true(otherSocket.connected, 'another session of the same account is untouched');
  t.is((await getJson(`${app.url}/api/me`, other)).status, 200);
});

test.serial('a socket is disconnected when its token expires', async (t) => {
  const short = await startApp({ config: { tokenTtlSeconds: { customer: 1 } } });
  t.teardown(() => short.stop());
  const customer = await registerCustomer(short.url);
  const socket = await socketForTest(t, short.url, '/store', customer.token);
  const started = Date.now();
  t.is(await disconnected(socket), 'io server disconnect');
  t.true(Date.now() - started <= 2_500, 'within the token lifetime (whole seconds) and a little');
  await t.throwsAsync(connect(short.url, '/store', customer.token), { message: /expired/ });
});

test.serial('a password change ends every session of the account and answers the one token that still works', async (t) => {
  const customer = await registerCustomer(app.url);
  const second = (await postJson<{ token: string }>(`${app.url}/api/auth/login`, { email: customer.email, password: customer.password })).body.token;
  const sockets = [await socketForTest(t, app.url, '/store', customer.token), await socketForTest(t, app.url, '/store', second)];
  const gone = sockets.map(disconnected);

  failed(
    t,
    (await send('POST', '/api/me/password', { currentPassword: 'wrong password', newPassword: 'new secret words' }, customer.token)).body as never,
    'UNAUTHORIZED',
  );
  const changed = await send<{ token: string }>(
    'POST',
    '/api/me/password',
    { currentPassword: customer.password, newPassword: 'new secret words' },
    customer.token,
  );
  t.is(changed.status, 200);
  t.deepEqual(await Promise.all(gone), ['io server disconnect', 'io server disconnect']);
  for (const old of [customer.token, second]) t.is((await getJson(`${app.url}/api/me`, old)).status, 401);
  t.is((await getJson(`${app.url}/api/me`, changed.body.token)).status, 200);
  t.is((await postJson(`${app.url}/api/auth/login`, { email: customer.email, password: customer.password })).status, 401);
  t.is((await postJson(`${app.url}/api/auth/login`, { email: customer.email, password: 'new secret words' })).status, 200);
});

test.serial('the profile: a new name at once; a new e-mail only with the password, and never one that is taken', async (t) => {
  const customer = await registerCustomer(app.url);
  const taken = await registerCustomer(app.url);
  const renamed = await send<{ customer: { name: string }; token: string }>('PATCH', '/api/me', { name: 'Ada King' }, customer.token);
  t.is(renamed.status, 200);
  t.is(renamed.body.customer.name, 'Ada King');
  t.like((await getJson<{ identity: { name: string } }>(`${app.url}/api/me`, renamed.body.token)).body.identity, { name: 'Ada King' });

  const email = `ada-${Date.now()}@example.com`;
  t.is((await send('PATCH', '/api/me', { email }, customer.token)).status, 401, 'an e-mail change needs the password');
  t.is((await send('PATCH', '/api/me', { email: taken.email, currentPassword: customer.password }, customer.token)).status, 409);
  const moved = await send<{ customer: { email: string } }>('PATCH', '/api/me', { email, currentPassword: customer.password }, customer.token);
  t.is(moved.status, 200);
  t.is(moved.body.customer.email, email);
  t.is((await postJson(`${app.url}/api/auth/login`, { email, password: customer.password })).status, 200);
  t.is((await send('PATCH', '/api/me', {}, customer.token)).status, 400);
  const guest = await guestToken(app.url);
  t.is((await send('PATCH', '/api/me', { name: 'Ghost' }, guest)).status, 403);
});

test.serial('the address book: the first address is the default, a checkout without one uses it, deleting it promotes the next', async (t) => {
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const first = (await ok<{ addresses: AddressView[] }>(store, 'address:save', { ...HOME, label: 'Home' })).addresses;
  t.like(first[0], { ...HOME, label: 'Home', isDefault: true });
  const both = (await ok<{ addresses: AddressView[] }>(store, 'address:save', { ...OFFICE, label: 'Office' })).addresses;
  t.deepEqual(
    both.map((address) => [address.label, address.isDefault]),
    [
      ['Home', true],
      ['Office', false],
    ],
  );

  const product = await createProduct(app.app, { onHand: 5 });
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: 'co-default-address' });
  t.like(order.shippingAddress, HOME, 'the default address');

  const office = both.find((address) => address.label === 'Office')!;
  const switched = (await ok<{ addresses: AddressView[] }>(store, 'address:save', { ...OFFICE, id: office.id, makeDefault: true })).addresses;
  t.deepEqual(
    switched.filter((address) => address.isDefault).map((address) => address.label),
    ['Office'],
  );
  const home = switched.find((address) => address.label === 'Home')!;
  await ok(store, 'address:delete', { addressId: office.id });
  const left = (await ok<{ addresses: AddressView[] }>(store, 'addresses:list', {})).addresses;
  t.deepEqual(
    left.map((address) => [address.id, address.isDefault]),
    [[home.id, true]],
  );
  failed(t, await call(store, 'address:delete', { addressId: office.id }), 'NOT_FOUND');
  failed(t, await call(store, 'address:save', { ...HOME, id: 'addr_missing' }), 'NOT_FOUND');
  failed(t, await call(store, 'address:save', { ...HOME, country: 'Britain' }), 'VALIDATION');

  const guest = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  failed(t, await call(guest, 'addresses:list', {}), 'FORBIDDEN');
});

test.serial('order history comes a page at a time, newest first, filtered by state; pages neither repeat nor skip', async (t) => {
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const product = await createProduct(app.app, { onHand: 50 });
  const placed: string[] = [];
  for (let i = 0; i < 5; i++) {
    const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
    await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
    placed.push((await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-history-${i}` })).order.id);
  }
  await ok(store, 'order:cancel', { orderId: placed[1] });

  const seen: string[] = [];
  let before: string | undefined;
  let pages = 0;
  do {
    const page: { orders: OrderView[]; nextCursor: string | null } = await ok(store, 'orders:list', { limit: 2, ...(before ? { before } : {}) });
    seen.push(...page.orders.map((order) => order.id));
    before = page.nextCursor ?? undefined;
    pages++;
  } while (before);
  t.is(pages, 3);
  t.deepEqual(seen, [...placed].reverse());

  const cancelled = await ok<{ orders: OrderView[]; nextCursor: string | null }>(store, 'orders:list', { state: 'cancelled' });
  t.deepEqual(
    cancelled.orders.map((order) => order.id),
    [placed[1]],
  );
  t.is(cancelled.nextCursor, null);
  failed(t, await call(store, 'orders:list', { before: 'not-a-cursor' }), 'VALIDATION');
  failed(t, await call(store, 'orders:list', { state: 'lost' }), 'VALIDATION');
});

test.serial('deleting an account: refused while an order is under way; then personal data is erased and every session ends', async (t) => {
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  await ok(store, 'address:save', HOME);
  const product = await createProduct(app.app, { onHand: 5 });
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: 'co-delete' });

  t.is((await send('DELETE', '/api/me', { password: 'wrong password' }, customer.token)).status, 401);
  const refused = await send<{ error: { code: string; details: { orders: Array<{ id: string }> } } }>(
    'DELETE',
    '/api/me',
    { password: customer.password },
    customer.token,
  );
  t.is(refused.status, 409);
  t.is(refused.body.error.code, 'INVALID_TRANSITION');
  t.deepEqual(
    refused.body.error.details.orders.map((open) => open.id),
    [order.id],
  );

  await ok(store, 'order:cancel', { orderId: order.id });
  const gone = disconnected(store);
  t.is((await send('DELETE', '/api/me', { password: customer.password }, customer.token)).status, 204);
  t.is(await gone, 'io server disconnect');
  t.is((await getJson(`${app.url}/api/me`, customer.token)).status, 401);
  t.is((await postJson(`${app.url}/api/auth/login`, { email: customer.email, password: customer.password })).status, 401);

  // Nothing that named or located the person is left: not in the account, the snapshots, nor the journals.
  const knex = app.app.db.knex;
  const account = await knex('customers').where({ id: customer.customerId }).first();
  t.not(account.email, customer.email);
  t.is(account.name, 'Deleted customer');
  t.is((await knex('addresses').where({ customer_id: customer.customerId })).length, 0);
  const erased = await app.app.runtime.get('order', order.id);
  t.is(erased?.state, 'cancelled', 'the order itself stays, for the books');
  t.is(erased?.snapshot.context.shippingAddress, null);
  const rows = await knex('actors').whereIn('id', [order.id, cart.id]).select('snapshot');
  const journal = await knex('actor_journal').whereIn('actor_id', [order.id, cart.id]).select('event');
  const everything = JSON.stringify([...rows, ...journal]);
  t.false(everything.includes(HOME.line1), 'the street is gone');
  t.false(everything.includes(HOME.postalCode), 'the postcode is gone');
});
