// Never oversell: hundreds of real clients racing for the last units, all-or-none reservations, and cancel/expiry races.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { Ack, CartView, OrderView } from '../../src/protocol/index.ts';
import type { App } from '../../src/app.ts';
import { call, connect, createProduct, guestToken, inventoryInvariant, ok, startApp, type TestApp } from '../helpers/app.ts';

type CheckoutAck = Ack<{ order: OrderView }>;

const ACK_TIMEOUT_MS = 60_000;

/** Runs `work` over `items` in batches of `size`, so a 2-core machine is not flooded with handshakes. */
async function inBatches<T, R>(items: readonly T[], size: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += size) {
    results.push(...(await Promise.all(items.slice(start, start + size).map((item, i) => work(item, start + i)))));
  }
  return results;
}

interface Client {
  readonly socket: Socket;
  readonly cartId: string;
}

/** `count` guests, each with its own token, its own socket and one cart. */
async function guestClients(t: { teardown(fn: () => void): void }, url: string, count: number): Promise<Client[]> {
  const clients = await inBatches(
    Array.from({ length: count }, (_, i) => i),
    25,
    async () => {
      const token = await guestToken(url);
      const socket = await connect(url, '/store', token);
      t.teardown(() => {
        socket.close();
      });
      const { cart } = await ok<{ cart: CartView }>(socket, 'cart:create', {});
      return { socket, cartId: cart.id };
    },
  );
  return clients;
}

async function addItem(client: Client, productId: string, quantity: number): Promise<CartView> {
  return (await ok<{ cart: CartView }>(client.socket, 'cart:addItem', { cartId: client.cartId, productId, quantity })).cart;
}

function checkout(client: Client, requestId: string): Promise<CheckoutAck> {
  return call<{ order: OrderView }>(client.socket, 'cart:checkout', { cartId: client.cartId, requestId }, ACK_TIMEOUT_MS);
}

async function level(app: App, productId: string): Promise<{ onHand: number; reserved: number; available: number }> {
  const stock = await app.services.inventory.level(productId);
  if (!stock) throw new Error(`no product ${productId}`);
  return { onHand: stock.onHand, reserved: stock.reserved, available: stock.available };
}

async function activeReservations(app: App, productId?: string): Promise<Array<{ order_id: string; product_id: string; quantity: number }>> {
  const query = app.db.knex('reservations').select('order_id', 'product_id', 'quantity').where({ status: 'active' });
  if (productId) query.andWhere({ product_id: productId });
  return query;
}

async function started(t: { teardown(fn: () => Promise<void>): void }, options: Parameters<typeof startApp>[0] = {}): Promise<TestApp> {
  const app = await startApp(options);
  t.teardown(() => app.stop());
  return app;
}

test.serial('200 clients race for 10 units: exactly 10 orders, 190 OUT_OF_STOCK, nothing oversold', async (t) => {
  const { app, url } = await started(t);
  const product = await createProduct(app, { onHand: 10 });
  const clients = await guestClients(t, url, 200);
  t.is(new Set(clients.map((c) => c.cartId)).size, 200);
  await inBatches(clients, 50, (client) => addItem(client, product.id, 1));

  const acks = await Promise.all(clients.map((client, i) => checkout(client, `race-${i}`)));

  const orders = acks.flatMap((ack) => (ack.ok ? [ack.data.order] : []));
  const failures = acks.flatMap((ack) => (ack.ok ? [] : [ack.error]));
  t.is(orders.length, 10);
  t.is(failures.length, 190);
  t.true(
    failures.every((error) => error.code === 'OUT_OF_STOCK'),
    JSON.stringify(failures.find((error) => error.code !== 'OUT_OF_STOCK')),
  );
  t.is(new Set(orders.map((order) => order.id)).size, 10);
  t.true(orders.every((order) => order.state === 'awaitingPayment' && order.items.length === 1 && order.items[0]!.quantity === 1));

  t.deepEqual(await level(app, product.id), { onHand: 10, reserved: 10, available: 0 });
  const reservations = await activeReservations(app, product.id);
  t.is(reservations.length, 10);
  t.deepEqual(reservations.map((r) => r.order_id).sort(), orders.map((order) => order.id).sort());
  const invariant = await inventoryInvariant(app);
  t.true(invariant.ok, invariant.problems.join('\n'));
  const orderRows = await app.db.knex('actors').where({ kind: 'order' }).count({ n: '*' }).first();
  t.is(Number(orderRows?.n), 10);

  // The losers' carts are open again, with the reason, and hold nothing.
  const failedClients = clients.filter((_, i) => !acks[i]!.ok);
  const carts = await inBatches(failedClients, 50, async (client) => (await ok<{ cart: CartView }>(client.socket, 'cart:get', { cartId: client.cartId })).cart);
  t.true(
    carts.every((cart) => cart.state === 'active'),
    JSON.stringify(carts.map((cart) => cart.state)),
  );
  t.true(carts.every((cart) => typeof cart.lastCheckoutError === 'string' && cart.lastCheckoutError.startsWith('OUT_OF_STOCK')));
  t.true(carts.every((cart) => cart.orderId === null && cart.items.length === 1));
  // The winners' carts are checked out and point at their order.
  const winners = clients.filter((_, i) => acks[i]!.ok);
  for (const [i, client] of winners.entries()) {
    const { cart } = await ok<{ cart: CartView }>(client.socket, 'cart:get', { cartId: client.cartId });
    t.is(cart.state, 'checkedOut');
    t.is(cart.orderId, orders[i]!.id);
  }
});

