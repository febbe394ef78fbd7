// Recommendations from the Person–Product graph: the graph grows by one paid order at a time (counted once), and is
// read as "bought together" for a product and as a cart's recommendations (its products' co-purchases, plus, for a
// signed-in customer, a smaller share of what goes with their history), with best sellers and the rest of the
// same categories behind them when the graph knows too little.
import type { Logger } from 'pino';
import type { DomainEvent } from '../../kernel/outbox/flows.ts';
import type { AppRuntime, DomainEventPayload, Services } from '../../kernel/registry.ts';
import {
  MAX_RECOMMENDATIONS,
  type ProductView,
  type RecommendationReason,
  type RecommendationsUpdated,
  type RecommendationView,
} from '../../protocol/index.ts';
import type { CartActor } from '../cart/index.ts';
import type { RecommendationsRepo, Scored } from './recommendations.repo.ts';

/** What a customer pays now for each product, and the offer behind the price (null at list price). */
export type Prices = ReadonlyMap<string, { readonly price: number; readonly listPrice: number; readonly offerId: string | null }>;
/**
 * Prices a set of products with the live offers; a product it leaves out (or an answer of undefined, when no
 * offers module is there) is at its catalog price.
 */
export type PriceOf = (productIds: readonly string[]) => Promise<Prices | undefined> | undefined;

export const DEFAULT_RECOMMENDATIONS = 6;
/** How much a co-purchase with a product of the customer's history counts, against 1 for one with a product in the cart. */
export const HISTORY_WEIGHT = 0.25;
/** The most recent purchases of a customer that weigh in. */
const HISTORY_PRODUCTS = 50;
/** Graph candidates read per query, before they are merged and cut to the limit. */
const CANDIDATES = 100;

export interface RecommendationsServiceOptions {
  readonly repo: RecommendationsRepo;
  readonly runtime: AppRuntime;
  /** The catalog (products, with live stock), read when used. */
  readonly services: Pick<Services, 'catalog'>;
  readonly logger: Pick<Logger, 'warn'>;
  /** Live offer prices; absent, every price is the catalog's and `offerId` is null. */
  readonly priceOf?: PriceOf | undefined;
}

type PaidEvent = DomainEvent<Extract<DomainEventPayload, { type: 'order.paid' }>>;

interface Candidate {
  readonly productId: string;
  readonly reason: RecommendationReason;
}

export const isGuest = (customerId: string) => customerId.startsWith('guest_');

/** A limit within 1..MAX_RECOMMENDATIONS. */
const bounded = (limit: number) => Math.min(MAX_RECOMMENDATIONS, Math.max(1, Math.floor(limit)));

export class RecommendationsService {
  constructor(private readonly o: RecommendationsServiceOptions) {}

  /**
   * Adds a paid order to the graph (the `recommendations` flow, per `order.paid`). Safe to run again for the same
   * order: it is counted once. An order that cannot be found is logged and skipped.
   */
  async recordPaid(event: PaidEvent): Promise<boolean> {
    const { orderId } = event.payload;
    const order = await this.o.runtime.get('order', orderId);
    if (!order) {
      this.o.logger.warn({ orderId }, 'recommendations: a paid order that does not exist is not counted');
      return false;
    }
    const { customerId, items } = order.snapshot.context;
    return this.o.repo.recordOrder({
      orderId,
      customerId: isGuest(customerId) ? null : customerId,
      lines: items.map((line) => ({ productId: line.productId, quantity: line.quantity })),
      at: event.createdAt,
    });
  }

  /**
   * "Bought together" with a product: the products most often in one paid order with it, then best sellers of its
   * category, then other products of it. `NOT_FOUND` for an unknown product.
   */
  async forProduct(productId: string, limit = DEFAULT_RECOMMENDATIONS): Promise<RecommendationView[]> {
    const product = await this.o.services.catalog.getProduct(productId);
    const n = bounded(limit);
    const together = await this.o.repo.coPurchased([productId], [productId], CANDIDATES);
    const picked = together.map((row): Candidate => ({ productId: row.productId, reason: 'boughtTogether' }));
    return this.views(await this.fill(picked, [product.categoryId], [productId], n), n);
  }

