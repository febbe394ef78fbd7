// The shipment kind: its machine and owner, registered with the runtime by the shipment module.
import { defineActorKind, type ProtocolRefusal } from '../../kernel/actors/kinds.ts';
import type { LiveActor } from '../../kernel/actors/runtime.ts';
import {
  SHIPMENT_MACHINE_VERSION,
  shipmentMachine,
  shipmentRefusal,
  type ShipmentEmitted,
  type ShipmentMachine,
  type ShipmentRefusal,
} from './shipment.machine.ts';

declare module '../../kernel/registry.ts' {
  interface ActorKinds {
    readonly shipment: ShipmentMachine;
  }
  interface DomainEvents {
    readonly shipment: ShipmentEmitted;
  }
}

export type ShipmentActor = LiveActor<ShipmentMachine>;

/** A shipment's refusal as the protocol answers it: `INVALID_TRANSITION` with `details: { state, event, reason }`. */
export function shipmentRefusalError(shipmentId: string, event: string, refusal: ShipmentRefusal): ProtocolRefusal {
  const details = { state: refusal.state, event };
  const message = {
    SHIPMENT_CLOSED: `shipment ${shipmentId} is ${refusal.state}`,
    ALREADY_SHIPPED: `shipment ${shipmentId} has left the warehouse and can no longer be cancelled`,
    NOT_SHIPPED: `shipment ${shipmentId} never left the warehouse, so it cannot be delivered`,
    NOT_NEXT_STEP: `shipment ${shipmentId} in state ${refusal.state} does not accept ${event}`,
  }[refusal.reason];
  return { code: 'INVALID_TRANSITION', reason: refusal.reason, message, details };
}

export const shipmentKind = defineActorKind({
  kind: 'shipment',
  machine: shipmentMachine,
  machineVersion: SHIPMENT_MACHINE_VERSION,
  ownerOf: (snapshot) => snapshot.context.customerId,
  deadlineOf: () => null,
  refusal: (snapshot, event) => shipmentRefusalError(snapshot.context.id, event.type, shipmentRefusal(String(snapshot.value), snapshot.context, event)),
});
