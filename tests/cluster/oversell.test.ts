// 200 concurrent checkouts over two real nodes for a product with 10 units: exactly 10 orders, the rest
// OUT_OF_STOCK, and the inventory invariant intact in PostgreSQL.
import test from '../helpers/cluster-test.ts';
import type { Socket } from 'socket.io-client';
import { ok } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, emitAck, guestTokens, mapLimit } from '../helpers/cluster.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  [a, b] = await lab.cluster(2);
});

test('200 concurrent checkouts split over two nodes for 10 units make exactly 10 orders', async (t) => {
  const units = 10;
  const perNode = 100;
  const productId = await lab.insertProduct(units, 2500);

  // 100 guests on each node, each with its own cart holding one unit.
  const tokens = await guestTokens(a.url, perNode * 2);
  const shoppers = await mapLimit(tokens, 20, async (token, i) => {
    const socket: Socket = await lab.store(i % 2 === 0 ? a : b, token);
    const { cart } = await ok(socket, 'cart:create', {});
    await ok(socket, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
    return { socket, cartId: cart.id as string, node: i % 2 === 0 ? 'A' : 'B' };
  });
  t.is((await lab.stock(productId)).reserved, 0);

  // All 200 at once.
  const acks = await Promise.all(shoppers.map(({ socket, cartId }, i) => emitAck(socket, 'cart:checkout', { cartId, requestId: `race-${i}` }, 60_000)));

  const codes = new Map<string, number>();
  for (const ack of acks) {
    const code = ack === undefined ? 'NO_ACK' : ack.ok ? 'OK' : ack.error.code;
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  t.deepEqual(Object.fromEntries(codes), { OK: units, OUT_OF_STOCK: perNode * 2 - units });
  // Both nodes took part in the race, and the winners' orders are distinct.
  const winners = shoppers.filter((_, i) => acks[i]?.ok);
  const orderIds = new Set(acks.filter((ack) => ack?.ok).map((ack) => (ack as { data: { order: { id: string } } }).data.order.id));
  t.is(orderIds.size, units);
  t.log(`winners: ${winners.filter((w) => w.node === 'A').length} via A, ${winners.filter((w) => w.node === 'B').length} via B`);

  // What PostgreSQL holds.
  t.is(await lab.count(`select count(*) as n from actors where kind = 'order'`), units);
  t.is(await lab.count(`select count(*) as n from reservations where product_id = $1 and status = 'active'`, [productId]), units);
  const stock = await lab.stock(productId);
  t.deepEqual(stock, { onHand: units, reserved: units, activeReserved: units });
  t.deepEqual(await lab.invariantProblems(), []);
  // Every loser's cart is active again, with the reason, and holds no order.
  const losers = shoppers.filter((_, i) => !acks[i]?.ok);
  const loserCarts = await lab.pg.query<{ state: string; snapshot: string }>(`select state, snapshot from actors where id = any($1)`, [
    losers.map((l) => l.cartId),
  ]);
  t.is(loserCarts.rows.length, losers.length);
  for (const row of loserCarts.rows) {
    t.is(row.state, 'active');
    t.regex(String((JSON.parse(row.snapshot) as { context: { lastCheckoutError: unknown } }).context.lastCheckoutError), /OUT_OF_STOCK/);
  }
  // Every winner's cart points at its one order.
  const winnerCarts = await lab.pg.query<{ state: string; snapshot: string }>(`select state, snapshot from actors where id = any($1)`, [
    winners.map((w) => w.cartId),
  ]);
  for (const row of winnerCarts.rows) {
    t.is(row.state, 'checkedOut');
    t.true(orderIds.has((JSON.parse(row.snapshot) as { context: { checkout: { orderId: string } } }).context.checkout.orderId));
  }
});
