// Checkout: a cart becomes an order with its stock reserved, all lines or none, once per request.
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock, Identity } from '../../domain/identity.ts';
import type { CartLine, OrderLine, ShippingAddress } from '../../domain/types.ts';
import type { ActorRepo } from '../../kernel/db/actor.repo.ts';
import { ownedBy } from '../../kernel/access.ts';
import type { CatalogService } from '../catalog/index.ts';
import type { ProductView } from '../../protocol/index.ts';
import type { InventoryService } from '../inventory/index.ts';
import { limitReached, type OfferService } from '../offers/index.ts';
import type { RefusalReason } from '../inventory/index.ts';
import type { AppRuntime } from '../../kernel/registry.ts';
import type { OrderActor } from '../order/index.ts';
import { refusedBecause, type CommandEvent } from '../../kernel/actors/kinds.ts';
import { cartRefusalError, type CartActor } from './cart.kind.ts';
import { cartRefusal, type CartMachine } from './cart.machine.ts';
import type { SagaSteps } from '../../kernel/outbox/saga-steps.ts';

/** The cart gave this checkout up (the orphan sweep, after a long stall): its stock is released. */
class CheckoutAbandoned extends AppError {
  constructor(cartId: string) {
    super('CONFLICT', `the checkout of cart ${cartId} was abandoned and its stock released; check out again with a new requestId`);
  }
}

const abandoned = (cartId: string) => new CheckoutAbandoned(cartId);

/** The answer to a refused reservation: stock short, a drop sold out, or the customer's share of a drop taken. */
function refused(refusal: { reason: RefusalReason; productId: string; requested: number; available: number }, name: string | undefined): AppError {
  const details = { productId: refusal.productId, requested: refusal.requested, available: refusal.available };
  const what = name ?? refusal.productId;
  switch (refusal.reason) {
    case 'OUT_OF_STOCK':
      return new AppError('OUT_OF_STOCK', `only ${refusal.available} of ${what} available`, { details });
    case 'SOLD_OUT':
      return new AppError('SOLD_OUT', `the drop of ${what} is sold out (or over); the cart shows its price without it`, { details });
    case 'LIMIT_REACHED':
      return limitReached(refusal.productId, refusal.requested, refusal.available);
  }
}

export interface CheckoutServiceOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly catalog: CatalogService;
  readonly offers: OfferService;
  readonly inventory: InventoryService;
  readonly steps: SagaSteps;
  readonly clock: Clock;
  readonly paymentWindowMs: number;
  readonly reservationGraceMs: number;
  readonly logger?: { warn(object: object, message: string): void };
  /** Re-prices an active cart (after a checkout a drop refused). */
  readonly reprice?: (cartId: string) => Promise<unknown>;
  /** A signed-in customer's default shipping address, used by a checkout that names none. */
  readonly defaultAddress?: (customerId: string) => Promise<ShippingAddress | null>;
}

/**
 * The checkout saga. The cart is its log and its arbiter: `CHECKOUT_STARTED`
 * locks it and names the order to be, and only the cart's own step decides
 * between `CHECKOUT_COMPLETED` and `CHECKOUT_FAILED` for that order, once. A
 * retry (same `requestId`), a concurrent duplicate on any node, the stall
 * sweep after a crash and the orphan sweep all drive the same checkout to the
 * same end instead of starting another.
 *
 * 1. cart `CHECKOUT_STARTED { orderId, requestId }` (one winner per cart)
 * 2. reserve every line for `orderId`: all or none, the outcome recorded once
 *    per order id, so every duplicate gets the same answer
 * 3. out of stock: cart `CHECKOUT_FAILED` (no order exists or ever will for it)
 * 4. reserved: cart `CHECKOUT_COMPLETED`, then the order is created with that
 *    id (idempotent; the `cart.checkedOut` flow creates it too if we crash here)
 */
/** A line whose price changed since it was added: the catalog's price, or an offer that started or ended. */
export interface PriceChange {
  readonly productId: string;
  readonly was: number;
  readonly now: number;
  readonly listPrice: number;
  readonly offerId: string | null;
}

