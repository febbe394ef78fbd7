// Offers over the real protocol: festival sales start and end on schedule (across a restart too), re-price the
// carts holding their products and keep a checked-out price; drops sell exactly their quota, hold the per-customer
// limit across carts and sockets, and take back the units of an expired order; bad offers are refused clearly.
import test, { type ExecutionContext } from 'ava';
import type { Socket } from 'socket.io-client';
import type { Ack, CartView, OfferRemaining, OfferView, OrderView } from '../../src/protocol/index.ts';
import {
  appForTest,
  call,
  connect,
  createProduct,
  folderForTest,
  getJson,
  nextEvent,
  ok,
  postJson,
  record,
  registerCustomer,
  socketForTest,
  staffToken,
  startApp,
  type TestApp,
} from '../helpers/app.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function refused(t: ExecutionContext, ack: Ack<unknown>, code: string, what = ''): { code: string; message: string; details?: any } {
  if (ack.ok) {
    t.fail(`${what} was accepted, expected ${code}`);
    return { code: 'OK', message: '' };
  }
  t.is(ack.error.code as string, code, `${what}: ${ack.error.message}`);
  return ack.error as { code: string; message: string; details?: any };
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function shopper(t: ExecutionContext, app: TestApp) {
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  return { ...customer, store };
}

const saleOn = (productIds: string[], startsAt: number, endsAt: number, percent = 20) => ({
  sort: 'sale',
  name: 'Festival sale',
  discount: { type: 'percent', percent },
  productIds,
  startsAt,
  endsAt,
});

test('a festival sale starts and ends on schedule: watchers are told once, carts are re-priced and pushed, a checkout keeps the offer price', async (t) => {
  const app = await appForTest(t, { config: { sweepIntervalMs: 100 } });
  const product = await createProduct(app.app, { onHand: 20, price: 1000 });
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  const watcher = await socketForTest(t, app.url, '/store', (await registerCustomer(app.url)).token);
  await ok(watcher, 'subscribe', { topic: 'offers' });
  await ok(watcher, 'subscribe', { topic: `product:${product.id}` });
  const seen = record(watcher, ['offer:updated', 'offer:started', 'offer:ended']);

  // Two customers hold the product at its list price before the sale.
  const buyer = await shopper(t, app);
  const holder = await shopper(t, app);
  const { cart: buyerCart } = await ok<{ cart: CartView }>(buyer.store, 'cart:create', {});
  await ok(buyer.store, 'cart:addItem', { cartId: buyerCart.id, productId: product.id, quantity: 2 });
  const { cart: holderCart } = await ok<{ cart: CartView }>(holder.store, 'cart:create', {});
  const added = await ok<{ cart: CartView }>(holder.store, 'cart:addItem', { cartId: holderCart.id, productId: product.id, quantity: 1 });
  t.like(added.cart.items[0], { unitPrice: 1000, listPrice: 1000, offerId: null });
  await ok(holder.store, 'subscribe', { topic: `cart:${holderCart.id}` });

  const startsAt = Date.now() + 700;
  const endsAt = startsAt + 1_500;
  const discounted = nextEvent<CartView>(holder.store, 'cart:updated', (cart) => cart.items[0]?.unitPrice === 800);
  // Listening before the offer exists: on a slow machine it may start before `offer:create` is answered.
  const starting = nextEvent<OfferView>(watcher, 'offer:started');
  const { offer } = await ok<{ offer: OfferView }>(warehouse, 'offer:create', saleOn([product.id], startsAt, endsAt));
  t.like(offer, { state: 'scheduled', sort: 'sale', affectedProductIds: [product.id] });
  const started = await starting;
  t.is(started.id, offer.id);
  t.true(Date.now() >= startsAt, 'not before its start');
  t.is(started.state, 'live');
  // The holder's cart was re-priced by the offer and pushed: both prices shown.
  t.like((await discounted).items[0], { unitPrice: 800, listPrice: 1000, offerId: offer.id });

  // The buyer checks out during the sale: the checkout re-prices first, then locks the offer price.
  const first = await call<{ order: OrderView }>(buyer.store, 'cart:checkout', { cartId: buyerCart.id, requestId: 'sale-1' });
  let order: OrderView;
  if (first.ok) order = first.data.order;
  else {
    t.is(first.error.code, 'CONFLICT', 'at most a re-pricing first');
    order = (await ok<{ order: OrderView }>(buyer.store, 'cart:checkout', { cartId: buyerCart.id, requestId: 'sale-2' })).order;
  }
  t.like(order.items[0], { unitPrice: 800, listPrice: 1000, offerId: offer.id, lineTotal: 1600 });
  t.is(order.total, 1600);

  const relisted = nextEvent<CartView>(holder.store, 'cart:updated', (cart) => cart.items[0]?.unitPrice === 1000);
  const ended = await nextEvent<OfferView>(watcher, 'offer:ended', (o) => o.id === offer.id);
  t.true(Date.now() >= endsAt, 'not before its end');
  t.is(ended.state, 'ended');
  t.like((await relisted).items[0], { unitPrice: 1000, offerId: null });
  // The order keeps what it was sold at.
  t.is((await ok<{ order: OrderView }>(buyer.store, 'order:get', { orderId: order.id })).order.total, 1600);

  await sleep(400);
  const count = (event: string) => seen.filter((e) => e.event === event && e.payload.id === offer.id).length;
  // Each push arrives on the offers topic and the product's: Socket.IO sends one copy to a socket in both rooms.
  t.is(count('offer:started'), 1);
  t.is(count('offer:ended'), 1);
  t.is(count('offer:updated'), 1, 'the creation');
  const journal = await app.app.db.knex('actor_journal').where({ actor_id: offer.id }).orderBy('version');
  t.deepEqual(
    journal.map((entry: { event: string }) => (JSON.parse(entry.event) as { type: string }).type),
    ['xstate.init', 'START', 'END'].filter((type) => journal.length === 3 || type !== 'xstate.init'),
  );
  const listed = await getJson<{ offers: OfferView[] }>(`${app.url}/api/offers`);
  t.false(
    listed.body.offers.some((o) => o.id === offer.id),
    'an ended offer is not listed as live or upcoming',
  );
});

