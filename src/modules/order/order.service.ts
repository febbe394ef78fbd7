// Orders: read, list, pay (once per request) and cancel a customer's orders.
import type { RefusalReason } from '../../protocol/index.ts';
import { AppError } from '../../domain/errors.ts';
import type { Clock, Identity } from '../../domain/identity.ts';
import type { ActorRepo } from '../../kernel/db/actor.repo.ts';
import { shipmentIdFor } from '../../domain/ids.ts';
import { ownedBy } from '../../kernel/access.ts';
import type { AppRuntime } from '../../kernel/registry.ts';
import type { OrderActor } from './order.kind.ts';
import type { CardDetails, ChargeResult, PaymentProvider } from './payment-provider.ts';

export interface OrderServiceOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly payments: PaymentProvider;
  readonly clock: Clock;
  readonly logger?: { warn(object: object, message: string): void };
}

/** The reason an order cancelled by its customer carries. */
const CUSTOMER_CANCEL = 'cancelled by customer';

/** The order gained a shipment that was not stopped yet: stop it, then cancel. */
class ShipmentNotStopped extends Error {}

/** The decline reason recovery records for a charge a crash or a stalled provider cut off. */
export const PAYMENT_INTERRUPTED = 'payment_interrupted';

/** The provider key of the first attempt made with `requestId`. */
export const paymentKey = (orderId: string, requestId: string) => `pay:${orderId}:${requestId}`;

/** The provider key of the `n`-th attempt made with one `requestId` (a new attempt is made only after `payment_interrupted`). */
const attemptKey = (orderId: string, requestId: string, n: number) => (n === 1 ? paymentKey(orderId, requestId) : `${paymentKey(orderId, requestId)}:${n}`);

/** A `requestId` may start at most this many attempts (each after the one before was interrupted). */
const MAX_ATTEMPTS_PER_REQUEST = 20;

type PendingPayment = NonNullable<OrderActor['snapshot']['context']['pendingPayment']>;
const providerKeyOf = (orderId: string, pending: PendingPayment) => pending.providerKey ?? paymentKey(orderId, pending.requestId);

/** A history cursor: the creation time and id of the last order of a page, opaque to clients. */
function decodeCursor(cursor: string | undefined): { createdAt: number; id: string } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'number' && Number.isSafeInteger(createdAt) && typeof id === 'string' && /^[A-Za-z0-9_]{1,100}$/.test(id))
      return { createdAt, id };
  } catch {
    // Falls through to the refusal below.
  }
  throw new AppError('VALIDATION', 'before: not a cursor this server gave out');
}

export class OrderService {
  private readonly inFlight = new Map<string, Promise<OrderActor>>();

  constructor(private readonly o: OrderServiceOptions) {}

  async get(identity: Identity, orderId: string): Promise<OrderActor> {
    return ownedBy(identity, 'order', orderId, await this.o.runtime.get('order', orderId));
  }

  async list(identity: Identity, limit = 50): Promise<OrderActor[]> {
    return (await this.history(identity, { limit })).orders;
  }

