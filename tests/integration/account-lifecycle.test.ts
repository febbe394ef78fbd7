// Customer accounts: sessions end on logout, on a password change and when the token expires (their sockets are
// disconnected); the profile and e-mail change; an address book whose default a checkout uses; order history a page
// at a time; and deletion, which refuses while orders are under way and then erases personal data everywhere: the
// shipments' addresses, the reviews (the ratings follow), the mail log, back-in-stock subscriptions and purchase history.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { AddressView, CartView, OrderView, ProductView, RatingChanged, ReviewView, ShippingAddress } from '../../src/protocol/index.ts';
import { failed } from '../helpers/acks.ts';
import {
  appForTest,
  call,
  connect,
  createProduct,
  getJson,
  guestToken,
  nextEvent,
  ok,
  postJson,
  registerCustomer,
  socketForTest,
  staffToken,
  startApp,
  TEST_CARD,
  type TestApp,
} from '../helpers/app.ts';
import { SmtpSink } from '../helpers/smtp.ts';

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
  let orders = 0;
  const place = async () => {
    const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
    await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
    return (await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-history-${orders++}` })).order.id;
  };
  /** The pages of the history (`between` runs after each page that has a next one). */
  const walk = async (query: { limit: number; state?: string }, between: () => Promise<unknown> = async () => {}) => {
    const pages: string[][] = [];
    let before: string | undefined;
    do {
      const page: { orders: OrderView[]; nextCursor: string | null } = await ok(store, 'orders:list', { ...query, ...(before ? { before } : {}) });
      pages.push(page.orders.map((order) => order.id));
      before = page.nextCursor ?? undefined;
      if (before) await between();
    } while (before);
    return pages;
  };
  const placed: string[] = [];
  for (let i = 0; i < 6; i++) placed.push(await place());
  const [p0, p1, p2, p3, p4, p5] = placed as [string, string, string, string, string, string];
  for (const orderId of [p1, p3, p4]) await ok(store, 'order:cancel', { orderId });

  t.deepEqual(await walk({ limit: 2 }), [
    [p5, p4],
    [p3, p2],
    [p1, p0],
  ]);

  // New orders placed while someone pages: they are newer than every page's last order, so they never show up on a
  // later page, and the walk still lists every order it started with, once, in order.
  const during: string[] = [];
  const pages = await walk({ limit: 2 }, async () => during.push(await place()));
  t.is(during.length, 2, 'an order was placed between each two pages');
  t.deepEqual(pages, [
    [p5, p4],
    [p3, p2],
    [p1, p0],
  ]);
  const [newer, newest] = during as [string, string];
  t.deepEqual(await walk({ limit: 50 }), [[newest, newer, p5, p4, p3, p2, p1, p0]], 'a walk started afterwards sees them first');

  // A state filter pages too, one order a page, and its last page has no next.
  t.deepEqual(await walk({ limit: 1, state: 'cancelled' }), [[p4], [p3], [p1]]);
  const placedDuring: string[] = [];
  t.deepEqual(
    await walk({ limit: 1, state: 'awaitingPayment' }, async () => placedDuring.push(await place())),
    [[newest], [newer], [p5], [p2], [p0]],
    'orders placed between the pages of a filtered walk neither repeat nor push one out',
  );
  t.is(placedDuring.length, 4);

  const cancelled = await ok<{ orders: OrderView[]; nextCursor: string | null }>(store, 'orders:list', { state: 'cancelled' });
  t.deepEqual(
    cancelled.orders.map((order) => order.id),
    [p4, p3, p1],
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

/** Checks out one unit of `productId` to `address`, pays, and has the warehouse deliver it (`beforeDelivery` runs before the last step). */
async function deliveredOrder(
  store: Socket,
  staff: Socket,
  productId: string,
  address: ShippingAddress,
  beforeDelivery?: () => Promise<void>,
): Promise<{ order: OrderView; cartId: string; shipmentId: string }> {
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-${cart.id}`, shippingAddress: address });
  await ok(store, 'subscribe', { topic: `order:${order.id}` });
  // Wait on pushes, not time: the payment saga opens the shipment, the shipment saga delivers the order.
  const opened = nextEvent<OrderView>(store, 'order:updated', (view) => view.id === order.id && view.shipmentId !== null);
  const delivered = nextEvent<OrderView>(store, 'order:updated', (view) => view.id === order.id && view.state === 'delivered');
  await ok(store, 'order:pay', { orderId: order.id, requestId: `pay-${order.id}`, payment: TEST_CARD });
  const shipmentId = (await opened).shipmentId!;
  for (const to of ['picking', 'packed', 'shipped', 'inTransit', 'delivered'] as const) {
    if (to === 'delivered') await beforeDelivery?.();
    await ok(staff, 'shipment:advance', {
      shipmentId,
      to,
      ...(to === 'shipped' ? { carrier: 'DHL', trackingNumber: `T-${order.id.replace(/_/g, '-')}` } : {}),
    });
  }
  return { order: await delivered, cartId: cart.id, shipmentId };
}