test('a sale whose start and end pass while the node is down starts and ends once after the restart', async (t) => {
  const dataDir = folderForTest(t);
  const first = await startApp({ dataDir, config: { sweepIntervalMs: 100 } });
  const product = await createProduct(first.app, { onHand: 5, price: 2000 });
  const warehouse = await connect(first.url, '/warehouse', await staffToken(first.app));
  const startsAt = Date.now() + 600;
  const { offer } = await ok<{ offer: OfferView }>(warehouse, 'offer:create', saleOn([product.id], startsAt, startsAt + 6_000, 50));
  warehouse.disconnect();
  await first.stop();
  await sleep(Math.max(0, startsAt - Date.now()) + 200);

  const second = await startApp({ dataDir, config: { sweepIntervalMs: 100 } });
  t.teardown(() => second.stop());
  // Live after the restart (a slow start-up may find its end due too: then it ends at once, still once).
  await until('the offer going live', async () => ['live', 'ended'].includes((await second.app.runtime.get('offer', offer.id))?.state ?? ''), 20_000);
  if (Date.now() < startsAt + 5_000) {
    const live = await getJson<{ offers: OfferView[] }>(`${second.url}/api/offers`);
    t.is(live.body.offers.find((o) => o.id === offer.id)?.state, 'live');
  }
  await until('the offer ending', async () => (await second.app.runtime.get('offer', offer.id))?.state === 'ended', 20_000);
  const types = (await second.app.db.knex('actor_journal').where({ actor_id: offer.id }).orderBy('version')).map(
    (entry: { event: string }) => (JSON.parse(entry.event) as { type: string }).type,
  );
  t.is(types.filter((type) => type === 'START').length, 1);
  t.is(types.filter((type) => type === 'END').length, 1);
});

