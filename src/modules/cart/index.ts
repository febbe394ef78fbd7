// The cart module: the cart kind, its /store commands, its topic and pushes, the checkout (reservation, then the
// order), the checkout saga, and the sweeps that finish or undo checkouts a crash interrupted.
import { command } from '../../kernel/gateway/commands.ts';
import { changePushes, once } from '../../kernel/gateway/pushes.ts';
import { IdempotencyRepo } from '../../kernel/db/idempotency.repo.ts';
import { eraseOwned } from '../../kernel/privacy.ts';
import { defineModule, type StoreCommandTable } from '../../kernel/module.ts';
import { storeCommands as c, pushTopics } from '../../protocol/index.ts';
import { orderView } from '../order/index.ts';
import { cartKind } from './cart.kind.ts';
import { CartService } from './cart.service.ts';
import { CheckoutService } from './checkout.service.ts';
import { checkoutSaga, offersRepriceCarts } from './flows.ts';
import { CartLinesRepo } from './cart-lines.repo.ts';
import { cartView } from './views.ts';

export { CartService } from './cart.service.ts';
export { CheckoutService } from './checkout.service.ts';
export { CHECKOUT_STALL_MS, type CartActor } from './cart.kind.ts';
export { cartView } from './views.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly carts: CartService;
    readonly checkout: CheckoutService;
  }
}

export const cartModule = defineModule({
  name: 'cart',
  kinds: { cart: cartKind },
  create: ({ config, clock, db, runtime, actors, steps, logger, services }) => {
    const carts = new CartService({
      runtime,
      actors,
      idempotency: new IdempotencyRepo(db.knex, clock),
      catalog: services.catalog,
      offers: services.offers,
      cartLines: new CartLinesRepo(db.knex, db.dialect),
      clock,
      cartTtlMs: config.cartTtlMs,
      cartsPerMinute: config.cartsPerMinute,
      maxOpenCarts: config.maxOpenCarts,
      currency: 'EUR',
      logger,
    });
    const checkout = new CheckoutService({
      runtime,
      actors,
      catalog: services.catalog,
      offers: services.offers,
      inventory: services.inventory,
      steps,
      clock,
      paymentWindowMs: config.paymentWindowMs,
      reservationGraceMs: config.reservationGraceMs,
      logger,
      defaultAddress: (customerId) => services.auth.defaultAddress(customerId),
      reprice: (cartId) => carts.reprice(cartId),
    });
    return {
      services: { carts, checkout },
      // A cart that expired or was checked out changes no more, and a checked-out cart's history is its order's:
      // its journal goes after CART_JOURNAL_RETENTION_MS, its snapshot stays (cart:get, a checkout retried).
      journalRetention: [{ kind: 'cart', states: ['expired', 'checkedOut'], olderThanMs: config.cartJournalRetentionMs }],
      commands: {
        store: {
          'cart:create': command(c['cart:create'], async ({ identity }, p) => ({ cart: cartView(await carts.create(identity, p.requestId)) })),
          'cart:get': command(c['cart:get'], async ({ identity }, p) => ({ cart: cartView(await carts.get(identity, p.cartId)) })),
          'carts:list': command(c['carts:list'], async ({ identity }) => ({ carts: (await carts.listOwn(identity)).map(cartView) })),
          'cart:addItem': command(c['cart:addItem'], async ({ identity }, p) => ({
            cart: cartView(await carts.addItem(identity, p.cartId, p.productId, p.quantity)),
          })),
          'cart:setQuantity': command(c['cart:setQuantity'], async ({ identity }, p) => ({
            cart: cartView(await carts.setQuantity(identity, p.cartId, p.productId, p.quantity)),
          })),
          'cart:removeItem': command(c['cart:removeItem'], async ({ identity }, p) => ({
            cart: cartView(await carts.removeItem(identity, p.cartId, p.productId)),
          })),
          'cart:checkout': command(c['cart:checkout'], async ({ identity }, p) => ({
            order: orderView(await checkout.checkout(identity, p.cartId, p.requestId, p.shippingAddress ?? null)),
          })),
        } satisfies Partial<StoreCommandTable>,
      },
      topics: { store: { cart: { view: async (identity, id) => cartView(await carts.get(identity, id)) } } },
      pushes: changePushes(runtime.changes$, 'cart', (change) => ({
        topics: pushTopics['cart:updated'](change),
        event: 'cart:updated',
        payload: once(() => [cartView(change.actor)]),
        // A guest's cart adopted by an account: the guest's sockets stop following it.
        onlyOwner: (change.event as { type?: string }).type === 'ASSIGN_CUSTOMER' ? (change.ownerId ?? undefined) : undefined,
      })),
      flows: [checkoutSaga({ runtime, checkout }), offersRepriceCarts(carts)],
      // A deleted account's carts keep their lines (no personal data) but lose the shipping address of a checkout.
      erasure: {
        erase: (customerId) => eraseOwned(runtime, actors, 'cart', customerId, ['shippingAddress']),
      },
      sweeps: {
        'orphan reservations': () => checkout.releaseOrphanReservations(),
      },
    };
  },
});
