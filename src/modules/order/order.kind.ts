// The order kind: its machine, owner and payment deadline, registered with the runtime by the order module.
import { defineActorKind } from '../../kernel/actors/kinds.ts';
import type { LiveActor } from '../../kernel/actors/runtime.ts';
import { ORDER_MACHINE_VERSION, orderMachine, type OrderEmitted, type OrderMachine } from './order.machine.ts';

declare module '../../kernel/registry.ts' {
  interface ActorKinds {
    readonly order: OrderMachine;
  }
  interface DomainEvents {
    readonly order: OrderEmitted;
  }
}

export type OrderActor = LiveActor<OrderMachine>;

export const orderKind = defineActorKind({
  kind: 'order',
  machine: orderMachine,
  machineVersion: ORDER_MACHINE_VERSION,
  ownerOf: (snapshot) => snapshot.context.customerId,
  deadlineOf: (snapshot) => (snapshot.value === 'awaitingPayment' ? { at: snapshot.context.paymentDeadline, event: { type: 'EXPIRE' as const } } : null),
});
