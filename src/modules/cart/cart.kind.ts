// The cart kind: its machine, owner and expiry deadline, registered with the runtime by the cart module.
import { defineActorKind } from '../../kernel/actors/kinds.ts';
import type { LiveActor } from '../../kernel/actors/runtime.ts';
import { CART_MACHINE_VERSION, cartMachine, type CartEmitted, type CartMachine } from './cart.machine.ts';

declare module '../../kernel/registry.ts' {
  interface ActorKinds {
    readonly cart: CartMachine;
  }
  interface DomainEvents {
    readonly cart: CartEmitted;
  }
}

export type CartActor = LiveActor<CartMachine>;

/** How long a cart may sit in `checkingOut` before the sweep finishes or undoes the checkout. */
export const CHECKOUT_STALL_MS = 15_000;

export const cartKind = defineActorKind({
  kind: 'cart',
  machine: cartMachine,
  machineVersion: CART_MACHINE_VERSION,
  ownerOf: (snapshot) => snapshot.context.customerId,
  deadlineOf: (snapshot) => (snapshot.value === 'active' ? { at: snapshot.context.expiresAt, event: { type: 'EXPIRE' as const } } : null),
});
