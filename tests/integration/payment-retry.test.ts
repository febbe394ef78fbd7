// After `payment_interrupted` the same requestId makes a new attempt under a new provider key, as PROTOCOL.md
// says: a stalled provider's charge is closed, the retry charges once, and the order is never charged twice;
// a charge still in flight when the stall sweep closes its key cannot succeed late; a declined requestId is not tried again.
import test from 'ava';
import type { Socket } from 'socket.io-client';
import type { OrderView } from '../../src/protocol/index.ts';
import { AUTHORIZATION_STALL_MS } from '../../src/modules/order/index.ts';
import { paymentKey } from '../../src/modules/order/order.service.ts';
import { SimulatedPaymentProvider, type ChargeRequest, type ChargeResult, type PaymentProvider } from '../../src/modules/order/payment-provider.ts';
import { call, connect, createProduct, guestToken, ok, startApp, TEST_CARD, type TestApp } from '../helpers/app.ts';

/** The real simulated provider, except that the charges it is told to stall wait until released. */
class StallingProvider implements PaymentProvider {
  inner!: SimulatedPaymentProvider;
  private stallNext = 0;
  private readonly stalled: Array<() => void> = [];
  readonly keysCharged: string[] = [];

  stall(count: number): void {
    this.stallNext += count;
  }

  releaseAll(): void {
    for (const release of this.stalled.splice(0)) release();
  }

  get stalledCount(): number {
    return this.stalled.length;
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    this.keysCharged.push(request.idempotencyKey);
    if (this.stallNext > 0) {
      this.stallNext--;
      await new Promise<void>((resolve) => this.stalled.push(resolve));
    }
    return this.inner.charge(request);
  }

  refund: PaymentProvider['refund'] = (request) => this.inner.refund(request);
  lookup: PaymentProvider['lookup'] = (key) => this.inner.lookup(key);
  closeUnsettled: PaymentProvider['closeUnsettled'] = (key, reason) => this.inner.closeUnsettled(key, reason);
}

let offset = 0;
const provider = new StallingProvider();
let app: TestApp;
let store: Socket;

test.before(async () => {
  app = await startApp({ config: { sweepIntervalMs: 3_600_000 }, app: { clock: () => Date.now() + offset, payments: provider } });
  provider.inner = new SimulatedPaymentProvider(app.app.db.knex, () => Date.now() + offset, 0);
  store = await connect(app.url, '/store', await guestToken(app.url));
});

test.after.always(async () => {
  provider.releaseAll();
  store?.close();
  await app?.stop();
});

