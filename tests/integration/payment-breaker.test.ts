// The payment provider behind its circuit breaker: once the provider keeps failing, order:pay answers a
// retryable UNAVAILABLE at once without calling it. An attempt the breaker cut off before the charge is left
// `authorizing`, as after any outage: the stalled-payment effect settles it from the provider's record, and the
// same requestId then pays under a new key, once.
import test from 'ava';
import { AUTHORIZATION_STALL_MS } from '../../src/modules/order/index.ts';
import { paymentKey } from '../../src/modules/order/order.service.ts';
import { SimulatedPaymentProvider, type ChargeRequest, type PaymentProvider } from '../../src/modules/order/payment-provider.ts';
import { defaultModules } from '../../src/modules/index.ts';
import type { OrderView } from '../../src/protocol/index.ts';
import { appForTest, call, createProduct, guestToken, ok, socketForTest, TEST_CARD } from '../helpers/app.ts';

/** The simulated provider, except that its charges fail while `chargesDown`. */
class FailingChargesProvider implements PaymentProvider {
  inner!: SimulatedPaymentProvider;
  chargesDown = false;
  charges = 0;
  charge = async (request: ChargeRequest) => {
    this.charges++;
    if (this.chargesDown) throw new Error('the provider reset the connection');
    return this.inner.charge(request);
  };
  refund: PaymentProvider['refund'] = (request) => this.inner.refund(request);
  lookup: PaymentProvider['lookup'] = (key) => this.inner.lookup(key);
  closeUnsettled: PaymentProvider['closeUnsettled'] = (key, reason) => this.inner.closeUnsettled(key, reason);
}

test('an open payments breaker answers UNAVAILABLE without calling the provider; the cut-off attempt is settled by recovery and paid once after', async (t) => {
  let offset = 0;
  const provider = new FailingChargesProvider();
  const app = await appForTest(t, {
    config: { sweepIntervalMs: 3_600_000 },
    app: {
      clock: () => Date.now() + offset,
      modules: defaultModules({ payments: provider, paymentsBreaker: { volumeThreshold: 3, resetTimeoutMs: 300 } }),
    },
  });
  provider.inner = new SimulatedPaymentProvider(app.app.db.knex, () => Date.now() + offset, 0);
  const store = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  const product = await createProduct(app.app, { onHand: 5, price: 1_000 });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-${cart.id}` });
  const pay = () => call<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-1', payment: TEST_CARD });
  const breakerState = async () => /emporium_breaker_state\{breaker="payments"\} (\d)/.exec(await (await fetch(`${app.url}/metrics`)).text())?.[1];

  // The attempt is recorded (the provider's lookup works), then its charge fails: the order is authorizing.
  provider.chargesDown = true;
  t.like(await pay(), { ok: false, error: { code: 'INTERNAL' } });
  t.like(await pay(), { ok: false, error: { code: 'INTERNAL' } }, 'the same request resumes the attempt, same key');
  t.is(await breakerState(), '2', 'lookups and failed charges: more than half failed, the breaker opened');
  const chargesBefore = provider.charges;
  const refused = await pay();
  t.like(refused, { ok: false, error: { code: 'UNAVAILABLE', message: 'the payment provider is unavailable; try again shortly' } });
  t.is(provider.charges, chargesBefore, 'refused without reaching the provider');
  const authorizing = (await ok<{ order: OrderView }>(store, 'order:get', { orderId: order.id })).order;
  t.is(authorizing.state, 'authorizing', 'as after any provider outage');

  // The provider is back. Past the stall timeout (and the breaker's reset), recovery settles the attempt.
  provider.chargesDown = false;
  offset += AUTHORIZATION_STALL_MS + 1_000;
  for (let round = 0; round < 100 && (await ok<{ order: OrderView }>(store, 'order:get', { orderId: order.id })).order.state === 'authorizing'; round++) {
    await app.app.sweep(); // refused (UNAVAILABLE) until the breaker half-opens, then settled
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const interrupted = (await ok<{ order: OrderView }>(store, 'order:get', { orderId: order.id })).order;
  t.is(interrupted.state, 'awaitingPayment');
  t.is(interrupted.lastPaymentError, 'payment_interrupted');
  t.is(await breakerState(), '0');

  const paid = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-1', payment: TEST_CARD });
  t.not(paid.order.state, 'awaitingPayment');
  const ledger = await app.app.db.knex('payment_charges').where({ order_id: order.id, kind: 'charge' }).orderBy('created_at');
  t.deepEqual(
    ledger.map((row: { idempotency_key: string; status: string }) => [row.idempotency_key, row.status]),
    [
      [paymentKey(order.id, 'pay-1'), 'declined'],
      [`${paymentKey(order.id, 'pay-1')}:2`, 'succeeded'],
    ],
    'the cut-off key closed, the retry charged once',
  );
});
