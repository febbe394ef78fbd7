// The kernel's circuit breaker and the payment provider behind it: repeated failures open it, an open breaker
// refuses without calling (payments answer a retryable UNAVAILABLE), a call past the timeout is answered while it
// goes on, a trial after the reset timeout closes it again, and every change is the emporium_breaker_state gauge.
import test from 'ava';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AppError } from '../../src/domain/errors.ts';
import { BreakerOpenError, BreakerTimeoutError, createBreaker, type Breaker, type BreakerState } from '../../src/kernel/breaker.ts';
import { GuardedPaymentProvider } from '../../src/modules/order/guarded-payments.ts';
import type { ChargeRequest, ChargeResult, PaymentProvider } from '../../src/modules/order/payment-provider.ts';

const logger = pino({ level: 'silent' });

async function gauge(metrics: Registry, breaker: string): Promise<number | undefined> {
  const metric = await metrics.getSingleMetric('emporium_breaker_state')?.get();
  return metric?.values.find((value) => value.labels.breaker === breaker)?.value;
}

/** Resolves when the breaker is in `state`. A timer keeps the process up meanwhile: opossum's reset timer does not. */
function inState(breaker: Breaker, state: BreakerState): Promise<void> {
  if (breaker.state === state) return Promise.resolve();
  const keepAlive = setInterval(() => undefined, 1_000);
  return new Promise<void>((resolve) => breaker.onChange((next) => next === state && resolve())).finally(() => clearInterval(keepAlive));
}

/** A provider that fails every call while `down`. */
class FlakyProvider implements PaymentProvider {
  down = true;
  calls = 0;
  private call<T>(value: T): Promise<T> {
    this.calls++;
    return this.down ? Promise.reject(new Error('connection reset by the provider')) : Promise.resolve(value);
  }
  charge = (request: ChargeRequest): Promise<ChargeResult> => this.call({ status: 'succeeded', chargeId: `chg-${request.idempotencyKey}` });
  refund = (): Promise<{ refundId: string }> => this.call({ refundId: 're-1' });
  lookup = (): Promise<ChargeResult | undefined> => this.call(undefined);
  closeUnsettled = (_key: string, reason: string): Promise<ChargeResult> => this.call({ status: 'declined', reason });
}

const charge: ChargeRequest = {
  idempotencyKey: 'pay:o1:r1',
  orderId: 'o1',
  amount: 100,
  currency: 'EUR',
  card: { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' },
};

test('a failing payment provider opens the breaker: calls then fail fast with UNAVAILABLE, without reaching it, until a trial succeeds', async (t) => {
  const metrics = new Registry();
  const breaker = createBreaker('payments', { timeoutMs: 1_000, volumeThreshold: 3, resetTimeoutMs: 100 }, { metrics, logger });
  t.teardown(() => breaker.shutdown());
  const provider = new FlakyProvider();
  const payments = new GuardedPaymentProvider(provider, breaker);
  t.is(await gauge(metrics, 'payments'), 0);

  const opened = inState(breaker, 'open');
  for (let i = 0; i < 3; i++) await t.throwsAsync(payments.lookup('pay:o1:r1'), { message: 'connection reset by the provider' });
  await opened;
  t.is(breaker.state, 'open');
  t.is(await gauge(metrics, 'payments'), 2);

  const refused = await t.throwsAsync(payments.charge(charge), { instanceOf: AppError });
  t.is(refused.code, 'UNAVAILABLE');
  t.is(refused.message, 'the payment provider is unavailable; try again shortly');
  t.is(provider.calls, 3, 'the refused charge never reached the provider');

  provider.down = false;
  await inState(breaker, 'halfOpen');
  t.is(await gauge(metrics, 'payments'), 1);
  t.deepEqual(await payments.charge(charge), { status: 'succeeded', chargeId: 'chg-pay:o1:r1' });
  t.is(breaker.state, 'closed');
  t.is(await gauge(metrics, 'payments'), 0);
});

test('a call past the timeout is answered with BreakerTimeoutError while it goes on; an open breaker never calls', async (t) => {
  const metrics = new Registry();
  const breaker = createBreaker('smtp', { timeoutMs: 20, volumeThreshold: 1, resetTimeoutMs: 60_000 }, { metrics, logger });
  t.teardown(() => breaker.shutdown());
  let finish: (value: string) => void = () => undefined;
  const slow = new Promise<string>((resolve) => (finish = resolve));
  await t.throwsAsync(
    breaker.run(() => slow),
    { instanceOf: BreakerTimeoutError },
  );
  t.is(breaker.state, 'open');
  let called = false;
  await t.throwsAsync(
    breaker.run(async () => {
      called = true;
    }),
    { instanceOf: BreakerOpenError },
  );
  t.false(called);
  finish('late');
  t.is(await slow, 'late', 'the timed-out call itself was not cut off');
  // One registry, two breakers: one gauge, one series each.
  const other = createBreaker('payments', { timeoutMs: false, resetTimeoutMs: 1_000 }, { metrics, logger });
  t.teardown(() => other.shutdown());
  t.is(await gauge(metrics, 'smtp'), 2);
  t.is(await gauge(metrics, 'payments'), 0);
});

test('errors the breaker is told are no failure leave it closed', async (t) => {
  const metrics = new Registry();
  const breaker = createBreaker(
    'smtp',
    { timeoutMs: false, volumeThreshold: 1, resetTimeoutMs: 1_000, isFailure: (error) => !(error as Error).message.startsWith('550') },
    { metrics, logger },
  );
  t.teardown(() => breaker.shutdown());
  for (let i = 0; i < 5; i++) await t.throwsAsync(breaker.run(() => Promise.reject(new Error('550 mailbox unavailable'))));
  t.is(breaker.state, 'closed');
});
