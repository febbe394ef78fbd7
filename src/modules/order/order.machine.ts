// The order: from checkout through payment and fulfilment to delivery, cancellation or expiry.
import { assign, emit, setup } from 'xstate';
import type { Currency, MinorUnits, OrderLine, ShippingAddress, Timestamp } from '../../domain/types.ts';

export const ORDER_MACHINE_VERSION = 1;

export interface OrderPayment {
  readonly requestId: string;
  readonly chargeId: string;
  readonly amount: MinorUnits;
  readonly paidAt: Timestamp;
}

export interface OrderRefund {
  readonly amount: MinorUnits;
  readonly chargeId: string;
  readonly status: 'pending' | 'refunded';
  readonly refundId: string | null;
}

export interface OrderContext {
  readonly id: string;
  readonly customerId: string;
  readonly cartId: string;
  readonly items: readonly OrderLine[];
  readonly total: MinorUnits;
  readonly currency: Currency;
  readonly shippingAddress: ShippingAddress | null;
  readonly createdAt: Timestamp;
  readonly updatedAt: Timestamp;
  /** The reservation is held until then; an unpaid order expires at this instant. */
  readonly paymentDeadline: Timestamp;
  /**
   * The payment request being authorized right now, if any, with the key the
   * provider knows the charge by (absent in snapshots written before it was
   * recorded: those used `pay:<orderId>:<requestId>`).
   */
  readonly pendingPayment: { readonly requestId: string; readonly startedAt: Timestamp; readonly providerKey?: string } | null;
  readonly payment: OrderPayment | null;
  readonly paymentAttempts: number;
  readonly lastPaymentError: string | null;
  readonly refund: OrderRefund | null;
  readonly shipmentId: string | null;
  readonly carrier: string | null;
  readonly trackingNumber: string | null;
  readonly cancelReason: string | null;
}

export interface OrderInput {
  readonly id: string;
  readonly customerId: string;
  readonly cartId: string;
  readonly items: readonly OrderLine[];
  readonly currency: Currency;
  readonly shippingAddress: ShippingAddress | null;
  readonly paymentWindowMs: number;
  readonly at: Timestamp;
}

export type OrderEvent =
  | { type: 'PAY_REQUESTED'; requestId: string; providerKey?: string; at: Timestamp }
  | { type: 'PAYMENT_SUCCEEDED'; requestId: string; chargeId: string; at: Timestamp }
  | { type: 'PAYMENT_DECLINED'; requestId: string; reason: string; at: Timestamp }
  | { type: 'CANCEL'; reason: string; at: Timestamp }
  | { type: 'EXPIRE'; at: Timestamp }
  | { type: 'SHIPMENT_CREATED'; shipmentId: string; at: Timestamp }
  | { type: 'SHIPMENT_SHIPPED'; carrier: string; trackingNumber: string; at: Timestamp }
  | { type: 'SHIPMENT_DELIVERED'; at: Timestamp }
  | { type: 'REFUND_COMPLETED'; refundId: string; at: Timestamp };

export type OrderEmitted =
  | { type: 'order.placed'; orderId: string; customerId: string; total: MinorUnits }
  | { type: 'order.paymentRequested'; orderId: string; requestId: string }
  | { type: 'order.paymentDeclined'; orderId: string; reason: string }
  | { type: 'order.paid'; orderId: string; customerId: string; chargeId: string }
  | { type: 'order.shipped'; orderId: string; shipmentId: string }
  | { type: 'order.delivered'; orderId: string }
  | { type: 'order.cancelled'; orderId: string; refundDue: MinorUnits; chargeId: string | null }
  | { type: 'order.expired'; orderId: string };

/**
 * Why an order refuses what its customer asks of it (to pay, to cancel), by rule. The payment deadline is stated
 * here once, for the `PAY_REQUESTED` guard and for the answer; the other rules are the chart's own (no `CANCEL`
 * out of `shipped`), explained here for the protocol. Saga events refused are not the customer's doing: null.
 */