  /** A customer's orders, newest first, a page at a time (`before` is the previous page's `nextCursor`), optionally in one state. */
  async history(
    identity: Identity,
    query: { readonly limit?: number | undefined; readonly state?: string | undefined; readonly before?: string | undefined },
  ): Promise<{ orders: OrderActor[]; nextCursor: string | null }> {
    const limit = query.limit ?? 50;
    const rows = await this.o.actors.listByOwner(identity.sub, 'order', { limit: limit + 1, state: query.state, before: decodeCursor(query.before) });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      orders: page.map((row) => this.o.runtime.fromRow('order', row)),
      nextCursor: rows.length > limit && last ? Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url') : null,
    };
  }

  /**
   * Charges the order once per `requestId`: the same request again (also
   * concurrently, also after a crash) returns the first outcome. A declined
   * card leaves the order in `awaitingPayment` with `lastPaymentError`. After
   * `payment_interrupted` (the provider never settled the charge, and its key
   * is closed so it never will) the same `requestId` makes a new attempt under
   * a new provider key: the order can never be charged twice.
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

  /**
   * Cancels before shipping. A fulfilling order's shipment is cancelled first,
   * so it can never ship afterwards; if the order turns out to have gained a
   * shipment since it was read (its payment saga ran meanwhile), that
   * shipment is cancelled first too, before the order is.
   */
  async cancel(identity: Identity, orderId: string): Promise<OrderActor> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const order = await this.get(identity, orderId);
      // A paid order's shipment may already exist, not yet linked (its saga is between the two steps): stop it too.
      const opened = order.state === 'paid' && (await this.o.runtime.get('shipment', shipmentIdFor(orderId))) ? shipmentIdFor(orderId) : null;
      const shipmentId = order.state === 'fulfilling' ? order.snapshot.context.shipmentId : opened;
      if (shipmentId) await this.stopShipment(orderId, shipmentId, order.state);
      try {
        return await this.o.runtime.send('order', orderId, (current) => {
          ownedBy(identity, 'order', orderId, current);
          // The stopped shipment's own flow may have cancelled the order already, with this cancel's reason.
          if (shipmentId && current.state === 'cancelled') return null;
          if (current.state === 'fulfilling' && current.snapshot.context.shipmentId !== shipmentId) throw new ShipmentNotStopped();
          // The shipment stopped while the order was paid got linked meanwhile: the order follows it.
          return { type: 'CANCEL' as const, reason: CUSTOMER_CANCEL };
        });
      } catch (error) {
        if (!(error instanceof ShipmentNotStopped)) throw error;
      }
    }
    throw new AppError('CONFLICT', `order ${orderId} is changing; try again`);
  }

  private async stopShipment(orderId: string, shipmentId: string, state: string): Promise<void> {
    try {
      await this.o.runtime.send('shipment', shipmentId, (shipment) =>
        shipment.state === 'cancelled' ? null : { type: 'CANCEL' as const, reason: CUSTOMER_CANCEL },
      );
    } catch (error) {
      // The shipment's refusal (its parcel is with the carrier) answered as the order's: the customer asked of the order.
      if (error instanceof AppError && error.code === 'INVALID_TRANSITION') {
        throw new AppError('INVALID_TRANSITION', `order ${orderId} has left the warehouse and can no longer be cancelled`, {
          details: { state, event: 'CANCEL', reason: 'ALREADY_SHIPPED' satisfies RefusalReason },
        });
      }
      throw error;
    }
  }

  /**
   * Settles a payment left in `authorizing` by a crash or a stalled provider, from the provider's record of the
   * charge: the order's `order.charge` effect, resumed by the kernel's effect runner.
   */
  async settleStalledPayment(order: OrderActor): Promise<OrderActor> {
    const pending = order.snapshot.context.pendingPayment;
    if (!pending) return order;
    // Closes the key at the provider: a charge still under way with it now comes back declined,
    // so it can never succeed after we told the customer it was interrupted.
    const providerKey = providerKeyOf(order.id, pending);
    const outcome = await this.o.payments.closeUnsettled(providerKey, PAYMENT_INTERRUPTED);
    return this.settle(order.id, pending.requestId, providerKey, outcome);
  }

  private async charge(order: OrderActor, requestId: string, card: CardDetails): Promise<OrderActor> {
    const started = await this.startAttempt(order, requestId);
    const pending = started.snapshot.context.pendingPayment;
    // Paid by this request already, or declined by it (its outcome is the answer): no new attempt.
    if (pending?.requestId !== requestId) return started;
    const providerKey = providerKeyOf(order.id, pending);
    const outcome = await this.o.payments.charge({
      idempotencyKey: providerKey,
      orderId: order.id,
      amount: started.snapshot.context.total,
      currency: started.snapshot.context.currency,
      card,
    });
    return this.settle(order.id, requestId, providerKey, outcome);
  }

  /**
   * The order with this request's attempt under way: resumed when it is
   * (after a crash, or a duplicate on another node started it), recorded
   * (`PAY_REQUESTED`) when the request has not been tried or was interrupted.
   * Decided in the order's own step, with the provider's record read there:
   * a duplicate that finished meanwhile (paid, or declined) is seen, and its
   * outcome is the answer, never a second attempt.
   */
  private startAttempt(order: OrderActor, requestId: string): Promise<OrderActor> {
    return this.o.runtime.send('order', order.id, async (current) => {
      const { payment, pendingPayment } = current.snapshot.context;
      if (payment?.requestId === requestId || pendingPayment?.requestId === requestId) return null;
      const providerKey = await this.nextAttemptKey(order.id, requestId);
      return providerKey ? { type: 'PAY_REQUESTED' as const, requestId, providerKey } : null;
    });
  }

  /** The provider key for a new attempt with `requestId`, or undefined when the request already has its outcome. */
  private async nextAttemptKey(orderId: string, requestId: string): Promise<string | undefined> {
    for (let n = 1; n <= MAX_ATTEMPTS_PER_REQUEST; n++) {
      const key = attemptKey(orderId, requestId, n);
      const outcome = await this.o.payments.lookup(key);
      if (!outcome) return key;
      if (outcome.status !== 'declined' || outcome.reason !== PAYMENT_INTERRUPTED) return undefined;
    }
    throw new AppError('INVALID_TRANSITION', `payment request ${requestId} was interrupted ${MAX_ATTEMPTS_PER_REQUEST} times; use a new requestId`, {
      details: { requestId },
    });
  }

  /** Records the provider's outcome on the attempt it belongs to; an attempt already settled (by recovery, or a duplicate) is left as it is. */
  private settle(orderId: string, requestId: string, providerKey: string, outcome: ChargeResult): Promise<OrderActor> {
    return this.o.runtime.send('order', orderId, (current) => {
      const pending = current.snapshot.context.pendingPayment;
      if (pending?.requestId !== requestId || providerKeyOf(orderId, pending) !== providerKey) return null;
      return outcome.status === 'succeeded'
        ? { type: 'PAYMENT_SUCCEEDED' as const, requestId, chargeId: outcome.chargeId }
        : { type: 'PAYMENT_DECLINED' as const, requestId, reason: outcome.reason };
    });
  }
}
