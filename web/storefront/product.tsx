// A product's page: live stock, price (with the best live offer) and rating from its topic `product:<id>`; its
// offers with countdowns; reviews (written, edited, voted: reviews.tsx); "bought together"; add to cart; and, when
// it is sold out, "tell me when it is back" (`stock:notify`, and `stock:notifications` to know after a reload that
// this shopper asked; the `stock:backInStock` push shows as a notice wherever the shopper is).
import { useEffect, useRef, useState } from 'preact/hooks';
import { EmporiumError, type ProductView, type RecommendationView } from '../../src/client/index.ts';
import { api } from '../shared/session.ts';
import { ErrorNote, LiveRegion } from '../shared/ui.tsx';
import { offersFor } from './pricing.ts';
import { Reviews } from './reviews.tsx';
import { href } from './router.ts';
import { describeError, fetchProduct, useLiveProduct, useShop } from './shop.tsx';
import { Field, LivePrice, Loading, OfferBanners, ProductCard, Stars, StockLine } from './widgets.tsx';

export function ProductPage({ id }: { id: string }) {
  const shop = useShop();
  const [initial, setInitial] = useState<ProductView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState('');
  useEffect(() => {
    setError(null);
    fetchProduct(id, true)
      .then(setInitial)
      .catch((failure: unknown) => setError(describeError(failure)));
  }, [id]);
  const product = useLiveProduct(initial, id);

  // Say what a push changed, for people who do not see it.
  const seen = useRef<{ available: number; count: number } | null>(null);
  useEffect(() => {
    if (!product) return;
    const before = seen.current;
    if (before && before.available !== product.available)
      setMessage(product.available > 0 ? `Stock changed: ${product.available} available.` : `${product.name} just sold out.`);
    else if (before && before.count !== product.rating.count) setMessage(`New rating: ${product.rating.average ?? '–'} from ${product.rating.count} ratings.`);
    seen.current = { available: product.available, count: product.rating.count };
  }, [product?.available, product?.rating.count]);

  const category = product ? shop.categories.find((c) => c.id === product.categoryId) : undefined;
  const offers = product ? offersFor(product.id, shop.offers) : [];
  const attributes = product ? Object.entries(product.attributes) : [];
  // One element tree whether loaded or not, so the heading that got the focus on arrival keeps it.
  return (
    <article class="product-page" data-testid="product-page" data-product-id={id}>
      <LiveRegion message={message} />
      <h1 tabIndex={-1}>{product ? product.name : error ? 'Product not found' : 'Product'}</h1>
      {product ? (
        <nav aria-label="Breadcrumb" class="breadcrumb">
          <ol>
            <li>
              <a href={href.home()}>Shop</a>
            </li>
            {category && (
              <li>
                <a href={href.home({ category: category.id })}>{category.name}</a>
              </li>
            )}
            <li aria-current="page">{product.name}</li>
          </ol>
        </nav>
      ) : error ? (
        <>
          <ErrorNote error={error} />
          <p>
            <a href={href.home()}>Back to the shop</a>
          </p>
        </>
      ) : (
        <Loading what="the product" />
      )}
      {product && (
        <div class="product-main">
          <div class="product-visual" aria-hidden="true">
            {product.imageUrl ? <img src={product.imageUrl} alt="" /> : <span class="initials">{initials(product.name)}</span>}
          </div>
          <div class="product-buy">
            <p class="muted">SKU {product.sku}</p>
            <p class="product-price">
              <LivePrice product={product} offers={shop.offers} />
            </p>
            <p>
              <StockLine available={product.available} testId="stock" />
            </p>
            <p>
              <a href="#reviews">
                <Stars average={product.rating.average} count={product.rating.count} />
              </a>
            </p>
            {product.archived ? (
              <p class="warn">This product is no longer sold.</p>
            ) : product.available > 0 ? (
              <AddToCart product={product} />
            ) : (
              <BackInStock product={product} />
            )}
          </div>
        </div>
      )}
      {offers.length > 0 && <OfferBanners offers={offers} heading="Offers on this product" headingLevel={2} visibleHeading />}
      {product && (
        <section aria-labelledby="about-heading">
          <h2 id="about-heading">About this product</h2>
          <p>{product.description || 'No description yet.'}</p>
          {attributes.length > 0 && (
            <dl class="attributes">
              {attributes.map(([key, value]) => (
                <div key={key}>
                  <dt>{key}</dt>
                  <dd>{String(value)}</dd>
                </div>
              ))}
            </dl>
          )}
        </section>
      )}
      {product && <Reviews product={product} />}
      {product && <BoughtTogether productId={product.id} />}
    </article>
  );
}

