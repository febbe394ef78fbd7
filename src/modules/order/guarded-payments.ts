// The payment provider behind a circuit breaker: when the provider keeps failing, calls fail fast with a
// retryable UNAVAILABLE instead of each waiting for it, and the `payments` breaker's state is a metric.
import { AppError } from '../../domain/errors.ts';
import { BreakerOpenError, BreakerTimeoutError, type Breaker } from '../../kernel/breaker.ts';
import type { ChargeRequest, ChargeResult, PaymentProvider, RefundRequest } from './payment-provider.ts';

/** The payments breaker: a call over 20 s is a failure; 5 calls of which more than half failed in 10 s open it for 15 s. */
export const PAYMENTS_BREAKER = { timeoutMs: 20_000, errorThresholdPercentage: 50, volumeThreshold: 5, resetTimeoutMs: 15_000 } as const;

/**
 * Every provider call goes through one breaker. Refused by an open breaker, a call was never made: a payment
 * whose attempt was not yet recorded is not started (`order:pay` answers UNAVAILABLE and the order is as it
 * was); one already `authorizing` stays so, as after any provider outage, and is resumed by the same request or
 * settled by the stalled-payment effect. A call that outlives the breaker's timeout also answers UNAVAILABLE; the
 * provider may still complete it, under its idempotency key, and recovery reads the outcome from the provider.
 */
export class GuardedPaymentProvider implements PaymentProvider {
  constructor(
    private readonly inner: PaymentProvider,
    private readonly breaker: Breaker,
  ) {}

  charge(request: ChargeRequest): Promise<ChargeResult> {
    return this.guard(() => this.inner.charge(request));
  }

  refund(request: RefundRequest): Promise<{ readonly refundId: string }> {
    return this.guard(() => this.inner.refund(request));
  }

  lookup(idempotencyKey: string): Promise<ChargeResult | undefined> {
    return this.guard(() => this.inner.lookup(idempotencyKey));
  }

  closeUnsettled(idempotencyKey: string, reason: string): Promise<ChargeResult> {
    return this.guard(() => this.inner.closeUnsettled(idempotencyKey, reason));
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await this.breaker.run(call);
    } catch (error) {
      if (error instanceof BreakerOpenError) {
        throw new AppError('UNAVAILABLE', 'the payment provider is unavailable; try again shortly', { cause: error });
      }
      if (error instanceof BreakerTimeoutError) {
        throw new AppError('UNAVAILABLE', 'the payment provider did not answer in time; try again shortly', { cause: error });
      }
      throw error;
    }
  }
}
