// The catalog cache across two nodes: node A caches a product while node B changes its price and sells its stock.
// A's cache cannot hear B, yet a checkout on A never locks the old price nor reserves the stock B sold.
import test from '../helpers/cluster-test.ts';
import { guestToken, ok } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, emitAck } from '../helpers/cluster.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  // A long cache life: whatever A read stays in its memory for the whole test, unless A itself changes it.
  [a, b] = await lab.cluster(2, { CATALOG_CACHE_MS: '60000' });
});

type Cart = { id: string; items: Array<{ productId: string; unitPrice: number; quantity: number }> };

test('a price changed and stock sold on node B are never locked nor reserved by a checkout on node A', async (t) => {
  const productId = await lab.insertProduct(3, 1000);
  const [row] = (await lab.pg.query<{ sku: string }>('select sku from products where id = $1', [productId])).rows;
  const onA = await lab.store(a, await guestToken(a.url));
  const { cart } = await ok<{ cart: Cart }>(onA, 'cart:create', {});
  await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });

  // Staff on B raise the price; a customer on B buys every unit.
  const staffOnB = await lab.warehouse(b, await lab.staffToken(b.url));
  await ok(staffOnB, 'catalog:upsertProduct', { sku: row!.sku, name: 'Cluster cached', price: 1400, category: 'cluster' });
  const onB = await lab.store(b, await guestToken(b.url));
  const other = (await ok<{ cart: Cart }>(onB, 'cart:create', {})).cart;
  await ok(onB, 'cart:addItem', { cartId: other.id, productId, quantity: 3 });
  await ok(onB, 'cart:checkout', { cartId: other.id, requestId: `b-${other.id}` });

  // A's checkout judges both against the database: first the price (re-priced, refused), then the stock.
  const first = await emitAck(onA, 'cart:checkout', { cartId: cart.id, requestId: `a-${cart.id}` });
  t.false(first?.ok);
  const error = (first as { ok: false; error: { code: string; details?: { reason?: string } } }).error;
  t.true(
    (error.code === 'CONFLICT' && error.details?.reason === 'PRICES_CHANGED') || error.code === 'OUT_OF_STOCK',
    `refused for the price or the stock: ${JSON.stringify(error)}`,
  );
  const again = await emitAck(onA, 'cart:checkout', { cartId: cart.id, requestId: `a-${cart.id}` });
  t.is((again as { ok: false; error: { code: string } } | undefined)?.error?.code, 'OUT_OF_STOCK', 'the stock B sold is not there to reserve');
  const repriced = (await ok<{ cart: Cart }>(onA, 'cart:get', { cartId: cart.id })).cart;
  t.is(repriced.items[0]?.unitPrice, 1400, 'the line carries the price B set');

  t.deepEqual(await lab.stock(productId), { onHand: 3, reserved: 3, activeReserved: 3 }, "only B's order holds the units");
  t.deepEqual(await lab.invariantProblems(), []);
});