test.serial('a cart wanting more than is left gets OUT_OF_STOCK and reserves nothing', async (t) => {
  const { app, url } = await started(t);
  const product = await createProduct(app, { onHand: 10 });
  const [greedy, big] = await guestClients(t, url, 2);
  await addItem(greedy!, product.id, 3);
  await addItem(big!, product.id, 8);
  const bigAck = await checkout(big!, 'big-1');
  t.true(bigAck.ok);
  t.deepEqual(await level(app, product.id), { onHand: 10, reserved: 8, available: 2 });

  const ack = await checkout(greedy!, 'greedy-1');
  t.false(ack.ok);
  if (!ack.ok) {
    t.is(ack.error.code, 'OUT_OF_STOCK');
    t.like(ack.error.details as object, { productId: product.id, requested: 3, available: 2 });
  }
  t.deepEqual(await level(app, product.id), { onHand: 10, reserved: 8, available: 2 });
  t.is((await activeReservations(app, product.id)).length, 1);
  const { cart } = await ok<{ cart: CartView }>(greedy!.socket, 'cart:get', { cartId: greedy!.cartId });
  t.is(cart.state, 'active');
  t.is(cart.items[0]!.quantity, 3);
  t.regex(cart.lastCheckoutError ?? '', /^OUT_OF_STOCK/);

  // Lines of one product merge into one line: adding again raises the quantity, never a second line.
  const merged = await addItem(greedy!, product.id, 1).catch((error: Error) => error);
  t.true(merged instanceof Error, 'only 2 are available, so 3 + 1 is refused at add time');
  const lower = (await ok<{ cart: CartView }>(greedy!.socket, 'cart:setQuantity', { cartId: greedy!.cartId, productId: product.id, quantity: 1 })).cart;
  const again = await addItem(greedy!, product.id, 1);
  t.is(lower.items.length, 1);
  t.is(again.items.length, 1);
  t.is(again.items[0]!.quantity, 2);
  // Now it fits: the retry (a new request) takes exactly the last 2.
  const retry = await checkout(greedy!, 'greedy-2');
  t.true(retry.ok, JSON.stringify(retry));
  t.deepEqual(await level(app, product.id), { onHand: 10, reserved: 10, available: 0 });
  const invariant = await inventoryInvariant(app);
  t.true(invariant.ok, invariant.problems.join('\n'));
});

