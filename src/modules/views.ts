// Public views of actors: what clients see of a cart, an order or a shipment. Every view has id, version, state.
import type { CartView, OrderView, ShipmentView } from '../protocol/index.ts';
import type { CartActor, OrderActor, ShipmentActor } from './kinds.ts';

export type { CartView, OrderView, ShipmentView } from '../protocol/index.ts';

export function cartView(actor: CartActor): CartView {
  const c = actor.snapshot.context;
  const items = c.items.map((line) => ({ ...line, lineTotal: line.quantity * line.unitPrice }));
  return {
    id: actor.id,
    version: actor.version,
    state: actor.state as CartView['state'],
    customerId: c.customerId,
    currency: c.currency,
    items,
    itemCount: c.items.reduce((n, line) => n + line.quantity, 0),
    total: items.reduce((sum, line) => sum + line.lineTotal, 0),
    orderId: c.checkout?.orderId ?? null,
    lastCheckoutError: c.lastCheckoutError,
    expiresAt: c.expiresAt,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export function orderView(actor: OrderActor): OrderView {
  const c = actor.snapshot.context;
  return {
    id: actor.id,
    version: actor.version,
    state: actor.state as OrderView['state'],
    customerId: c.customerId,
    cartId: c.cartId,
    items: c.items.map((line) => ({ ...line, lineTotal: line.quantity * line.unitPrice })),
    total: c.total,
    currency: c.currency,
    shippingAddress: c.shippingAddress,
    paymentDeadline: c.paymentDeadline,
    payment: c.payment ? { chargeId: c.payment.chargeId, amount: c.payment.amount, paidAt: c.payment.paidAt } : null,
    paymentAttempts: c.paymentAttempts,
    lastPaymentError: c.lastPaymentError,
    refund: c.refund,
    shipmentId: c.shipmentId,
    carrier: c.carrier,
    trackingNumber: c.trackingNumber,
    cancelReason: c.cancelReason,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export function shipmentView(actor: ShipmentActor): ShipmentView {
  const c = actor.snapshot.context;
  return {
    id: actor.id,
    version: actor.version,
    state: actor.state as ShipmentView['state'],
    orderId: c.orderId,
    customerId: c.customerId,
    items: c.items,
    shippingAddress: c.shippingAddress,
    carrier: c.carrier,
    trackingNumber: c.trackingNumber,
    exception: c.exception,
    history: c.history,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}