test('a drop sells exactly its quota at the drop price; the rest are SOLD_OUT; the per-customer limit holds across carts and sockets; an expired order gives its unit back', async (t) => {
  // The orders expire (giving their units back) well after the sell-out has re-priced the losers' carts.
  const app = await appForTest(t, { config: { sweepIntervalMs: 100, paymentWindowMs: 6_000 } });
  const product = await createProduct(app.app, { onHand: 100, price: 5000 });
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  await ok(warehouse, 'subscribe', { topic: 'offers' });
  const remainingSeen = record(warehouse, ['offer:remaining']);
  const starting = nextEvent<OfferView>(warehouse, 'offer:started');
  // A drop may not start in the past: ahead enough for a loaded machine to get the command there in time.
  const startsAt = Date.now() + 2_000;
  const { offer } = await ok<{ offer: OfferView }>(warehouse, 'offer:create', {
    sort: 'drop',
    name: 'Limited drop',
    productId: product.id,
    dropPrice: 1999,
    quota: 5,
    perCustomerLimit: 1,
    startsAt,
  });
  t.like(offer.drop, { quota: 5, remaining: 5, dropPrice: 1999 });
  t.is((await starting).id, offer.id);

  // One customer tries from two sockets with two carts: one unit, then LIMIT_REACHED.
  const greedy = await registerCustomer(app.url);
  const phone = await socketForTest(t, app.url, '/store', greedy.token);
  const laptop = await socketForTest(t, app.url, '/store', greedy.token);
  const carts = await Promise.all(
    [phone, laptop].map(async (socket) => {
      const { cart } = await ok<{ cart: CartView }>(socket, 'cart:create', {});
      const added = await ok<{ cart: CartView }>(socket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
      t.like(added.cart.items[0], { unitPrice: 1999, listPrice: 5000, offerId: offer.id });
      return cart.id;
    }),
  );
  const greedyAcks = await Promise.all([phone, laptop].map((socket, i) => call(socket, 'cart:checkout', { cartId: carts[i], requestId: `greedy-${i}` })));
  t.is(greedyAcks.filter((ack) => ack.ok).length, 1);
  const limit = refused(t, greedyAcks.find((ack) => !ack.ok)!, 'LIMIT_REACHED', 'a second unit for one customer');
  t.like(limit.details, { productId: product.id, requested: 1, available: 0 });
  // The refused cart was re-priced at once: the customer may still buy at the list price, as in any third cart.
  const refusedCart = carts[greedyAcks.findIndex((ack) => !ack.ok)]!;
  t.like((await ok<{ cart: CartView }>(phone, 'cart:get', { cartId: refusedCart })).cart.items[0], { unitPrice: 5000, offerId: null });
  const { cart: third } = await ok<{ cart: CartView }>(phone, 'cart:create', {});
  const listed = await ok<{ cart: CartView }>(phone, 'cart:addItem', { cartId: third.id, productId: product.id, quantity: 1 });
  t.like(listed.cart.items[0], { unitPrice: 5000, listPrice: 5000, offerId: null });

  // Twelve more buyers race for the four units left.
  const buyers = await Promise.all(
    Array.from({ length: 12 }, async () => {
      const buyer = await shopper(t, app);
      const { cart } = await ok<{ cart: CartView }>(buyer.store, 'cart:create', {});
      await ok(buyer.store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
      return { ...buyer, cartId: cart.id };
    }),
  );
  const acks = await Promise.all(
    buyers.map((buyer, i) => call<{ order: OrderView }>(buyer.store, 'cart:checkout', { cartId: buyer.cartId, requestId: `drop-${i}` })),
  );
  const codes = acks.map((ack) => (ack.ok ? 'OK' : ack.error.code));
  // A buyer whose cart the sell-out re-priced before its checkout gets PRICES_CHANGED (CONFLICT) instead of SOLD_OUT.
  t.is(codes.filter((code) => code === 'OK').length, 4, codes.join(','));
  t.true(
    codes.every((code) => code === 'OK' || code === 'SOLD_OUT' || code === 'CONFLICT'),
    codes.join(','),
  );
  t.true(codes.includes('SOLD_OUT'), codes.join(','));
  for (const ack of acks) if (ack.ok) t.like(ack.data.order.items[0], { unitPrice: 1999, offerId: offer.id });

  await until('the drop sold out', async () => (await app.app.runtime.get('offer', offer.id))?.state === 'soldOut');
  await until('offer:remaining 0', () => remainingSeen.some((e) => (e.payload as OfferRemaining).remaining === 0));
  const sold = await app.app.db.knex('drop_claims').where({ offer_id: offer.id, status: 'held' }).sum({ n: 'quantity' }).first();
  t.is(Number(sold?.n), 5, 'exactly the quota claimed');
  // A loser's cart is back at the list price now the drop is sold out.
  const loser = buyers[codes.indexOf('SOLD_OUT')]!;
  await until(
    'the loser re-priced',
    async () => (await ok<{ cart: CartView }>(loser.store, 'cart:get', { cartId: loser.cartId })).cart.items[0]?.unitPrice === 5000,
  );

  // Nobody pays: the orders expire and give their units back; the drop is live again.
  await until(
    'the drop live again with every unit',
    async () => {
      const drop = await app.app.runtime.get('offer', offer.id);
      return drop?.state === 'live' && drop.snapshot.context.remaining === 5;
    },
    15_000,
  );
  const returned = await app.app.db.knex('drop_claims').where({ offer_id: offer.id, status: 'returned' }).sum({ n: 'quantity' }).first();
  t.is(Number(returned?.n), 5);
});

test('bad offers get VALIDATION, unknown products NOT_FOUND, a started offer cannot be re-termed, and customers have no offer command', async (t) => {
  const app = await appForTest(t, { config: { sweepIntervalMs: 100 } });
  const cheap = await createProduct(app.app, { onHand: 5, price: 500 });
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  // Far from now: on a loaded machine the list takes seconds, and only the faults named may make an offer bad.
  const now = Date.now();
  const bad: Array<[string, unknown, string]> = [
    ['end before start', saleOn([cheap.id], now + 600_000, now + 60_000), 'VALIDATION'],
    ['a percentage over 100', saleOn([cheap.id], now + 60_000, now + 600_000, 120), 'VALIDATION'],
    ['a fixed amount above the price', { ...saleOn([cheap.id], now + 60_000, now + 600_000), discount: { type: 'amount', amount: 600 } }, 'VALIDATION'],
    ['a sale covering nothing', saleOn([], now + 60_000, now + 600_000), 'VALIDATION'],
    ['a quota of 0', { sort: 'drop', name: 'd', productId: cheap.id, dropPrice: 100, quota: 0, perCustomerLimit: 1, startsAt: now + 60_000 }, 'VALIDATION'],
    ['a limit of -1', { sort: 'drop', name: 'd', productId: cheap.id, dropPrice: 100, quota: 5, perCustomerLimit: -1, startsAt: now + 60_000 }, 'VALIDATION'],
    [
      'a past start for a new drop',
      { sort: 'drop', name: 'd', productId: cheap.id, dropPrice: 100, quota: 5, perCustomerLimit: 1, startsAt: now - 60_000 },
      'VALIDATION',
    ],
    [
      'a drop price above the price',
      { sort: 'drop', name: 'd', productId: cheap.id, dropPrice: 900, quota: 5, perCustomerLimit: 1, startsAt: now + 60_000 },
      'VALIDATION',
    ],
    ['an unknown product', saleOn(['prod_nope'], now + 60_000, now + 600_000), 'NOT_FOUND'],
    ['an unknown category', { ...saleOn([], now + 60_000, now + 600_000), categoryIds: ['no-such-category'] }, 'NOT_FOUND'],
    ['an unknown sort', { sort: 'raffle', name: 'x', startsAt: now + 60_000 }, 'VALIDATION'],
  ];
  for (const [what, payload, code] of bad) refused(t, await call(warehouse, 'offer:create', payload), code, what);
  t.deepEqual((await ok<{ offers: OfferView[] }>(warehouse, 'offers:list', {})).offers, [], 'nothing was created');

  // Re-terming: fine before the start (far enough ahead for a slow machine), refused once live.
  const startsAt = Date.now() + 2_000;
  const { offer } = await ok<{ offer: OfferView }>(warehouse, 'offer:create', saleOn([cheap.id], startsAt, startsAt + 60_000));
  const updated = await ok<{ offer: OfferView }>(warehouse, 'offer:update', { ...saleOn([cheap.id], startsAt, startsAt + 60_000, 30), offerId: offer.id });
  t.deepEqual(updated.offer.discount, { type: 'percent', percent: 30 });
  await until('the offer live', async () => (await app.app.runtime.get('offer', offer.id))?.state === 'live');
  const live = refused(
    t,
    await call(warehouse, 'offer:update', { ...saleOn([cheap.id], startsAt, startsAt + 60_000, 40), offerId: offer.id }),
    'INVALID_TRANSITION',
  );
  t.is(live.details?.reason, 'OFFER_STARTED');
  const cancelled = await ok<{ offer: OfferView }>(warehouse, 'offer:cancel', { offerId: offer.id, reason: 'typo in the name' });
  t.like(cancelled.offer, { state: 'cancelled', cancelReason: 'typo in the name' });
  refused(t, await call(warehouse, 'offer:cancel', { offerId: offer.id }), 'INVALID_TRANSITION', 'cancelling twice');
  refused(t, await call(warehouse, 'offer:cancel', { offerId: 'offer_missing' }), 'NOT_FOUND', 'an unknown offer');

  // Customers: no offer command on /store, and /warehouse refuses them.
  const customer = await registerCustomer(app.url);
  const store: Socket = await socketForTest(t, app.url, '/store', customer.token);
  for (const command of ['offer:create', 'offer:update', 'offer:cancel', 'offers:list']) {
    t.regex(refused(t, await call(store, command, {}), 'VALIDATION', command).message, /unknown command/);
  }
  const forbidden = await t.throwsAsync(connect(app.url, '/warehouse', customer.token));
  t.regex(String(forbidden?.message), /staff/);
});

test('a shipped order keeps its drop unit for good: releasing it afterwards gives nothing back; a guest who signs in brings its claims', async (t) => {
  const app = await appForTest(t, { config: { sweepIntervalMs: 100 } });
  const product = await createProduct(app.app, { onHand: 10, price: 3000 });
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  await ok(warehouse, 'subscribe', { topic: 'offers' });
  const starting = nextEvent<OfferView>(warehouse, 'offer:started');
  const { offer } = await ok<{ offer: OfferView }>(warehouse, 'offer:create', {
    sort: 'drop',
    name: 'Two only',
    productId: product.id,
    dropPrice: 1000,
    quota: 2,
    perCustomerLimit: 1,
    startsAt: Date.now() + 2_000,
  });
  await starting;
  const buyer = await shopper(t, app);
  const { cart } = await ok<{ cart: CartView }>(buyer.store, 'cart:create', {});
  await ok(buyer.store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(buyer.store, 'cart:checkout', { cartId: cart.id, requestId: 'ship-me' });
  const { inventory } = app.app.services;
  await inventory.commitSale(order.id);
  await inventory.release(order.id);
  const quota = await app.app.db.knex('drop_quotas').where({ offer_id: offer.id }).first();
  t.is(Number(quota.claimed), 1, 'the sold unit stays claimed');
  t.deepEqual(
    (await app.app.db.knex('drop_claims').where({ offer_id: offer.id })).map((claim: { status: string }) => claim.status),
    ['sold'],
  );

  // A guest claims the other unit, then signs up: the account has used its one.
  const guest = (await postJson<{ token: string }>(`${app.url}/api/auth/guest`, {})).body.token;
  const guestStore = await socketForTest(t, app.url, '/store', guest);
  const { cart: guestCart } = await ok<{ cart: CartView }>(guestStore, 'cart:create', {});
  await ok(guestStore, 'cart:addItem', { cartId: guestCart.id, productId: product.id, quantity: 1 });
  await ok(guestStore, 'cart:checkout', { cartId: guestCart.id, requestId: 'guest-drop' });
  const account = await postJson<{ token: string; customer: { id: string } }>(
    `${app.url}/api/auth/register`,
    { email: `drop-${Date.now()}@example.com`, password: 'correct horse battery', name: 'Drop Fan' },
    guest,
  );
  t.is(account.status, 201);
  const held = await app.app.db.knex('drop_claims').where({ offer_id: offer.id, customer_id: account.body.customer.id });
  t.is(held.length, 1, "the guest's claim is the account's now");
});

test('a sale by category prices a category moved under it at once: the node keeps no stale tree for a cart change', async (t) => {
  const app = await appForTest(t);
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  const catalog = app.app.services.catalog;
  const tag = `${process.pid}${Date.now()}`;
  const sold = await ok<{ category: { id: string; slug: string } }>(warehouse, 'catalog:upsertCategory', { slug: `festival-${tag}`, name: 'Festival' });
  const elsewhere = await ok<{ category: { id: string; slug: string } }>(warehouse, 'catalog:upsertCategory', { slug: `pantry-${tag}`, name: 'Pantry' });
  const product = await catalog.createProduct({ sku: `CAT-${tag}`, name: 'Olive oil', categoryId: elsewhere.category.id, price: 1000, onHand: 10 });
  await ok(warehouse, 'offer:create', {
    sort: 'sale',
    name: 'Festival of the category',
    discount: { type: 'percent', percent: 50 },
    productIds: [],
    categoryIds: [sold.category.slug],
    startsAt: Date.now() - 1_000,
    endsAt: Date.now() + 600_000,
  });
  const buyer = await shopper(t, app);
  await until('the sale to be live', async () => {
    const { offers } = (await getJson<{ offers: OfferView[] }>(`${app.url}/api/offers`)).body;
    return offers.some((offer) => offer.state === 'live');
  });
  // Priced (and the category tree read) just before the move: the product is outside the sale.
  const { cart: before } = await ok<{ cart: CartView }>(buyer.store, 'cart:create', {});
  const listed = await ok<{ cart: CartView }>(buyer.store, 'cart:addItem', { cartId: before.id, productId: product.id, quantity: 1 });
  t.like(listed.cart.items[0], { unitPrice: 1000, offerId: null });

  // Moved under the sale's category; the very next cart change on this node sees it (well inside the cache's quarter second).
  await ok(warehouse, 'catalog:upsertCategory', { slug: elsewhere.category.slug, name: 'Pantry', parent: sold.category.slug });
  const { cart: after } = await ok<{ cart: CartView }>(buyer.store, 'cart:create', {});
  const discounted = await ok<{ cart: CartView }>(buyer.store, 'cart:addItem', { cartId: after.id, productId: product.id, quantity: 1 });
  t.like(discounted.cart.items[0], { unitPrice: 500, listPrice: 1000 });
  t.truthy(discounted.cart.items[0]?.offerId);
});
