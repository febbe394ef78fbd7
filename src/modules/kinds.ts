// The three actor kinds: each machine with its owner, its deadline and its version, for the runtime's registry.
import { defineActorKind } from '../kernel/actors/kinds.ts';
import type { ActorRuntime, LiveActor } from '../kernel/actors/runtime.ts';
import { CART_MACHINE_VERSION, cartMachine, type CartMachine } from './cart/cart.machine.ts';
import { ORDER_MACHINE_VERSION, orderMachine, type OrderMachine } from './order/order.machine.ts';
import { SHIPMENT_MACHINE_VERSION, shipmentMachine, type ShipmentMachine } from './shipment/shipment.machine.ts';

export type AppKinds = { readonly cart: CartMachine; readonly order: OrderMachine; readonly shipment: ShipmentMachine };
export type AppRuntime = ActorRuntime<AppKinds>;
/** The kinds this application registers with the runtime. */
export type AppKind = keyof AppKinds;
export type CartActor = LiveActor<CartMachine>;
export type OrderActor = LiveActor<OrderMachine>;
export type ShipmentActor = LiveActor<ShipmentMachine>;

/** How long a cart may sit in `checkingOut` before the sweep finishes or undoes the checkout. */
export const CHECKOUT_STALL_MS = 15_000;

export const actorKinds = {
  cart: defineActorKind({
    kind: 'cart',
    machine: cartMachine,
    machineVersion: CART_MACHINE_VERSION,
    ownerOf: (snapshot) => snapshot.context.customerId,
    deadlineOf: (snapshot) => (snapshot.value === 'active' ? { at: snapshot.context.expiresAt, event: { type: 'EXPIRE' as const } } : null),
  }),
  order: defineActorKind({
    kind: 'order',
    machine: orderMachine,
    machineVersion: ORDER_MACHINE_VERSION,
    ownerOf: (snapshot) => snapshot.context.customerId,
    deadlineOf: (snapshot) => (snapshot.value === 'awaitingPayment' ? { at: snapshot.context.paymentDeadline, event: { type: 'EXPIRE' as const } } : null),
  }),
  shipment: defineActorKind({
    kind: 'shipment',
    machine: shipmentMachine,
    machineVersion: SHIPMENT_MACHINE_VERSION,
    ownerOf: (snapshot) => snapshot.context.customerId,
    deadlineOf: () => null,
  }),
} as const;