export type OrderRefusal =
  | { readonly reason: 'ORDER_CLOSED'; readonly state: string }
  | { readonly reason: 'PAYMENT_IN_PROGRESS' }
  | { readonly reason: 'ALREADY_PAID'; readonly state: string }
  | { readonly reason: 'PAYMENT_WINDOW_CLOSED'; readonly deadline: Timestamp }
  | { readonly reason: 'ALREADY_SHIPPED'; readonly state: string };

export function orderRefusal(state: string, context: OrderContext, event: OrderEvent): OrderRefusal | null {
  if (event.type !== 'PAY_REQUESTED' && event.type !== 'CANCEL') return null;
  if (state === 'cancelled' || state === 'expired') return { reason: 'ORDER_CLOSED', state };
  if (state === 'authorizing') return { reason: 'PAYMENT_IN_PROGRESS' };
  if (event.type === 'CANCEL') return state === 'shipped' || state === 'delivered' ? { reason: 'ALREADY_SHIPPED', state } : null;
  if (state !== 'awaitingPayment') return { reason: 'ALREADY_PAID', state };
  return event.at < context.paymentDeadline ? null : { reason: 'PAYMENT_WINDOW_CLOSED', deadline: context.paymentDeadline };
}

/**
 * Order lifecycle. Payment is an effect outside the machine: `PAY_REQUESTED`
 * records the attempt (so a crash mid-charge is resumed with the same key) and
 * the result comes back as `PAYMENT_SUCCEEDED` or `PAYMENT_DECLINED`.
 *
 * @example
 * const [order] = initialTransition(orderMachine, { id, customerId, cartId, items, currency: 'EUR', shippingAddress: null, paymentWindowMs: 900_000, at: now });
 */
