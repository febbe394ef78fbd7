// Catalog management on /warehouse: staff build a category tree and create, change and archive products; each change
// is pushed as product:updated on product:<id>; archived products leave the listing but keep their old orders' lines;
// a changed price re-prices open carts at checkout; customers have no catalog command at all.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { CartView, CategoryView, OrderView, ProductView } from '../../src/protocol/index.ts';
import { failed } from '../helpers/acks.ts';
import { call, connect, getJson, nextEvent, ok, registerCustomer, socketForTest, staffToken, startApp, TEST_CARD, type TestApp } from '../helpers/app.ts';

let app: TestApp;
let warehouse: Socket;
let slugs = 0;

test.before(async () => {
  app = await startApp();
  warehouse = await connect(app.url, '/warehouse', await staffToken(app.app));
});

test.after.always(async () => {
  warehouse?.close();
  await app?.stop();
});

const slug = (base: string) => `${base}-${process.pid}-${++slugs}`;
type Upserted = { product: ProductView; created: boolean };
type Page = { items: ProductView[]; total: number };

async function category(name: string, parent?: string): Promise<CategoryView> {
  return (await ok<{ category: CategoryView }>(warehouse, 'catalog:upsertCategory', { slug: slug(name.toLowerCase()), name, parent })).category;
}

async function product(fields: Record<string, unknown>): Promise<ProductView> {
  return (await ok<Upserted>(warehouse, 'catalog:upsertProduct', { sku: slug('SKU').toUpperCase(), name: 'Thing', price: 1000, ...fields })).product;
}

test.serial('staff build a category tree and a product; a watcher gets product:updated; the listing finds it, and not once archived', async (t) => {
  const root = await category('Kitchen');
  const child = await category('Knives', root.slug);
  t.is(child.parentId, root.id);
  const categories = (await getJson<{ items: CategoryView[] }>(`${app.url}/api/categories`)).body.items;
  t.like(
    categories.find((c) => c.id === child.id),
    { parentId: root.id, name: 'Knives' },
  );

  const sku = slug('KNIFE').toUpperCase();
  const created = await ok<Upserted>(warehouse, 'catalog:upsertProduct', {
    sku,
    name: 'Santoku Knife',
    description: 'A hollow-ground damascene blade for vegetables',
    price: 8900,
    category: child.slug,
    images: ['https://img.example/santoku.jpg'],
    attributes: { steel: 'VG-10', lengthCm: 18, dishwasherSafe: false },
  });
  t.true(created.created);
  t.like(created.product, { sku, categoryId: child.id, price: 8900, archived: false, imageUrl: 'https://img.example/santoku.jpg', available: 0 });
  t.deepEqual(created.product.attributes, { steel: 'VG-10', lengthCm: 18, dishwasherSafe: false });

  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const subscribed = await ok<{ view: ProductView & { version: number } }>(store, 'subscribe', { topic: `product:${created.product.id}` });
  t.is(subscribed.view.version, created.product.version);

  const pushed = nextEvent<ProductView>(store, 'product:updated', (view) => view.id === created.product.id);
  const changed = await ok<Upserted>(warehouse, 'catalog:upsertProduct', { sku, name: 'Santoku Knife 18 cm', price: 9400, category: child.slug });
  t.false(changed.created);
  t.is(changed.product.version, created.product.version + 1, 'a change raises the version');
  t.deepEqual(changed.product.images, ['https://img.example/santoku.jpg'], 'fields left out keep their values');
  const push = await pushed;
  t.like(push, { name: 'Santoku Knife 18 cm', price: 9400, version: changed.product.version });

  const search = async (q: string) => (await getJson<Page>(`${app.url}/api/products?q=${encodeURIComponent(q)}&pageSize=100`)).body;
  t.true(
    (await search('damascene')).items.some((p) => p.id === created.product.id),
    'found by a word of its description',
  );

  const archivedPush = nextEvent<ProductView>(store, 'product:updated', (view) => view.id === created.product.id && view.archived);
  const archived = await ok<{ product: ProductView }>(warehouse, 'catalog:archiveProduct', { productId: created.product.id });
  t.true(archived.product.archived);
  t.is((await archivedPush).version, archived.product.version);
  t.false(
    (await search('damascene')).items.some((p) => p.id === created.product.id),
    'archived products leave the listing',
  );
  const direct = await getJson<ProductView>(`${app.url}/api/products/${created.product.id}`);
  t.is(direct.status, 200, 'an archived product can still be read (old orders link to it)');
  t.true(direct.body.archived);
  const again = await ok<{ product: ProductView }>(warehouse, 'catalog:archiveProduct', { productId: created.product.id });
  t.is(again.product.version, archived.product.version, 'archiving twice changes nothing');

  const restored = await product({ sku, name: 'Santoku Knife 18 cm', price: 9400, category: child.slug });
  t.false(restored.archived, 'upserting an archived product sells it again');
});

