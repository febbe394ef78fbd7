// The cart, followed live on `cart:<id>` (re-priced lines when an offer starts or ends, totals, adoption) with its
// recommendations on `recommendations:<cartId>`: change quantities, remove lines, go to checkout.
import { useEffect, useRef, useState } from 'preact/hooks';
import { type CartLineView, EmporiumError, formatMoney } from '../../src/client/index.ts';
import { ErrorNote, LiveRegion, Money, Price } from '../shared/ui.tsx';
import { href } from './router.ts';
import { describeError, useProducts, useShop } from './shop.tsx';
import { Loading, ProductCard } from './widgets.tsx';

export function CartPage() {
  const shop = useShop();
  const { cart } = shop;
  const names = useProducts(cart?.items.map((item) => item.productId) ?? []);
  const [message, setMessage] = useState('');
  const total = useRef<number | null>(null);
  useEffect(() => {
    if (!cart) return;
    if (total.current !== null && total.current !== cart.total) setMessage(`Cart total is now ${formatMoney(cart.total, cart.currency)}.`);
    total.current = cart.total;
  }, [cart?.total]);

  const open = cart && (cart.state === 'active' || cart.state === 'checkingOut') ? cart : null;
  return (
    <>
      <h1 tabIndex={-1}>Your cart</h1>
      <LiveRegion message={message} />
      {!shop.cartKnown && !open ? (
        <Loading what="your cart" />
      ) : !open || open.items.length === 0 ? (
        <p data-testid="cart-empty">
          Your cart is empty. <a href={href.home()}>Find something in the shop</a>.
        </p>
      ) : (
        <div class="cart-layout">
          <section aria-labelledby="lines-heading">
            <h2 id="lines-heading" class="visually-hidden">
              Items
            </h2>
            <ul class="cart-lines">
              {open.items.map((line) => (
                <CartLine
                  key={line.productId}
                  line={line}
                  name={names[line.productId]?.name ?? 'Product'}
                  currency={open.currency}
                  locked={open.state !== 'active'}
                />
              ))}
            </ul>
          </section>
          <section class="card cart-summary" aria-labelledby="summary-heading">
            <h2 id="summary-heading">Summary</h2>
            <p>
              {open.itemCount === 1 ? '1 item' : `${open.itemCount} items`}
              {open.items.some((l) => l.unitPrice < l.listPrice) && (
                <>
                  {' '}
                  <span class="ok">
                    you save <Money amount={open.items.reduce((sum, l) => sum + (l.listPrice - l.unitPrice) * l.quantity, 0)} currency={open.currency} />
                  </span>
                </>
              )}
            </p>
            <p class="total">
              Total{' '}
              <strong data-testid="cart-total">
                <Money amount={open.total} currency={open.currency} />
              </strong>
            </p>
            {open.state === 'checkingOut' ? (
              <p class="muted">Checking out…</p>
            ) : (
              <a class="button-link" href={href.checkout()}>
                Go to checkout
              </a>
            )}
            <p class="muted small">Prices follow live offers until you check out; the checkout locks them.</p>
          </section>
        </div>
      )}
      {shop.recommendations.length > 0 && (
        <section aria-labelledby="recs-heading" data-testid="recommendations">
          <h2 id="recs-heading">{open && open.items.length > 0 ? 'Goes well with your cart' : 'Popular now'}</h2>
          <ul class="grid product-grid">
            {shop.recommendations.map((item) => (
              <li key={item.productId}>
                <ProductCard product={item} />
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

function CartLine({ line, name, currency, locked }: { line: CartLineView; name: string; currency: string; locked: boolean }) {
  const shop = useShop();
  const [quantity, setQuantity] = useState(String(line.quantity));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setQuantity(String(line.quantity)), [line.quantity]);
  const change = async (wanted: number) => {
    if (!shop.conn || !shop.cart) return;
    setError(null);
    if (!Number.isInteger(wanted) || wanted < 0) return setError('Choose a whole number.');
    setBusy(true);
    try {
      const { cart } =
        wanted === 0
          ? await shop.conn.call('cart:removeItem', { cartId: shop.cart.id, productId: line.productId })
          : await shop.conn.call('cart:setQuantity', { cartId: shop.cart.id, productId: line.productId, quantity: wanted });
      shop.acceptCart(cart);
      shop.announce(wanted === 0 ? `${name} removed from your cart.` : `${name}: quantity ${wanted}.`);
    } catch (failure) {
      setQuantity(String(line.quantity));
      if (failure instanceof EmporiumError && failure.code === 'OUT_OF_STOCK') {
        const details = failure.details as { available?: number } | undefined;
        setError(`Only ${details?.available ?? 'a few'} available.`);
      } else setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  const inputId = `qty-${line.productId}`;
  return (
    <li class="card cart-line" data-testid="cart-line" data-product-id={line.productId}>
      <div class="cart-line-name">
        <a href={href.product(line.productId)}>{name}</a>
        <span class="muted small">
          <Price price={line.unitPrice} listPrice={line.listPrice} currency={currency} /> each
        </span>
      </div>
      <div class="row cart-line-controls">
        <button type="button" class="secondary square" disabled={busy || locked} onClick={() => change(line.quantity - 1)}>
          <span aria-hidden="true">−</span>
          <span class="visually-hidden">One fewer {name}</span>
        </button>
        <label for={inputId} class="visually-hidden">
          Quantity of {name}
        </label>
        <input
          id={inputId}
          class="qty"
          type="number"
          min="0"
          max="100"
          inputMode="numeric"
          value={quantity}
          disabled={locked}
          onInput={(e) => setQuantity(e.currentTarget.value)}
          onChange={(e) => Number(e.currentTarget.value) !== line.quantity && change(Number(e.currentTarget.value))}
        />
        <button type="button" class="secondary square" disabled={busy || locked} onClick={() => change(line.quantity + 1)}>
          <span aria-hidden="true">+</span>
          <span class="visually-hidden">One more {name}</span>
        </button>
        <button type="button" class="link-button" disabled={busy || locked} onClick={() => change(0)}>
          Remove<span class="visually-hidden"> {name}</span>
        </button>
        <strong class="line-total">
          <Money amount={line.lineTotal} currency={currency} />
        </strong>
      </div>
      <ErrorNote error={error} />
    </li>
  );
}
