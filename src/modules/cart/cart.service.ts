// Carts: create, read and change a customer's cart; prices come from the catalog at the time of adding.
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock, Identity } from '../../domain/identity.ts';
import type { ActorRepo } from '../../kernel/db/actor.repo.ts';
import type { IdempotencyRepo } from '../../kernel/db/idempotency.repo.ts';
import { ownedBy } from '../../kernel/access.ts';
import type { CatalogService } from '../catalog/index.ts';
import type { OfferService } from '../offers/index.ts';
import type { CartLinesRepo } from './cart-lines.repo.ts';
import { currentPriceChanges } from './checkout.service.ts';
import type { AppRuntime } from '../../kernel/registry.ts';
import { refusedBecause } from '../../kernel/actors/kinds.ts';
import { cartRefusalError, type CartActor } from './cart.kind.ts';
import { cartRefusal, type CartChange } from './cart.machine.ts';

const quantityInCart = (cart: CartActor, productId: string) => cart.snapshot.context.items.find((line) => line.productId === productId)?.quantity ?? 0;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface CartServiceOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly idempotency: IdempotencyRepo;
  readonly catalog: CatalogService;
  /** Prices with the offers that apply now (a sale, a drop). */
  readonly offers: OfferService;
  /** Which active carts hold which products (for re-pricing when an offer starts or ends). */
  readonly cartLines: CartLinesRepo;
  readonly clock: Clock;
  readonly cartTtlMs: number;
  /** Carts one principal may create per minute, and hold active at once; 0 is no limit. */
  readonly cartsPerMinute: number;
  readonly maxOpenCarts: number;
  readonly currency: string;
  readonly logger?: { warn(object: object, message: string): void };
  /** Called with the limit's name when a limit refuses a cart (for `/metrics`). */
  readonly onLimit?: ((limit: string) => void) | undefined;
}

export class CartService {
  constructor(private readonly o: CartServiceOptions) {}

  /** Creates a cart; with a `requestId`, the same request again returns the cart it created. */
  async create(identity: Identity, requestId?: string): Promise<CartActor> {
    const id = requestId ? await this.o.idempotency.claim('cart:create', `${identity.sub}:${requestId}`, newId('cart')) : newId('cart');
    // A retried create answers with its cart whatever the limits say now; a new one is counted first.
    if (!(requestId && (await this.o.actors.load(id)))) await this.withinLimits(identity);
    const { actor } = await this.o.runtime.create('cart', id, {
      id,
      customerId: identity.sub,
      currency: this.o.currency,
      ttlMs: this.o.cartTtlMs,
      at: this.o.clock(),
    });
    // A retried create finds the cart it made, which may since have been adopted by an account.
    return ownedBy(identity, 'cart', id, actor);
  }

  /**
   * Guest tokens are free, and each cart is kept: one principal may create `cartsPerMinute` carts a minute
   * (`RATE_LIMITED`) and hold `maxOpenCarts` active ones (`LIMIT_REACHED`). Counted in the database, so on every
   * node together; two creates at the same instant may both pass at the edge, which the per-second command limits bound.
   */
  private async withinLimits(identity: Identity): Promise<void> {
    const { cartsPerMinute, maxOpenCarts } = this.o;
    if (cartsPerMinute <= 0 && maxOpenCarts <= 0) return;
    const { recent, inState } = await this.o.actors.countOwned(identity.sub, 'cart', { since: this.o.clock() - 60_000, state: 'active' });
    if (cartsPerMinute > 0 && recent >= cartsPerMinute) {
      this.o.onLimit?.('carts_per_minute');
      throw new AppError('RATE_LIMITED', `too many new carts (at most ${cartsPerMinute} a minute); use the cart you have`);
    }
    if (maxOpenCarts > 0 && inState >= maxOpenCarts) {
      this.o.onLimit?.('open_carts');
      throw new AppError('LIMIT_REACHED', `you have ${inState} open carts (at most ${maxOpenCarts}); check one out or let it expire`);
    }
  }

  async get(identity: Identity, cartId: string): Promise<CartActor> {
    return ownedBy(identity, 'cart', cartId, await this.o.runtime.get('cart', cartId));
  }

  /**
   * Adds `quantity` of a product at its current price: the catalog's, or the best offer's that applies now. Stock, limits
   * and state are judged inside the cart's serialized step, on the state the
   * line is added to: `OUT_OF_STOCK` when fewer are available than the line
   * would then hold, `VALIDATION` past the cart's limits.
   */
  addItem(identity: Identity, cartId: string, productId: string, quantity: number): Promise<CartActor> {
    return this.o.runtime.send('cart', cartId, async (actor) => {
      const cart = this.judged(ownedBy(identity, 'cart', cartId, actor), { type: 'ADD_ITEM', productId, quantity, unitPrice: 0 });
      const price = await this.priced(cart, productId, quantityInCart(cart, productId) + quantity);
      return { type: 'ADD_ITEM' as const, productId, quantity, ...price };
    });
  }

