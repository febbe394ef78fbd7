// The checkout saga: a cart checked out has its order (the checkout creates it; this finishes the job when the
// node that checked out died in between).
import { concatMap } from 'rxjs';
import type { AppRuntime } from '../../kernel/registry.ts';
import { ofType, sagaOf, type Flow, type FlowDefinition } from '../../kernel/outbox/flows.ts';
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
