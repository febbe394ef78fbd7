// Checkout: the shipping address (the default of the address book, another one of it, or a new one), the card
// (the simulated provider's test card 4242 4242 4242 4242), then `cart:checkout` with a requestId and `order:pay`.
// Every refusal of the protocol gets a sentence a shopper can act on: prices changed (confirm the new total),
// out of stock, a drop sold out or its limit reached, a declined card.
import { useEffect, useId, useMemo, useRef, useState } from 'preact/hooks';
import { type AddressView, EmporiumError, formatMoney, type OrderView, type ShippingAddress, TEST_CARD_NUMBER } from '../../src/client/index.ts';
import { ErrorNote, Money, Price } from '../shared/ui.tsx';
import { href, navigate } from './router.ts';
import { describeError, newRequestId, useProducts, useShop } from './shop.tsx';
import { Field, Loading } from './widgets.tsx';

export const COUNTRIES: readonly (readonly [string, string])[] = [
  ['AT', 'Austria'],
  ['BE', 'Belgium'],
  ['CH', 'Switzerland'],
  ['DE', 'Germany'],
  ['DK', 'Denmark'],
  ['ES', 'Spain'],
  ['FI', 'Finland'],
  ['FR', 'France'],
  ['GB', 'United Kingdom'],
  ['IE', 'Ireland'],
  ['IT', 'Italy'],
  ['NL', 'Netherlands'],
  ['NO', 'Norway'],
  ['PL', 'Poland'],
  ['PT', 'Portugal'],
  ['SE', 'Sweden'],
  ['US', 'United States'],
];

export interface AddressDraft {
  name: string;
  line1: string;
  line2: string;
  city: string;
  postalCode: string;
  country: string;
}

export const emptyAddress = (name = ''): AddressDraft => ({ name, line1: '', line2: '', city: '', postalCode: '', country: 'DE' });

export function addressOf(draft: AddressDraft): ShippingAddress {
  const address: ShippingAddress = {
    name: draft.name.trim(),
    line1: draft.line1.trim(),
    city: draft.city.trim(),
    postalCode: draft.postalCode.trim(),
    country: draft.country,
  };
  return draft.line2.trim() ? { ...address, line2: draft.line2.trim() } : address;
}

/** What is missing from an address, for the shopper (the server checks it again). */
export function addressProblem(draft: AddressDraft): string | null {
  const missing = (
    [
      ['name', 'your name'],
      ['line1', 'the street and number'],
      ['city', 'the city'],
      ['postalCode', 'the postal code'],
    ] as const
  )
    .filter(([key]) => draft[key].trim() === '')
    .map(([, what]) => what);
  return missing.length > 0 ? `Please fill in ${missing.join(', ')}.` : null;
}

export function formatAddress(address: ShippingAddress): string {
  return [address.name, address.line1, address.line2, `${address.postalCode} ${address.city}`, address.country].filter(Boolean).join(', ');
}

export function AddressFields({ draft, onChange }: { draft: AddressDraft; onChange: (draft: AddressDraft) => void }) {
  const set = (key: keyof AddressDraft) => (event: { currentTarget: HTMLInputElement | HTMLSelectElement }) =>
    onChange({ ...draft, [key]: event.currentTarget.value });
  return (
    <div class="address-fields">
      <Field label="Full name">{(props) => <input {...props} autoComplete="name" required value={draft.name} onInput={set('name')} />}</Field>
      <Field label="Street and number">
        {(props) => <input {...props} autoComplete="address-line1" required value={draft.line1} onInput={set('line1')} />}
      </Field>
      <Field label="Address line 2 (optional)">{(props) => <input {...props} autoComplete="address-line2" value={draft.line2} onInput={set('line2')} />}</Field>
      <div class="row">
        <Field label="Postal code">
          {(props) => <input {...props} class="short" autoComplete="postal-code" required value={draft.postalCode} onInput={set('postalCode')} />}
        </Field>
        <Field label="City">{(props) => <input {...props} autoComplete="address-level2" required value={draft.city} onInput={set('city')} />}</Field>
      </div>
      <Field label="Country">
        {(props) => (
          <select {...props} autoComplete="country" value={draft.country} onChange={set('country')}>
            {COUNTRIES.map(([code, name]) => (
              <option key={code} value={code}>
                {name}
              </option>
            ))}
          </select>
        )}
      </Field>
    </div>
  );
}

export interface CardDraft {
  number: string;
  month: string;
  year: string;
  cvc: string;
}

export const emptyCard = (): CardDraft => ({ number: '', month: '', year: '', cvc: '' });

