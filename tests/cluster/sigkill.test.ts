// SIGKILL of a real node in the middle of checkouts: every acknowledged command survives in PostgreSQL, the
// killed node's clients move to the other node and converge, nothing is duplicated, and deadlines still fire.
import test from '../helpers/cluster-test.ts';
import type { Socket } from 'socket.io-client';
import type { Ack } from '../../src/protocol/index.ts';
import { nextEvent, ok, TEST_CARD } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, emitAck, eventually, guests } from '../helpers/cluster.ts';

const PAYMENT_WINDOW_MS = 3000;
const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  // A short payment window, so an unpaid order left by the killed node expires during the test (on B's sweep).
  [a, b] = await lab.cluster(2, { PAYMENT_WINDOW_MS: String(PAYMENT_WINDOW_MS), SWEEP_INTERVAL_MS: '500' });
});

interface Op {
  readonly shopper: Shopper;
  readonly node: 'A' | 'B';
  readonly command: string;
  readonly payload: any;
  ack: Ack<any> | undefined;
}

interface Shopper {
  readonly name: string;
  readonly home: 'A' | 'B';
  readonly token: string;
  readonly guestId: string;
  socket: Socket;
  readonly ops: Op[];
}

/** Every view a client holds, kept as the SDK does: the subscribe answer, then any push with a higher version. */
function viewTracker(socket: Socket) {
  const views = new Map<string, { version: number; state: string }>();
  const apply = (id: string, view: { version: number; state: string }) => {
    const held = views.get(id);
    if (!held || view.version > held.version) views.set(id, { version: view.version, state: view.state });
  };
  for (const event of ['cart:updated', 'order:updated', 'shipment:updated'])
    socket.on(event, (view: { id: string; version: number; state: string }) => apply(view.id, view));
  return {
    views,
    async subscribe(kind: string, id: string) {
      const { view } = await ok(socket, 'subscribe', { topic: `${kind}:${id}` });
      apply(id, view);
    },
  };
}

