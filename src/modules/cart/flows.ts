// The checkout saga: a cart checked out has its order (the checkout creates it; this finishes the job when the
// node that checked out died in between).
import { concatMap } from 'rxjs';
import type { AppRuntime } from '../../kernel/registry.ts';
import { defineFlow, ofType, sagaOf, type Flow, type FlowDefinition } from '../../kernel/outbox/flows.ts';
import type { CartService } from './cart.service.ts';
import type { CheckoutService } from './checkout.service.ts';

export interface CheckoutSagaDeps {
  readonly runtime: AppRuntime;
  readonly checkout: CheckoutService;
}

/** Cart checked out: its order exists (the checkout creates it; this finishes the job if that node died in between). */
export const cartCheckedOutCreatesOrder =
  ({ runtime, checkout }: CheckoutSagaDeps): Flow =>
  (events$) =>
    events$.pipe(
      ofType('cart.checkedOut'),
      concatMap(async ({ payload }) => {
        const cart = await runtime.get('cart', payload.cartId);
        if (cart?.state === 'checkedOut') await checkout.ensureOrder(cart);
      }),
    );

export function checkoutSaga(deps: CheckoutSagaDeps): FlowDefinition {
  return sagaOf('checkout-saga', ['cart.checkedOut'], [cartCheckedOutCreatesOrder(deps)]);
}

/**
 * An offer started, ended, sold out or came back: every active cart holding a product it prices is re-priced
 * (and so pushed). Best effort: a cart this misses is re-priced at its checkout anyway (PRICES_CHANGED).
 */
export function offersRepriceCarts(carts: CartService): FlowDefinition {
  return defineFlow({
    name: 'offers-reprice-carts',
    delivery: 'best-effort',
    on: ['offer.started', 'offer.ended', 'offer.soldOut', 'offer.restocked'],
    run: (events$) => events$.pipe(concatMap(({ payload }) => carts.repriceForOffer(payload.offerId))),
  });
}
