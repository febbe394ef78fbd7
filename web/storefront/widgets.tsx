// Pieces the storefront's views share: stars, stock, a product's live price, offer banners, product cards,
// labelled form fields and the notices.
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useState } from 'preact/hooks';
import { formatMoney, type OfferView, type ProductView, type RecommendationView } from '../../src/client/index.ts';
import { Countdown, Money, Price } from '../shared/ui.tsx';
import { priceOf } from './pricing.ts';
import { href } from './router.ts';
import { describeError, useShop, useTopic } from './shop.tsx';

/** Stars for people who see them, a sentence for those who hear them. */
export function Stars({ average, count, showCount = true }: { average: number | null; count: number; showCount?: boolean }) {
  if (average === null || count === 0) return <span class="muted stars">No ratings yet</span>;
  const full = Math.round(average);
  return (
    <span class="stars">
      <span aria-hidden="true" class="star-glyphs">
        {'★'.repeat(full)}
        {'☆'.repeat(5 - full)}
      </span>{' '}
      <span class="visually-hidden">Rated </span>
      {average.toFixed(1)}
      <span class="visually-hidden"> out of 5</span>
      {showCount && <span class="muted"> ({count === 1 ? '1 rating' : `${count} ratings`})</span>}
    </span>
  );
}

export function StockLine({ available, testId = 'card-stock' }: { available: number; testId?: string }) {
  if (available <= 0)
    return (
      <span class="stock stock-out" data-testid={testId}>
        Sold out
      </span>
    );
  return (
    <span class={available <= 5 ? 'stock stock-low' : 'stock stock-in'} data-testid={testId}>
      {available <= 5 ? `Only ${available} left` : `${available} in stock`}
    </span>
  );
}

/** The price a shopper would pay now: the best live offer (list price struck through) or the list price. */
export function LivePrice({ product, offers }: { product: Pick<ProductView, 'id' | 'price' | 'currency'>; offers: readonly OfferView[] }) {
  const shown = priceOf(product, offers);
  return (
    <span class="live-price" data-testid="price">
      <Price price={shown.price} listPrice={shown.listPrice} currency={product.currency} />
      {shown.offer && <span class="badge offer-badge">{shown.offer.sort === 'drop' ? 'Drop' : offerDiscountText(shown.offer)}</span>}
    </span>
  );
}

export function offerDiscountText(offer: OfferView): string {
  if (offer.sort === 'drop') return 'Limited drop';
  if (offer.discount?.type === 'percent') return `${offer.discount.percent}% off`;
  if (offer.discount?.type === 'amount') return `${formatMoney(offer.discount.amount, 'EUR')} off`;
  return 'Offer';
}

