// What clients and the warehouse see of a shipment (every view has id, version, state).
import type { ShipmentView } from '../../protocol/index.ts';
import type { ShipmentActor } from './shipment.kind.ts';

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
