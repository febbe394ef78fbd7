// Recommendations from the Person–Product graph: paid orders grow it (once per order, however often order.paid is
// delivered); "bought together" ranks the most co-purchased product first; a cart's watcher gets
// recommendations:updated after a change, without the cart's products and without products out of stock; a signed-in
// customer's history weighs in, less than the cart; cold start falls back to the category's best sellers; only the
// cart's owner may follow its recommendations.
import test, { type ExecutionContext } from 'ava';
import type { Socket } from 'socket.io-client';
import { connectStore } from '../../src/client/index.ts';
import type { CartView, OrderView, ProductView, RecommendationsUpdated, RecommendationView } from '../../src/protocol/index.ts';
import { failed } from '../helpers/acks.ts';
import {
  call,
  getJson,
  guestToken,
  nextEvent,
  ok,
  registerCustomer,
  replayOutbox,
  socketForTest,
  staffToken,
  connect,
  startApp,
  TEST_CARD,
  type TestApp,
} from '../helpers/app.ts';

let app: TestApp;
let staff: Socket;
let n = 0;

test.before(async () => {
  app = await startApp();
  staff = await connect(app.url, '/warehouse', await staffToken(app.app));
});

test.after.always(async () => {
  staff?.close();
  await app?.stop();
});

/** A category of its own (so other tests' products and sales stay out of its fallbacks) and products in it. */
async function shelf(names: Record<string, number>): Promise<{ categoryId: string; products: Record<string, ProductView> }> {
  const slug = `reco-${process.pid}-${++n}`;
  const category = await app.app.services.catalog.createCategory({ slug, name: `Shelf ${n}` });
  const products: Record<string, ProductView> = {};
  for (const [name, onHand] of Object.entries(names)) {
    products[name] = await app.app.services.catalog.createProduct({ sku: `${slug}-${name}`, name, categoryId: category.id, price: 1000 + n, onHand });
  }
  return { categoryId: category.id, products };
}

/** A new cart of `store`'s owner holding `lines`. */
async function cartWith(store: Socket, lines: ReadonlyArray<readonly [ProductView, number]>): Promise<CartView> {
  let { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  for (const [product, quantity] of lines)
    cart = (await ok<{ cart: CartView }>(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity })).cart;
  return cart;
}

/** Checks out and pays a cart of `lines` as `store`'s owner; resolves with the paid order's id. */
async function buy(store: Socket, lines: ReadonlyArray<readonly [ProductView, number]>): Promise<string> {
  const cart = await cartWith(store, lines);
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `reco-co-${++n}` });
  const paid = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: `reco-pay-${n}`, payment: TEST_CARD });
  if (paid.order.state !== 'paid') throw new Error(`order ${order.id} is ${paid.order.state}`);
  return order.id;
}

/** A guest's socket, for buyers whose history does not matter. */
async function guest(t: ExecutionContext): Promise<Socket> {
  return socketForTest(t, app.url, '/store', await guestToken(app.url));
}

