// What clients see of an order (every view has id, version, state).
import { pricedLineView } from '../../domain/types.ts';
import type { OrderView } from '../../protocol/index.ts';
import type { OrderActor } from './order.kind.ts';

export function orderView(actor: OrderActor): OrderView {
  const c = actor.snapshot.context;
  return {
    id: actor.id,
    version: actor.version,
    state: actor.state as OrderView['state'],
    customerId: c.customerId,
    cartId: c.cartId,
    items: c.items.map((line) => ({ ...pricedLineView(line), name: line.name, sku: line.sku })),
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
