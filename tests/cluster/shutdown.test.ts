// Graceful shutdown of a real node with SIGTERM while it serves: readiness drops at once, new commands are
// refused with UNAVAILABLE, commands in flight are answered, clients are told `io server disconnect`, the process exits 0,
// and the outbox it leaves is empty once the other node has run.
import test from '../helpers/cluster-test.ts';
import type { Socket } from 'socket.io-client';
import { guestToken, nextEvent, ok, TEST_CARD } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, emitAck, eventually, notReady } from '../helpers/cluster.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  // Node A's payment provider is slow, so payments are still in flight when it is told to stop.
  [a, b] = await lab.cluster(2, (index): Record<string, string> => (index === 0 ? { PAYMENT_LATENCY_MS: '1500' } : {}));
});

test('SIGTERM: not ready at once, in-flight commands answered, clients disconnected, exit 0, outbox flushed', async (t) => {
  const productId = await lab.insertProduct(100, 1200);
  const customers: Array<{ token: string; socket: Socket; orderId: string; disconnected: Promise<string> }> = [];
  for (let i = 0; i < 4; i++) {
    const token = await guestToken(a.url);
    const socket = await lab.store(a, token);
    const { cart } = await ok(socket, 'cart:create', {});
    await ok(socket, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
    const { order } = await ok(socket, 'cart:checkout', { cartId: cart.id, requestId: `term-${i}` });
    await ok(socket, 'subscribe', { topic: `order:${order.id}` });
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
    customers.push({ token, socket, orderId: order.id, disconnected });
  }
  const bystander = await lab.store(a, await guestToken(a.url));
  t.false(await notReady(a.url));

  // Payments start on A; each is in flight once its order is pushed as `authorizing` (the charge takes 1.5 s).
  const authorizing = customers.map(({ socket, orderId }) => nextEvent(socket, 'order:updated', (view) => view.id === orderId && view.state === 'authorizing'));
  const pays = customers.map(({ socket, orderId }, i) => emitAck(socket, 'order:pay', { orderId, requestId: `term-pay-${i}`, payment: TEST_CARD }, 20_000));
  await Promise.all(authorizing);

  const termAt = Date.now();
  a.kill('SIGTERM');
  await eventually(() => notReady(a.url), '/ready answering 503', 2_000, 20);
  const notReadyAfter = Date.now() - termAt;
  t.true(notReadyAfter < 1_000, `not ready after ${notReadyAfter} ms`);

  // A new command while draining is refused with the retryable UNAVAILABLE.
  const refused = await emitAck(bystander, 'cart:create', {});
  t.is(refused?.ok === false ? refused.error.code : JSON.stringify(refused), 'UNAVAILABLE');

  // Commands in flight are answered: every payment went through.
  for (const ack of await Promise.all(pays)) {
    t.true(ack?.ok, JSON.stringify(ack));
    if (ack?.ok) t.true(['paid', 'fulfilling'].includes(ack.data.order.state));
  }

  // Then its clients are told `io server disconnect` (behind their answers), so they reconnect elsewhere, and the
  // process exits cleanly.
  const reasons = await Promise.all(customers.map((customer) => customer.disconnected));
  t.true(
    reasons.every((reason) => reason === 'io server disconnect'),
    reasons.join(', '),
  );
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([a.exited, new Promise((resolve) => (timer = setTimeout(() => resolve({ code: 'still running after 15 s' }), 15_000)))]);
  clearTimeout(timer);
  t.deepEqual(exit, { code: 0, signal: null }, a.stderr().slice(-2000));
  t.log(`not ready after ${notReadyAfter} ms, exited after ${Date.now() - termAt} ms`);

  // Nothing left undelivered: the outbox drains (A flushed its part; B picks up anything else).
  await eventually(async () => (await lab.pendingOutbox()) === 0, 'the outbox being empty', 10_000);
  // The paid orders' sagas ran: each has its one shipment.
  for (const { orderId } of customers) {
    const order = await eventually(
      async () => {
        const row = await lab.actor(orderId);
        return row?.state === 'fulfilling' ? row : undefined;
      },
      `order ${orderId} fulfilling`,
      10_000,
    );
    t.is(order.context.shipmentId, `ship_${orderId.slice('order_'.length)}`);
    t.is((await lab.actor(order.context.shipmentId))?.state, 'pending');
  }
  t.is(await lab.count(`select count(*) as n from actors where kind = 'shipment'`), customers.length);
  t.deepEqual(await lab.invariantProblems(), []);

  // The customers reconnect to B with the same tokens and see what PostgreSQL has.
  for (const { token, orderId } of customers) {
    const socket = await lab.store(b, token);
    const { view } = await ok(socket, 'subscribe', { topic: `order:${orderId}` });
    const stored = await lab.actor(orderId);
    t.is(view.version, stored?.version);
    t.is(view.state, 'fulfilling');
  }
});
