// Shipments as columns by state, live from the `shipments` topic: each card shows the order, its lines, where it goes
// and how; its buttons move it on (shipment:advance), report an exception with a reason, resume it, or cancel it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { SHIPMENT_STATES, type ShipmentStateName, type ShipmentView, type WarehouseConnection } from '../../src/client/index.ts';
import { ErrorNote } from '../shared/ui.tsx';
import { describeError, formatAt, STATE_LABELS, shortId } from './format.ts';
import { type LiveShipments, useAnnounce } from './live.ts';

type Target = 'picking' | 'packed' | 'shipped' | 'inTransit' | 'delivered' | 'exception' | 'cancelled';
type Form = 'ship' | 'exception' | 'cancel';

interface Action {
  readonly to: Target;
  readonly label: string;
  /** A form to fill (or a confirmation) before the move. */
  readonly form?: Form;
  readonly look?: 'secondary' | 'wh-danger';
}

const EXCEPTION: Action = { to: 'exception', label: 'Report exception…', form: 'exception', look: 'secondary' };
const CANCEL: Action = { to: 'cancelled', label: 'Cancel…', form: 'cancel', look: 'wh-danger' };
/** States whose column is work to do (oldest first); the others are history (newest first, the latest few). */
const DONE: ReadonlySet<ShipmentStateName> = new Set(['delivered', 'cancelled']);
const HISTORY_SHOWN = 10;
const CARRIERS = ['Emporium Post', 'DHL', 'UPS', 'DPD', 'FedEx'];

/** What staff may do next: the shipment lifecycle of PROTOCOL.md §7.3. */
export function actionsFor(shipment: ShipmentView): Action[] {
  switch (shipment.state) {
    case 'pending':
      return [{ to: 'picking', label: 'Start picking' }, CANCEL];
    case 'picking':
      return [{ to: 'packed', label: 'Mark packed' }, EXCEPTION, CANCEL];
    case 'packed':
      return [{ to: 'shipped', label: 'Ship…', form: 'ship' }, EXCEPTION, CANCEL];
    case 'shipped':
      return [{ to: 'inTransit', label: 'Mark in transit' }, { to: 'delivered', label: 'Mark delivered', look: 'secondary' }, EXCEPTION];
    case 'inTransit':
      return [{ to: 'delivered', label: 'Mark delivered' }, EXCEPTION];
    case 'exception': {
      const from = shipment.exception?.from as ShipmentStateName | undefined;
      if (!from || !(from in STATE_LABELS) || from === 'exception') return [];
      const actions: Action[] = [{ to: from as Target, label: `Resume (back to ${STATE_LABELS[from]})` }];
      if (from === 'shipped' || from === 'inTransit') actions.push({ to: 'delivered', label: 'Mark delivered', look: 'secondary' });
      if (from === 'picking' || from === 'packed') actions.push(CANCEL);
      return actions;
    }
    default:
      return [];
  }
}

function matches(shipment: ShipmentView, filter: string): boolean {
  if (!filter) return true;
  const text = [
    shipment.id,
    shipment.orderId,
    shipment.carrier,
    shipment.trackingNumber,
    shipment.shippingAddress?.city,
    shipment.shippingAddress?.name,
    shipment.shippingAddress?.country,
    ...shipment.items.flatMap((item) => [item.name, item.sku]),
  ]
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
  return filter
    .toLowerCase()
    .split(/\s+/)
    .every((word) => text.includes(word));
}

