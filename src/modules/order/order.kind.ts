// The order kind: its machine, owner and payment deadline, registered with the runtime by the order module.
import { defineActorKind, type ProtocolRefusal } from '../../kernel/actors/kinds.ts';
import type { LiveActor } from '../../kernel/actors/runtime.ts';
import { ORDER_MACHINE_VERSION, orderMachine, orderRefusal, type OrderEmitted, type OrderMachine, type OrderRefusal } from './order.machine.ts';

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

/** An order's refusal as the protocol answers it: `INVALID_TRANSITION` with `details: { state, event, reason }`. */
export function orderRefusalError(orderId: string, state: string, event: string, refusal: OrderRefusal): ProtocolRefusal {
  const details = { state, event };
  switch (refusal.reason) {
    case 'ORDER_CLOSED':
      return { code: 'INVALID_TRANSITION', reason: refusal.reason, message: `order ${orderId} is ${refusal.state}`, details };
    case 'PAYMENT_IN_PROGRESS':
      return {
        code: 'INVALID_TRANSITION',
        reason: refusal.reason,
        message: `order ${orderId} is authorizing another payment; wait for its outcome`,
        details,
      };
    case 'ALREADY_PAID':
      return { code: 'INVALID_TRANSITION', reason: refusal.reason, message: `order ${orderId} is paid already (${refusal.state})`, details };
    case 'PAYMENT_WINDOW_CLOSED':
      return {
        code: 'INVALID_TRANSITION',
        reason: refusal.reason,
        message: `the payment window of order ${orderId} closed at ${new Date(refusal.deadline).toISOString()}`,
        details: { ...details, deadline: refusal.deadline },
      };
    case 'ALREADY_SHIPPED':
      return {
        code: 'INVALID_TRANSITION',
        reason: refusal.reason,
        message: `order ${orderId} has left the warehouse (${refusal.state}) and can no longer be cancelled`,
        details,
      };
  }
}

export const orderKind = defineActorKind({
  kind: 'order',
  machine: orderMachine,
  machineVersion: ORDER_MACHINE_VERSION,
  ownerOf: (snapshot) => snapshot.context.customerId,
  deadlineOf: (snapshot) => (snapshot.value === 'awaitingPayment' ? { at: snapshot.context.paymentDeadline, event: { type: 'EXPIRE' as const } } : null),
  refusal: (snapshot, event) => {
    const refusal = orderRefusal(String(snapshot.value), snapshot.context, event);
    return refusal && orderRefusalError(snapshot.context.id, String(snapshot.value), event.type, refusal);
  },
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