test.serial('a customer has no catalog command: unknown on /store, and /warehouse refuses the connection', async (t) => {
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  for (const command of ['catalog:upsertCategory', 'catalog:upsertProduct', 'catalog:archiveProduct']) {
    const error = failed(t, await call(store, command, { slug: 'x', name: 'x' }), 'VALIDATION', command);
    t.regex(error.message, /unknown command/);
  }
  const refused = await t.throwsAsync(connect(app.url, '/warehouse', customer.token));
  t.regex(String(refused?.message), /staff/);
});

test.serial('the tree stays a tree; unknown parents and categories are NOT_FOUND; an editor with an old version gets CONFLICT', async (t) => {
  const a = await category('Garden');
  const b = await category('Tools', a.slug);
  const c = await category('Shears', b.slug);
  const cycle = failed(t, await call(warehouse, 'catalog:upsertCategory', { slug: a.slug, name: 'Garden', parent: c.slug }), 'VALIDATION');
  t.regex(cycle.message, /inside it/);
  failed(t, await call(warehouse, 'catalog:upsertCategory', { slug: a.slug, name: 'Garden', parent: a.slug }), 'VALIDATION', 'its own parent');
  failed(t, await call(warehouse, 'catalog:upsertCategory', { slug: slug('orphan'), name: 'Orphan', parent: 'no-such-parent' }), 'NOT_FOUND');
  failed(t, await call(warehouse, 'catalog:upsertProduct', { sku: 'NOCAT-1', name: 'x', price: 1, category: 'no-such-category' }), 'NOT_FOUND');
  // Moving a branch elsewhere is fine.
  const moved = await ok<{ category: CategoryView }>(warehouse, 'catalog:upsertCategory', { slug: c.slug, name: 'Shears', parent: a.slug });
  t.is(moved.category.parentId, a.id);

  const p = await product({ category: b.slug });
  await ok(warehouse, 'catalog:upsertProduct', { sku: p.sku, name: 'First edit', price: 1000, category: b.slug, expectedVersion: p.version });
  const stale = failed(
    t,
    await call(warehouse, 'catalog:upsertProduct', { sku: p.sku, name: 'Stale edit', price: 1, category: b.slug, expectedVersion: p.version }),
    'CONFLICT',
  );
  t.like(stale.details, { expectedVersion: p.version, version: p.version + 1 });

  for (const bad of [
    { sku: 'bad sku!', name: 'x', price: 1, category: b.slug },
    { sku: 'OK-1', name: 'x', price: -1, category: b.slug },
    { sku: 'OK-1', name: 'x', price: 1.5, category: b.slug },
    { sku: 'OK-1', name: 'x', price: 1, category: b.slug, currency: 'euro' },
    { sku: 'OK-1', name: 'x', price: 1, category: b.slug, images: ['not a url'] },
    { sku: 'OK-1', name: 'x', price: 1, category: b.slug, attributes: { 'bad key': 1 } },
    { sku: 'OK-1', name: '', price: 1, category: b.slug },
  ]) {
    failed(t, await call(warehouse, 'catalog:upsertProduct', bad), 'VALIDATION', JSON.stringify(bad));
  }
  failed(t, await call(warehouse, 'catalog:upsertCategory', { slug: 'Not A Slug', name: 'x' }), 'VALIDATION');
});