  /**
   * A cart's recommendations, for the cart's version: score = the co-purchase counts with the cart's products,
   * plus `HISTORY_WEIGHT` times those with the products the cart's (signed-in) owner bought before; then best
   * sellers of the cart's categories, then other products of them. Never a product in the cart. An empty cart
   * gets the best sellers of the whole store.
   */
  async forCart(cart: CartActor, limit = DEFAULT_RECOMMENDATIONS): Promise<RecommendationsUpdated> {
    const n = bounded(limit);
    const { customerId, items } = cart.snapshot.context;
    const inCart = [...new Set(items.map((line) => line.productId))];
    const scores = new Map<string, { together: number; history: number }>();
    const add = (rows: readonly Scored[], field: 'together' | 'history') => {
      for (const row of rows) {
        const score = scores.get(row.productId) ?? { together: 0, history: 0 };
        score[field] += row.score;
        scores.set(row.productId, score);
      }
    };
    add(await this.o.repo.coPurchased(inCart, inCart, CANDIDATES), 'together');
    if (inCart.length > 0 && !isGuest(customerId)) {
      const history = await this.o.repo.history(customerId, HISTORY_PRODUCTS);
      // What goes with what they bought, not what they bought again.
      if (history.length > 0) add(await this.o.repo.coPurchased(history, [...new Set([...inCart, ...history])], CANDIDATES), 'history');
    }
    const total = (score: { together: number; history: number }) => score.together + HISTORY_WEIGHT * score.history;
    // Sorted by score; Map order (cart co-purchases in SQL rank first) breaks ties.
    const picked = [...scores]
      .sort(([, a], [, b]) => total(b) - total(a))
      .map(([productId, score]): Candidate => ({ productId, reason: score.together > 0 ? 'boughtTogether' : 'history' }));
    const categories = inCart.length === 0 ? null : [...new Set([...(await this.o.services.catalog.getProducts(inCart)).values()].map((p) => p.categoryId))];
    return { cartId: cart.id, version: cart.version, recommendations: await this.views(await this.fill(picked, categories, inCart, n), n) };
  }

  /** A deleted account's purchase history. */
  eraseCustomer(customerId: string): Promise<void> {
    return this.o.repo.eraseCustomer(customerId);
  }

  /**
   * Tops `picked` up to `n` with best sellers of `categories` (of the whole store when null), then other products
   * of those categories; none of `exclude`. A few more than `n` are kept, for products that sell out meanwhile.
   */
  private async fill(picked: readonly Candidate[], categories: readonly string[] | null, exclude: readonly string[], n: number): Promise<Candidate[]> {
    const want = n + 2;
    const chosen = picked.slice(0, want);
    const taken = () => [...exclude, ...chosen.map((c) => c.productId)];
    if (chosen.length < want) {
      for (const productId of await this.o.repo.bestSellers(categories, taken(), want - chosen.length)) chosen.push({ productId, reason: 'bestSeller' });
    }
    if (chosen.length < want && categories) {
      for (const productId of await this.o.repo.inCategories(categories, taken(), want - chosen.length)) chosen.push({ productId, reason: 'sameCategory' });
    }
    return chosen;
  }

  /** The views of the candidates still on sale and in stock (read afresh), priced with the live offers, at most `n`. */
  private async views(candidates: readonly Candidate[], n: number): Promise<RecommendationView[]> {
    if (candidates.length === 0) return [];
    const products = await this.o.services.catalog.getProducts(candidates.map((c) => c.productId));
    const kept = candidates
      .map((candidate) => ({ candidate, product: products.get(candidate.productId) }))
      .filter((entry): entry is { candidate: Candidate; product: ProductView } => !!entry.product && !entry.product.archived && entry.product.available > 0)
      .slice(0, n);
    const prices = kept.length > 0 && this.o.priceOf ? await this.o.priceOf(kept.map((entry) => entry.product.id)) : undefined;
    return kept.map(({ candidate, product }) => {
      const offer = prices?.get(product.id);
      return {
        productId: product.id,
        name: product.name,
        price: offer?.price ?? product.price,
        listPrice: offer?.listPrice ?? product.price,
        offerId: offer?.offerId ?? null,
        currency: product.currency,
        categoryId: product.categoryId,
        available: product.available,
        imageUrl: product.imageUrl,
        rating: { average: product.rating.average, count: product.rating.count },
        reason: candidate.reason,
      };
    });
  }
}