type CartCommand = CommandEvent<CartMachine>;

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

  /**
   * Finishes a checkout a crash (or a stalled database) left half-done: the cart's `checkout.reserve` effect,
   * resumed by the kernel's effect runner. Completes it when its reservation was (or now is) granted, fails
   * it when refused; idempotent, like every step of the checkout.
   */
  resume(cart: CartActor): Promise<OrderActor> {
    return this.finish(cart);
  }

  /**
   * Releases reservations past their expiry whose order never came to be (a
   * checkout stuck for longer than the payment window) or has already closed.
   * The cart decides first: a checkout it completed gets its order instead,
   * one it is still in is abandoned (`CHECKOUT_FAILED`) before its stock goes
   * back, so no order can be made from stock that was given back.
   */
  async releaseOrphanReservations(limit = 100): Promise<number> {
    let released = 0;
    for (const { orderId, cartId } of await this.o.inventory.expiredReservationOrders(limit)) {
      try {
        if (await this.releaseOrphan(orderId, cartId)) released++;
      } catch (error) {
        // One that fails (a cart being changed elsewhere, the database away) waits for the next sweep; the others go on.
        this.o.logger?.warn({ err: error, orderId, cartId }, 'could not settle an orphan reservation; will retry');
      }
    }
    return released;
  }

  /** Releases one orphan reservation, or makes the missing order of a cart that completed. True when stock went back. */
  private async releaseOrphan(orderId: string, cartId: string | null): Promise<boolean> {
    const order = await this.o.runtime.get('order', orderId);
    if (order && order.state !== 'expired' && order.state !== 'cancelled') return false;
    if (!order && cartId) {
      const cart = await this.o.runtime.send('cart', cartId, (actor) =>
        actor.state === 'checkingOut' && actor.snapshot.context.checkout?.orderId === orderId
          ? { type: 'CHECKOUT_FAILED' as const, orderId, reason: 'CHECKOUT_ABANDONED' }
          : null,
      );
      if (cart.state === 'checkedOut' && cart.snapshot.context.checkout?.orderId === orderId) {
        await this.ensureOrder(cart);
        return false;
      }
    }
    await this.o.inventory.release(orderId);
    return true;
  }

  /**
   * The order of a cart that completed its checkout, created if it is not yet
   * (same id, so every caller gets the same order). Used by the checkout itself
   * and by the `cart.checkedOut` flow, which finishes it after a crash.
   */
  async ensureOrder(cart: CartActor, lines?: readonly OrderLine[]): Promise<OrderActor> {
    const checkout = cart.snapshot.context.checkout;
    if (cart.state !== 'checkedOut' || !checkout)
      throw new AppError('INVALID_TRANSITION', `cart ${cart.id} has not been checked out`, { details: { state: cart.state } });
    // Without its lines at hand, an order that exists is found before the catalog is read for them (`create`
    // finds it too, and answers with it).
    if (!lines) {
      const existing = await this.o.runtime.get('order', checkout.orderId);
      if (existing) return existing;
    }
    const { actor: order } = await this.o.runtime.create('order', checkout.orderId, {
      id: checkout.orderId,
      customerId: cart.snapshot.context.customerId,
      cartId: cart.id,
      items: lines ? [...lines] : await this.orderLines(cart),
      currency: cart.snapshot.context.currency,
      shippingAddress: checkout.shippingAddress,
      paymentWindowMs: this.o.paymentWindowMs,
      at: this.o.clock(),
    });
    return order;
  }

  private async run(identity: Identity, cartId: string, requestId: string, named: ShippingAddress | null): Promise<OrderActor> {
    let repriced: PriceChange[] = [];
    // The products the prices were checked against: the order's names and SKUs come from the same read.
    let products: ReadonlyMap<string, ProductView> | undefined;
    // No address given: a customer's default one from the address book (a guest has none).
    const shippingAddress = named ?? (identity.role === 'customer' && this.o.defaultAddress ? await this.o.defaultAddress(identity.sub) : null);
    // Judged in the cart's own step: a duplicate of this request (here or on another node) finds the checkout it started.
    const cart = await this.o.runtime.send('cart', cartId, async (actor): Promise<CartCommand | null> => {
      // Judged again on a fresher state (a lost compare-and-set): what an earlier judgement read is not this one's.
      products = undefined;
      repriced = [];
      const current = ownedBy(identity, 'cart', cartId, actor);
      const { checkout, failedCheckout } = current.snapshot.context;
      if (checkout?.requestId === requestId) return null;
      // This request already failed (a duplicate that arrives after the failure, or a retry): same answer.
      if (failedCheckout?.requestId === requestId) throw await this.failureOf(cartId, failedCheckout.orderId);
      const started = { type: 'CHECKOUT_STARTED' as const, orderId: newId('order'), requestId, shippingAddress };
      const refusal = cartRefusal(current.state, current.snapshot.context, { ...started, at: this.o.clock() });
      if (refusal?.reason === 'CART_NOT_ACTIVE') {
        throw new AppError('INVALID_TRANSITION', `cart ${cartId} is ${current.state}; it cannot be checked out again`, {
          details: { state: current.state, orderId: checkout?.orderId ?? null, reason: refusal.reason },
        });
      }
      if (refusal) throw refusedBecause(cartRefusalError(cartId, refusal));
      // The lines keep the price they were added at until now: a price the catalog changed since is taken
      // instead of checking out, and the customer, told so, checks out again at the prices shown.
      products = await this.sold(current);
      repriced = await currentPriceChanges(this.o.catalog, this.o.offers, current, products, { fresh: true });
      if (repriced.length > 0) {
        return { type: 'REPRICE', prices: repriced.map(({ productId, now, listPrice, offerId }) => ({ productId, unitPrice: now, listPrice, offerId })) };
      }
      return started;
    });
    if (repriced.length > 0) {
      throw new AppError(
        'CONFLICT',
        `prices changed since ${repriced.length === 1 ? 'a line was' : 'the lines were'} added; the cart shows the new ones: check out again`,
        {
          details: { reason: 'PRICES_CHANGED', changes: repriced, cart: { id: cart.id, version: cart.version } },
        },
      );
    }
    return this.finish(cart, products);
  }

  /** The error a failed attempt answered with, rebuilt from its recorded reservation decision. */
  private async failureOf(cartId: string, orderId: string): Promise<AppError> {
    const decision = await this.o.inventory.decision(orderId);
    if (decision && !decision.ok && decision.reason !== 'RELEASED') {
      const name = (await this.o.catalog.getProducts([decision.productId])).get(decision.productId)?.name;
      return refused(decision, name);
    }
    return abandoned(cartId);
  }

  /** Drives a started checkout to its end; `products`, when given, were read for this cart's lines by this request. */
  private async finish(cart: CartActor, products?: ReadonlyMap<string, ProductView>): Promise<OrderActor> {
    const checkout = cart.snapshot.context.checkout;
    if (!checkout) throw new AppError('INVALID_TRANSITION', `cart ${cart.id} has no checkout in progress`, { details: { state: cart.state } });
    if (cart.state === 'checkedOut') return this.ensureOrder(cart);
    if (cart.state !== 'checkingOut') throw new AppError('INVALID_TRANSITION', `cart ${cart.id} is ${cart.state}`, { details: { state: cart.state } });
    const { orderId } = checkout;

    const items = await this.orderLines(cart, products);
    const reservation = await this.o.inventory.reserve(
      { orderId, cartId: cart.id, customerId: cart.snapshot.context.customerId, lines: items, startedAt: checkout.startedAt },
      this.o.clock() + this.o.paymentWindowMs + this.o.reservationGraceMs,
    );
    if (!reservation.ok) {
      const reason = reservation.reason === 'RELEASED' ? 'CHECKOUT_ABANDONED' : `${reservation.reason}:${reservation.productId}`;
      // No order exists for this attempt, and none can: its reservation was refused (or given back) for good.
      await this.o.steps.apply({
        step: 'checkout.fail',
        kind: 'cart',
        id: cart.id,
        event: { type: 'CHECKOUT_FAILED', orderId, reason },
        isDone: (actor) => actor.snapshot.context.checkout?.orderId !== orderId,
      });
      if (reservation.reason === 'RELEASED') throw abandoned(cart.id);
      // A drop sold out or the customer's share taken: the cart, active again, shows the price it would pay now.
      if (reservation.reason !== 'OUT_OF_STOCK')
        await this.o
          .reprice?.(cart.id)
          .catch((error: unknown) => this.o.logger?.warn({ err: error, cartId: cart.id }, 'could not re-price a cart after its failed checkout'));
      throw refused(reservation, items.find((line) => line.productId === reservation.productId)?.name);
    }

    const completed = await this.o.runtime
      .send('cart', cart.id, (actor) => {
        const current = actor.snapshot.context.checkout;
        if (current?.orderId === orderId && actor.state === 'checkedOut') return null;
        if (current?.orderId === orderId && actor.state === 'checkingOut') return { type: 'CHECKOUT_COMPLETED' as const, orderId };
        // The orphan sweep gave this checkout up while it was stuck; its stock goes back.
        throw abandoned(cart.id);
      })
      .catch(async (error: unknown) => {
        // Only a checkout the cart gave up gives its stock back; a lost compare-and-set says nothing about that.
        if (error instanceof CheckoutAbandoned) await this.o.inventory.release(orderId);
        throw error;
      });
    return this.ensureOrder(completed, items);
  }

  /**
   * The products of a cart's lines, read afresh. A product no longer sold (archived, or gone) refuses the
   * checkout: the customer removes it first. (Their prices are then checked: the catalog may have changed a
   * price, or an offer started, ended or sold out.)
   */
  private async sold(cart: CartActor): Promise<ReadonlyMap<string, ProductView>> {
    const lines = cart.snapshot.context.items;
    const products = await this.o.catalog.getProducts(lines.map((line) => line.productId));
    for (const line of lines) {
      const product = products.get(line.productId);
      if (!product || product.archived) {
        throw new AppError('NOT_FOUND', `product ${line.productId} is no longer sold; remove it from the cart`, {
          details: { productId: line.productId, reason: 'ARCHIVED' },
        });
      }
    }
    return products;
  }

  /** The cart's lines with their products' names and SKUs (from `known` when it has every one, else read now). */
  private async orderLines(cart: CartActor, known?: ReadonlyMap<string, ProductView>): Promise<OrderLine[]> {
    const lines = cart.snapshot.context.items;
    const products = known && lines.every((line) => known.has(line.productId)) ? known : await this.o.catalog.getProducts(lines.map((line) => line.productId));
    return lines.map((line) => {
      const product = products.get(line.productId);
      if (!product) throw new AppError('NOT_FOUND', `product ${line.productId} is no longer sold`);
      return { ...line, name: product.name, sku: product.sku };
    });
  }
}