test('SIGKILL mid-checkout: acknowledged commands survive, clients move and converge, no duplicates, deadlines fire', async (t) => {
  const productId = await lab.insertProduct(1000, 700);
  const scarceId = await lab.insertProduct(5, 900);
  const identities = await guests(b.url, 9);
  const shoppers: Shopper[] = [];
  for (let i = 0; i < 8; i++) {
    const home = i % 2 === 0 ? 'A' : 'B';
    const { token, guestId } = identities[i]!;
    shoppers.push({ name: `s${i}`, home, token, guestId, socket: await lab.store(home === 'A' ? a : b, token), ops: [] });
  }
  const allOps: Op[] = [];
  const send = async (shopper: Shopper, command: string, payload: unknown) => {
    const op: Op = { shopper, node: shopper.home, command, payload, ack: undefined };
    shopper.ops.push(op);
    allOps.push(op);
    op.ack = await emitAck(shopper.socket, command, payload, 20_000);
    return op.ack;
  };

  let killed = false;
  let checkoutsViaA = 0;
  let triggerKill!: () => void;
  const killTime = new Promise<void>((resolve) => (triggerKill = resolve));

  const shop = async (shopper: Shopper) => {
    let afterKill = 0;
    for (let n = 0; n < 200; n++) {
      if (shopper.home === 'B' && killed && afterKill++ >= 2) return;
      const created = await send(shopper, 'cart:create', { requestId: `${shopper.name}-cart-${n}` });
      if (!created?.ok) return;
      const cartId = created.data.cart.id as string;
      if (!(await send(shopper, 'cart:addItem', { cartId, productId, quantity: 1 + (n % 2) }))?.ok) return;
      const checkout = await send(shopper, 'cart:checkout', { cartId, requestId: `${shopper.name}-co-${n}` });
      if (!checkout?.ok) return;
      if (shopper.home === 'A' && ++checkoutsViaA === 8) triggerKill();
      if (!(await send(shopper, 'order:pay', { orderId: checkout.data.order.id, requestId: `${shopper.name}-pay-${n}`, payment: TEST_CARD }))?.ok) return;
    }
  };
  const loops = Promise.all(shoppers.map(shop));

  // An unpaid order made through A, just before A dies: its deadline must still fire (on B).
  const late = identities[8]!;
  const lateOnA = await lab.store(a, late.token);
  const watcher = await lab.store(b, late.token);
  await killTime;
  const { cart: lateCart } = await ok(lateOnA, 'cart:create', {});
  await ok(lateOnA, 'cart:addItem', { cartId: lateCart.id, productId: scarceId, quantity: 2 });
  const { order: unpaid } = await ok(lateOnA, 'cart:checkout', { cartId: lateCart.id, requestId: 'late-1' });
  t.is(unpaid.state, 'awaitingPayment');
  // Its customer also watches from B: the order and the scarce product's stock.
  const releases: number[] = [];
  watcher.on('stock:changed', (stock: { productId: string; available: number }) => {
    if (stock.productId === scarceId) releases.push(stock.available);
  });
  const expiredPush = nextEvent(watcher, 'order:updated', (view) => view.id === unpaid.id && view.state === 'expired', 30_000);
  expiredPush.catch(() => undefined);
  const { view: productView } = await ok(watcher, 'subscribe', { topic: `product:${scarceId}` });
  const { view: unpaidView } = await ok(watcher, 'subscribe', { topic: `order:${unpaid.id}` });
  t.is(productView.available, 3);
  t.is(unpaidView.state, 'awaitingPayment');

  killed = true;
  a.kill('SIGKILL');
  t.is((await a.exited).signal, 'SIGKILL');
  await loops;

  const viaA = allOps.filter((op) => op.node === 'A');
  const unanswered = viaA.filter((op) => op.ack === undefined);
  t.log(`${allOps.length} commands: ${viaA.length} via A (${unanswered.length} unanswered at the kill), ${allOps.length - viaA.length} via B`);
  t.true(viaA.filter((op) => op.ack?.ok).length >= 24, 'A acknowledged commands before it died');
  // Nothing but the kill made a command fail.
  t.deepEqual(
    allOps.filter((op) => op.ack && !op.ack.ok).map((op) => [op.command, op.ack]),
    [],
  );
  t.true(
    allOps.filter((op) => op.node === 'B').every((op) => op.ack?.ok),
    'B answered every command',
  );

  // A's clients reconnect to B with the same tokens and retry what was unanswered (the idempotent commands).
  for (const shopper of shoppers.filter((s) => s.home === 'A')) {
    shopper.socket = await lab.store(b, shopper.token);
    const last = shopper.ops.at(-1);
    if (!last || last.ack !== undefined || last.command === 'cart:addItem') continue;
    const retry: Op = { shopper, node: 'B', command: last.command, payload: last.payload, ack: await emitAck(shopper.socket, last.command, last.payload) };
    allOps.push(retry);
    t.log(`retried ${last.command} of ${shopper.name} on B: ${retry.ack?.ok ? 'ok' : JSON.stringify(retry.ack)}`);
    if (last.command === 'order:pay' && retry.ack && !retry.ack.ok) {
      // Retried after the payment window closed: the order expired instead; nothing was charged twice.
      t.is(retry.ack.error.code, 'INVALID_TRANSITION');
    } else {
      t.true(retry.ack?.ok, `retry of ${last.command} on B: ${JSON.stringify(retry.ack)}`);
    }
    if (last.command === 'cart:checkout' && retry.ack?.ok) {
      // The retried checkout finished the one A started (or started it): one order for the cart.
      const orders = await lab.count(`select count(*) as n from actors where kind = 'order' and (snapshot::json->'context'->>'cartId') = $1`, [
        last.payload.cartId,
      ]);
      t.is(orders, 1);
    }
  }

  // Pending deadlines still fire: the unpaid order made through A expires on B's sweep, and its stock comes back once.
  t.is((await expiredPush).state, 'expired');
  t.is((await lab.actor(unpaid.id))?.state, 'expired');
  await eventually(async () => (await lab.stock(scarceId)).reserved === 0, 'the expired order releasing its stock', 10_000);
  await eventually(async () => releases.includes(5), 'stock:changed for the release reaching B', 5_000);
  const { rows: scarce } = await lab.pg.query<{ on_hand: number; reserved: number; stock_version: number }>(
    'select on_hand, reserved, stock_version from products where id = $1',
    [scarceId],
  );
  // Exactly two stock moves: the reservation and one release.
  t.deepEqual(
    { onHand: Number(scarce[0]!.on_hand), reserved: Number(scarce[0]!.reserved), stockVersion: Number(scarce[0]!.stock_version) },
    { onHand: 5, reserved: 0, stockVersion: 2 },
  );
  const { rows: scarceReservations } = await lab.pg.query('select status, quantity from reservations where order_id = $1', [unpaid.id]);
  t.deepEqual(
    scarceReservations.map((row) => ({ ...row })),
    [{ status: 'released', quantity: 2 }],
  );

  // Every acknowledged command is in PostgreSQL: its actor has a journal entry at the version the ack reported.
  const acked = allOps.filter((op) => op.ack?.ok);
  for (const op of acked) {
    const data = (op.ack as { data: any }).data;
    const view = data.cart ?? data.order;
    const { rows } = await lab.pg.query('select 1 from actor_journal where actor_id = $1 and version = $2', [view.id, view.version]);
    t.is(rows.length, 1, `${op.command} acknowledged at ${view.id} v${view.version} is durable`);
    const row = await lab.actor(view.id);
    t.truthy(row);
    t.true(row!.version >= view.version);
    if (op.command === 'cart:checkout') {
      const cart = await lab.actor(op.payload.cartId);
      t.is(cart?.context.checkout?.orderId, view.id);
      t.is(cart?.state, 'checkedOut');
    }
    if (op.command === 'order:pay') {
      t.true(['paid', 'fulfilling', 'shipped', 'delivered'].includes(row!.state), `${view.id} paid is ${row!.state}`);
      t.is(await lab.count(`select count(*) as n from payment_charges where order_id = $1 and kind = 'charge' and status = 'succeeded'`, [view.id]), 1);
    }
  }

  // No duplicates: one order per cart, at most one shipment per order (with the derived id), one charge per order.
  const { rows: perCart } = await lab.pg.query(
    `select snapshot::json->'context'->>'cartId' as cart, count(*) as n from actors where kind = 'order' group by 1 having count(*) > 1`,
  );
  t.deepEqual(perCart, []);
  const { rows: shipments } = await lab.pg.query<{ id: string; order_id: string }>(
    `select id, snapshot::json->'context'->>'orderId' as order_id from actors where kind = 'shipment'`,
  );
  for (const shipment of shipments) {
    t.is(shipment.id, `ship_${shipment.order_id.slice('order_'.length)}`);
    t.truthy(await lab.actor(shipment.order_id));
  }
  t.is(new Set(shipments.map((s) => s.order_id)).size, shipments.length);
  const { rows: doubleCharges } = await lab.pg.query(
    `select order_id from payment_charges where kind = 'charge' and status = 'succeeded' group by order_id having count(*) > 1`,
  );
  t.deepEqual(doubleCharges, []);
  t.deepEqual(await lab.invariantProblems(), []);
  // Every order is somewhere sensible once the payment windows have passed: paid (and on), or expired.
  await eventually(
    async () => (await lab.count(`select count(*) as n from actors where kind = 'order' and state in ('awaitingPayment', 'authorizing')`)) === 0,
    'every order to be paid or expired',
    PAYMENT_WINDOW_MS + 10_000,
  );

  // A's clients, now on B, subscribe again to everything they own and converge on what PostgreSQL holds.
  for (const shopper of shoppers.filter((s) => s.home === 'A')) {
    const tracker = viewTracker(shopper.socket);
    const { rows: owned } = await lab.pg.query<{ id: string; kind: string }>(`select id, kind from actors where owner_id = $1 order by id`, [shopper.guestId]);
    t.true(owned.length > 0);
    for (const { id, kind } of owned) await tracker.subscribe(kind, id);
    await eventually(
      async () => {
        for (const { id } of owned) {
          const stored = await lab.actor(id);
          const held = tracker.views.get(id);
          if (!stored || !held || held.version !== stored.version || held.state !== stored.state) return false;
        }
        return true;
      },
      `${shopper.name}'s views converging`,
      10_000,
    );
    t.pass();
  }
  // Events the dead node had claimed wait for their lease to run out before another node takes them over.
  const leased = await lab.count("select count(*) as n from outbox_deliveries where state = 'pending' and claimed_until > $1", [Date.now()]);
  t.log(`${leased} outbox deliveries still leased by the killed node (taken over when the lease ends)`);

  // The release happened once, so it was pushed once.
  t.deepEqual(
    releases.filter((available) => available === 5),
    [5],
  );

  // Once that lease has run out B delivers them too: every paid order then has exactly one shipment.
  await eventually(async () => (await lab.pendingOutbox()) === 0, 'the outbox being empty', 45_000, 500);
  const { rows: paidOrders } = await lab.pg.query<{ id: string; state: string; shipment: string | null }>(
    `select o.id, o.state, s.id as shipment from actors o left join actors s on s.id = 'ship_' || substr(o.id, 7)
     where o.kind = 'order' and exists (select 1 from payment_charges c where c.order_id = o.id and c.kind = 'charge' and c.status = 'succeeded')`,
  );
  t.true(paidOrders.length > 10);
  t.deepEqual(
    paidOrders.filter((order) => order.state !== 'fulfilling' || order.shipment === null),
    [],
    'every paid order is fulfilling with its shipment',
  );
  t.is(await lab.count(`select count(*) as n from actors where kind = 'shipment'`), paidOrders.length);
});
