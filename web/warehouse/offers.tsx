// Offers: create a festival sale or a limited drop (offer:create), reschedule one that has not started
// (offer:update), cancel (offer:cancel), and watch them live from the `offers` topic — a drop's remaining units
// count down as checkouts claim them, with countdowns to each start and end.
import { useState } from 'preact/hooks';
import { type CategoryView, formatMoney, type OfferView, type ProductView, type WarehouseConnection, type WarehousePayload } from '../../src/client/index.ts';
import { Countdown, ErrorNote, Money } from '../shared/ui.tsx';
import { describeError, formatAt, fromLocalInput, OFFER_STATE_LABELS, toLocalInput, toMinorUnits } from './format.ts';
import { type LiveOffers, useAnnounce, useCategories, useProduct } from './live.ts';
import { CategoriesPicker, categoryPath, ProductName, ProductPicker, ProductsPicker } from './pickers.tsx';

const HOUR = 3_600_000;
const PAST_SHOWN = 10;
/** "Start now" asks for a start a second ahead, so a new drop is never "in the past" when it reaches the server. */
const START_NOW_MARGIN_MS = 1_000;

const roundedHourFromNow = () => Math.ceil((Date.now() + HOUR) / HOUR) * HOUR;

export function OffersSection({ conn, live }: { conn: WarehouseConnection; live: LiveOffers }) {
  const { categories } = useCategories();
  const all = [...live.offers.values()];
  const current = all.filter((o) => o.state === 'live' || o.state === 'soldOut').sort((a, b) => a.startsAt - b.startsAt);
  const upcoming = all.filter((o) => o.state === 'scheduled').sort((a, b) => a.startsAt - b.startsAt);
  const past = all
    .filter((o) => o.state === 'ended' || o.state === 'cancelled')
    .sort((a, b) => b.updatedAt - a.updatedAt)
    .slice(0, PAST_SHOWN);
  const groups = [
    { id: 'live', title: 'Live now', offers: current, empty: 'No offer is live.' },
    { id: 'scheduled', title: 'Scheduled', offers: upcoming, empty: 'Nothing scheduled.' },
    { id: 'past', title: 'Ended and cancelled (latest)', offers: past, empty: 'None yet.' },
  ];
  return (
    <div class="wh-split wh-split-end wh-section">
      <div class="wh-offer-lists">
        <ErrorNote error={live.error} />
        {groups.map((group) => (
          <section key={group.id} aria-labelledby={`offers-${group.id}`} data-testid={`offers-${group.id}`}>
            <h2 id={`offers-${group.id}`}>
              {group.title} <span class="badge">{group.offers.length}</span>
            </h2>
            {group.offers.length === 0 ? (
              <p class="muted">{group.empty}</p>
            ) : (
              <ul class="wh-cards">
                {group.offers.map((offer) => (
                  <li key={offer.id}>
                    <OfferCard conn={conn} offer={offer} categories={categories} onChanged={live.put} />
                  </li>
                ))}
              </ul>
            )}
          </section>
        ))}
      </div>
      <OfferForm conn={conn} categories={categories} onCreated={live.put} />
    </div>
  );
}

function discountText(offer: Pick<OfferView, 'discount'>): string {
  if (!offer.discount) return '';
  return offer.discount.type === 'percent' ? `${offer.discount.percent} % off` : `${formatMoney(offer.discount.amount, 'EUR')} off`;
}