/** The card as `order:pay` takes it, or what is wrong with it. */
export function cardOf(draft: CardDraft): { payment: { cardNumber: string; expMonth: number; expYear: number; cvc: string } } | { problem: string } {
  const cardNumber = draft.number.replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(cardNumber)) return { problem: 'The card number is 12 to 19 digits (the test card is 4242 4242 4242 4242).' };
  const expMonth = Number(draft.month);
  if (!Number.isInteger(expMonth) || expMonth < 1 || expMonth > 12) return { problem: 'The expiry month is a number from 1 to 12.' };
  let expYear = Number(draft.year);
  if (Number.isInteger(expYear) && expYear >= 0 && expYear < 100) expYear += 2000;
  if (!Number.isInteger(expYear) || expYear < 2000 || expYear > 2100) return { problem: 'The expiry year is a year such as 2030.' };
  if (!/^\d{3,4}$/.test(draft.cvc.trim())) return { problem: 'The security code (CVC) is 3 or 4 digits.' };
  return { payment: { cardNumber, expMonth, expYear, cvc: draft.cvc.trim() } };
}

export function CardFields({ draft, onChange }: { draft: CardDraft; onChange: (draft: CardDraft) => void }) {
  const set = (key: keyof CardDraft) => (event: { currentTarget: HTMLInputElement }) => onChange({ ...draft, [key]: event.currentTarget.value });
  const hintId = useId();
  return (
    <fieldset class="card-fields" aria-describedby={hintId}>
      <legend>Card</legend>
      <p id={hintId} class="hint muted" data-testid="test-card-hint">
        This store uses a test payment provider: pay with the test card <strong>{TEST_CARD_NUMBER.replace(/(\d{4})(?=\d)/g, '$1 ')}</strong>, any future expiry
        date and any 3-digit CVC.
      </p>
      <Field label="Card number">
        {(props) => (
          <input
            {...props}
            inputMode="numeric"
            autoComplete="cc-number"
            placeholder="4242 4242 4242 4242"
            required
            value={draft.number}
            onInput={set('number')}
          />
        )}
      </Field>
      <div class="row">
        <Field label="Expiry month">
          {(props) => (
            <input
              {...props}
              class="short"
              inputMode="numeric"
              autoComplete="cc-exp-month"
              placeholder="12"
              required
              value={draft.month}
              onInput={set('month')}
            />
          )}
        </Field>
        <Field label="Expiry year">
          {(props) => (
            <input
              {...props}
              class="short"
              inputMode="numeric"
              autoComplete="cc-exp-year"
              placeholder="2030"
              required
              value={draft.year}
              onInput={set('year')}
            />
          )}
        </Field>
        <Field label="CVC">
          {(props) => (
            <input {...props} class="short" inputMode="numeric" autoComplete="cc-csc" placeholder="123" required value={draft.cvc} onInput={set('cvc')} />
          )}
        </Field>
      </div>
    </fieldset>
  );
}

/** Pays an order: the same requestId while an attempt is unanswered (a retry is safe), a new one after a decline. */
export function usePayment() {
  const { conn } = useShop();
  const requests = useRef(new Map<string, string>());
  return async (orderId: string, payment: { cardNumber: string; expMonth: number; expYear: number; cvc: string }): Promise<OrderView> => {
    if (!conn) throw new Error('not connected to the store yet');
    let requestId = requests.current.get(orderId);
    if (!requestId) requests.current.set(orderId, (requestId = newRequestId('pay')));
    const { order } = await conn.call('order:pay', { orderId, requestId, payment });
    if (order.state === 'awaitingPayment' && order.lastPaymentError) requests.current.delete(orderId); // declined: the next try is a new attempt
    return order;
  };
}

export function declineText(reason: string): string {
  const reasons: Record<string, string> = {
    card_declined: 'the card was declined',
    insufficient_funds: 'the card has insufficient funds',
    invalid_number: 'the card number is not valid',
    expired_card: 'the card has expired',
    payment_interrupted: 'the payment was interrupted',
  };
  return `The payment did not go through: ${reasons[reason] ?? reason}. Check the card, or try another one.`;
}

interface PriceChange {
  readonly productId: string;
  readonly was: number;
  readonly now: number;
}

