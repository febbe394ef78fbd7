// The shipment kind: its machine and owner, registered with the runtime by the shipment module.
import { defineActorKind } from '../../kernel/actors/kinds.ts';
import type { LiveActor } from '../../kernel/actors/runtime.ts';
import { SHIPMENT_MACHINE_VERSION, shipmentMachine, type ShipmentEmitted, type ShipmentMachine } from './shipment.machine.ts';

declare module '../../kernel/registry.ts' {
  interface ActorKinds {
    readonly shipment: ShipmentMachine;
  }
  interface DomainEvents {
    readonly shipment: ShipmentEmitted;
  }
}

export type ShipmentActor = LiveActor<ShipmentMachine>;

export const shipmentKind = defineActorKind({
  kind: 'shipment',
  machine: shipmentMachine,
  machineVersion: SHIPMENT_MACHINE_VERSION,
  ownerOf: (snapshot) => snapshot.context.customerId,
  deadlineOf: () => null,
});