test.serial('a price change reaches an open cart at checkout: the cart is re-priced and pushed, and checking out again pays the new price', async (t) => {
  const kitchen = await category('Pantry');
  const p = await product({ name: 'Olive Oil', price: 1200, category: kitchen.slug });
  await ok(warehouse, 'stock:restock', { productId: p.id, quantity: 10 });
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: p.id, quantity: 2 });
  await ok(store, 'subscribe', { topic: `cart:${cart.id}` });

  await ok(warehouse, 'catalog:upsertProduct', { sku: p.sku, name: 'Olive Oil', price: 1500, category: kitchen.slug });
  const kept = (await ok<{ cart: CartView }>(store, 'cart:get', { cartId: cart.id })).cart;
  t.is(kept.items[0]?.unitPrice, 1200, 'lines keep the price they were added at until checkout');

  const repricedPush = nextEvent<CartView>(store, 'cart:updated', (view) => view.id === cart.id && view.items[0]?.unitPrice === 1500);
  const refused = failed(t, await call(store, 'cart:checkout', { cartId: cart.id, requestId: 'co-price-1' }), 'CONFLICT');
  t.like(refused.details, { reason: 'PRICES_CHANGED', changes: [{ productId: p.id, was: 1200, now: 1500 }] });
  const pushed = await repricedPush;
  t.is(pushed.total, 3000);
  t.is(pushed.state, 'active');

  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: 'co-price-1' });
  t.is(order.total, 3000, 'checked out at the prices the customer was shown');
  const paid = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-price-1', payment: TEST_CARD });
  t.is(paid.order.payment?.amount, 3000);
});

test.serial('an archived product cannot be added to a cart, a cart holding it cannot check out, and an order holding it keeps its line', async (t) => {
  const shelf = await category('Shelf');
  const kept = await product({ name: 'Kept Thing', category: shelf.slug });
  const gone = await product({ name: 'Gone Thing', category: shelf.slug });
  for (const p of [kept, gone]) await ok(warehouse, 'stock:restock', { productId: p.id, quantity: 5 });
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);

  const first = (await ok<{ cart: CartView }>(store, 'cart:create', {})).cart;
  await ok(store, 'cart:addItem', { cartId: first.id, productId: gone.id, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: first.id, requestId: 'co-arch-1' });

  const second = (await ok<{ cart: CartView }>(store, 'cart:create', {})).cart;
  await ok(store, 'cart:addItem', { cartId: second.id, productId: kept.id, quantity: 1 });
  await ok(store, 'cart:addItem', { cartId: second.id, productId: gone.id, quantity: 1 });
  await ok(warehouse, 'catalog:archiveProduct', { productId: gone.id });

  const add = failed(t, await call(store, 'cart:addItem', { cartId: second.id, productId: gone.id, quantity: 1 }), 'NOT_FOUND');
  t.like(add.details, { productId: gone.id, reason: 'ARCHIVED' });
  const checkout = failed(t, await call(store, 'cart:checkout', { cartId: second.id, requestId: 'co-arch-2' }), 'NOT_FOUND');
  t.like(checkout.details, { productId: gone.id, reason: 'ARCHIVED' });
  await ok(store, 'cart:removeItem', { cartId: second.id, productId: gone.id });
  await ok(store, 'cart:checkout', { cartId: second.id, requestId: 'co-arch-2' });

  const old = (await ok<{ order: OrderView }>(store, 'order:get', { orderId: order.id })).order;
  t.deepEqual(
    old.items.map((line) => [line.productId, line.name]),
    [[gone.id, 'Gone Thing']],
  );
  await ok(store, 'order:pay', { orderId: order.id, requestId: 'pay-arch-1', payment: TEST_CARD });
});