function OfferCard({
  conn,
  offer,
  categories,
  onChanged,
}: {
  conn: WarehouseConnection;
  offer: OfferView;
  categories: readonly CategoryView[];
  onChanged: (offer: OfferView) => void;
}) {
  const announce = useAnnounce();
  const [form, setForm] = useState<'cancel' | 'reschedule' | null>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const titleId = `offer-${offer.id}-title`;
  const drop = offer.drop;
  const dropProduct = useProduct(drop?.productId);
  const open = offer.state === 'scheduled' || offer.state === 'live' || offer.state === 'soldOut';
  const soldOut = drop !== null && (offer.state === 'soldOut' || drop.remaining <= 0);

  const cancel = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { offer: cancelled } = await conn.call('offer:cancel', { offerId: offer.id, ...(reason.trim() ? { reason: reason.trim() } : {}) });
      onChanged(cancelled);
      announce(`${offer.name} cancelled.`);
      setForm(null);
    } catch (failure) {
      setError(`Could not cancel: ${describeError(failure)}`);
    }
    setBusy(false);
  };

  return (
    <article
      class={`card wh-offer wh-offer-${offer.state}`}
      aria-labelledby={titleId}
      data-testid="offer-card"
      data-offer-id={offer.id}
      data-state={offer.state}
    >
      <h3 id={titleId}>{offer.name}</h3>
      <p class="row wh-tight">
        <span class="badge">{offer.sort === 'drop' ? 'Limited drop' : 'Festival sale'}</span>
        <span class={`badge wh-state-${offer.state}`} data-testid="offer-state">
          {OFFER_STATE_LABELS[offer.state]}
        </span>
      </p>
      {offer.sort === 'sale' && (
        <p class="wh-line">
          <strong>{discountText(offer)}</strong> on{' '}
          {[
            ...offer.productIds.map((id) => <ProductName key={id} id={id} />),
            ...offer.categoryIds.map((id) => {
              const category = categories.find((c) => c.id === id || c.slug === id);
              return <span key={id}>{category ? `all of ${categoryPath(category, categories)}` : id}</span>;
            }),
          ].flatMap((part, i) => (i === 0 ? [part] : [', ', part]))}{' '}
          <span class="muted">({offer.affectedProductIds.length} products priced)</span>
        </p>
      )}
      {drop && (
        <>
          <p class="wh-line">
            {dropProduct?.name ?? drop.productId} at <Money amount={drop.dropPrice} currency={dropProduct?.currency ?? 'EUR'} />
            {dropProduct && (
              <span class="muted">
                {' '}
                (list <Money amount={dropProduct.price} currency={dropProduct.currency} />)
              </span>
            )}
            , {drop.perCustomerLimit} per customer
          </p>
          <p class="wh-line wh-remaining">
            Remaining:{' '}
            <strong data-testid="offer-remaining" class="wh-big">
              {drop.remaining}
            </strong>{' '}
            of <span data-testid="offer-quota">{drop.quota}</span>
            {soldOut && (
              <>
                {' '}
                <strong class="wh-soldout-text" data-testid="sold-out">
                  · sold out
                </strong>
              </>
            )}
          </p>
          <progress class="wh-progress" max={drop.quota} value={drop.remaining} aria-label={`${offer.name}: ${drop.remaining} of ${drop.quota} remaining`} />
        </>
      )}
      <p class="wh-line wh-small">
        {offer.state === 'scheduled' && (
          <>
            Starts {formatAt(offer.startsAt)} (in <Countdown to={offer.startsAt} label="starts in" />)
          </>
        )}
        {(offer.state === 'live' || offer.state === 'soldOut') &&
          (offer.endsAt ? (
            <>
              Ends {formatAt(offer.endsAt)} (in <Countdown to={offer.endsAt} label="ends in" />)
            </>
          ) : (
            'Runs until sold out or cancelled.'
          ))}
        {(offer.state === 'ended' || offer.state === 'cancelled') && (
          <>
            {offer.state === 'ended' ? 'Ended' : 'Cancelled'} {formatAt(offer.updatedAt)}
            {offer.cancelReason ? `: ${offer.cancelReason}` : ''}
          </>
        )}
      </p>
      {open && form === null && (
        <div class="wh-actions">
          {offer.state === 'scheduled' && (
            <button type="button" class="secondary" onClick={() => setForm('reschedule')}>
              Reschedule…<span class="visually-hidden"> {offer.name}</span>
            </button>
          )}
          <button type="button" class="wh-danger" data-action="cancel-offer" onClick={() => setForm('cancel')}>
            Cancel…<span class="visually-hidden"> {offer.name}</span>
          </button>
        </div>
      )}
      {form === 'cancel' && (
        <form class="wh-form wh-card-form" aria-label={`Cancel ${offer.name}`} onSubmit={cancel}>
          <label for={`${offer.id}-reason`}>Reason (optional)</label>
          <input id={`${offer.id}-reason`} maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          <div class="wh-actions">
            <button type="submit" class="wh-danger" disabled={busy} data-action="confirm-cancel-offer">
              Cancel offer
            </button>
            <button type="button" class="secondary" disabled={busy} onClick={() => setForm(null)}>
              Keep it
            </button>
          </div>
        </form>
      )}
      {form === 'reschedule' && (
        <Reschedule
          conn={conn}
          offer={offer}
          onDone={(changed) => {
            if (changed) {
              onChanged(changed);
              announce(`${changed.name} rescheduled.`);
            }
            setForm(null);
          }}
        />
      )}
      <ErrorNote error={error} />
    </article>
  );
}

