// The cart kind: its machine, owner and expiry deadline, registered with the runtime by the cart module.
import { MAX_CART_LINES, MAX_LINE_QUANTITY } from '../../domain/types.ts';
import { defineActorKind, type ProtocolRefusal } from '../../kernel/actors/kinds.ts';
import type { LiveActor } from '../../kernel/actors/runtime.ts';
import { CART_MACHINE_VERSION, cartMachine, cartRefusal, isCartChange, type CartEmitted, type CartMachine, type CartRefusal } from './cart.machine.ts';

declare module '../../kernel/registry.ts' {
  interface ActorKinds {
    readonly cart: CartMachine;
  }
  interface DomainEvents {
    readonly cart: CartEmitted;
  }
}

export type CartActor = LiveActor<CartMachine>;

/** How long a cart may sit in `checkingOut` before the effect runner finishes or undoes the checkout. */
export const CHECKOUT_STALL_MS = 15_000;

/** A cart rule, as the protocol answers it (`details.reason` names the rule). */
export function cartRefusalError(cartId: string, refusal: CartRefusal): ProtocolRefusal {
  switch (refusal.reason) {
    case 'CART_NOT_ACTIVE':
      return {
        code: 'INVALID_TRANSITION',
        reason: refusal.reason,
        message: `cart ${cartId} is ${refusal.state} and can no longer be changed`,
        details: { state: refusal.state },
      };
    case 'CART_EXPIRED':
      return { code: 'INVALID_TRANSITION', reason: refusal.reason, message: `cart ${cartId} has expired`, details: { state: 'active' } };
    case 'MALFORMED_LINE':
      return {
        code: 'VALIDATION',
        reason: refusal.reason,
        message: 'quantities are whole numbers and prices non-negative minor units',
        details: { productId: refusal.productId },
      };
    case 'QUANTITY_LIMIT':
      return {
        code: 'VALIDATION',
        reason: refusal.reason,
        message: `a cart holds at most ${MAX_LINE_QUANTITY} of one product`,
        details: { productId: refusal.productId, requested: refusal.requested },
      };
    case 'LINE_LIMIT':
      return {
        code: 'VALIDATION',
        reason: refusal.reason,
        message: `a cart holds at most ${MAX_CART_LINES} different products`,
        details: { productId: refusal.productId },
      };
    case 'LINE_NOT_FOUND':
      return {
        code: 'NOT_FOUND',
        reason: refusal.reason,
        message: `product ${refusal.productId} is not in cart ${cartId}`,
        details: { productId: refusal.productId },
      };
    case 'CART_EMPTY':
      return { code: 'INVALID_TRANSITION', reason: refusal.reason, message: `cart ${cartId} is empty`, details: { state: 'active' } };
  }
}

export const cartKind = defineActorKind({
  kind: 'cart',
  machine: cartMachine,
  machineVersion: CART_MACHINE_VERSION,
  ownerOf: (snapshot) => snapshot.context.customerId,
  deadlineOf: (snapshot) => (snapshot.value === 'active' ? { at: snapshot.context.expiresAt, event: { type: 'EXPIRE' as const } } : null),
  refusal: (snapshot, event) => {
    const refusal = isCartChange(event) ? cartRefusal(String(snapshot.value), snapshot.context, event) : null;
    return refusal && cartRefusalError(snapshot.context.id, refusal);
  },
  effects: [
    {
      name: 'checkout.reserve',
      state: 'checkingOut',
      step: "reserve every line's stock for the order id, all or nothing (decided once per order id), then CHECKOUT_COMPLETED or CHECKOUT_FAILED",
      stallMs: CHECKOUT_STALL_MS,
      resume: (cart, services) => services.checkout.resume(cart),
      compensation:
        'a refused reservation fails the checkout (CHECKOUT_FAILED: the cart is active again, nothing was taken); a reservation whose cart gave the checkout up is released; stock reserved by a checkout that never became an order goes back after the payment window (orphan sweep)',
    },
  ],
});
