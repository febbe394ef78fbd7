// Crash: the real server in a child process, killed with SIGKILL while clients are sending commands, then started
// again on the same data folder. Every acknowledged command must be there; nothing is duplicated or oversold.
import test, { type ExecutionContext } from 'ava';
import knexFactory, { type Knex } from 'knex';
import path from 'node:path';
import type { Socket } from 'socket.io-client';
import type { Ack, CartView, OrderView, ProductView } from '../../src/protocol/index.ts';
import { call, connect, getJson, guestToken, ok, tempDir, TEST_CARD } from '../helpers/app.ts';
import { spawnServer, type ServerChild } from '../helpers/child.ts';

// ---------------------------------------------------------------- harness

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A data folder, the children started on it and the sockets opened to them; all cleaned up in teardown. */
function crashLab(t: ExecutionContext) {
  const temp = tempDir('emporium-crash-');
  const children: ServerChild[] = [];
  const sockets = new Set<Socket>();
  t.teardown(async () => {
    for (const socket of sockets) socket.close();
    for (const child of children) {
      child.kill('SIGKILL');
      await child.exited;
    }
    temp.cleanup();
  });
  return {
    dataDir: temp.dir,
    databaseFile: path.join(temp.dir, 'emporium.sqlite'),
    async spawn(env: Record<string, string> = {}): Promise<ServerChild> {
      const child = await spawnServer(temp.dir, env);
      children.push(child);
      return child;
    },
    async store(child: ServerChild, token: string): Promise<Socket> {
      const socket = await connect(child.url, '/store', token);
      sockets.add(socket);
      return socket;
    },
  };
}

/**
 * Emits a command and calls `onAck` synchronously when its ack arrives
 * (`undefined` when the connection went away first). The returned promise
 * settles at the same time, for waiting on a whole burst.
 */
function emitRaw<T>(socket: Socket, event: string, payload: unknown, onAck: (ack: Ack<T> | undefined) => void, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    socket.timeout(timeoutMs).emit(event, payload, (error: Error | null, ack: Ack<T>) => {
      onAck(error ? undefined : ack);
      resolve();
    });
  });
}

async function listProducts(url: string): Promise<ProductView[]> {
  const { status, body } = await getJson<{ items: ProductView[]; total: number }>(`${url}/api/products?pageSize=100`);
  if (status !== 200) throw new Error(`GET /api/products answered ${status}`);
  if (body.items.length !== body.total) throw new Error(`expected one page of products, got ${body.items.length} of ${body.total}`);
  return body.items;
}