/** New start and end for an offer that has not started (offer:update takes its whole terms again). */
function Reschedule({ conn, offer, onDone }: { conn: WarehouseConnection; offer: OfferView; onDone: (offer: OfferView | null) => void }) {
  const [starts, setStarts] = useState(toLocalInput(offer.startsAt));
  const [ends, setEnds] = useState(offer.endsAt ? toLocalInput(offer.endsAt) : '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const startsAt = fromLocalInput(starts);
    const endsAt = fromLocalInput(ends);
    if (startsAt === null) return setError('Give a start.');
    if (offer.sort === 'sale' && endsAt === null) return setError('A sale needs an end.');
    setBusy(true);
    setError(null);
    try {
      const terms =
        offer.sort === 'sale'
          ? {
              offerId: offer.id,
              sort: 'sale' as const,
              name: offer.name,
              discount: offer.discount!,
              productIds: [...offer.productIds],
              categoryIds: [...offer.categoryIds],
              startsAt,
              endsAt: endsAt!,
            }
          : {
              offerId: offer.id,
              sort: 'drop' as const,
              name: offer.name,
              productId: offer.drop!.productId,
              dropPrice: offer.drop!.dropPrice,
              quota: offer.drop!.quota,
              perCustomerLimit: offer.drop!.perCustomerLimit,
              startsAt,
              endsAt,
            };
      onDone((await conn.call('offer:update', terms)).offer);
    } catch (failure) {
      setError(`Could not reschedule: ${describeError(failure)}`);
      setBusy(false);
    }
  };
  return (
    <form class="wh-form wh-card-form" aria-label={`Reschedule ${offer.name}`} onSubmit={submit}>
      <label for={`${offer.id}-starts`}>Starts</label>
      <input id={`${offer.id}-starts`} type="datetime-local" step={1} required value={starts} onInput={(e) => setStarts(e.currentTarget.value)} />
      <label for={`${offer.id}-ends`}>Ends{offer.sort === 'drop' ? ' (optional)' : ''}</label>
      <input
        id={`${offer.id}-ends`}
        type="datetime-local"
        step={1}
        required={offer.sort === 'sale'}
        value={ends}
        onInput={(e) => setEnds(e.currentTarget.value)}
      />
      <div class="wh-actions">
        <button type="submit" disabled={busy}>
          Save schedule
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={() => onDone(null)}>
          Back
        </button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}

function OfferForm({ conn, categories, onCreated }: { conn: WarehouseConnection; categories: readonly CategoryView[]; onCreated: (offer: OfferView) => void }) {
  const announce = useAnnounce();
  const [sort, setSort] = useState<'sale' | 'drop'>('sale');
  const [name, setName] = useState('');
  const [discountType, setDiscountType] = useState<'percent' | 'amount'>('percent');
  const [percent, setPercent] = useState('20');
  const [amount, setAmount] = useState('');
  const [products, setProducts] = useState<readonly ProductView[]>([]);
  const [categoryIds, setCategoryIds] = useState<ReadonlySet<string>>(new Set());
  const [dropProduct, setDropProduct] = useState<ProductView | null>(null);
  const [dropPrice, setDropPrice] = useState('');
  const [quota, setQuota] = useState('10');
  const [limit, setLimit] = useState('1');
  const [startNow, setStartNow] = useState(false);
  const [starts, setStarts] = useState(() => toLocalInput(roundedHourFromNow()));
  const [ends, setEnds] = useState(() => toLocalInput(roundedHourFromNow() + 7 * 24 * HOUR));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setCreated(null);
    const startsAt = startNow ? Date.now() + START_NOW_MARGIN_MS : fromLocalInput(starts);
    const endsAt = fromLocalInput(ends);
    if (startsAt === null) return setError('Give a start, or choose to start now.');
    let payload: WarehousePayload<'offer:create'>;
    if (sort === 'sale') {
      if (endsAt === null) return setError('A sale needs an end.');
      if (products.length === 0 && categoryIds.size === 0) return setError('Choose at least one product or category for the sale.');
      let discount: { type: 'percent'; percent: number } | { type: 'amount'; amount: number };
      if (discountType === 'percent') {
        const value = Number.parseInt(percent, 10);
        if (!Number.isInteger(value) || value < 1 || value > 100) return setError('The percentage is a whole number from 1 to 100.');
        discount = { type: 'percent', percent: value };
      } else {
        const value = toMinorUnits(amount, 'EUR');
        if (value === null || value < 1) return setError('The amount off is an amount such as 5.00.');
        discount = { type: 'amount', amount: value };
      }
      payload = { sort, name: name.trim(), discount, productIds: products.map((p) => p.id), categoryIds: [...categoryIds], startsAt, endsAt };
    } else {
      if (!dropProduct) return setError('Choose the product of the drop.');
      const price = toMinorUnits(dropPrice, dropProduct.currency);
      if (price === null) return setError('The drop price is an amount such as 19.99.');
      const units = Number.parseInt(quota, 10);
      const perCustomer = Number.parseInt(limit, 10);
      if (!(units >= 1) || !(perCustomer >= 1)) return setError('The quota and the per-customer limit are at least 1.');
      payload = { sort, name: name.trim(), productId: dropProduct.id, dropPrice: price, quota: units, perCustomerLimit: perCustomer, startsAt, endsAt };
    }
    setBusy(true);
    try {
      const { offer } = await conn.call('offer:create', payload);
      onCreated(offer);
      const when = offer.state === 'scheduled' ? `scheduled for ${formatAt(offer.startsAt)}` : OFFER_STATE_LABELS[offer.state].toLowerCase();
      setCreated(`Created “${offer.name}”: ${when}.`);
      announce(`Created ${offer.name}: ${when}.`);
      setName('');
    } catch (failure) {
      setError(`Could not create the offer: ${describeError(failure)}`);
    }
    setBusy(false);
  };

  return (
    <section aria-labelledby="offer-form-title" class="card wh-offer-form">
      <h2 id="offer-form-title">Create an offer</h2>
      <form class="wh-form" onSubmit={submit} data-testid="offer-form">
        <fieldset class="wh-fieldset">
          <legend>Kind</legend>
          <label class="wh-choice">
            <input type="radio" name="offer-sort" value="sale" checked={sort === 'sale'} onChange={() => setSort('sale')} />
            Festival sale (a discount on products or categories)
          </label>
          <label class="wh-choice">
            <input type="radio" name="offer-sort" value="drop" checked={sort === 'drop'} onChange={() => setSort('drop')} />
            Limited drop (a few units of one product at a drop price)
          </label>
        </fieldset>
        <label for="offer-name">Name</label>
        <input id="offer-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        {sort === 'sale' ? (
          <>
            <fieldset class="wh-fieldset">
              <legend>Discount</legend>
              <label class="wh-choice">
                <input type="radio" name="discount-type" checked={discountType === 'percent'} onChange={() => setDiscountType('percent')} />
                Percent off
              </label>
              <label class="wh-choice">
                <input type="radio" name="discount-type" checked={discountType === 'amount'} onChange={() => setDiscountType('amount')} />
                Amount off
              </label>
              {discountType === 'percent' ? (
                <>
                  <label for="offer-percent">Percent off (1–100)</label>
                  <input id="offer-percent" type="number" min={1} max={100} required value={percent} onInput={(e) => setPercent(e.currentTarget.value)} />
                </>
              ) : (
                <>
                  <label for="offer-amount">Amount off (EUR)</label>
                  <input id="offer-amount" inputMode="decimal" required placeholder="5.00" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
                </>
              )}
            </fieldset>
            <ProductsPicker id="sale-products" legend="Products on sale" value={products} onChange={setProducts} />
            <CategoriesPicker legend="Whole categories on sale" categories={categories} value={categoryIds} onChange={setCategoryIds} />
          </>
        ) : (
          <>
            <ProductPicker id="drop-product" legend="Product of the drop" value={dropProduct} onChange={setDropProduct} />
            <label for="drop-price">
              Drop price{dropProduct ? ` (${dropProduct.currency}, below ${formatMoney(dropProduct.price, dropProduct.currency)})` : ''}
            </label>
            <input id="drop-price" inputMode="decimal" required placeholder="19.99" value={dropPrice} onInput={(e) => setDropPrice(e.currentTarget.value)} />
            <label for="drop-quota">Units in the drop</label>
            <input id="drop-quota" type="number" min={1} max={1_000_000} required value={quota} onInput={(e) => setQuota(e.currentTarget.value)} />
            <label for="drop-limit">Per customer, at most</label>
            <input id="drop-limit" type="number" min={1} max={100} required value={limit} onInput={(e) => setLimit(e.currentTarget.value)} />
          </>
        )}
        <fieldset class="wh-fieldset">
          <legend>Schedule</legend>
          <label class="wh-choice">
            <input type="checkbox" checked={startNow} onChange={(e) => setStartNow(e.currentTarget.checked)} />
            Start as soon as it is created
          </label>
          <label for="offer-starts">Starts</label>
          <input
            id="offer-starts"
            type="datetime-local"
            step={1}
            disabled={startNow}
            required={!startNow}
            value={starts}
            onInput={(e) => setStarts(e.currentTarget.value)}
          />
          <label for="offer-ends">Ends{sort === 'drop' ? ' (optional: a drop may run until sold out)' : ''}</label>
          <input id="offer-ends" type="datetime-local" step={1} required={sort === 'sale'} value={ends} onInput={(e) => setEnds(e.currentTarget.value)} />
          {sort === 'drop' && ends && (
            <button type="button" class="secondary wh-small-button" onClick={() => setEnds('')}>
              No end
            </button>
          )}
        </fieldset>
        <div class="row wh-buttons">
          <button type="submit" disabled={busy} data-testid="create-offer">
            {sort === 'sale' ? 'Create sale' : 'Create drop'}
          </button>
        </div>
        <ErrorNote error={error} />
        {created && (
          <p class="ok" data-testid="offer-created">
            {created}
          </p>
        )}
      </form>
    </section>
  );
}