/** An order awaiting payment, on the file's app or (for a test that boots its own) on another. */
async function placeOrder(on: TestApp = app, socket: Socket = store): Promise<OrderView> {
  const product = await createProduct(on.app, { onHand: 5, price: 2500 });
  const { cart } = await ok(socket, 'cart:create', {});
  await ok(socket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  return (await ok<{ order: OrderView }>(socket, 'cart:checkout', { cartId: cart.id, requestId: `co-${cart.id}` })).order;
}

async function waitFor(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

const charges = (orderId: string) => app.app.db.knex('payment_charges').where({ order_id: orderId, kind: 'charge' }).orderBy('created_at');

test.serial('a stalled charge is interrupted by recovery; the same requestId then pays under a new key, once', async (t) => {
  const order = await placeOrder();
  provider.stall(1);
  const first = call<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-A', payment: TEST_CARD });
  await waitFor(() => provider.stalledCount === 1);

  offset += AUTHORIZATION_STALL_MS + 1_000; // the provider has now stalled for longer than recovery waits
  await app.app.sweep();
  const interrupted = await ok<{ order: OrderView }>(store, 'order:get', { orderId: order.id });
  t.is(interrupted.order.state, 'awaitingPayment');
  t.is(interrupted.order.lastPaymentError, 'payment_interrupted');

  // The stalled charge comes back late: its key was closed, so it cannot succeed.
  provider.releaseAll();
  const late = await first;
  t.true(late.ok);
  if (late.ok) t.is(late.data.order.lastPaymentError, 'payment_interrupted');

  // Same requestId again: a new attempt, under a new provider key.
  const retried = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-A', payment: TEST_CARD });
  t.not(retried.order.state, 'awaitingPayment');
  t.truthy(retried.order.payment?.chargeId);
  t.is(retried.order.paymentAttempts, 2);

  const ledger = await charges(order.id);
  t.deepEqual(
    ledger.map((row: { idempotency_key: string; status: string; decline_reason: string | null }) => [row.idempotency_key, row.status, row.decline_reason]),
    [
      [paymentKey(order.id, 'pay-A'), 'declined', 'payment_interrupted'],
      [`${paymentKey(order.id, 'pay-A')}:2`, 'succeeded', null],
    ],
  );

  // And again: the request has its outcome now; no third attempt, no second charge.
  const again = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-A', payment: TEST_CARD });
  t.is(again.order.payment?.chargeId, retried.order.payment?.chargeId);
  t.is((await charges(order.id)).length, 2);
});

test.serial('a declined requestId is not tried again; only an interrupted one is', async (t) => {
  const order = await placeOrder();
  const declined = await ok<{ order: OrderView }>(store, 'order:pay', {
    orderId: order.id,
    requestId: 'pay-D',
    payment: { ...TEST_CARD, cardNumber: '4000000000000002' },
  });
  t.is(declined.order.lastPaymentError, 'card_declined');
  const again = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-D', payment: TEST_CARD });
  t.is(again.order.state, 'awaitingPayment');
  t.is(again.order.version, declined.order.version, 'nothing was written');
  t.is((await charges(order.id)).length, 1);
});

test.serial('duplicates of an interrupted requestId retried at once share one new attempt: one charge', async (t) => {
  const order = await placeOrder();
  provider.stall(1);
  const first = call<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-C', payment: TEST_CARD });
  await waitFor(() => provider.stalledCount === 1);
  offset += AUTHORIZATION_STALL_MS + 1_000;
  await app.app.sweep();
  provider.releaseAll();
  await first;

  const other = await connect(app.url, '/store', (store.auth as { token: string }).token);
  t.teardown(() => other.close());
  const retries = await Promise.all(
    [store, other, store, other].map((socket) =>
      call<{ order: OrderView }>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-C', payment: TEST_CARD }),
    ),
  );
  t.true(retries.every((ack) => ack.ok));
  const chargeIds = new Set(retries.map((ack) => (ack.ok ? ack.data.order.payment?.chargeId : undefined)));
  t.is(chargeIds.size, 1);
  const succeeded = (await charges(order.id)).filter((row: { status: string }) => row.status === 'succeeded');
  t.is(succeeded.length, 1);
});

test.serial('a payment outliving the stall sweep can no longer succeed late: one outcome, no double charge', async (t) => {
  // A provider that is slow rather than stalled, on a clock of its own: this test boots an app of its own.
  let nodeOffset = 0;
  const node = await startApp({ config: { paymentLatencyMs: 1500, sweepIntervalMs: 3_600_000 }, app: { clock: () => Date.now() + nodeOffset } });
  t.teardown(() => node.stop());
  const socket = await connect(node.url, '/store', await guestToken(node.url));
  t.teardown(() => socket.close());
  const order = await placeOrder(node, socket);

  const slow = call<{ order: OrderView }>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-1', payment: TEST_CARD });
  await new Promise((resolve) => setTimeout(resolve, 200));
  nodeOffset += 31_000; // the order has now been authorizing for longer than the stall threshold
  await node.app.sweep();

  const first = await slow;
  t.true(first.ok);
  if (!first.ok) return;
  t.is(first.data.order.state, 'awaitingPayment');
  t.is(first.data.order.lastPaymentError, 'payment_interrupted');
  const ledger = await node.app.db.knex('payment_charges').where({ idempotency_key: paymentKey(order.id, 'pay-1') });
  t.is(ledger.length, 1);
  t.is(ledger[0].status, 'declined', 'the late charge lost to the closed key');

  const second = await ok<{ order: OrderView }>(socket, 'order:pay', { orderId: order.id, requestId: 'pay-2', payment: TEST_CARD });
  t.not(second.order.state, 'awaitingPayment');
  const succeeded = await node.app.db.knex('payment_charges').where({ order_id: order.id, kind: 'charge', status: 'succeeded' });
  t.is(succeeded.length, 1, 'charged exactly once');
});