export function ShipmentsSection({ conn, live }: { conn: WarehouseConnection; live: LiveShipments }) {
  const [filter, setFilter] = useState('');
  const [errors, setErrors] = useState<ReadonlyMap<string, string>>(new Map());
  const [focusId, setFocusId] = useState<string | null>(null);
  const [expanded, setExpanded] = useState<ReadonlySet<ShipmentStateName>>(new Set());
  const announce = useAnnounce();

  const columns = new Map<ShipmentStateName, ShipmentView[]>(SHIPMENT_STATES.map((state) => [state, []]));
  for (const shipment of live.shipments.values()) if (matches(shipment, filter.trim())) columns.get(shipment.state)!.push(shipment);
  for (const [state, list] of columns) list.sort((a, b) => (DONE.has(state) ? b.updatedAt - a.updatedAt : a.createdAt - b.createdAt));

  const setError = (id: string, error: string | null) =>
    setErrors((current) => {
      const next = new Map(current);
      if (error) next.set(id, error);
      else next.delete(id);
      return next;
    });

  const advance = async (shipment: ShipmentView, to: Target, extra: { carrier?: string; trackingNumber?: string; reason?: string } = {}) => {
    setError(shipment.id, null);
    try {
      const { shipment: moved } = await conn.call('shipment:advance', { shipmentId: shipment.id, to, ...extra });
      live.put(moved);
      setFocusId(moved.id);
      announce(`Order ${shortId(moved.orderId)} is now ${STATE_LABELS[moved.state]}.`);
      return true;
    } catch (error) {
      setError(shipment.id, `Could not move order ${shortId(shipment.orderId)} to ${STATE_LABELS[to]}. ${describeError(error)}`);
      return false;
    }
  };

  const total = live.shipments.size;
  return (
    <section aria-labelledby="shipments-board" class="wh-section">
      <h2 id="shipments-board" class="visually-hidden">
        Shipment board
      </h2>
      <div class="row wh-toolbar">
        <p class="muted" data-testid="shipments-count">
          {total === 0 ? 'No shipments yet.' : `${total} shipment${total === 1 ? '' : 's'}, newest 200.`} Cards move by themselves as anyone advances them.
        </p>
        <div class="wh-filter">
          <label for="shipment-filter">Filter shipments</label>
          <input
            id="shipment-filter"
            type="search"
            placeholder="order, city, SKU, tracking…"
            value={filter}
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
        </div>
      </div>
      <ErrorNote error={live.error} />
      <datalist id="wh-carriers">
        {CARRIERS.map((carrier) => (
          <option key={carrier} value={carrier} />
        ))}
      </datalist>
      <div class="wh-board">
        {SHIPMENT_STATES.map((state) => {
          const list = columns.get(state) ?? [];
          const shown = DONE.has(state) && !expanded.has(state) ? list.slice(0, HISTORY_SHOWN) : list;
          return (
            <section key={state} class={`wh-column wh-column-${state}`} aria-labelledby={`column-${state}-title`} data-testid={`column-${state}`}>
              <h2 id={`column-${state}-title`} class="wh-column-title">
                {STATE_LABELS[state]}{' '}
                <span class="badge" data-testid="column-count">
                  {list.length}
                </span>
              </h2>
              {list.length === 0 ? (
                <p class="muted wh-empty">None</p>
              ) : (
                <ul class="wh-cards">
                  {shown.map((shipment) => (
                    <li key={shipment.id}>
                      <ShipmentCard
                        shipment={shipment}
                        flash={live.lastMoved === shipment.id}
                        focus={focusId === shipment.id}
                        onFocused={() => setFocusId(null)}
                        error={errors.get(shipment.id) ?? null}
                        onAdvance={advance}
                      />
                    </li>
                  ))}
                </ul>
              )}
              {shown.length < list.length && (
                <button type="button" class="secondary wh-more" onClick={() => setExpanded(new Set([...expanded, state]))}>
                  Show all {list.length} {STATE_LABELS[state].toLowerCase()}
                </button>
              )}
            </section>
          );
        })}
      </div>
    </section>
  );
}

interface CardProps {
  readonly shipment: ShipmentView;
  readonly flash: boolean;
  readonly focus: boolean;
  readonly onFocused: () => void;
  readonly error: string | null;
  readonly onAdvance: (shipment: ShipmentView, to: Target, extra?: { carrier?: string; trackingNumber?: string; reason?: string }) => Promise<boolean>;
}