function openSqlite(file: string): Knex {
  return knexFactory({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
}

const quantities = (items: readonly { productId: string; quantity: number }[]) => new Map(items.map((line) => [line.productId, line.quantity]));

/**
 * Database-level checks on a stopped server's SQLite file: the inventory invariant, one order per cart, a gapless
 * journal per actor that ends at the stored version, and an empty outbox.
 */
async function checkStoppedDatabase(t: ExecutionContext, file: string) {
  const knex = openSqlite(file);
  try {
    const products = (await knex('products').select('id', 'sku', 'on_hand', 'reserved')) as Array<{
      id: string;
      sku: string;
      on_hand: number;
      reserved: number;
    }>;
    const active = (await knex('reservations').where({ status: 'active' }).select('product_id').sum({ total: 'quantity' }).groupBy('product_id')) as Array<{
      product_id: string;
      total: number;
    }>;
    const activeByProduct = new Map(active.map((row) => [row.product_id, Number(row.total)]));
    const stockProblems = products.flatMap((p) => {
      const sum = activeByProduct.get(p.id) ?? 0;
      const problems: string[] = [];
      if (p.reserved !== sum) problems.push(`${p.sku}: reserved ${p.reserved} != active reservations ${sum}`);
      if (p.reserved < 0 || p.on_hand < 0 || p.reserved > p.on_hand) problems.push(`${p.sku}: on_hand ${p.on_hand}, reserved ${p.reserved}`);
      return problems;
    });
    t.deepEqual(stockProblems, [], 'reserved == sum(active reservations) <= on_hand for every product');

    const orders = (await knex('actors').where({ kind: 'order' }).select('id', 'state', 'snapshot')) as Array<{ id: string; state: string; snapshot: string }>;
    const ordersPerCart = new Map<string, string[]>();
    for (const order of orders) {
      const cartId = (JSON.parse(order.snapshot) as { context: { cartId: string } }).context.cartId;
      ordersPerCart.set(cartId, [...(ordersPerCart.get(cartId) ?? []), order.id]);
    }
    t.deepEqual(
      [...ordersPerCart].filter(([, ids]) => ids.length > 1),
      [],
      'no cart became two orders',
    );

    const journal = (await knex('actor_journal')
      .select('actor_id')
      .count({ n: '*' })
      .max({ top: 'version' })
      .min({ bottom: 'version' })
      .groupBy('actor_id')) as Array<{
      actor_id: string;
      n: number;
      top: number;
      bottom: number;
    }>;
    const journalOf = new Map(journal.map((row) => [row.actor_id, row]));
    const actors = (await knex('actors').select('id', 'version')) as Array<{ id: string; version: number }>;
    const journalProblems = actors.flatMap((actor) => {
      const entry = journalOf.get(actor.id);
      if (!entry) return [`${actor.id}: no journal`];
      if (Number(entry.n) !== actor.version || Number(entry.top) !== actor.version || Number(entry.bottom) !== 1) {
        return [`${actor.id}: version ${actor.version}, journal ${entry.bottom}..${entry.top} (${entry.n} entries)`];
      }
      return [];
    });
    t.deepEqual(journalProblems, [], 'every actor has a gapless journal up to its stored version');
    t.is(journal.length, actors.length, 'no journal entries without an actor');

    const pending = (await knex('outbox').whereNull('dispatched_at').count({ n: '*' }).first()) as { n: number };
    t.is(Number(pending.n), 0, 'a clean stop leaves no domain event undelivered');
    return { products, orders, activeByProduct, knexReservations: await knex('reservations').select('order_id', 'product_id', 'quantity', 'status') };
  } finally {
    await knex.destroy();
  }
}

// ---------------------------------------------------------------- acknowledged commands survive SIGKILL

interface AckedCart {
  version: number;
  state: string;
  items: Map<string, number>;
  view: CartView;
  orderId?: string;
}

interface AckedOrder {
  version: number;
  state: string;
  view: OrderView;
}

interface Shopper {
  token: string;
  socket: Socket;
  carts: Map<string, AckedCart>;
  orders: Map<string, AckedOrder>;
  openCartId?: string;
  unpaidOrderId?: string;
}

function recordCart(shopper: Shopper, cart: CartView): void {
  const known = shopper.carts.get(cart.id);
  if (known && known.version >= cart.version) return;
  shopper.carts.set(cart.id, { ...known, version: cart.version, state: cart.state, items: quantities(cart.items), view: cart });
}

function recordOrder(shopper: Shopper, order: OrderView): void {
  const known = shopper.orders.get(order.id);
  if (known && known.version >= order.version) return;
  shopper.orders.set(order.id, { version: order.version, state: order.state, view: order });
  const cart = shopper.carts.get(order.cartId);
  if (cart) cart.orderId = order.id;
}

/** Records whatever entity view an ok ack carries. */
function recordAck(shopper: Shopper, ack: Ack<any> | undefined): boolean {
  if (!ack?.ok) return false;
  if (ack.data?.cart) recordCart(shopper, ack.data.cart as CartView);
  if (ack.data?.order) recordOrder(shopper, ack.data.order as OrderView);
  return true;
}

test('every command acknowledged before a SIGKILL is there after the restart, and stock adds up', async (t) => {
  const lab = crashLab(t);
  const first = await lab.spawn();
  const catalog = await listProducts(first.url);
  const stocked = catalog
    .filter((p) => p.available >= 80)
    .sort((x, y) => (x.sku < y.sku ? -1 : 1))
    .slice(0, 4);
  t.is(stocked.length, 4, 'the demo catalog has four products with 80 or more in stock');
  const initial = new Map(stocked.map((p) => [p.id, p.available]));
  const pick = (i: number) => stocked[i % stocked.length]!.id;

  // Twenty shoppers: a cart each with two lines, half check out, a quarter pay, and every one opens a second cart.
  const shoppers: Shopper[] = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const token = await guestToken(first.url);
      const shopper: Shopper = { token, socket: await lab.store(first, token), carts: new Map(), orders: new Map() };
      const send = async (event: string, payload: unknown) => {
        const ack = await call(shopper.socket, event, payload);
        if (!recordAck(shopper, ack)) throw new Error(`${event} failed: ${JSON.stringify(ack)}`);
        return (ack as { data: any }).data;
      };
      const { cart } = await send('cart:create', {});
      await send('cart:addItem', { cartId: cart.id, productId: pick(i), quantity: 1 });
      await send('cart:addItem', { cartId: cart.id, productId: pick(i + 1), quantity: 2 });
      if (i % 2 === 0) {
        const { order } = await send('cart:checkout', { cartId: cart.id, requestId: `checkout-${i}` });
        if (i % 4 === 0) await send('order:pay', { orderId: order.id, requestId: `pay-${i}`, payment: TEST_CARD });
        else shopper.unpaidOrderId = order.id;
      }
      const { cart: open } = await send('cart:create', {});
      await send('cart:addItem', { cartId: open.id, productId: pick(i + 2), quantity: 1 });
      shopper.openCartId = open.id;
      return shopper;
    }),
  );

  // The final burst: every shopper fires more adds (and a pay when it has an unpaid order) without waiting.
  // SIGKILL goes out from inside the ack callback that brings the acked count to half the burst.
  const burst: Array<Promise<void>> = [];
  let burstAcks = 0;
  let burstSize = 0;
  let killedAt = -1;
  const onBurstAck = (shopper: Shopper) => (ack: Ack<any> | undefined) => {
    if (killedAt >= 0 && !ack) return;
    if (ack) {
      recordAck(shopper, ack);
      burstAcks++;
    }
    if (killedAt < 0 && burstAcks >= burstSize / 2) {
      killedAt = burstAcks;
      first.kill('SIGKILL');
    }
  };
  for (const [i, shopper] of shoppers.entries()) {
    for (let n = 0; n < 4; n++) {
      burst.push(emitRaw(shopper.socket, 'cart:addItem', { cartId: shopper.openCartId, productId: pick(i + n), quantity: 1 }, onBurstAck(shopper)));
    }
    if (shopper.unpaidOrderId) {
      burst.push(emitRaw(shopper.socket, 'order:pay', { orderId: shopper.unpaidOrderId, requestId: `pay-late-${i}`, payment: TEST_CARD }, onBurstAck(shopper)));
    }
  }
  burstSize = burst.length;
  await Promise.all(burst);
  const exit = await first.exited;
  t.is(exit.signal, 'SIGKILL', 'the first server was killed, not stopped');
  t.true(killedAt > 0 && killedAt < burstSize, `killed after ${killedAt} of ${burstSize} burst acks`);
  t.log(`killed after ${killedAt} of ${burstSize} burst acks; ${burstAcks} acks arrived in all`);
  for (const shopper of shoppers) shopper.socket.close();

  // Second life on the same folder: every acked cart and order is there, at least as far as it was acked.
  const second = await lab.spawn();
  let checkedCarts = 0;
  let checkedOrders = 0;
  const liveOrders: OrderView[] = [];
  for (const shopper of shoppers) {
    const socket = await lab.store(second, shopper.token);
    for (const [cartId, acked] of shopper.carts) {
      const { cart } = (await ok(socket, 'cart:get', { cartId })) as { cart: CartView };
      t.true(cart.version >= acked.version, `cart ${cartId}: version ${cart.version} >= acked ${acked.version}`);
      if (cart.version === acked.version) t.deepEqual(cart, acked.view, `cart ${cartId} is exactly as acked`);
      const now = quantities(cart.items);
      for (const [productId, quantity] of acked.items) {
        t.true((now.get(productId) ?? 0) >= quantity, `cart ${cartId}: ${productId} ${now.get(productId)} >= acked ${quantity}`);
      }
      if (acked.orderId) {
        t.is(cart.state, 'checkedOut');
        t.is(cart.orderId, acked.orderId);
      }
      checkedCarts++;
    }
    for (const [orderId, acked] of shopper.orders) {
      const { order } = (await ok(socket, 'order:get', { orderId })) as { order: OrderView };
      t.true(order.version >= acked.version, `order ${orderId}: version ${order.version} >= acked ${acked.version}`);
      t.deepEqual(order.items, acked.view.items);
      t.is(order.total, acked.view.total);
      if (acked.state === 'paid' || acked.state === 'fulfilling') {
        // The paid event was committed with the payment; start-up recovery relayed it, so the shipment exists.
        t.is(order.state, 'fulfilling', `paid order ${orderId} went on to fulfilment`);
        t.is(order.payment?.chargeId, acked.view.payment?.chargeId);
        const { shipment } = await ok(socket, 'shipment:get', { shipmentId: order.shipmentId });
        t.is(shipment.orderId, orderId);
      }
      checkedOrders++;
    }
    const { orders } = (await ok(socket, 'orders:list', {})) as { orders: OrderView[] };
    for (const orderId of shopper.orders.keys())
      t.true(
        orders.some((o) => o.id === orderId),
        `orders:list has ${orderId}`,
      );
    liveOrders.push(...orders);
    socket.close();
  }
  t.is(checkedCarts, 40);
  t.is(checkedOrders, 10);

  // Stock via REST: nothing negative, and what is missing is exactly what the open orders hold (nothing shipped yet).
  const afterCatalog = await listProducts(second.url);
  t.deepEqual(
    afterCatalog.filter((p) => p.available < 0).map((p) => p.sku),
    [],
    'available is never negative',
  );
  const held = new Map<string, number>();
  for (const order of liveOrders) {
    if (!['awaitingPayment', 'authorizing', 'paid', 'fulfilling'].includes(order.state)) continue;
    for (const line of order.items) held.set(line.productId, (held.get(line.productId) ?? 0) + line.quantity);
  }
  for (const product of stocked) {
    const now = afterCatalog.find((p) => p.id === product.id)!;
    t.is(now.available, initial.get(product.id)! - (held.get(product.id) ?? 0), `${product.sku}: available = initial - held by open orders`);
  }

  // A clean stop, then the file itself.
  second.kill('SIGTERM');
  t.deepEqual(await second.exited, { code: 0, signal: null }, 'the second server stops cleanly');
  await checkStoppedDatabase(t, lab.databaseFile);
});