export function CheckoutPage() {
  const shop = useShop();
  const { cart, conn, account } = shop;
  const [addresses, setAddresses] = useState<readonly AddressView[] | null>(null);
  const [choice, setChoice] = useState<string>('new');
  const [draft, setDraft] = useState<AddressDraft>(() => emptyAddress(account?.name ?? ''));
  const [save, setSave] = useState(true);
  const [card, setCard] = useState<CardDraft>(emptyCard);
  const [busy, setBusy] = useState<null | 'placing' | 'paying'>(null);
  const [error, setError] = useState<string | null>(null);
  const [changes, setChanges] = useState<readonly PriceChange[] | null>(null);
  const [order, setOrder] = useState<OrderView | null>(null);
  const checkoutRequest = useRef(newRequestId('checkout'));
  const pay = usePayment();
  const names = useProducts([...(cart?.items.map((i) => i.productId) ?? []), ...(changes?.map((c) => c.productId) ?? [])]);
  const nameOf = (id: string) => names[id]?.name ?? 'a product';

  // A signed-in customer's address book: the default address is chosen.
  useEffect(() => {
    if (!conn || !account) {
      setAddresses([]);
      return;
    }
    conn
      .call('addresses:list', {})
      .then(({ addresses: book }) => {
        setAddresses(book);
        const preferred = book.find((a) => a.isDefault) ?? book[0];
        if (preferred) setChoice(preferred.id);
      })
      .catch(() => setAddresses([]));
  }, [conn, account]);

  const open = cart && cart.state === 'active' && cart.items.length > 0 ? cart : null;
  const chosen = useMemo(() => addresses?.find((a) => a.id === choice) ?? null, [addresses, choice]);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!conn) return;
    setError(null);
    const paid = cardOf(card);
    if ('problem' in paid) return setError(paid.problem);
    let placed = order;
    if (!placed) {
      if (!open) return setError('Your cart is empty.');
      let shippingAddress: ShippingAddress;
      if (chosen) shippingAddress = addressOf({ ...chosen, line2: chosen.line2 ?? '' });
      else {
        const problem = addressProblem(draft);
        if (problem) return setError(problem);
        shippingAddress = addressOf(draft);
      }
      setBusy('placing');
      try {
        if (!chosen && account && save) {
          await conn.call('address:save', { ...shippingAddress, label: 'Home', makeDefault: (addresses?.length ?? 0) === 0 }).catch(() => undefined);
        }
        placed = (await conn.call('cart:checkout', { cartId: open.id, requestId: checkoutRequest.current, shippingAddress })).order;
        setOrder(placed);
        setChanges(null);
      } catch (failure) {
        setBusy(null);
        return handleCheckoutFailure(failure);
      }
    }
    setBusy('paying');
    try {
      const after = await pay(placed.id, paid.payment);
      setOrder(after);
      if (after.state === 'awaitingPayment') {
        setBusy(null);
        return setError(after.lastPaymentError ? declineText(after.lastPaymentError) : 'The payment did not go through; please try again.');
      }
      shop.announce('Order placed and paid.');
      navigate(href.order(after.id));
    } catch (failure) {
      setBusy(null);
      if (failure instanceof EmporiumError && failure.code === 'INVALID_TRANSITION') return navigate(href.order(placed.id));
      setError(describeError(failure));
    }
  };

  const handleCheckoutFailure = (failure: unknown) => {
    if (!(failure instanceof EmporiumError)) return setError(describeError(failure)); // no answer: the same requestId again is safe
    const details = (failure.details ?? {}) as {
      reason?: string;
      changes?: PriceChange[];
      productId?: string;
      available?: number;
      requested?: number;
      orderId?: string | null;
    };
    switch (failure.code) {
      case 'CONFLICT':
        if (details.reason === 'PRICES_CHANGED' && details.changes) {
          // The cart was re-priced (and pushed): show the new prices and let the shopper confirm them.
          setChanges(details.changes);
          return setError(null);
        }
        return setError('Your cart was being changed elsewhere at the same moment; please try again.');
      case 'OUT_OF_STOCK':
        checkoutRequest.current = newRequestId('checkout');
        return setError(
          `Sorry, only ${details.available ?? 0} of ${nameOf(details.productId ?? '')} ${details.available === 1 ? 'is' : 'are'} left and your cart asks for ${details.requested ?? 'more'}. Change the quantity in your cart, then check out again.`,
        );
      case 'SOLD_OUT':
        checkoutRequest.current = newRequestId('checkout');
        return setError(
          `The limited drop on ${nameOf(details.productId ?? '')} sold out just before your order. Your cart now shows the list price: check the new total, then check out again.`,
        );
      case 'LIMIT_REACHED':
        checkoutRequest.current = newRequestId('checkout');
        return setError(
          `You have already claimed your share of the limited drop on ${nameOf(details.productId ?? '')} (you may claim ${details.available ?? 0} more). Your cart now shows the list price: check the new total, then check out again.`,
        );
      case 'INVALID_TRANSITION':
        if (details.orderId) return navigate(href.order(details.orderId));
        checkoutRequest.current = newRequestId('checkout');
        return setError(details.reason === 'CART_EMPTY' ? 'Your cart is empty.' : describeError(failure));
      case 'NOT_FOUND':
        checkoutRequest.current = newRequestId('checkout');
        return setError(`${describeError(failure)}. Remove it from your cart, then check out again.`);
      default:
        checkoutRequest.current = newRequestId('checkout');
        return setError(describeError(failure));
    }
  };

  if (!order && !open) {
    return (
      <>
        <h1 tabIndex={-1}>Checkout</h1>
        {!shop.cartKnown ? (
          <Loading what="your cart" />
        ) : cart?.orderId && cart.state !== 'active' ? (
          <p>
            This cart has been checked out already. <a href={href.order(cart.orderId)}>See its order</a>.
          </p>
        ) : (
          <p data-testid="cart-empty">
            Your cart is empty. <a href={href.home()}>Find something in the shop</a>.
          </p>
        )}
      </>
    );
  }

  const lines = order ? order.items : (open?.items ?? []);
  const total = order ? order.total : (open?.total ?? 0);
  const currency = order?.currency ?? open?.currency ?? 'EUR';
  return (
    <>
      <h1 tabIndex={-1}>Checkout</h1>
      <form class="checkout" onSubmit={submit} noValidate aria-describedby="checkout-total">
        <section class="card" aria-labelledby="review-heading">
          <h2 id="review-heading">Your order</h2>
          <ul class="plain-list">
            {lines.map((line) => (
              <li key={line.productId} class="row spread">
                <span>
                  {line.quantity} × {'name' in line ? line.name : nameOf(line.productId)}
                </span>
                <span>
                  <Price price={line.unitPrice} listPrice={line.listPrice} currency={currency} />
                </span>
              </li>
            ))}
          </ul>
          <p class="total" id="checkout-total">
            Total{' '}
            <strong data-testid="checkout-total">
              <Money amount={total} currency={currency} />
            </strong>
          </p>
          {order ? (
            <p class="muted">
              Order placed; the prices are locked. <a href={href.order(order.id)}>See the order</a>.
            </p>
          ) : (
            <p>
              <a href={href.cart()}>Change your cart</a>
            </p>
          )}
        </section>

        {changes && (
          <section class="banner" role="alert" aria-labelledby="changes-heading" data-testid="prices-changed">
            <h2 id="changes-heading">Prices changed</h2>
            <p>Some prices changed since these items went into your cart. Your cart now has the new prices:</p>
            <ul>
              {changes.map((change) => (
                <li key={change.productId}>
                  {nameOf(change.productId)}: was {formatMoney(change.was, currency)}, now {formatMoney(change.now, currency)}
                </li>
              ))}
            </ul>
            <p>
              New total: <strong>{formatMoney(total, currency)}</strong>. Confirm below to order at these prices.
            </p>
          </section>
        )}

        {!order && (
          <section class="card" aria-labelledby="address-heading">
            <h2 id="address-heading">Shipping address</h2>
            {addresses === null ? (
              <Loading what="your addresses" />
            ) : (
              <>
                {addresses.length > 0 && (
                  <fieldset>
                    <legend>Ship to</legend>
                    {addresses.map((address) => (
                      <div class="radio" key={address.id}>
                        <input
                          type="radio"
                          name="address"
                          id={`address-${address.id}`}
                          value={address.id}
                          checked={choice === address.id}
                          onChange={() => setChoice(address.id)}
                        />
                        <label for={`address-${address.id}`}>
                          {address.label || 'Address'}
                          {address.isDefault && ' (default)'}: <span class="address-text">{formatAddress(address)}</span>
                        </label>
                      </div>
                    ))}
                    <div class="radio">
                      <input type="radio" name="address" id="address-new" value="new" checked={choice === 'new'} onChange={() => setChoice('new')} />
                      <label for="address-new">A new address</label>
                    </div>
                  </fieldset>
                )}
                {!chosen && (
                  <>
                    <AddressFields draft={draft} onChange={setDraft} />
                    {account && (
                      <div class="field checkbox">
                        <input id="save-address" type="checkbox" checked={save} onChange={(e) => setSave(e.currentTarget.checked)} />
                        <label for="save-address">Save it to my address book</label>
                      </div>
                    )}
                  </>
                )}
                {!account && (
                  <p class="muted small">
                    Shopping as a guest. <a href={href.account()}>Sign in or create an account</a> to keep your addresses and follow your orders anywhere; your
                    cart comes along.
                  </p>
                )}
              </>
            )}
          </section>
        )}

        <section class="card" aria-labelledby="payment-heading">
          <h2 id="payment-heading">Payment</h2>
          <CardFields draft={card} onChange={setCard} />
        </section>

        <ErrorNote error={error} />
        <p>
          <button type="submit" class="primary-action" disabled={busy !== null || !conn} data-testid="place-order">
            {busy === 'placing'
              ? 'Placing your order…'
              : busy === 'paying'
                ? 'Paying…'
                : order
                  ? `Pay ${formatMoney(total, currency)}`
                  : changes
                    ? `Confirm the new total and pay ${formatMoney(total, currency)}`
                    : `Place order and pay ${formatMoney(total, currency)}`}
          </button>
        </p>
      </form>
    </>
  );
}
