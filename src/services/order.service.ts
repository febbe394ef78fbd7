// Orders: read, list, pay (once per request) and cancel a customer's orders.
import { AppError } from '../domain/errors.ts';
import type { Clock, Identity } from '../domain/identity.ts';
import type { ActorRepo } from '../persistence/actor.repo.ts';
import { ownedBy, unlessAlreadyDone } from './access.ts';
import type { AppRuntime, OrderActor } from './kinds.ts';
import type { CardDetails, ChargeResult, PaymentProvider } from './payment-provider.ts';

export interface OrderServiceOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly payments: PaymentProvider;
  readonly clock: Clock;
  readonly logger?: { warn(object: object, message: string): void };
}

/** How long an order may sit in `authorizing` before recovery asks the provider what happened. */
export const AUTHORIZATION_STALL_MS = 30_000;

export const paymentKey = (orderId: string, requestId: string) => `pay:${orderId}:${requestId}`;

export class OrderService {
  private readonly inFlight = new Map<string, Promise<OrderActor>>();

  constructor(private readonly o: OrderServiceOptions) {}

  async get(identity: Identity, orderId: string): Promise<OrderActor> {
    return ownedBy(identity, 'order', orderId, await this.o.runtime.get('order', orderId));
  }

  async list(identity: Identity, limit = 50): Promise<OrderActor[]> {
    const rows = await this.o.actors.listByOwner(identity.sub, 'order', limit);
    return rows.map((row) => this.o.runtime.fromRow('order', row));
  }

  /**
   * Charges the order once per `requestId`: the same request again (also
   * concurrently, also after a crash) returns the first outcome. A declined
   * card leaves the order in `awaitingPayment` with `lastPaymentError`.
   */
  async pay(identity: Identity, orderId: string, requestId: string, card: CardDetails): Promise<OrderActor> {
    const order = await this.get(identity, orderId);
    if (order.snapshot.context.payment?.requestId === requestId) return order;
    const key = paymentKey(orderId, requestId);
    const running = this.inFlight.get(key);
    if (running) return running;
    const attempt = this.charge(order, requestId, card).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, attempt);
    return attempt;
  }

  /** Cancels before shipping: a fulfilling order's shipment is cancelled first, so it can never ship afterwards. */
  async cancel(identity: Identity, orderId: string): Promise<OrderActor> {
    const order = await this.get(identity, orderId);
    const shipmentId = order.snapshot.context.shipmentId;
    if (order.state === 'fulfilling' && shipmentId) {
      try {
        await this.o.runtime.send('shipment', shipmentId, { type: 'CANCEL' });
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_TRANSITION') {
          throw new AppError('INVALID_TRANSITION', `order ${orderId} has left the warehouse and can no longer be cancelled`, {
            details: { state: order.state },
          });
        }
        throw error;
      }
    }
    return this.o.runtime.send('order', orderId, { type: 'CANCEL', reason: 'cancelled by customer' });
  }

  /** Settles orders stuck in `authorizing` after a crash, from the provider's record of the charge. */
  async recoverStalledPayments(limit = 50): Promise<number> {
    const stale = await this.o.actors.listStale('order', 'authorizing', this.o.clock() - AUTHORIZATION_STALL_MS, limit);
    let settled = 0;
    for (const row of stale) {
      const order = this.o.runtime.fromRow('order', row);
      const pending = order.snapshot.context.pendingPayment;
      if (!pending) continue;
      try {
        // Closes the key at the provider: a charge still under way with it now comes back declined,
        // so it can never succeed after we told the customer it was interrupted.
        const outcome = await this.o.payments.closeUnsettled(paymentKey(order.id, pending.requestId), 'payment_interrupted');
        await unlessAlreadyDone(this.settle(order.id, pending.requestId, outcome));
        settled++;
      } catch (error) {
        this.o.logger?.warn({ err: error, orderId: order.id }, 'could not settle a stalled payment; will retry');
      }
    }
    return settled;
  }

  private async charge(order: OrderActor, requestId: string, card: CardDetails): Promise<OrderActor> {
    const key = paymentKey(order.id, requestId);
    const pending = order.snapshot.context.pendingPayment?.requestId === requestId;
    // A request that was declined answers with that outcome again instead of making another attempt.
    if (!pending && (await this.o.payments.lookup(key))?.status === 'declined') return order;
    const started = pending ? order : await this.requestPayment(order.id, requestId);
    if (started.snapshot.context.payment?.requestId === requestId) return started;
    const outcome = await this.o.payments.charge({
      idempotencyKey: key,
      orderId: order.id,
      amount: started.snapshot.context.total,
      currency: started.snapshot.context.currency,
      card,
    });
    const settled = await unlessAlreadyDone(this.settle(order.id, requestId, outcome));
    return settled ?? (await this.o.runtime.get('order', order.id)) ?? started;
  }

  /** Records the attempt; a duplicate of the same request that got there first (on another node) is resumed instead. */
  private async requestPayment(orderId: string, requestId: string): Promise<OrderActor> {
    try {
      return await this.o.runtime.send('order', orderId, { type: 'PAY_REQUESTED', requestId });
    } catch (error) {
      const latest = await this.o.runtime.get('order', orderId);
      const context = latest?.snapshot.context;
      if (latest && (context?.pendingPayment?.requestId === requestId || context?.payment?.requestId === requestId)) return latest;
      throw error;
    }
  }

  private settle(orderId: string, requestId: string, outcome: ChargeResult): Promise<OrderActor> {
    return outcome.status === 'succeeded'
      ? this.o.runtime.send('order', orderId, { type: 'PAYMENT_SUCCEEDED', requestId, chargeId: outcome.chargeId })
      : this.o.runtime.send('order', orderId, { type: 'PAYMENT_DECLINED', requestId, reason: outcome.reason });
  }
}