/** Waits until the recommendations flow has counted every one of `orderIds`. */
async function counted(orderIds: readonly string[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = (await app.app.db
      .knex('reco_orders')
      .whereIn('order_id', [...orderIds])
      .select('order_id')) as unknown[];
    if (rows.length === orderIds.length) return;
    if (Date.now() > deadline) throw new Error(`orders not counted after 15 s: ${rows.length} of ${orderIds.length}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

type Answer = { recommendations: RecommendationView[] } & { ok?: false; error?: { code: string } };

async function recommended(productId: string, query = ''): Promise<{ status: number; body: Answer }> {
  return getJson<Answer>(`${app.url}/api/products/${productId}/recommendations${query}`);
}

/** How many rows of `table` match `where` (PostgreSQL counts as a bigint string). */
async function countOf(table: string, where: (query: import('knex').Knex.QueryBuilder) => void): Promise<number> {
  const row = (await app.app.db.knex(table).modify(where).count({ n: '*' }).first()) as { n: number | string };
  return Number(row.n);
}

const ids = (recommendations: readonly RecommendationView[]) => recommendations.map((r) => r.productId);
const byName = (recommendations: readonly RecommendationView[]) => recommendations.map((r) => `${r.name}:${r.reason}`);

test.serial('"bought together" ranks the most co-purchased product first, leaves out archived ones, and refuses bad input', async (t) => {
  const { categoryId, products: p } = await shelf({ A: 50, B: 50, C: 50 });
  const other = await shelf({ D: 50 });
  const store = await guest(t);
  const orders = [
    await buy(store, [
      [p.A!, 1],
      [p.B!, 2],
    ]),
    await buy(store, [
      [p.A!, 1],
      [p.B!, 1],
      [other.products.D!, 1],
    ]),
    await buy(store, [
      [p.A!, 1],
      [p.B!, 1],
      [p.C!, 1],
    ]),
    await buy(store, [
      [p.A!, 1],
      [p.C!, 1],
    ]),
    // Not with A: counts for B and C, not for A's recommendations.
    await buy(store, [
      [p.B!, 1],
      [p.C!, 1],
    ]),
  ];
  await counted(orders);

  const { status, body } = await recommended(p.A!.id);
  t.is(status, 200);
  t.deepEqual(byName(body.recommendations), ['B:boughtTogether', 'C:boughtTogether', 'D:boughtTogether'], 'with A: B three times, C twice, D once');
  t.like(body.recommendations[0], {
    productId: p.B!.id,
    name: 'B',
    price: p.B!.price,
    listPrice: p.B!.price,
    offerId: null,
    currency: 'EUR',
    categoryId,
    available: 50 - 5,
    rating: { average: null, count: 0 },
  });
  t.deepEqual(ids((await recommended(p.A!.id, '?limit=1')).body.recommendations), [p.B!.id]);

  await ok(staff, 'catalog:archiveProduct', { productId: p.B!.id });
  t.deepEqual(byName((await recommended(p.A!.id)).body.recommendations), ['C:boughtTogether', 'D:boughtTogether'], 'an archived product is never recommended');

  const missing = await recommended('prod_missing');
  t.is(missing.status, 404);
  t.like(missing.body, { ok: false, error: { code: 'NOT_FOUND' } });
  for (const query of ['?limit=0', '?limit=21', '?limit=many']) {
    const bad = await recommended(p.A!.id, query);
    t.is(bad.status, 400, query);
    t.like(bad.body, { ok: false, error: { code: 'VALIDATION' } });
  }
  t.is((await recommended('bad%20id')).status, 400);
});

test.serial('a redelivered order.paid is not counted twice', async (t) => {
  const { products: p } = await shelf({ E: 50, F: 50 });
  const orderId = await buy(await guest(t), [
    [p.E!, 2],
    [p.F!, 1],
  ]);
  await counted([orderId]);
  const knex = app.app.db.knex;
  const both = [p.E!.id, p.F!.id];
  type Row = { product_id: string; other_id?: string; orders: number | string; units?: number | string };
  const graph = async () => ({
    pairs: ((await knex('reco_co_purchases').whereIn('product_id', both).orderBy('product_id').select('product_id', 'other_id', 'orders')) as Row[]).map(
      (row) => [row.product_id, row.other_id, Number(row.orders)],
    ),
    sales: ((await knex('reco_product_sales').whereIn('product_id', both).orderBy('product_id').select('product_id', 'units', 'orders')) as Row[]).map(
      (row) => [row.product_id, Number(row.units), Number(row.orders)],
    ),
    customers: await countOf('reco_customer_products', (query) => query.whereIn('product_id', both)),
  });
  const before = await graph();
  t.deepEqual(before, {
    pairs: [
      [p.E!.id, p.F!.id, 1],
      [p.F!.id, p.E!.id, 1],
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    sales: [
      [p.E!.id, 2, 1],
      [p.F!.id, 1, 1],
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    customers: 0,
  });

  // The order's events delivered again to every flow, as after a crash before their deliveries were recorded.
  t.true((await replayOutbox(knex, orderId)) >= 2);
  const deadline = Date.now() + 15_000;
  for (;;) {
    await app.app.relay.drain();
    const delivered = await knex('outbox_deliveries as d')
      .join('outbox as o', 'o.seq', 'd.seq')
      .where({ 'o.actor_id': orderId, 'o.type': 'order.paid', 'd.flow': 'recommendations', 'd.state': 'done' })
      .first();
    if (delivered) break;
    if (Date.now() > deadline) throw new Error('order.paid was not delivered again');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.deepEqual(await graph(), before, 'the second delivery added nothing');

  // The same through the service: the order is known, so nothing is counted.
  const event = (await knex('outbox').where({ actor_id: orderId, type: 'order.paid' }).first()) as {
    seq: number;
    payload: string | object;
    created_at: number;
  };
  const payload = typeof event.payload === 'string' ? JSON.parse(event.payload) : event.payload;
  t.false(
    await app.app.services.recommendations.recordPaid({
      seq: Number(event.seq),
      actorId: orderId,
      type: 'order.paid',
      payload,
      createdAt: Number(event.created_at),
    }),
  );
  t.deepEqual(await graph(), before);
});

test.serial('a cart watcher gets recommendations:updated after adding an item, without its products or products out of stock', async (t) => {
  const { products: p } = await shelf({ P1: 50, P2: 50, P3: 50, P4: 1 });
  const buyer = await guest(t);
  const orders = [
    await buy(buyer, [
      [p.P1!, 1],
      [p.P2!, 1],
    ]),
    await buy(buyer, [
      [p.P1!, 1],
      [p.P3!, 1],
    ]),
    await buy(buyer, [
      [p.P1!, 1],
      [p.P3!, 1],
    ]),
    // P4's only unit: out of stock from now on.
    await buy(buyer, [
      [p.P1!, 1],
      [p.P4!, 1],
    ]),
  ];
  await counted(orders);

  const token = await guestToken(app.url);
  const watcher = await socketForTest(t, app.url, '/store', token);
  const cart = await cartWith(watcher, [[p.P2!, 1]]);
  const subscribed = await ok<{ topic: string; view: RecommendationsUpdated }>(watcher, 'subscribe', { topic: `recommendations:${cart.id}` });
  t.is(subscribed.topic, `recommendations:${cart.id}`);
  t.like(subscribed.view, { cartId: cart.id, version: cart.version });
  t.deepEqual(byName(subscribed.view.recommendations), ['P1:boughtTogether', 'P3:bestSeller'], "P2 only went with P1; the shelf's best seller fills up");

  // The SDK follows the same topic: the push reaches it through pushTopics.
  const sdk = await connectStore(app.url, { token });
  t.teardown(() => sdk.close());
  const sdkViews: RecommendationsUpdated[] = [];
  await sdk.subscribe<RecommendationsUpdated>(`recommendations:${cart.id}`, (view) => sdkViews.push(view));

  const pushed = nextEvent<RecommendationsUpdated>(watcher, 'recommendations:updated', (update) => update.cartId === cart.id);
  const { cart: added } = await ok<{ cart: CartView }>(watcher, 'cart:addItem', { cartId: cart.id, productId: p.P1!.id, quantity: 1 });
  const update = await pushed;
  t.is(update.version, added.version, 'computed for the cart as it is after the change');
  t.deepEqual(byName(update.recommendations), ['P3:boughtTogether'], 'not P1 or P2 (in the cart), not P4 (out of stock)');
  t.false(ids(update.recommendations).includes(p.P4!.id));

  const deadline = Date.now() + 10_000;
  while (!sdkViews.some((view) => view.version === added.version) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(
    sdkViews.map((view) => view.version),
    [cart.version, added.version],
    'the SDK got the subscribe answer, then the push',
  );
});

test.serial("a signed-in customer's history weighs in, less than the cart's own co-purchases", async (t) => {
  const h = await shelf({ H: 50, X: 50 });
  const c = await shelf({ C: 50 });
  const z = await shelf({ Z: 50 });
  const buyer = await guest(t);
  const customer = await registerCustomer(app.url, 'Ada Lovelace');
  const own = await socketForTest(t, app.url, '/store', customer.token);
  // The customer's history: H, bought alone.
  const bought = await buy(own, [[h.products.H!, 1]]);
  await counted([
    bought,
    await buy(buyer, [
      [h.products.H!, 1],
      [h.products.X!, 1],
    ]),
    await buy(buyer, [
      [h.products.H!, 1],
      [h.products.X!, 1],
    ]),
    await buy(buyer, [
      [c.products.C!, 1],
      [z.products.Z!, 1],
    ]),
  ]);
  const history = (await app.app.db.knex('reco_customer_products').where({ customer_id: customer.customerId }).select('product_id', 'units')) as Array<{
    product_id: string;
    units: number | string;
  }>;
  t.deepEqual(
    history.map((row) => [row.product_id, Number(row.units)]),
    [[h.products.H!.id, 1]],
  );
  t.is(await countOf('reco_customer_products', (query) => query.where('customer_id', 'like', 'guest%')), 0, 'guests keep no history');

  const mine = await cartWith(own, [[c.products.C!, 1]]);
  const forCustomer = (await ok<{ view: RecommendationsUpdated }>(own, 'subscribe', { topic: `recommendations:${mine.id}` })).view;
  t.deepEqual(
    byName(forCustomer.recommendations),
    ['Z:boughtTogether', 'X:history'],
    'X goes with H, which the customer bought; Z with C, in the cart, counts more',
  );

  const someone = await guest(t);
  const theirs = await cartWith(someone, [[c.products.C!, 1]]);
  const forGuest = (await ok<{ view: RecommendationsUpdated }>(someone, 'subscribe', { topic: `recommendations:${theirs.id}` })).view;
  t.deepEqual(byName(forGuest.recommendations), ['Z:boughtTogether'], 'a guest has no history');

  // Deleting the account erases its history; the anonymous counts stay.
  await ok(own, 'order:cancel', { orderId: bought });
  const deleted = await fetch(`${app.url}/api/me`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${customer.token}` },
    body: JSON.stringify({ password: customer.password }),
  });
  t.is(deleted.status, 204);
  t.is(await countOf('reco_customer_products', (query) => query.where({ customer_id: customer.customerId })), 0);
  t.is(await countOf('reco_co_purchases', (query) => query.where({ product_id: h.products.H!.id })), 1);
});

