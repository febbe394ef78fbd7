// The catalog over REST: GET /api/products filters on stock, inStock=false (or 0) listing exactly the sold-out products,
// those whose stock is all reserved included, and inStock=true the others.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { CartView, OrderView } from '../../src/protocol/index.ts';
import { appForTest, createProduct, getJson, ok, registerCustomer, socketForTest } from '../helpers/app.ts';

type Cart = { cart: CartView };
type Order = { order: OrderView };

async function cartWith(socket: Socket, productId: string, quantity: number): Promise<CartView> {
  const { cart } = await ok<Cart>(socket, 'cart:create', {});
  return (await ok<Cart>(socket, 'cart:addItem', { cartId: cart.id, productId, quantity })).cart;
}

test.serial('GET /api/products?inStock=false returns only sold-out products', async (t) => {
  const { app, url } = await appForTest(t);
  const plenty = await createProduct(app, { onHand: 5, name: 'Plenty Widget' });
  const none = await createProduct(app, { onHand: 0, name: 'Never Stocked Widget' });
  const reservedAway = await createProduct(app, { onHand: 1, name: 'Reserved Widget' });
  const socket = await socketForTest(t, url, '/store', (await registerCustomer(url)).token);
  const cart = await cartWith(socket, reservedAway.id, 1);
  await ok<Order>(socket, 'cart:checkout', { cartId: cart.id, requestId: 'co-stock' });

  type Page = { items: Array<{ id: string; available: number }>; total: number };
  const soldOut = await getJson<Page>(`${url}/api/products?inStock=false&pageSize=100`);
  t.is(soldOut.status, 200);
  const ids = soldOut.body.items.map((p) => p.id);
  t.true(ids.includes(none.id));
  t.true(ids.includes(reservedAway.id), 'a product whose stock is all reserved is sold out');
  t.false(ids.includes(plenty.id));
  t.true(soldOut.body.items.every((p) => p.available <= 0));
  t.is(soldOut.body.total, soldOut.body.items.length);

  const zero = await getJson<Page>(`${url}/api/products?inStock=0&pageSize=100`);
  t.deepEqual(zero.body.items.map((p) => p.id).sort(), [...ids].sort());

  const inStock = await getJson<Page>(`${url}/api/products?inStock=true&pageSize=100`);
  const inIds = inStock.body.items.map((p) => p.id);
  t.true(inIds.includes(plenty.id));
  t.false(inIds.includes(none.id));
  t.false(inIds.includes(reservedAway.id));
});
