// The outbox relay keeps each actor's order: when one of an actor's domain events fails in a flow, it is retried before the
// actor's later events run, so an order follows its shipment to delivered and no outbox row stays undispatched.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { OrderView, ShipmentView } from '../../src/protocol/index.ts';
import { appForTest, createProduct, nextEvent, ok, registerCustomer, socketForTest, staffToken, TEST_CARD, type TestApp } from '../helpers/app.ts';

/** An order awaiting payment: one unit of a fresh product, checked out. */
async function orderFor(app: TestApp, store: Socket, onHand = 5): Promise<OrderView> {
  const product = await createProduct(app.app, { onHand, price: 1500 });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  return (await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-${cart.id}` })).order;
}

test.serial("an actor's domain events are relayed in order even when one fails: the order follows its shipment to delivered", async (t) => {
  const app = await appForTest(t);
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  const order = await orderFor(app, store);
  const paid = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay', payment: TEST_CARD });
  await app.app.relay.drain();
  const shipmentId = (await ok<{ order: OrderView }>(store, 'order:get', { orderId: paid.order.id })).order.shipmentId!;
  t.truthy(shipmentId);

  // The sale fails once (a database hiccup): shipment.shipped must be retried before shipment.delivered runs.
  const inventory = app.app.services.inventory;
  const commitSale = inventory.commitSale.bind(inventory);
  let failures = 0;
  inventory.commitSale = async (orderId: string) => {
    if (failures++ === 0) throw new Error('simulated hiccup');
    return commitSale(orderId);
  };
  t.teardown(() => {
    inventory.commitSale = commitSale;
  });
  for (const to of ['picking', 'packed', 'shipped', 'delivered'] as const) {
    await ok<{ shipment: ShipmentView }>(warehouse, 'shipment:advance', { shipmentId, to });
  }
  await ok(store, 'subscribe', { topic: `order:${order.id}` });
  const delivered = nextEvent<OrderView>(store, 'order:updated', (view) => view.state === 'delivered', 20_000);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && (await app.app.runtime.get('order', order.id))?.state !== 'delivered') {
    await app.app.relay.drain();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.is((await delivered).state, 'delivered');
  t.is(failures, 2, 'the failed step ran again');
  // The delivery's own event (order.delivered) is still on its way through the flows: every row is dispatched once
  // the relay has settled them (settling is per claimed batch, after the flow ran), well before the deadline.
  const undispatched = () => app.app.db.knex('outbox').whereNull('dispatched_at');
  while (Date.now() < deadline && (await undispatched()).length > 0) {
    await app.app.relay.drain();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.deepEqual(await undispatched(), []);
});

test.serial('two flows settling the last deliveries of one row at once leave it dispatched (no write skew on PostgreSQL)', async (t) => {
  const app = await appForTest(t);
  const { knex, transaction } = app.app.db;
  const { OutboxRepo } = await import('../../src/kernel/db/outbox.repo.ts');
  const repo = new OutboxRepo(knex, transaction);
  // The app's own relay would take these rows (no flow of its wants them) before the test's flows could.
  await app.app.relay.stop();
  const flows = ['skew-a', 'skew-b', 'skew-c'];
  const rows = 40;
  const seqs: number[] = [];
  for (let i = 0; i < rows; i++) {
    const [inserted] = await knex('outbox')
      .insert({ actor_id: `skew_${i}`, kind: 'test', type: 'test.skew', payload: '{}', created_at: Date.now() })
      .returning('seq');
    seqs.push(Number(typeof inserted === 'object' ? inserted.seq : inserted));
  }
  await repo.fanOut(() => flows, Date.now(), 1000);
  const claims = await Promise.all(flows.map((flow) => repo.claim(flow, Date.now(), 60_000, 1000)));
  const mine = claims.map((records) => records.filter((record) => seqs.includes(record.seq)));
  for (const records of mine) t.is(records.length, rows);
  // Every flow settles its delivery of each row at the same moment as the others.
  for (let i = 0; i < rows; i++) await Promise.all(mine.map((records) => repo.markDone(records[i]!, Date.now())));
  const undispatched = await knex('outbox').whereIn('seq', seqs).whereNull('dispatched_at').count({ n: '*' }).first();
  t.is(Number(undispatched?.n), 0, 'every row whose deliveries are all done is dispatched');
});
