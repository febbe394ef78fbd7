// Checkout: a cart becomes an order with its stock reserved, all lines or none, once per request.
import { AppError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import type { Clock, Identity } from '../domain/identity.ts';
import type { OrderLine, ShippingAddress } from '../domain/types.ts';
import type { ActorRepo } from '../persistence/actor.repo.ts';
import { ownedBy, unlessAlreadyDone } from './access.ts';
import type { CatalogService } from './catalog.service.ts';
import type { InventoryService } from './inventory.service.ts';
import { CHECKOUT_STALL_MS, type AppRuntime, type CartActor, type OrderActor } from './kinds.ts';

export interface CheckoutServiceOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly catalog: CatalogService;
  readonly inventory: InventoryService;
  readonly clock: Clock;
  readonly paymentWindowMs: number;
  readonly reservationGraceMs: number;
  readonly logger?: { warn(object: object, message: string): void };
}

/**
 * The checkout saga. The cart itself is the saga's log: `CHECKOUT_STARTED`
 * locks it and names the order to be, so a retry (same `requestId`), a
 * concurrent duplicate or the stall sweep after a crash all finish the same
 * checkout instead of starting another.
 *
 * 1. cart `CHECKOUT_STARTED { orderId, requestId }` (one winner per cart)
 * 2. reserve every line for `orderId` (idempotent; all or none)
 * 3. create order `orderId` (idempotent: same id)
 * 4. cart `CHECKOUT_COMPLETED` — or `CHECKOUT_FAILED` when stock ran out
 */
export class CheckoutService {
  private readonly inFlight = new Map<string, Promise<OrderActor>>();

  constructor(private readonly o: CheckoutServiceOptions) {}

  async checkout(identity: Identity, cartId: string, requestId: string, shippingAddress: ShippingAddress | null): Promise<OrderActor> {
    // The caller is part of the key: someone else's duplicate must not receive this caller's order.
    const key = `${identity.sub}:${cartId}:${requestId}`;
    const running = this.inFlight.get(key);
    if (running) return running;
    const attempt = this.run(identity, cartId, requestId, shippingAddress).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, attempt);
    return attempt;
  }

  /** Finishes checkouts left half-done by a crash (carts stuck in `checkingOut`). */
  async resumeStalled(limit = 50): Promise<number> {
    const stale = await this.o.actors.listStale('cart', 'checkingOut', this.o.clock() - CHECKOUT_STALL_MS, limit);
    let resumed = 0;
    for (const row of stale) {
      try {
        // The listing may be behind: finish only the checkout the cart is in now.
        const cart = await this.o.runtime.get('cart', row.id);
        if (!cart || cart.state !== 'checkingOut') continue;
        await this.finish(cart);
        resumed++;
      } catch (error) {
        if (!(error instanceof AppError)) this.o.logger?.warn({ err: error, cartId: row.id }, 'could not resume a stalled checkout; will retry');
      }
    }
    return resumed;
  }

  /**
   * Releases reservations past their expiry whose order never came to be (a
   * crash between reserving and creating the order) or has already closed.
   */
  async releaseOrphanReservations(limit = 100): Promise<number> {
    let released = 0;
    for (const orderId of await this.o.inventory.expiredReservationOrders(limit)) {
      const order = await this.o.runtime.get('order', orderId);
      if (order && order.state !== 'expired' && order.state !== 'cancelled') continue;
      await this.o.inventory.release(orderId);
      released++;
    }
    return released;
  }

  private async run(identity: Identity, cartId: string, requestId: string, shippingAddress: ShippingAddress | null): Promise<OrderActor> {
    let cart = ownedBy(identity, 'cart', cartId, await this.o.runtime.get('cart', cartId));
    if (cart.snapshot.context.checkout?.requestId !== requestId) {
      if (cart.state !== 'active') {
        throw new AppError('INVALID_TRANSITION', `cart ${cartId} is ${cart.state}; it cannot be checked out again`, {
          details: { state: cart.state, orderId: cart.snapshot.context.checkout?.orderId ?? null },
        });
      }
      if (cart.snapshot.context.items.length === 0) throw new AppError('INVALID_TRANSITION', `cart ${cartId} is empty`, { details: { state: cart.state } });
      try {
        cart = await this.o.runtime.send('cart', cartId, { type: 'CHECKOUT_STARTED', orderId: newId('order'), requestId, shippingAddress });
      } catch (error) {
        // A duplicate of this request on another node may have started it first.
        const latest = await this.o.runtime.get('cart', cartId);
        if (latest?.snapshot.context.checkout?.requestId !== requestId) throw error;
        cart = latest;
      }
    }
    return this.finish(cart);
  }

  private async finish(cart: CartActor): Promise<OrderActor> {
    const checkout = cart.snapshot.context.checkout;
    if (!checkout) throw new AppError('INVALID_TRANSITION', `cart ${cart.id} has no checkout in progress`);
    const existing = await this.o.runtime.get('order', checkout.orderId);
    if (existing) {
      await unlessAlreadyDone(this.o.runtime.send('cart', cart.id, { type: 'CHECKOUT_COMPLETED', orderId: checkout.orderId }));
      return existing;
    }
    if (cart.state !== 'checkingOut') throw new AppError('INVALID_TRANSITION', `cart ${cart.id} is ${cart.state}`, { details: { state: cart.state } });

    const items = await this.orderLines(cart);
    const reservation = await this.o.inventory.reserve(
      checkout.orderId,
      items,
      this.o.clock() + this.o.paymentWindowMs + this.o.reservationGraceMs,
    );
    if (!reservation.ok && reservation.reason === 'RELEASED') {
      await unlessAlreadyDone(
        this.o.runtime.send('cart', cart.id, { type: 'CHECKOUT_FAILED', orderId: checkout.orderId, reason: 'CHECKOUT_ABANDONED' }),
      );
      throw new AppError('CONFLICT', `the checkout of cart ${cart.id} was abandoned and its stock released; check out again with a new requestId`);
    }
    if (!reservation.ok) {
      const product = items.find((line) => line.productId === reservation.productId);
      await unlessAlreadyDone(
        this.o.runtime.send('cart', cart.id, { type: 'CHECKOUT_FAILED', orderId: checkout.orderId, reason: `OUT_OF_STOCK:${reservation.productId}` }),
      );
      throw new AppError('OUT_OF_STOCK', `only ${reservation.available} of ${product?.name ?? reservation.productId} available`, {
        details: { productId: reservation.productId, requested: reservation.requested, available: reservation.available },
      });
    }
    const { actor: order } = await this.o.runtime.create('order', checkout.orderId, {
      id: checkout.orderId,
      customerId: cart.snapshot.context.customerId,
      cartId: cart.id,
      items,
      currency: cart.snapshot.context.currency,
      shippingAddress: checkout.shippingAddress,
      paymentWindowMs: this.o.paymentWindowMs,
      at: this.o.clock(),
    });
    await unlessAlreadyDone(this.o.runtime.send('cart', cart.id, { type: 'CHECKOUT_COMPLETED', orderId: checkout.orderId }));
    return order;
  }

  private async orderLines(cart: CartActor): Promise<OrderLine[]> {
    const lines = cart.snapshot.context.items;
    const products = await this.o.catalog.getProducts(lines.map((line) => line.productId));
    return lines.map((line) => {
      const product = products.get(line.productId);
      if (!product) throw new AppError('NOT_FOUND', `product ${line.productId} is no longer sold`);
      return { productId: line.productId, quantity: line.quantity, unitPrice: line.unitPrice, name: product.name, sku: product.sku };
    });
  }
}