  /** Sets a line's quantity (0 removes it), judged like `addItem`; `NOT_FOUND` when removing a line the cart does not have. */
  setQuantity(identity: Identity, cartId: string, productId: string, quantity: number): Promise<CartActor> {
    return this.o.runtime.send('cart', cartId, async (actor) => {
      const cart = this.judged(ownedBy(identity, 'cart', cartId, actor), { type: 'SET_QUANTITY', productId, quantity, unitPrice: 0 });
      if (quantity === 0) return { type: 'SET_QUANTITY' as const, productId, quantity, unitPrice: 0 };
      const price = await this.priced(cart, productId, quantity);
      return { type: 'SET_QUANTITY' as const, productId, quantity, ...price };
    });
  }

  removeItem(identity: Identity, cartId: string, productId: string): Promise<CartActor> {
    return this.o.runtime.send('cart', cartId, (actor) => {
      this.judged(ownedBy(identity, 'cart', cartId, actor), { type: 'REMOVE_ITEM', productId });
      return { type: 'REMOVE_ITEM' as const, productId };
    });
  }

  /** Re-prices every active cart holding a product the offer prices (it started, ended, sold out or came back). Returns how many changed. */
  async repriceForOffer(offerId: string): Promise<number> {
    const offer = await this.o.runtime.get('offer', offerId);
    if (!offer) return 0;
    const productIds = await this.o.offers.affectedProducts(offer);
    let changed = 0;
    for (let after = '', page: string[]; (page = await this.o.cartLines.activeCartsHolding(productIds, after, 200)).length > 0; after = page.at(-1)!) {
      for (const cartId of page) {
        // One cart being changed elsewhere (or gone) holds up none of the others; its checkout re-prices it anyway.
        const repriced = await this.reprice(cartId).catch((error: unknown) => {
          this.o.logger?.warn({ err: error, cartId, offerId }, 'could not re-price a cart for an offer; its checkout will');
          return false;
        });
        if (repriced) changed++;
      }
    }
    return changed;
  }

  /** Gives an active cart's lines the prices that apply now; true when any changed. */
  async reprice(cartId: string): Promise<boolean> {
    let changed = false;
    await this.o.runtime.send('cart', cartId, async (cart) => {
      if (cart.state !== 'active') return null;
      const changes = await currentPriceChanges(this.o.catalog, this.o.offers, cart);
      if (changes.length === 0) return null;
      changed = true;
      return { type: 'REPRICE' as const, prices: changes.map(({ productId, now, listPrice, offerId }) => ({ productId, unitPrice: now, listPrice, offerId })) };
    });
    return changed;
  }

  async listOwn(identity: Identity): Promise<CartActor[]> {
    const rows = await this.o.actors.listByOwner(identity.sub, 'cart', 50);
    return rows.map((row) => this.o.runtime.fromRow('cart', row));
  }

  /** Moves a guest's open carts to the account the guest just signed into. Returns the carts moved. */
  async adoptGuestCarts(guestId: string, customerId: string): Promise<string[]> {
    if (!guestId.startsWith('guest_')) return [];
    const rows = await this.o.actors.listByOwner(guestId, 'cart', 50);
    const moved: string[] = [];
    // Drop units claimed as a guest count against the account's limit from now on.
    await this.o.offers.adoptGuestClaims(guestId, customerId);
    for (const row of rows) {
      if (row.state !== 'active' && row.state !== 'checkingOut') continue;
      try {
        await this.o.runtime.send('cart', row.id, { type: 'ASSIGN_CUSTOMER', customerId });
        moved.push(row.id);
      } catch (error) {
        if (!(error instanceof AppError && error.code === 'INVALID_TRANSITION')) throw error;
      }
    }
    return moved;
  }

  /**
   * The cart's own rules (state, expiry, limits), asked of the machine before stock and prices are looked up, so
   * a change it would refuse is answered at once, with its reason. The machine judges again when the event arrives.
   */
  private judged(cart: CartActor, change: DistributiveOmit<CartChange, 'at'>): CartActor {
    const refusal = cartRefusal(cart.state, cart.snapshot.context, { ...change, at: this.o.clock() } as CartChange);
    if (refusal) throw refusedBecause(cartRefusalError(cart.id, refusal));
    return cart;
  }

  /**
   * The line's price now, if `requested` units are available (`OUT_OF_STOCK` otherwise): the best offer's for this
   * customer and this many (a drop only while it has them all and the customer may still claim them).
   */
  private async priced(cart: CartActor, productId: string, requested: number) {
    const product = await this.inStock(cart, productId, requested);
    const price = (
      await this.o.offers.pricesFor([product], { customerId: cart.snapshot.context.customerId, quantities: new Map([[productId, requested]]) })
    ).get(productId);
    if (!price?.offerId) return { unitPrice: product.price };
    return { unitPrice: price.price, listPrice: price.listPrice, offerId: price.offerId };
  }

  /** The product at its current price, if `requested` units of it are available; `OUT_OF_STOCK` otherwise. */
  private async inStock(cart: CartActor, productId: string, requested: number) {
    const product = await this.o.catalog.productForCart(productId);
    if (product.archived) throw new AppError('NOT_FOUND', `product ${productId} is no longer sold`, { details: { productId, reason: 'ARCHIVED' } });
    if (product.currency !== cart.snapshot.context.currency) {
      throw new AppError('VALIDATION', `product ${productId} is priced in ${product.currency}, the cart in ${cart.snapshot.context.currency}`);
    }
    if (requested > product.available) {
      throw new AppError('OUT_OF_STOCK', `only ${product.available} of ${product.name} available`, {
        details: { productId, available: product.available, requested },
      });
    }
    return product;
  }
}