// ---------------------------------------------------------------- SIGKILL during a burst of checkouts

test('SIGKILL in the middle of a burst of checkouts: after the restart no cart has two orders and stock is never oversold', async (t) => {
  const lab = crashLab(t);
  const first = await lab.spawn({ SWEEP_INTERVAL_MS: '200' });
  const catalog = await listProducts(first.url);
  const scarce = catalog.find((p) => p.sku === 'OUT-TENT-2');
  const plenty = catalog.find((p) => p.sku === 'COF-FILT-100');
  if (!scarce || !plenty) throw new Error('demo catalog changed: OUT-TENT-2 and COF-FILT-100 expected');
  t.is(scarce.available, 6);

  // Twenty shoppers, each with a cart of one scarce tent and one plentiful pack of filters: at most six can win.
  const shoppers = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const token = await guestToken(first.url);
      const socket = await lab.store(first, token);
      const { cart } = await ok(socket, 'cart:create', {});
      await ok(socket, 'cart:addItem', { cartId: cart.id, productId: scarce.id, quantity: 1 });
      await ok(socket, 'cart:addItem', { cartId: cart.id, productId: plenty.id, quantity: 1 + (i % 3) });
      return { i, token, socket, cartId: cart.id as string, acked: [] as Array<{ requestId: string; ack: Ack<any> }> };
    }),
  );

  // Every shopper follows its cart, then checks out three times at once: the same request twice and a second
  // request. SIGKILL goes out as soon as four carts are seen mid-checkout (their CHECKOUT_STARTED committed),
  // while most checkouts are still reserving, creating orders or not yet started.
  const KILL_AFTER_STARTED = 4;
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    first.kill('SIGKILL');
  };
  const started = new Set<string>();
  for (const shopper of shoppers) {
    await ok(shopper.socket, 'subscribe', { topic: `cart:${shopper.cartId}` });
    shopper.socket.on('cart:updated', (cart: CartView) => {
      if (cart.state !== 'checkingOut') return;
      started.add(cart.id);
      if (started.size >= KILL_AFTER_STARTED) kill();
    });
  }
  const burst: Array<Promise<void>> = [];
  let acks = 0;
  for (const shopper of shoppers) {
    for (const requestId of [`a-${shopper.i}`, `a-${shopper.i}`, `b-${shopper.i}`]) {
      burst.push(
        emitRaw(shopper.socket, 'cart:checkout', { cartId: shopper.cartId, requestId }, (ack) => {
          if (!ack) return;
          shopper.acked.push({ requestId, ack });
          acks++;
        }),
      );
    }
  }
  await Promise.all(burst);
  t.is((await first.exited).signal, 'SIGKILL');
  t.true(killed && acks < burst.length, `killed with ${acks} of ${burst.length} checkouts acked, ${started.size} carts seen checking out`);
  for (const shopper of shoppers) shopper.socket.close();

  const second = await lab.spawn({ SWEEP_INTERVAL_MS: '200' });
  const sockets = await Promise.all(shoppers.map((shopper) => lab.store(second, shopper.token)));
  const atRestart = await Promise.all(
    shoppers.map(async (shopper) => (await ok(sockets[shopper.i]!, 'cart:get', { cartId: shopper.cartId })).cart as CartView),
  );
  const cartsByState: Record<string, number> = {};
  for (const cart of atRestart) cartsByState[cart.state] = (cartsByState[cart.state] ?? 0) + 1;
  t.log(`at restart: ${acks} acks before the kill, ${started.size} seen checking out; carts ${JSON.stringify(cartsByState)}`);

  // An acked checkout is durable and idempotent across the crash: the same request returns the same order.
  for (const [n, shopper] of shoppers.entries()) {
    for (const { requestId, ack } of shopper.acked) {
      if (!ack.ok) continue;
      const again = await ok(sockets[n]!, 'cart:checkout', { cartId: shopper.cartId, requestId });
      t.is(again.order.id, ack.data.order.id, `${requestId} returns its acked order after the restart`);
      t.deepEqual(again.order.items, ack.data.order.items);
    }
  }

  // Half the shoppers retry their checkouts now; the other half leave it to the stall sweep.
  const retried = shoppers.filter((shopper) => shopper.i % 2 === 0);
  await Promise.all(
    retried.map(async (shopper) => {
      const socket = sockets[shopper.i]!;
      for (const requestId of [`a-${shopper.i}`, `b-${shopper.i}`]) {
        const ack = await call(socket, 'cart:checkout', { cartId: shopper.cartId, requestId });
        if (ack.ok) return;
        t.true(['OUT_OF_STOCK', 'INVALID_TRANSITION'].includes(ack.error.code), `retry ${requestId}: ${ack.error.code} ${ack.error.message}`);
      }
    }),
  );

  // Nothing is left stuck in the middle of a checkout: the sweep finishes or undoes what the crash interrupted.
  const deadline = Date.now() + 45_000;
  let carts: CartView[] = [];
  for (;;) {
    carts = await Promise.all(shoppers.map(async (shopper) => (await ok(sockets[shopper.i]!, 'cart:get', { cartId: shopper.cartId })).cart as CartView));
    if (carts.every((cart) => cart.state !== 'checkingOut')) break;
    if (Date.now() > deadline) {
      t.fail(
        `carts still checking out: ${carts
          .filter((c) => c.state === 'checkingOut')
          .map((c) => c.id)
          .join(', ')}`,
      );
      break;
    }
    await sleep(250);
  }

  // One order per cart at most, each cart pointing at its order, and never more tents sold than there were.
  let tentOrders = 0;
  let heldFilters = 0;
  for (const [n, shopper] of shoppers.entries()) {
    const { orders } = (await ok(sockets[n]!, 'orders:list', {})) as { orders: OrderView[] };
    const own = orders.filter((order) => order.cartId === shopper.cartId);
    t.true(own.length <= 1, `cart ${shopper.cartId} has ${own.length} orders`);
    const cart = carts[n]!;
    if (own.length === 1) {
      t.is(cart.state, 'checkedOut');
      t.is(cart.orderId, own[0]!.id);
      t.is(own[0]!.state, 'awaitingPayment');
      tentOrders++;
      heldFilters += own[0]!.items.find((line) => line.productId === plenty.id)?.quantity ?? 0;
    } else {
      t.is(cart.state, 'active', `cart ${cart.id} without an order is open again`);
    }
    for (const { ack } of shopper.acked) if (ack.ok) t.is(own[0]?.id, ack.data.order.id);
  }
  t.true(tentOrders >= 1 && tentOrders <= 6, `${tentOrders} orders got a tent`);
  const afterCatalog = await listProducts(second.url);
  t.deepEqual(
    afterCatalog.filter((p) => p.available < 0).map((p) => p.sku),
    [],
  );
  t.is(afterCatalog.find((p) => p.id === scarce.id)!.available, 6 - tentOrders);
  t.is(afterCatalog.find((p) => p.id === plenty.id)!.available, plenty.available - heldFilters);
  for (const socket of sockets) socket.close();

  second.kill('SIGTERM');
  t.deepEqual(await second.exited, { code: 0, signal: null });
  const { orders, knexReservations } = await checkStoppedDatabase(t, lab.databaseFile);
  t.is(orders.length, tentOrders);
  // Every active reservation belongs to an order that exists (no orphan left by the crash), two lines per order.
  const orderIds = new Set(orders.map((order) => order.id));
  const activeReservations = (knexReservations as Array<{ order_id: string; status: string }>).filter((r) => r.status === 'active');
  t.deepEqual(
    activeReservations.filter((r) => !orderIds.has(r.order_id)).map((r) => r.order_id),
    [],
    'no active reservation without its order',
  );
  t.is(activeReservations.length, tentOrders * 2);
});