test.serial(
  'deleting an account after a delivery: the shipment forgets the address, the review goes and the rating moves, mail is cancelled or erased',
  async (t) => {
    const sink = await new SmtpSink().start();
    t.teardown(() => sink.stop()); // registered first, so it runs after the app has stopped
    let offset = 0;
    const own = await appForTest(t, { config: { smtpUrl: sink.url }, app: { clock: () => Date.now() + offset } });
    const settle = async () => {
      await own.app.relay.drain();
      await own.app.services.mail.drain();
    };
    const staff = await socketForTest(t, own.url, '/warehouse', await staffToken(own.app));
    const product = await createProduct(own.app, { onHand: 10 });
    const soldOut = await createProduct(own.app, { onHand: 0 });

    // Another customer's review stays: the aggregate moves to theirs alone.
    const other = await registerCustomer(own.url, 'Alan Turing');
    const otherStore = await socketForTest(t, own.url, '/store', other.token);
    await deliveredOrder(otherStore, staff, product.id, { ...OFFICE, name: 'Alan Turing' });
    await ok(otherStore, 'review:create', { productId: product.id, rating: 2, title: 'Meh' });

    const customer = await registerCustomer(own.url, 'Ada Lovelace');
    const store = await socketForTest(t, own.url, '/store', customer.token);
    await ok(store, 'stock:notify', { productId: soldOut.id });
    // The SMTP server goes away before the delivery: that mail is still queued when the account is deleted.
    const { order, cartId, shipmentId } = await deliveredOrder(store, staff, product.id, HOME, async () => {
      await settle();
      await sink.until((received) => received.filter((mail) => mail.to.includes(customer.email)).length === 4, 15_000, 'four mails to the customer');
      await sink.stop();
    });
    await settle();
    const { review } = await ok<{ review: ReviewView }>(store, 'review:create', { productId: product.id, rating: 5, title: 'Superb', body: 'Ada loves it.' });
    const knex = own.app.db.knex;
    const mailOf = () => knex('mail_log').where({ customer_id: customer.customerId }).orderBy('event_seq');
    t.deepEqual(
      (await mailOf()).map((row: { template: string; state: string }) => [row.template, row.state]),
      [
        ['welcome', 'sent'],
        ['order-confirmation', 'sent'],
        ['payment-receipt', 'sent'],
        ['order-shipped', 'sent'],
        ['order-delivered', 'queued'],
      ],
    );
    t.is((await knex('stock_notifications').where({ customer_id: customer.customerId })).length, 1);
    t.is((await knex('reco_customer_products').where({ customer_id: customer.customerId })).length, 1);

    const watcher = await socketForTest(t, own.url, '/store', await guestToken(own.url));
    await ok<{ view: ProductView }>(watcher, 'subscribe', { topic: `product:${product.id}` });
    const rated = nextEvent<RatingChanged>(watcher, 'rating:changed', (rating) => rating.productId === product.id && rating.count === 1);
    const response = await fetch(`${own.url}/api/me`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${customer.token}` },
      body: JSON.stringify({ password: customer.password }),
    });
    t.is(response.status, 204);

    // The review is gone and the aggregate is the other customer's alone, pushed to the product's watchers.
    t.like(await rated, { average: 2, count: 1, histogram: [0, 1, 0, 0, 0] });
    t.like((await getJson<ProductView>(`${own.url}/api/products/${product.id}`)).body.rating, { average: 2, count: 1, histogram: [0, 1, 0, 0, 0] });
    t.is(await knex('reviews').where({ id: review.id }).first(), undefined);
    const listed = await getJson<{ items: ReviewView[] }>(`${own.url}/api/products/${product.id}/reviews`);
    t.deepEqual(
      listed.body.items.map((item) => item.authorName),
      ['Alan T.'],
    );

    // The shipment and the order stay, delivered, without the address: in the snapshots, the journals and the outbox.
    const shipment = await own.app.runtime.get('shipment', shipmentId);
    t.is(shipment?.state, 'delivered', 'the shipment itself stays, for the books');
    t.is(shipment?.snapshot.context.shippingAddress, null);
    t.is((await own.app.runtime.get('order', order.id))?.snapshot.context.shippingAddress, null);
    const ids = [shipmentId, order.id, cartId];
    const journal = await knex('actor_journal').whereIn('actor_id', ids).select('actor_id', 'event');
    t.true(
      journal.some((entry: { actor_id: string }) => entry.actor_id === shipmentId),
      'the shipment has a journal',
    );
    const everything = JSON.stringify([
      ...(await knex('actors').whereIn('id', ids).select('snapshot')),
      ...journal,
      ...(await knex('outbox').whereIn('actor_id', ids).select('payload')),
    ]);
    for (const [what, value] of Object.entries({ street: HOME.line1, postcode: HOME.postalCode, 'addressee name': HOME.name, email: customer.email }))
      t.false(everything.includes(value), `the ${what} is gone`);

    // The mail log keeps what was sent and when, not to whom nor what it said; the queued mail is cancelled.
    const rows = await mailOf();
    t.deepEqual(
      rows.map((row: { template: string; state: string }) => [row.template, row.state]),
      [
        ['welcome', 'sent'],
        ['order-confirmation', 'sent'],
        ['payment-receipt', 'sent'],
        ['order-shipped', 'sent'],
        ['order-delivered', 'cancelled'],
      ],
    );
    t.true(
      rows.every(
        (row: { recipient: string | null; text_body: string | null; html_body: string | null }) =>
          row.recipient === null && row.text_body === null && row.html_body === null,
      ),
    );
    t.false(JSON.stringify(rows).includes(customer.email));
    t.true(
      (await knex('mail_log').where({ customer_id: other.customerId })).every((row: { recipient: string }) => row.recipient === other.email),
      "another customer's log is untouched",
    );
    // With the server back and every retry due, the cancelled mail is never sent.
    await sink.start();
    offset += 60 * 60_000;
    await own.app.sweep();
    await settle();
    t.is(sink.to(customer.email).length, 4);
    t.is((await mailOf()).find((row: { template: string }) => row.template === 'order-delivered').state, 'cancelled');

    // Back-in-stock subscriptions and the purchase history go; the anonymous sales counts stay.
    t.is((await knex('stock_notifications').where({ customer_id: customer.customerId })).length, 0);
    t.is((await knex('reco_customer_products').where({ customer_id: customer.customerId })).length, 0);
    t.truthy(await knex('reco_product_sales').where({ product_id: product.id }).first());
  },
);