/** The live and upcoming offers as banners: a countdown to the start or the end, and a drop's units left. */
export function OfferBanners({
  offers,
  heading = 'Offers',
  headingLevel = 2,
  visibleHeading = false,
}: {
  offers: readonly OfferView[];
  heading?: string;
  headingLevel?: 2 | 3;
  visibleHeading?: boolean;
}) {
  const { categories } = useShop();
  const id = useId();
  if (offers.length === 0) return null;
  const Heading = headingLevel === 2 ? 'h2' : 'h3';
  const now = Date.now();
  return (
    <section class="offers" aria-labelledby={id}>
      <Heading id={id} class={visibleHeading ? undefined : 'visually-hidden'}>
        {heading}
      </Heading>
      <ul class="offer-list">
        {offers.map((offer) => {
          const started = offer.state === 'live' || offer.state === 'soldOut' || now >= offer.startsAt;
          const what =
            offer.sort === 'drop'
              ? `${offer.drop ? `${offer.drop.quota} units at ${formatMoney(offer.drop.dropPrice, 'EUR')}` : 'Limited drop'}${offer.drop?.perCustomerLimit ? `, ${offer.drop.perCustomerLimit} per customer` : ''}`
              : `${offerDiscountText(offer)} ${describeScope(offer, categories)}`;
          return (
            <li key={offer.id} class="banner offer-banner" data-testid="offer-banner" data-offer-id={offer.id}>
              <div class="offer-head">
                <strong class="offer-name">{offer.name}</strong>
                <span class="muted">{what}</span>
              </div>
              <div class="row offer-meta">
                {offer.state === 'soldOut' ? (
                  <span class="badge sold-out-badge">Sold out</span>
                ) : started ? (
                  offer.endsAt === null ? (
                    <span>Until sold out</span>
                  ) : (
                    <span>
                      <span aria-hidden="true">Ends in </span>
                      <Countdown to={offer.endsAt} label="Ends in" />
                    </span>
                  )
                ) : (
                  <span>
                    <span aria-hidden="true">Starts in </span>
                    <Countdown to={offer.startsAt} label="Starts in" />
                  </span>
                )}
                {offer.drop && (
                  <span class="drop-counter" data-testid="drop-remaining">
                    <strong>{offer.drop.remaining}</strong> of {offer.drop.quota} left
                  </span>
                )}
                {offer.drop && (
                  <a href={href.product(offer.drop.productId)}>
                    See the product<span class="visually-hidden"> of {offer.name}</span>
                  </a>
                )}
                {offer.sort === 'sale' && offer.categoryIds.length === 1 && (
                  <a href={href.home({ category: offer.categoryIds[0]! })}>
                    Shop the sale<span class="visually-hidden">: {offer.name}</span>
                  </a>
                )}
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function describeScope(offer: OfferView, categories: readonly { id: string; name: string }[]): string {
  const names = offer.categoryIds.map((id) => categories.find((c) => c.id === id || c.id === `cat_${id}`)?.name ?? id);
  const parts = [...names];
  if (offer.productIds.length > 0) parts.push(offer.productIds.length === 1 ? 'one product' : `${offer.productIds.length} products`);
  return parts.length > 0 ? `on ${parts.join(' and ')}` : '';
}

/** What a product card shows, from a listing's ProductView or a RecommendationView. */
interface CardProduct {
  readonly id: string;
  readonly name: string;
  /** The list price (live offers are applied when shown). */
  readonly price: number;
  readonly currency: string;
  readonly available: number;
  readonly rating: { readonly average: number | null; readonly count: number };
  /** The product's version, -1 when unknown (a recommendation): any push of its topic is newer. */
  readonly version: number;
}

const cardOf = (product: ProductView | RecommendationView): CardProduct =>
  'reason' in product
    ? {
        id: product.productId,
        name: product.name,
        price: product.listPrice,
        currency: product.currency,
        available: product.available,
        rating: product.rating,
        version: -1,
      }
    : product;

/** One push of `product:<id>` applied to a card: the full view, a stock change or a rating change (offers are priced from the `offers` topic). */
function applyCardPush(held: CardProduct, push: unknown): CardProduct {
  if (!push || typeof push !== 'object' || 'sort' in push || 'offerId' in push) return held;
  const change = push as Partial<ProductView> & { version: number; onHand?: number; histogram?: unknown; average?: number | null; count?: number };
  if ('sku' in change) {
    const view = change as ProductView;
    return view.version >= held.version ? view : { ...view, available: held.available, rating: held.rating, version: held.version };
  }
  if (change.version <= held.version) return held;
  if ('onHand' in change && change.available !== undefined) return { ...held, available: change.available, version: change.version };
  if ('histogram' in change && change.count !== undefined)
    return { ...held, rating: { average: change.average ?? null, count: change.count }, version: change.version };
  return held;
}

/** A product in a listing: its name (the link), price, rating and stock, all followed live on its topic, and a quick "Add to cart". */
export function ProductCard({ product: given, headingLevel = 3 }: { product: ProductView | RecommendationView; headingLevel?: 2 | 3 | 4 }) {
  const shop = useShop();
  const [product, setProduct] = useState<CardProduct>(() => cardOf(given));
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    const fresh = cardOf(given);
    setProduct((held) => (held.id === fresh.id && held.version > fresh.version && fresh.version >= 0 ? held : fresh));
  }, [given]);
  const id = product.id;
  useTopic<unknown>(shop.conn, `product:${id}`, (push) => setProduct((held) => applyCardPush(held, push)));
  const Heading = `h${headingLevel}` as 'h3';
  const add = async () => {
    setBusy(true);
    setNote(null);
    try {
      await shop.addToCart(id, 1);
      setNote('Added to your cart.');
      shop.announce(`${product.name} added to your cart.`);
    } catch (error) {
      setNote(describeError(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <article class="card product-card" data-testid="product-card" data-product-id={id}>
      <Heading class="product-name">
        <a href={href.product(id)}>{product.name}</a>
      </Heading>
      <p class="row product-facts">
        <LivePrice product={product} offers={shop.offers} />
        <StockLine available={product.available} />
      </p>
      <p class="product-rating">
        <Stars average={product.rating.average} count={product.rating.count} />
      </p>
      <div class="row">
        <button type="button" class="secondary" disabled={busy || product.available <= 0 || !shop.conn} onClick={add}>
          Add to cart<span class="visually-hidden">: {product.name}</span>
        </button>
        {note && (
          <span class="muted" role="status">
            {note}
          </span>
        )}
      </div>
    </article>
  );
}

/** A labelled input (the label is a real `<label>`; a hint and an error are tied to the input). */
export function Field({
  label,
  hint,
  children,
}: {
  label: string;
  hint?: string | undefined;
  children: (props: { id: string; 'aria-describedby'?: string }) => ComponentChildren;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children(hint ? { id, 'aria-describedby': `${id}-hint` } : { id })}
      {hint && (
        <span id={`${id}-hint`} class="hint muted">
          {hint}
        </span>
      )}
    </div>
  );
}

export function Notices() {
  const { notices, dismiss } = useShop();
  return (
    <section class="notices" aria-label="Notices" aria-live="polite">
      {notices.map((notice) => (
        <p key={notice.id} class={`notice notice-${notice.kind}`} data-testid="notice">
          <span>{notice.text}</span> {notice.link && <a href={notice.link.href}>{notice.link.label}</a>}{' '}
          <button type="button" class="link-button" onClick={() => dismiss(notice.id)}>
            Dismiss<span class="visually-hidden"> notice</span>
          </button>
        </p>
      ))}
    </section>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export { Money };