export const orderMachine = setup({
  types: {
    context: {} as OrderContext,
    events: {} as OrderEvent,
    input: {} as OrderInput,
    emitted: {} as OrderEmitted,
  },
  guards: {
    isBeforeDeadline: ({ context, event }) => event.type === 'PAY_REQUESTED' && orderRefusal('awaitingPayment', context, event) === null,
    isPendingRequest: ({ context, event }) =>
      (event.type === 'PAYMENT_SUCCEEDED' || event.type === 'PAYMENT_DECLINED') && context.pendingPayment?.requestId === event.requestId,
    isPastDeadline: ({ context, event }) => event.type === 'EXPIRE' && event.at >= context.paymentDeadline,
    isRefundPending: ({ context }) => context.refund?.status === 'pending',
  },
  actions: {
    requestPayment: assign(({ context, event }) =>
      event.type === 'PAY_REQUESTED'
        ? {
            pendingPayment: { requestId: event.requestId, startedAt: event.at, ...(event.providerKey ? { providerKey: event.providerKey } : {}) },
            paymentAttempts: context.paymentAttempts + 1,
            updatedAt: event.at,
          }
        : {},
    ),
    recordPayment: assign(({ context, event }) =>
      event.type === 'PAYMENT_SUCCEEDED'
        ? {
            payment: { requestId: event.requestId, chargeId: event.chargeId, amount: context.total, paidAt: event.at },
            pendingPayment: null,
            lastPaymentError: null,
            updatedAt: event.at,
          }
        : {},
    ),
    recordDecline: assign(({ event }) =>
      event.type === 'PAYMENT_DECLINED' ? { pendingPayment: null, lastPaymentError: event.reason, updatedAt: event.at } : {},
    ),
    recordCancel: assign(({ event }) => (event.type === 'CANCEL' ? { cancelReason: event.reason, updatedAt: event.at } : {})),
    recordRefundDue: assign(({ context }) => ({
      refund: context.payment ? { amount: context.payment.amount, chargeId: context.payment.chargeId, status: 'pending' as const, refundId: null } : null,
    })),
    recordRefund: assign(({ context, event }) =>
      event.type === 'REFUND_COMPLETED' && context.refund
        ? { refund: { ...context.refund, status: 'refunded' as const, refundId: event.refundId }, updatedAt: event.at }
        : {},
    ),
    recordExpiry: assign(({ event }) => (event.type === 'EXPIRE' ? { updatedAt: event.at } : {})),
    recordShipment: assign(({ event }) => (event.type === 'SHIPMENT_CREATED' ? { shipmentId: event.shipmentId, updatedAt: event.at } : {})),
    recordShipped: assign(({ event }) =>
      event.type === 'SHIPMENT_SHIPPED' ? { carrier: event.carrier, trackingNumber: event.trackingNumber, updatedAt: event.at } : {},
    ),
    recordDelivered: assign(({ event }) => (event.type === 'SHIPMENT_DELIVERED' ? { updatedAt: event.at } : {})),
    emitPlaced: emit(({ context }) => ({ type: 'order.placed' as const, orderId: context.id, customerId: context.customerId, total: context.total })),
    emitPaymentRequested: emit(({ context }) => ({
      type: 'order.paymentRequested' as const,
      orderId: context.id,
      requestId: context.pendingPayment?.requestId ?? '',
    })),
    emitPaymentDeclined: emit(({ context }) => ({
      type: 'order.paymentDeclined' as const,
      orderId: context.id,
      reason: context.lastPaymentError ?? 'declined',
    })),
    emitPaid: emit(({ context }) => ({
      type: 'order.paid' as const,
      orderId: context.id,
      customerId: context.customerId,
      chargeId: context.payment?.chargeId ?? '',
    })),
    emitShipped: emit(({ context }) => ({ type: 'order.shipped' as const, orderId: context.id, shipmentId: context.shipmentId ?? '' })),
    emitDelivered: emit(({ context }) => ({ type: 'order.delivered' as const, orderId: context.id })),
    emitCancelled: emit(({ context }) => ({
      type: 'order.cancelled' as const,
      orderId: context.id,
      refundDue: context.refund?.amount ?? 0,
      chargeId: context.refund?.chargeId ?? null,
    })),
    emitExpired: emit(({ context }) => ({ type: 'order.expired' as const, orderId: context.id })),
  },
}).createMachine({
  id: 'order',
  context: ({ input }) => {
    const total = input.items.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
    return {
      id: input.id,
      customerId: input.customerId,
      cartId: input.cartId,
      items: input.items,
      total,
      currency: input.currency,
      shippingAddress: input.shippingAddress,
      createdAt: input.at,
      updatedAt: input.at,
      paymentDeadline: input.at + input.paymentWindowMs,
      pendingPayment: null,
      payment: null,
      paymentAttempts: 0,
      lastPaymentError: null,
      refund: null,
      shipmentId: null,
      carrier: null,
      trackingNumber: null,
      cancelReason: null,
    };
  },
  entry: 'emitPlaced',
  initial: 'awaitingPayment',
  states: {
    awaitingPayment: {
      on: {
        PAY_REQUESTED: { guard: 'isBeforeDeadline', target: 'authorizing', actions: ['requestPayment', 'emitPaymentRequested'] },
        CANCEL: { target: 'cancelled', actions: ['recordCancel', 'emitCancelled'] },
        EXPIRE: { guard: 'isPastDeadline', target: 'expired', actions: ['recordExpiry', 'emitExpired'] },
      },
    },
    authorizing: {
      on: {
        PAYMENT_SUCCEEDED: { guard: 'isPendingRequest', target: 'paid', actions: ['recordPayment', 'emitPaid'] },
        PAYMENT_DECLINED: { guard: 'isPendingRequest', target: 'awaitingPayment', actions: ['recordDecline', 'emitPaymentDeclined'] },
      },
    },
    paid: {
      on: {
        SHIPMENT_CREATED: { target: 'fulfilling', actions: 'recordShipment' },
        CANCEL: { target: 'cancelled', actions: ['recordCancel', 'recordRefundDue', 'emitCancelled'] },
      },
    },
    fulfilling: {
      on: {
        SHIPMENT_SHIPPED: { target: 'shipped', actions: ['recordShipped', 'emitShipped'] },
        CANCEL: { target: 'cancelled', actions: ['recordCancel', 'recordRefundDue', 'emitCancelled'] },
      },
    },
    shipped: {
      on: { SHIPMENT_DELIVERED: { target: 'delivered', actions: ['recordDelivered', 'emitDelivered'] } },
    },
    delivered: { type: 'final' },
    cancelled: {
      on: { REFUND_COMPLETED: { guard: 'isRefundPending', actions: 'recordRefund' } },
    },
    expired: { type: 'final' },
  },
});

export type OrderMachine = typeof orderMachine;
