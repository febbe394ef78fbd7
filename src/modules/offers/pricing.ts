// Pricing with offers, as pure functions: whether an offer applies at an instant, what it makes of a list price,
// and the best price of each product among the offers that apply.
import type { OfferContext, OfferTerms } from './offer.machine.ts';

/** What pricing needs of a product. */
export interface PricedProduct {
  readonly id: string;
  readonly price: number;
  readonly categoryId: string;
}

/** An offer as pricing sees it: its state and context. */
export interface PricingOffer {
  readonly state: string;
  readonly context: OfferContext;
}

/** A product's price now: what is paid, the list price, and the offer that makes the difference (null at list price). */
export interface OfferPrice {
  readonly productId: string;
  readonly price: number;
  readonly listPrice: number;
  readonly offerId: string | null;
  readonly offerName: string | null;
  readonly endsAt: number | null;
}

/**
 * Whether `offer` prices products at `at`, by its window. By the clock, not only by state: an offer whose start
 * has come applies even before the sweep moved it to `live`, and one whose end has come no longer applies
 * although the sweep has yet to end it. (Whether a drop still has units for this line is `DropCheck`'s to say.)
 */
export function applies(offer: PricingOffer, at: number): boolean {
  if (offer.state !== 'scheduled' && offer.state !== 'live') return false;
  const { startsAt, endsAt } = offer.context;
  return at >= startsAt && (endsAt === null || at < endsAt);
}

/**
 * Whether a drop can sell this product's line at its price: units remain for the whole line and, for a known
 * customer, within what the customer may still claim. By default the offer's own mirror of its remaining units.
 */
export type DropCheck = (offer: OfferContext, productId: string) => boolean;
const mirrorHasUnits: DropCheck = (offer) => (offer.remaining ?? 0) > 0;

/** What `terms` make of `listPrice` (never below 0, never above the list price). */
export function discounted(terms: OfferTerms, listPrice: number): number {
  if (terms.sort === 'drop') return Math.min(listPrice, terms.dropPrice);
  const { discount } = terms;
  const price = discount.type === 'percent' ? listPrice - Math.round((listPrice * discount.percent) / 100) : listPrice - discount.amount;
  return Math.max(0, Math.min(listPrice, price));
}

/** Whether `terms` cover a product: listed, in a listed category or one of its sub-categories, or the drop's product. */
export function covers(terms: OfferTerms, product: PricedProduct, categoryChain: (categoryId: string) => readonly string[]): boolean {
  if (terms.sort === 'drop') return terms.productId === product.id;
  if (terms.productIds.includes(product.id)) return true;
  return terms.categoryIds.length > 0 && categoryChain(product.categoryId).some((id) => terms.categoryIds.includes(id));
}

/**
 * The best price of each product among `offers` that apply at `at`: the lowest; on a tie the offer that ends
 * first, then the lower id, so every node prices alike.
 */
export function bestPrices(
  products: readonly PricedProduct[],
  offers: readonly PricingOffer[],
  at: number,
  categoryChain: (categoryId: string) => readonly string[],
  dropCheck: DropCheck = mirrorHasUnits,
): Map<string, OfferPrice> {
  const live = offers.filter((offer) => applies(offer, at));
  const prices = new Map<string, OfferPrice>();
  for (const product of products) {
    let best: OfferPrice = { productId: product.id, price: product.price, listPrice: product.price, offerId: null, offerName: null, endsAt: null };
    for (const { context } of live) {
      if (!covers(context.terms, product, categoryChain)) continue;
      if (context.terms.sort === 'drop' && !dropCheck(context, product.id)) continue;
      const price = discounted(context.terms, product.price);
      if (price >= product.price) continue;
      const better =
        price < best.price ||
        (price === best.price &&
          best.offerId !== null &&
          ((context.endsAt ?? Number.POSITIVE_INFINITY) < (best.endsAt ?? Number.POSITIVE_INFINITY) ||
            ((context.endsAt ?? Number.POSITIVE_INFINITY) === (best.endsAt ?? Number.POSITIVE_INFINITY) && context.id < best.offerId)));
      if (better) best = { productId: product.id, price, listPrice: product.price, offerId: context.id, offerName: context.name, endsAt: context.endsAt };
    }
    prices.set(product.id, best);
  }
  return prices;
}

/** A category and its ancestors, from a parent map (the catalog's tree). */
export function ancestry(parents: ReadonlyMap<string, string | null>): (categoryId: string) => string[] {
  return (categoryId) => {
    const chain: string[] = [];
    for (let id: string | null | undefined = categoryId; id && !chain.includes(id); id = parents.get(id)) chain.push(id);
    return chain;
  };
}