const initials = (name: string) =>
  name
    .split(/\s+/)
    .slice(0, 2)
    .map((word) => word.charAt(0))
    .join('')
    .toUpperCase();

function AddToCart({ product }: { product: ProductView }) {
  const shop = useShop();
  const [quantity, setQuantity] = useState('1');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [added, setAdded] = useState<string | null>(null);
  const max = Math.min(100, product.available);
  const submit = async (event: Event) => {
    event.preventDefault();
    const wanted = Number(quantity);
    setError(null);
    setAdded(null);
    if (!Number.isInteger(wanted) || wanted < 1) return setError('Choose a quantity of at least 1.');
    setBusy(true);
    try {
      const cart = await shop.addToCart(product.id, wanted);
      const line = cart.items.find((item) => item.productId === product.id);
      setAdded(`Added to your cart (${line?.quantity ?? wanted} in the cart).`);
      shop.announce(`${product.name} added to your cart.`);
    } catch (failure) {
      if (failure instanceof EmporiumError && failure.code === 'OUT_OF_STOCK') {
        const details = failure.details as { available?: number; requested?: number } | undefined;
        setError(`Only ${details?.available ?? product.available} available, and your cart would hold ${details?.requested ?? wanted}.`);
      } else setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="add-to-cart" onSubmit={submit}>
      <div class="row">
        <Field label="Quantity">
          {(props) => (
            <input
              {...props}
              class="short"
              type="number"
              min="1"
              max={max}
              inputMode="numeric"
              value={quantity}
              onInput={(e) => setQuantity(e.currentTarget.value)}
            />
          )}
        </Field>
        <button type="submit" class="add-button" disabled={busy || !shop.conn}>
          {busy ? 'Adding…' : 'Add to cart'}
        </button>
      </div>
      <ErrorNote error={error} />
      {added && (
        <p class="ok" role="status">
          {added} <a href={href.cart()}>View your cart</a>
        </p>
      )}
    </form>
  );
}

function BackInStock({ product }: { product: ProductView }) {
  const shop = useShop();
  const [subscribed, setSubscribed] = useState(false);
  // Whether the store said if this shopper asked already (a reload, another tab); the button waits for it.
  const [known, setKnown] = useState(false);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    const conn = shop.conn;
    if (!conn) return;
    let gone = false;
    setKnown(false);
    conn
      .read('stock:notifications', {})
      .then(({ productIds }) => {
        if (gone) return;
        const asked = productIds.includes(product.id);
        setSubscribed(asked);
        setNote(asked ? 'You asked to be told when it is back: we will tell you here as soon as it is.' : null);
      })
      .catch(() => undefined)
      .finally(() => !gone && setKnown(true));
    return () => {
      gone = true;
    };
  }, [shop.conn, product.id]);
  const toggle = async () => {
    if (!shop.conn) return;
    setBusy(true);
    setNote(null);
    try {
      const answer = await shop.conn.call(subscribed ? 'stock:unnotify' : 'stock:notify', { productId: product.id });
      setSubscribed(answer.subscribed);
      setNote(answer.subscribed ? 'We will tell you here as soon as it is back in stock.' : 'You will not be told when it is back.');
    } catch (failure) {
      if (failure instanceof EmporiumError && failure.code === 'CONFLICT') setNote('It is in stock again: you can buy it now.');
      else setNote(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="back-in-stock">
      <p>This product is sold out for now.</p>
      <button type="button" onClick={toggle} disabled={busy || !known || !shop.conn}>
        {subscribed ? 'Stop telling me' : 'Tell me when it is back in stock'}
      </button>
      {note && (
        <p role="status" class="muted" data-testid="notify-status">
          {note}
        </p>
      )}
    </div>
  );
}

function BoughtTogether({ productId }: { productId: string }) {
  const [items, setItems] = useState<readonly RecommendationView[]>([]);
  useEffect(() => {
    let gone = false;
    api<{ recommendations: RecommendationView[] }>(`/api/products/${encodeURIComponent(productId)}/recommendations?limit=4`)
      .then(({ recommendations }) => !gone && setItems(recommendations))
      .catch(() => undefined);
    return () => {
      gone = true;
    };
  }, [productId]);
  if (items.length === 0) return null;
  return (
    <section aria-labelledby="together-heading">
      <h2 id="together-heading">{items.some((item) => item.reason === 'boughtTogether') ? 'Bought together' : 'You may also like'}</h2>
      <ul class="grid product-grid">
        {items.map((item) => (
          <li key={item.productId}>
            <ProductCard product={item} />
          </li>
        ))}
      </ul>
    </section>
  );
}
