// Carts: create, read and change a customer's cart; prices come from the catalog at the time of adding.
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock, Identity } from '../../domain/identity.ts';
import { MAX_CART_LINES, MAX_LINE_QUANTITY } from '../../domain/types.ts';
import type { ActorRepo } from '../../kernel/db/actor.repo.ts';
import type { IdempotencyRepo } from '../../kernel/db/idempotency.repo.ts';
import { ownedBy } from '../../kernel/access.ts';
import type { CatalogService } from '../catalog/index.ts';
import type { AppRuntime } from '../../kernel/registry.ts';
import type { CartActor } from './cart.kind.ts';

const quantityInCart = (cart: CartActor, productId: string) => cart.snapshot.context.items.find((line) => line.productId === productId)?.quantity ?? 0;

const notInCart = (cartId: string, productId: string) => new AppError('NOT_FOUND', `product ${productId} is not in cart ${cartId}`);

function checkLimits(cart: CartActor, productId: string, quantity: number): void {
  if (quantity > MAX_LINE_QUANTITY) {
    throw new AppError('VALIDATION', `a cart holds at most ${MAX_LINE_QUANTITY} of one product`, { details: { productId, requested: quantity } });
  }
  const lines = cart.snapshot.context.items;
  if (quantity > 0 && !lines.some((line) => line.productId === productId) && lines.length >= MAX_CART_LINES) {
    throw new AppError('VALIDATION', `a cart holds at most ${MAX_CART_LINES} different products`);
  }
}

export interface CartServiceOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly idempotency: IdempotencyRepo;
  readonly catalog: CatalogService;
  readonly clock: Clock;
  readonly cartTtlMs: number;
  readonly currency: string;
}

export class CartService {
  constructor(private readonly o: CartServiceOptions) {}

  /** Creates a cart; with a `requestId`, the same request again returns the cart it created. */
  async create(identity: Identity, requestId?: string): Promise<CartActor> {
    const id = requestId ? await this.o.idempotency.claim('cart:create', `${identity.sub}:${requestId}`, newId('cart')) : newId('cart');
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

  async get(identity: Identity, cartId: string): Promise<CartActor> {
    return ownedBy(identity, 'cart', cartId, await this.o.runtime.get('cart', cartId));
  }

  /**
   * Adds `quantity` of a product at its current catalog price. Stock, limits
   * and state are judged inside the cart's serialized step, on the state the
   * line is added to: `OUT_OF_STOCK` when fewer are available than the line
   * would then hold, `VALIDATION` past the cart's limits.
   */
  addItem(identity: Identity, cartId: string, productId: string, quantity: number): Promise<CartActor> {
    return this.o.runtime.send('cart', cartId, async (actor) => {
      const cart = this.changeable(ownedBy(identity, 'cart', cartId, actor));
      const requested = quantityInCart(cart, productId) + quantity;
      checkLimits(cart, productId, requested);
      const product = await this.inStock(cart, productId, requested);
      return { type: 'ADD_ITEM' as const, productId, quantity, unitPrice: product.price };
    });
  }

  /** Sets a line's quantity (0 removes it), judged like `addItem`; `NOT_FOUND` when removing a line the cart does not have. */
  setQuantity(identity: Identity, cartId: string, productId: string, quantity: number): Promise<CartActor> {
    return this.o.runtime.send('cart', cartId, async (actor) => {
      const cart = this.changeable(ownedBy(identity, 'cart', cartId, actor));
      if (quantity === 0) {
        if (quantityInCart(cart, productId) === 0) throw notInCart(cartId, productId);
        return { type: 'SET_QUANTITY' as const, productId, quantity, unitPrice: 0 };
      }
      checkLimits(cart, productId, quantity);
      const product = await this.inStock(cart, productId, quantity);
      return { type: 'SET_QUANTITY' as const, productId, quantity, unitPrice: product.price };
    });
  }

  removeItem(identity: Identity, cartId: string, productId: string): Promise<CartActor> {
    return this.o.runtime.send('cart', cartId, (actor) => {
      const cart = this.changeable(ownedBy(identity, 'cart', cartId, actor));
      if (quantityInCart(cart, productId) === 0) throw notInCart(cartId, productId);
      return { type: 'REMOVE_ITEM' as const, productId };
    });
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

  /** Only an active cart takes changes; say so before looking at stock or prices. */
  private changeable(cart: CartActor): CartActor {
    if (cart.state !== 'active') {
      throw new AppError('INVALID_TRANSITION', `cart ${cart.id} is ${cart.state} and can no longer be changed`, { details: { state: cart.state } });
    }
    return cart;
  }

  /** The product at its current price, if `requested` units of it are available; `OUT_OF_STOCK` otherwise. */
  private async inStock(cart: CartActor, productId: string, requested: number) {
    const product = await this.o.catalog.getProduct(productId);
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