test.serial('all lines or none: plenty of A and too little of B reserves neither', async (t) => {
  const { app, url } = await started(t);
  // The product whose id sorts first is reserved first inside the transaction; make it the plentiful one,
  // so a failure on the second really has to roll the first back.
  const [first, second] = [await createProduct(app, { onHand: 10 }), await createProduct(app, { onHand: 10 })].sort((a, b) => (a.id < b.id ? -1 : 1));
  const plenty = first!;
  const scarce = second!;
  await app.services.inventory.restock(plenty.id, 90);
  const [mixed, taker] = await guestClients(t, url, 2);
  await addItem(mixed!, scarce.id, 2);
  await addItem(mixed!, plenty.id, 5);
  await addItem(taker!, scarce.id, 9);
  t.true((await checkout(taker!, 'taker-1')).ok);
  const before = await level(app, plenty.id);
  t.deepEqual(before, { onHand: 100, reserved: 0, available: 100 });

  const ack = await checkout(mixed!, 'mixed-1');
  t.false(ack.ok);
  if (!ack.ok) {
    t.is(ack.error.code, 'OUT_OF_STOCK');
    t.like(ack.error.details as object, { productId: scarce.id, requested: 2, available: 1 });
  }
  t.deepEqual(await level(app, plenty.id), before, 'A was not reserved');
  t.deepEqual(await level(app, scarce.id), { onHand: 10, reserved: 9, available: 1 });
  t.is((await activeReservations(app, plenty.id)).length, 0);
  t.is((await activeReservations(app)).length, 1);
  const orders = await app.db.knex('actors').where({ kind: 'order' }).count({ n: '*' }).first();
  t.is(Number(orders?.n), 1);
  const invariant = await inventoryInvariant(app);
  t.true(invariant.ok, invariant.problems.join('\n'));
});

test.serial('crossing carts over two products keep the invariant and reserve whole carts only', async (t) => {
  const { app, url } = await started(t);
  const a = await createProduct(app, { onHand: 10 });
  const b = await createProduct(app, { onHand: 10 });
  const clients = await guestClients(t, url, 60);
  // A third want A only, a third B only, a third both (added in both orders).
  const wants = clients.map((_, i) => {
    const shape = i % 3;
    if (shape === 0) return [[a.id, 1 + (i % 2)]] as Array<[string, number]>;
    if (shape === 1) return [[b.id, 1 + (i % 2)]] as Array<[string, number]>;
    return (
      i % 2 === 0
        ? [
            [a.id, 1],
            [b.id, 2],
          ]
        : [
            [b.id, 1],
            [a.id, 2],
          ]
    ) as Array<[string, number]>;
  });
  await inBatches(clients, 30, async (client, i) => {
    for (const [productId, quantity] of wants[i]!) await addItem(client, productId, quantity);
  });

  const acks = await Promise.all(clients.map((client, i) => checkout(client, `cross-${i}`)));
  const failures = acks.flatMap((ack) => (ack.ok ? [] : [ack.error.code]));
  t.true(
    failures.every((code) => code === 'OUT_OF_STOCK'),
    failures.join(','),
  );
  const winners = acks.flatMap((ack) => (ack.ok ? [ack.data.order] : []));
  t.true(winners.length > 0);

  // Stock reserved is exactly what the winning orders hold, line by line.
  const wanted = (productId: string) =>
    winners.reduce((sum, order) => sum + order.items.filter((line) => line.productId === productId).reduce((n, line) => n + line.quantity, 0), 0);
  const levelA = await level(app, a.id);
  const levelB = await level(app, b.id);
  t.is(levelA.reserved, wanted(a.id));
  t.is(levelB.reserved, wanted(b.id));
  t.true(levelA.reserved <= 10 && levelB.reserved <= 10);
  // With this many buyers every unit that can be sold is: what is left is too little for any loser.
  const reservations = await activeReservations(app);
  const byOrder = new Map<string, number>();
  for (const row of reservations) byOrder.set(row.order_id, (byOrder.get(row.order_id) ?? 0) + 1);
  t.is(byOrder.size, winners.length);
  for (const order of winners) t.is(byOrder.get(order.id), order.items.length, `order ${order.id} has every line reserved`);
  for (const [i, ack] of acks.entries()) {
    if (ack.ok) continue;
    const fits = wants[i]!.every(([productId, quantity]) => quantity <= (productId === a.id ? levelA.available : levelB.available));
    t.false(fits, `cart ${i} lost although its lines fit what is left`);
  }
  const invariant = await inventoryInvariant(app);
  t.true(invariant.ok, invariant.problems.join('\n'));
});

