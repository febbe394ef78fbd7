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

/** How long an order may sit in `authorizing` before the effect runner asks the provider what happened. */
export const AUTHORIZATION_STALL_MS = 30_000;

export const orderKind = defineActorKind({
  kind: 'order',
  machine: orderMachine,
  machineVersion: ORDER_MACHINE_VERSION,
  ownerOf: (snapshot) => snapshot.context.customerId,
  deadlineOf: (snapshot) => (snapshot.value === 'awaitingPayment' ? { at: snapshot.context.paymentDeadline, event: { type: 'EXPIRE' as const } } : null),
  effects: [
    {
      name: 'order.charge',
      state: 'authorizing',
      step: "charge the card through the payment provider under the attempt's own key (pay:<order>:<request>[:<n>]), then PAYMENT_SUCCEEDED or PAYMENT_DECLINED",
      stallMs: AUTHORIZATION_STALL_MS,
      resume: (order, services) => services.orders.settleStalledPayment(order),
      compensation:
        'the provider key is closed, so a charge still under way comes back declined and can never succeed later; the attempt is recorded as declined (payment_interrupted) and the customer may pay again; a charge that did succeed is recorded as paid',
    },
  ],
});
