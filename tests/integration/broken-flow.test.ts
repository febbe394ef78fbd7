// A best-effort flow that throws on every event cannot stall money or stock: orders are still paid, shipped,
// delivered, cancelled and refunded on the first relay pass, while the broken flow's deliveries are retried
// apart, then parked, counted in /metrics and listed for operators.
import test from 'ava';
import { tap } from 'rxjs';
import type { OrderView } from '../../src/protocol/index.ts';
import { defineFlow } from '../../src/kernel/outbox/flows.ts';
import { connect, createProduct, guestToken, ok, staffToken, startApp, TEST_CARD, type TestApp } from '../helpers/app.ts';

let offset = 0;
let calls = 0;
const broken = defineFlow({
  name: 'broken-projection',
  delivery: 'best-effort',
  on: ['order.placed', 'order.paid', 'order.cancelled', 'shipment.shipped', 'shipment.delivered'],
  run: (events$) =>
    events$.pipe(
      tap(() => {
        calls++;
        throw new Error('this projection has a bug');
      }),
    ),
});

let app: TestApp;

test.before(async () => {
  app = await startApp({ config: { sweepIntervalMs: 3_600_000 }, app: { clock: () => Date.now() + offset, flows: [broken] } });
});

test.after.always(() => app?.stop());

test('orders are paid, shipped, delivered, cancelled and refunded on time while a best-effort flow fails on every event', async (t) => {
  const product = await createProduct(app.app, { onHand: 10, price: 1500 });
  const store = await connect(app.url, '/store', await guestToken(app.url));
  const warehouse = await connect(app.url, '/warehouse', await staffToken(app.app));
  t.teardown(() => {
    store.close();
    warehouse.close();
  });
  const place = async () => {
    const { cart } = await ok(store, 'cart:create', {});
    await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
    return (await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-${cart.id}` })).order;
  };
  const [shipped, refunded, unpaid] = [await place(), await place(), await place()];
  await ok(store, 'order:pay', { orderId: shipped.id, requestId: 'pay-1', payment: TEST_CARD });
  await ok(store, 'order:pay', { orderId: refunded.id, requestId: 'pay-2', payment: TEST_CARD });
  await app.app.relay.drain();

  const shipmentId = (await ok<{ order: OrderView }>(store, 'order:get', { orderId: shipped.id })).order.shipmentId;
  t.truthy(shipmentId, 'the paid order got its shipment although the projection failed on order.paid');
  for (const to of ['picking', 'packed', 'shipped', 'delivered'] as const) await ok(warehouse, 'shipment:advance', { shipmentId, to });
  await ok(store, 'order:cancel', { orderId: refunded.id });
  await ok(store, 'order:cancel', { orderId: unpaid.id });
  await app.app.relay.drain(); // one pass, no clock moved: nothing waits for the broken flow's backoff

  const view = async (id: string) => (await ok<{ order: OrderView }>(store, 'order:get', { orderId: id })).order;
  t.is((await view(shipped.id)).state, 'delivered');
  const cancelled = await view(refunded.id);
  t.is(cancelled.state, 'cancelled');
  t.is(cancelled.refund?.status, 'refunded');
  t.is((await view(unpaid.id)).state, 'cancelled');
  const level = await app.app.services.inventory.level(product.id);
  t.deepEqual([level?.onHand, level?.reserved], [9, 0], 'one unit sold, the cancelled ones back on the shelf');

  // The broken flow is retried with backoff on its own (each actor's events in order), then parked.
  const owed = (await app.app.db.knex('outbox_deliveries').where({ flow: 'broken-projection' }).count({ n: '*' }).first()) as { n: number | string };
  for (let round = 0; round < 40 && (await app.app.db.knex('outbox_deliveries').where({ flow: 'broken-projection', state: 'pending' })).length > 0; round++) {
    offset += 61_000;
    await app.app.relay.drain();
  }
  const parked = await app.app.db.knex('outbox_deliveries').where({ flow: 'broken-projection', state: 'parked' });
  t.is(parked.length, Number(owed.n), 'every delivery of the broken flow ends parked');
  t.true(parked.every((row: { attempts: number; last_error: string }) => row.attempts === 8 && row.last_error === 'this projection has a bug'));
  t.is(calls, 8 * parked.length, 'eight attempts each, not one more');
  t.is((await app.app.db.knex('outbox').whereNull('dispatched_at')).length, 0, 'parked deliveries settle their rows');

  const text = await (await fetch(`${app.url}/metrics`)).text();
  t.regex(text, new RegExp(`emporium_outbox_parked_total\\{flow="broken-projection"\\} ${parked.length}`));
  t.regex(text, new RegExp(`emporium_outbox_deliveries\\{flow="broken-projection",state="parked"\\} ${parked.length}`));
});