test.serial('cancel and expiry racing fresh checkouts never let more than 10 orders hold stock', async (t) => {
  let offset = 0;
  const clock = () => Date.now() + offset;
  const { app, url } = await started(t, { app: { clock } });
  const product = await createProduct(app, { onHand: 10 });
  const clients = await guestClients(t, url, 30);
  await inBatches(clients, 30, (client) => addItem(client, product.id, 1));

  const first = await Promise.all(clients.map((client, i) => checkout(client, `first-${i}`)));
  const winners = clients.flatMap((client, i) => (first[i]!.ok ? [{ client, order: (first[i] as { data: { order: OrderView } }).data.order }] : []));
  const losers = clients.filter((_, i) => !first[i]!.ok);
  t.is(winners.length, 10);
  t.is(losers.length, 20);
  t.deepEqual(await level(app, product.id), { onHand: 10, reserved: 10, available: 0 });

  // Watch the database for the whole race: never more than 10 units or 10 orders holding stock.
  let racing = true;
  let maxHolding = 0;
  let maxReserved = 0;
  let samples = 0;
  const watcher = (async () => {
    while (racing) {
      const [holding, stock] = await Promise.all([
        app.db.knex('reservations').where({ status: 'active', product_id: product.id }).countDistinct({ n: 'order_id' }).first(),
        level(app, product.id),
      ]);
      maxHolding = Math.max(maxHolding, Number(holding?.n ?? 0));
      maxReserved = Math.max(maxReserved, stock.reserved);
      samples++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();

  // Five winners cancel while the other five pass their payment deadline and the sweep expires them,
  // and the 20 losers try again at the same moment.
  offset = app.config.paymentWindowMs + 1_000;
  const toCancel = winners.slice(0, 5);
  const [cancels, , retries] = await Promise.all([
    Promise.all(toCancel.map(({ client, order }) => call<{ order: OrderView }>(client.socket, 'order:cancel', { orderId: order.id }, ACK_TIMEOUT_MS))),
    app.runtime.sweepDeadlines(),
    Promise.all(losers.map((client, i) => checkout(client, `second-${i}`))),
  ]);
  // Let the releases the cancels and expiries caused land, then the stock they free can be taken by more retries.
  await app.relay.drain();
  const third = await Promise.all(losers.map((client, i) => (retries[i]!.ok ? Promise.resolve(retries[i]!) : checkout(client, `third-${i}`))));
  await app.relay.drain();
  racing = false;
  await watcher;

  for (const ack of cancels) t.true(ack.ok || ack.error.code === 'INVALID_TRANSITION', JSON.stringify(ack));
  for (const ack of [...retries, ...third]) t.true(ack.ok || ack.error.code === 'OUT_OF_STOCK', JSON.stringify(ack));
  t.true(samples > 0);
  t.true(maxHolding <= 10, `at one point ${maxHolding} orders held stock`);
  t.true(maxReserved <= 10, `at one point ${maxReserved} units were reserved`);

  // All ten first orders are closed (cancelled or expired) and hold nothing.
  for (const [i, { client, order }] of winners.entries()) {
    const { order: now } = await ok<{ order: OrderView }>(client.socket, 'order:get', { orderId: order.id });
    if (i < 5) t.true(now.state === 'cancelled' || now.state === 'expired', `${order.id} is ${now.state}`);
    else t.is(now.state, 'expired', 'nobody cancelled it, so the deadline sweep expired it');
  }
  const firstIds = new Set(winners.map((w) => w.order.id));
  const reservations = await activeReservations(app, product.id);
  t.false(reservations.some((row) => firstIds.has(row.order_id)));
  // Once everything settled, all 10 units went to the retries, no more.
  const newOrders = third.flatMap((ack) => (ack.ok ? [ack.data.order.id] : []));
  t.is(newOrders.length, 10);
  t.deepEqual(reservations.map((row) => row.order_id).sort(), [...newOrders].sort());
  t.deepEqual(await level(app, product.id), { onHand: 10, reserved: 10, available: 0 });
  const invariant = await inventoryInvariant(app);
  t.true(invariant.ok, invariant.problems.join('\n'));
});