function ShipmentCard({ shipment, flash, focus, onFocused, error, onAdvance }: CardProps) {
  const [form, setForm] = useState<Form | null>(null);
  const [busy, setBusy] = useState(false);
  const title = useRef<HTMLHeadingElement>(null);
  const order = shortId(shipment.orderId);
  const titleId = `shipment-${shipment.id}-title`;
  const address = shipment.shippingAddress;

  // A card that staff just moved is focused in its new column, so the keyboard stays with it.
  useEffect(() => {
    if (!focus) return;
    title.current?.focus();
    onFocused();
  }, [focus]);

  const run = async (to: Target, extra?: { carrier?: string; trackingNumber?: string; reason?: string }) => {
    setBusy(true);
    const moved = await onAdvance(shipment, to, extra);
    setBusy(false);
    if (moved) setForm(null);
  };

  return (
    <article
      class={`card wh-ship${flash ? ' wh-moved' : ''}`}
      aria-labelledby={titleId}
      data-testid="shipment-card"
      data-shipment-id={shipment.id}
      data-order-id={shipment.orderId}
      data-state={shipment.state}
    >
      <h3 id={titleId} ref={title} tabIndex={-1}>
        Order {order}
      </h3>
      <ul class="wh-items" aria-label="Items">
        {shipment.items.map((item) => (
          <li key={item.productId}>
            {item.quantity} × {item.name} <span class="muted">{item.sku}</span>
          </li>
        ))}
      </ul>
      <p class="wh-line" data-testid="destination">
        {address ? `To ${address.city}, ${address.country}` : 'No address (erased)'}
      </p>
      {shipment.carrier && (
        <p class="wh-line" data-testid="tracking">
          {shipment.carrier} · <span class="wh-mono">{shipment.trackingNumber}</span>
        </p>
      )}
      {shipment.exception && (
        <p class="wh-line wh-exception" data-testid="exception">
          <strong>Exception</strong> (while {STATE_LABELS[shipment.exception.from as ShipmentStateName] ?? shipment.exception.from}):{' '}
          {shipment.exception.reason}
        </p>
      )}
      <p class="wh-line muted wh-small">
        {STATE_LABELS[shipment.state]} since {formatAt(shipment.updatedAt)} · v{shipment.version}
      </p>
      {form === null && (
        <div class="wh-actions">
          {actionsFor(shipment).map((action) => (
            <button
              key={action.to}
              type="button"
              class={action.look ?? ''}
              disabled={busy}
              data-action={action.to}
              onClick={() => (action.form ? setForm(action.form) : void run(action.to))}
            >
              {action.label}
              <span class="visually-hidden"> order {order}</span>
            </button>
          ))}
        </div>
      )}
      {form === 'ship' && <ShipForm id={shipment.id} busy={busy} onCancel={() => setForm(null)} onShip={(extra) => run('shipped', extra)} />}
      {form === 'exception' && (
        <ExceptionForm id={shipment.id} busy={busy} onCancel={() => setForm(null)} onReport={(reason) => run('exception', { reason })} />
      )}
      {form === 'cancel' && (
        <div class="wh-confirm">
          <p>Cancel this shipment? Its order is cancelled, its stock released and its payment refunded.</p>
          <div class="wh-actions">
            <button type="button" class="wh-danger" disabled={busy} data-action="confirm-cancel" onClick={() => void run('cancelled')}>
              Yes, cancel shipment
            </button>
            <button type="button" class="secondary" disabled={busy} onClick={() => setForm(null)}>
              Keep it
            </button>
          </div>
        </div>
      )}
      <ErrorNote error={error} />
    </article>
  );
}

function ShipForm({
  id,
  busy,
  onShip,
  onCancel,
}: {
  id: string;
  busy: boolean;
  onShip: (extra: { carrier: string; trackingNumber: string }) => void;
  onCancel: () => void;
}) {
  const [carrier, setCarrier] = useState('');
  const [tracking, setTracking] = useState('');
  return (
    <form
      class="wh-form wh-card-form"
      aria-label="Ship"
      onSubmit={(event) => {
        event.preventDefault();
        onShip({ carrier: carrier.trim(), trackingNumber: tracking.trim() });
      }}
    >
      <label for={`${id}-carrier`}>Carrier</label>
      <input id={`${id}-carrier`} required maxLength={100} list="wh-carriers" value={carrier} onInput={(e) => setCarrier(e.currentTarget.value)} />
      <label for={`${id}-tracking`}>Tracking number</label>
      <input
        id={`${id}-tracking`}
        required
        maxLength={100}
        pattern="[A-Za-z0-9\-]+"
        title="letters, digits and hyphens"
        value={tracking}
        onInput={(e) => setTracking(e.currentTarget.value)}
      />
      <div class="wh-actions">
        <button type="submit" disabled={busy} data-action="confirm-ship">
          Ship
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={onCancel}>
          Back
        </button>
      </div>
    </form>
  );
}

function ExceptionForm({ id, busy, onReport, onCancel }: { id: string; busy: boolean; onReport: (reason: string) => void; onCancel: () => void }) {
  const [reason, setReason] = useState('');
  return (
    <form
      class="wh-form wh-card-form"
      aria-label="Report exception"
      onSubmit={(event) => {
        event.preventDefault();
        onReport(reason.trim());
      }}
    >
      <label for={`${id}-reason`}>What went wrong?</label>
      <input
        id={`${id}-reason`}
        required
        maxLength={500}
        placeholder="box damaged, address unclear…"
        value={reason}
        onInput={(e) => setReason(e.currentTarget.value)}
      />
      <div class="wh-actions">
        <button type="submit" disabled={busy} data-action="confirm-exception">
          Report exception
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={onCancel}>
          Back
        </button>
      </div>
    </form>
  );
}