test.serial('cold start: best sellers of the same category, then its other products', async (t) => {
  const s = await shelf({ S1: 50, S2: 50, S3: 50, New: 50 });
  const elsewhere = await shelf({ Hit: 50 });
  const buyer = await guest(t);
  await counted([await buy(buyer, [[s.products.S2!, 3]]), await buy(buyer, [[s.products.S1!, 1]]), await buy(buyer, [[elsewhere.products.Hit!, 10]])]);
  const { body } = await recommended(s.products.New!.id);
  t.deepEqual(byName(body.recommendations), ['S2:bestSeller', 'S1:bestSeller', 'S3:sameCategory'], 'the most units sold first; nothing of another category');
  t.true(body.recommendations.every((r) => r.categoryId === s.categoryId));

  const store = await guest(t);
  const cart = await cartWith(store, [[s.products.New!, 1]]);
  const { view } = await ok<{ view: RecommendationsUpdated }>(store, 'subscribe', { topic: `recommendations:${cart.id}` });
  t.deepEqual(byName(view.recommendations), ['S2:bestSeller', 'S1:bestSeller', 'S3:sameCategory'], 'a cart with no graph data falls back the same way');
});

test.serial("another customer cannot follow someone else's recommendations", async (t) => {
  const { products: p } = await shelf({ Q: 50 });
  const owner = await registerCustomer(app.url, 'Owner');
  const ownerStore = await socketForTest(t, app.url, '/store', owner.token);
  const cart = await cartWith(ownerStore, [[p.Q!, 1]]);
  await ok(ownerStore, 'subscribe', { topic: `recommendations:${cart.id}` });

  const other = await registerCustomer(app.url, 'Other');
  const otherStore = await socketForTest(t, app.url, '/store', other.token);
  failed(t, await call(otherStore, 'subscribe', { topic: `recommendations:${cart.id}` }), 'FORBIDDEN');
  failed(t, await call(await guest(t), 'subscribe', { topic: `recommendations:${cart.id}` }), 'FORBIDDEN');
  failed(t, await call(otherStore, 'subscribe', { topic: 'recommendations:cart_missing' }), 'NOT_FOUND');
  failed(t, await call(otherStore, 'subscribe', { topic: 'recommendations:' }), 'VALIDATION');
  failed(t, await call(otherStore, 'subscribe', { topic: 'recommendations:bad id!' }), 'VALIDATION');

  // The refused socket is in no room: a change of the cart reaches only its owner.
  let leaked = false;
  otherStore.on('recommendations:updated', () => {
    leaked = true;
  });
  const pushed = nextEvent<RecommendationsUpdated>(ownerStore, 'recommendations:updated', (update) => update.cartId === cart.id);
  await ok(ownerStore, 'cart:setQuantity', { cartId: cart.id, productId: p.Q!.id, quantity: 2 });
  await pushed;
  t.false(leaked);
});
