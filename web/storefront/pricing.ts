// What a shopper would pay for a product now, from the live offers the `offers` topic keeps current: the lowest
// price among the offers that apply (docs/PROTOCOL.md §7.6). The cart and the checkout are priced by the server;
// this only shows the same number beside a product before it is in the cart.
import type { OfferRemaining, OfferView, ProductView } from '../../src/client/index.ts';

export interface ShownPrice {
  readonly price: number;
  readonly listPrice: number;
  readonly offer: OfferView | null;
}

/** Whether an offer prices products at `at`: by its window, like the server (a start that has come applies). */
export function offerApplies(offer: OfferView, at: number): boolean {
  if (offer.state !== 'scheduled' && offer.state !== 'live') return false;
  return at >= offer.startsAt && (offer.endsAt === null || at < offer.endsAt);
}

export function discounted(offer: OfferView, listPrice: number): number {
  if (offer.sort === 'drop') return Math.min(listPrice, offer.drop?.dropPrice ?? listPrice);
  const discount = offer.discount;
  if (!discount) return listPrice;
  const price = discount.type === 'percent' ? listPrice - Math.round((listPrice * discount.percent) / 100) : listPrice - discount.amount;
  return Math.max(0, Math.min(listPrice, price));
}

/** The price shown for a product: the best live offer covering it, or its list price. */
export function priceOf(product: Pick<ProductView, 'id' | 'price'>, offers: readonly OfferView[], at = Date.now()): ShownPrice {
  let best: ShownPrice = { price: product.price, listPrice: product.price, offer: null };
  for (const offer of offers) {
    if (!offerApplies(offer, at) || !offer.affectedProductIds.includes(product.id)) continue;
    if (offer.sort === 'drop' && (offer.drop?.remaining ?? 0) <= 0) continue;
    const price = discounted(offer, product.price);
    if (price >= product.price) continue;
    const better =
      price < best.price ||
      (price === best.price && best.offer !== null && (offer.endsAt ?? Number.POSITIVE_INFINITY) < (best.offer.endsAt ?? Number.POSITIVE_INFINITY));
    if (better) best = { price, listPrice: product.price, offer };
  }
  return best;
}

/** The offers that concern a product (live or upcoming), soonest first. */
export function offersFor(productId: string, offers: readonly OfferView[]): OfferView[] {
  return offers.filter((offer) => offer.affectedProductIds.includes(productId));
}

/** Applies one push of the `offers` topic to the list held: the list itself, an offer's new view, or a drop's count. */
export function applyOfferPush(held: readonly OfferView[], push: unknown): OfferView[] {
  if (push && typeof push === 'object' && 'offers' in push) return [...(push as { offers: OfferView[] }).offers];
  if (push && typeof push === 'object' && 'offerId' in push && 'remaining' in push) {
    const remaining = push as OfferRemaining;
    return held.map((offer) =>
      offer.id === remaining.offerId && remaining.version > offer.version && offer.drop
        ? { ...offer, version: remaining.version, state: remaining.state, drop: { ...offer.drop, remaining: remaining.remaining, quota: remaining.quota } }
        : offer,
    );
  }
  const offer = push as OfferView;
  const current = held.find((o) => o.id === offer.id);
  if (current && offer.version <= current.version) return held as OfferView[];
  const rest = held.filter((o) => o.id !== offer.id);
  if (offer.state === 'ended' || offer.state === 'cancelled') return rest;
  return [...rest, offer].sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id));
}