/**
 * The lines of a cart priced differently now, for its customer and its quantities (a drop that has run out, or
 * whose limit the customer reached, prices them at the list price again).
 */
export async function currentPriceChanges(
  catalog: CatalogService,
  offers: OfferService,
  cart: CartActor,
  products?: ReadonlyMap<string, ProductView>,
  options: { readonly fresh?: boolean } = {},
): Promise<PriceChange[]> {
  const lines = cart.snapshot.context.items;
  const known = products ?? (await catalog.getProducts(lines.map((line) => line.productId)));
  const prices = await offers.pricesFor([...known.values()], {
    customerId: cart.snapshot.context.customerId,
    quantities: new Map(lines.map((line) => [line.productId, line.quantity])),
    fresh: options.fresh,
  });
  return priceChangesOf(lines, prices);
}

/** The lines `prices` price differently from how they are priced (another unit price, or another offer). */
export function priceChangesOf(
  lines: readonly CartLine[],
  prices: ReadonlyMap<string, { readonly price: number; readonly listPrice: number; readonly offerId: string | null }>,
): PriceChange[] {
  const changes: PriceChange[] = [];
  for (const line of lines) {
    const price = prices.get(line.productId);
    if (!price) continue;
    if (price.price !== line.unitPrice || price.offerId !== (line.offerId ?? null)) {
      changes.push({ productId: line.productId, was: line.unitPrice, now: price.price, listPrice: price.listPrice, offerId: price.offerId });
    }
  }
  return changes;
}
