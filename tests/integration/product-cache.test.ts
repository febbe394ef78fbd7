// The catalog cache on the hot path (CATALOG_CACHE_MS): adding to a cart reads products from memory, but a cached
// value never lets a checkout reserve stock that is not there, nor lock a price changed before the checkout began —
// not even when the change was made where this node could not hear of it (another node, a tool writing the
// database). This node's own price and stock changes reach the cache at once; others' within CATALOG_CACHE_MS.
import test, { type ExecutionContext } from 'ava';
import type { Socket } from 'socket.io-client';
import type { CartView, OrderView, ProductView } from '../../src/protocol/index.ts';
import { failed } from '../helpers/acks.ts';
import { call, connect, eventually, ok, registerCustomer, socketForTest, staffToken, startApp, type TestApp } from '../helpers/app.ts';

let app: TestApp;
let warehouse: Socket;
let skus = 0;

test.before(async () => {
  // Long enough that nothing in a test outlives it: whatever the cache holds stays there unless this node changes it.
  app = await startApp({ config: { catalogCacheMs: 60_000 } });
  warehouse = await connect(app.url, '/warehouse', await staffToken(app.app));
});

test.after.always(async () => {
  warehouse?.close();
  await app?.stop();
});

async function product(price: number, stock: number): Promise<ProductView> {
  const category = `cache-${process.pid}`;
  await ok(warehouse, 'catalog:upsertCategory', { slug: category, name: 'Cache' });
  const { product } = await ok<{ product: ProductView }>(warehouse, 'catalog:upsertProduct', {
    sku: `CACHE-${process.pid}-${++skus}`,
    name: `Cached thing ${skus}`,
    price,
    category,
  });
  if (stock > 0) await ok(warehouse, 'stock:restock', { productId: product.id, quantity: stock });
  return product;
}

async function shopper(t: ExecutionContext): Promise<{ store: Socket; cart: CartView }> {
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  return { store, cart };
}

/** A write this node cannot hear of, as another node or a tool would make it. */
const behindItsBack = (productId: string, columns: Record<string, number>) => app.app.db.knex('products').where({ id: productId }).update(columns);

test.serial('a price changed elsewhere after the cache was filled is never locked: checkout re-prices from the database', async (t) => {
  const p = await product(1000, 10);
  const { store, cart } = await shopper(t);
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: p.id, quantity: 1 });

  await behindItsBack(p.id, { price: 1300 });
  // Within CATALOG_CACHE_MS an add may still be priced from memory (the documented bound for changes made elsewhere)…
  const added = (await ok<{ cart: CartView }>(store, 'cart:addItem', { cartId: cart.id, productId: p.id, quantity: 1 })).cart;
  t.is(added.items[0]?.unitPrice, 1000, 'the cached price, within the bound');
  // …but the checkout reads the database: the old price is refused and the cart re-priced.
  const refused = failed(t, await call(store, 'cart:checkout', { cartId: cart.id, requestId: `price-${cart.id}` }), 'CONFLICT');
  t.like(refused.details, { reason: 'PRICES_CHANGED', changes: [{ productId: p.id, was: 1000, now: 1300 }] });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `price-${cart.id}` });
  t.is(order.total, 2 * 1300, 'the order holds the price of the database, not of the cache');
});

test.serial('stock taken elsewhere after the cache was filled is never reserved: checkout is refused and nothing oversells', async (t) => {
  const p = await product(500, 3);
  const { store, cart } = await shopper(t);
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: p.id, quantity: 1 });

  // Another node sold all three units.
  await behindItsBack(p.id, { on_hand: 0, reserved: 0 });
  // The cache still believes in 3 units, so the add may pass; the reservation is the judge.
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: p.id, quantity: 1 });
  const refused = failed(t, await call(store, 'cart:checkout', { cartId: cart.id, requestId: `stock-${cart.id}` }), 'OUT_OF_STOCK');
  t.like(refused.details, { productId: p.id });
  const row = (await app.app.db.knex('products').where({ id: p.id }).first('on_hand', 'reserved')) as { on_hand: number; reserved: number };
  t.deepEqual([Number(row.on_hand), Number(row.reserved)], [0, 0], 'nothing was reserved');
  const after = (await ok<{ cart: CartView }>(store, 'cart:get', { cartId: cart.id })).cart;
  t.is(after.state, 'active', 'no order was made');
});

test.serial("this node's own changes reach the cache at once: a new price, stock another checkout took, a restock", async (t) => {
  const p = await product(800, 2);
  const first = await shopper(t);
  await ok(first.store, 'cart:addItem', { cartId: first.cart.id, productId: p.id, quantity: 1 });

  // A price change through the catalog: the next add is priced anew, long before CATALOG_CACHE_MS.
  await ok(warehouse, 'catalog:upsertProduct', { sku: p.sku, name: p.name, price: 900, category: `cache-${process.pid}` });
  const repriced = (await ok<{ cart: CartView }>(first.store, 'cart:setQuantity', { cartId: first.cart.id, productId: p.id, quantity: 1 })).cart;
  t.is(repriced.items[0]?.unitPrice, 900);

  // Another customer checks out both units here: the stock change patches the cache, so the first cart's add is refused.
  const second = await shopper(t);
  await ok(second.store, 'cart:addItem', { cartId: second.cart.id, productId: p.id, quantity: 2 });
  await ok(second.store, 'cart:checkout', { cartId: second.cart.id, requestId: `take-${second.cart.id}` });
  const refused = failed(t, await call(first.store, 'cart:addItem', { cartId: first.cart.id, productId: p.id, quantity: 1 }), 'OUT_OF_STOCK');
  t.like(refused.details, { productId: p.id, available: 0 });

  await ok(warehouse, 'stock:restock', { productId: p.id, quantity: 5 });
  const added = (await ok<{ cart: CartView }>(first.store, 'cart:addItem', { cartId: first.cart.id, productId: p.id, quantity: 1 })).cart;
  t.is(added.items[0]?.quantity, 2);
});

test.serial('changes made elsewhere are seen within CATALOG_CACHE_MS', async (t) => {
  const short = await startApp({ config: { catalogCacheMs: 150 } });
  t.teardown(() => short.stop());
  const staff = await connect(short.url, '/warehouse', await staffToken(short.app));
  t.teardown(() => staff.close());
  await ok(staff, 'catalog:upsertCategory', { slug: 'short', name: 'Short' });
  const { product: p } = await ok<{ product: ProductView }>(staff, 'catalog:upsertProduct', {
    sku: 'SHORT-1',
    name: 'Short-lived',
    price: 100,
    category: 'short',
  });
  await ok(staff, 'stock:restock', { productId: p.id, quantity: 5 });
  const customer = await registerCustomer(short.url);
  const store = await socketForTest(t, short.url, '/store', customer.token);
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: p.id, quantity: 1 });

  await short.app.db.knex('products').where({ id: p.id }).update({ price: 175 });
  const started = Date.now();
  await eventually(
    async () => (await ok<{ cart: CartView }>(store, 'cart:setQuantity', { cartId: cart.id, productId: p.id, quantity: 1 })).cart.items[0]?.unitPrice === 175,
    'the new price is used for the line',
    5_000,
    25,
  );
  t.log(`seen after ${Date.now() - started} ms`);
  t.pass();
});
