// Orders: the history (`orders:list`, a page at a time), and an order's page followed live on `order:<id>` with
// its shipment on `shipment:<id>` once it has one (carrier, tracking number, every step as a timeline).
import { useEffect, useRef, useState } from 'preact/hooks';
import { EmporiumError, type OrderView, type ShipmentStateName, type ShipmentView } from '../../src/client/index.ts';
import { Countdown, ErrorNote, formatTime, LiveRegion, Money, Price } from '../shared/ui.tsx';
import { CardFields, cardOf, declineText, emptyCard, formatAddress, usePayment } from './checkout.tsx';
import { href } from './router.ts';
import { describeError, useShop, useTopic } from './shop.tsx';
import { Loading } from './widgets.tsx';

export const ORDER_STATE_TEXT: Record<OrderView['state'], string> = {
  awaitingPayment: 'Awaiting payment',
  authorizing: 'Authorizing the payment',
  paid: 'Paid',
  fulfilling: 'Being prepared',
  shipped: 'Shipped',
  delivered: 'Delivered',
  cancelled: 'Cancelled',
  expired: 'Expired (not paid in time)',
};

export const SHIPMENT_STATE_TEXT: Record<ShipmentStateName, string> = {
  pending: 'Waiting for the warehouse',
  picking: 'Picking',
  packed: 'Packed',
  shipped: 'Shipped',
  inTransit: 'In transit',
  delivered: 'Delivered',
  exception: 'Delayed',
  cancelled: 'Cancelled',
};

/** The steps an order goes through, to show how far it is. */
const STEPS = ['Ordered', 'Paid', 'Packed', 'Shipped', 'Delivered'] as const;
function stepOf(order: OrderView, shipment: ShipmentView | null): number {
  if (order.state === 'delivered') return 4;
  if (order.state === 'shipped') return 3;
  if (shipment && (shipment.state === 'packed' || (shipment.state === 'exception' && shipment.exception?.from === 'packed'))) return 2;
  if (order.payment) return 1;
  return 0;
}

export function OrdersPage() {
  const { conn, account } = useShop();
  const [orders, setOrders] = useState<readonly OrderView[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  useEffect(() => {
    if (!conn) return;
    let gone = false;
    setOrders(null);
    conn
      .read('orders:list', { limit: 10 })
      .then((page) => {
        if (gone) return;
        setOrders(page.orders);
        setCursor(page.nextCursor);
      })
      .catch((failure: unknown) => !gone && setError(describeError(failure)));
    return () => {
      gone = true;
    };
  }, [conn]);
  const more = async () => {
    if (!conn || !cursor) return;
    setLoading(true);
    try {
      const page = await conn.read('orders:list', { limit: 10, before: cursor });
      setOrders((held) => [...(held ?? []), ...page.orders.filter((o) => !held?.some((h) => h.id === o.id))]);
      setCursor(page.nextCursor);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setLoading(false);
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Your orders</h1>
      {!account && (
        <p class="muted">
          Shopping as a guest: these are the orders of this browser. <a href={href.account()}>Sign in or create an account</a> to keep them with you.
        </p>
      )}
      <ErrorNote error={error} />
      {orders === null ? (
        !error && <Loading what="your orders" />
      ) : orders.length === 0 ? (
        <p>
          No orders yet. <a href={href.home()}>Start shopping</a>.
        </p>
      ) : (
        <>
          <ul class="order-list" data-testid="order-list">
            {orders.map((order) => (
              <OrderRow key={order.id} order={order} />
            ))}
          </ul>
          {cursor && (
            <button type="button" class="secondary" onClick={more} disabled={loading}>
              {loading ? 'Loading…' : 'Older orders'}
            </button>
          )}
        </>
      )}
    </>
  );
}

/** An order in the history, its state followed live. */
function OrderRow({ order: listed }: { order: OrderView }) {
  const { conn } = useShop();
  const [order, setOrder] = useState(listed);
  useTopic<OrderView>(conn, `order:${listed.id}`, (view) => setOrder((held) => (held.version >= view.version ? held : view)));
  return (
    <li class="card row spread" data-testid="order-row" data-order-id={order.id}>
      <span>
        <a href={href.order(order.id)}>Order of {formatTime(order.createdAt)}</a>
        <span class="muted small"> {order.items.reduce((n, l) => n + l.quantity, 0)} items</span>
      </span>
      <span class="row">
        <span class={`badge state-${order.state}`}>{ORDER_STATE_TEXT[order.state]}</span>
        <Money amount={order.total} currency={order.currency} />
      </span>
    </li>
  );
}

export function OrderPage({ id }: { id: string }) {
  const shop = useShop();
  const { conn } = shop;
  const [order, setOrder] = useState<OrderView | null>(null);
  const [shipment, setShipment] = useState<ShipmentView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState('');
  // Answers (pay, cancel) and pushes alike: only a newer version replaces the one held.
  const accept = (view: OrderView) => setOrder((held) => (held && held.version >= view.version ? held : view));
  useTopic<OrderView>(conn, `order:${id}`, accept, (failure) =>
    setError(
      failure instanceof EmporiumError && (failure.code === 'FORBIDDEN' || failure.code === 'NOT_FOUND')
        ? 'There is no such order of yours here.'
        : describeError(failure),
    ),
  );
  useTopic<ShipmentView>(conn, order?.shipmentId ? `shipment:${order.shipmentId}` : null, setShipment);

  // Say what moved, for people who do not see it.
  const said = useRef<{ order?: string; shipment?: string }>({});
  useEffect(() => {
    if (!order) return;
    if (said.current.order && said.current.order !== order.state) setMessage(`Order status: ${ORDER_STATE_TEXT[order.state]}.`);
    said.current.order = order.state;
  }, [order?.state]);
  useEffect(() => {
    if (!shipment) return;
    if (said.current.shipment && said.current.shipment !== shipment.state) setMessage(`Shipment: ${SHIPMENT_STATE_TEXT[shipment.state]}.`);
    said.current.shipment = shipment.state;
  }, [shipment?.state]);

  if (!order) {
    // The same element tree as below (heading first), so the heading that got the focus on arrival keeps it.
    return (
      <article class="order-page" data-testid="order-page" data-order-id={id}>
        <h1 tabIndex={-1}>Order</h1>
        <LiveRegion message={message} />
        {error ? <ErrorNote error={error} /> : <Loading what="the order" />}
        <p>
          <a href={href.orders()}>All your orders</a>
        </p>
      </article>
    );
  }
  const step = stepOf(order, shipment);
  const halted = order.state === 'cancelled' || order.state === 'expired';
  return (
    <article class="order-page" data-testid="order-page" data-order-id={order.id}>
      <h1 tabIndex={-1}>Order of {formatTime(order.createdAt)}</h1>
      <LiveRegion message={message} />
      <p class="muted small">Order number {order.id}</p>
      <p class="order-status">
        Status:{' '}
        <strong class={`badge state-${order.state}`} data-testid="order-state">
          {ORDER_STATE_TEXT[order.state]}
        </strong>
      </p>
      {!halted && (
        <ol class="steps" aria-label="Progress">
          {STEPS.map((name, index) => (
            <li key={name} class={index <= step ? 'step done' : 'step'} aria-current={index === step ? 'step' : undefined}>
              {name}
              <span class="visually-hidden">{index <= step ? ' (done)' : ' (not yet)'}</span>
            </li>
          ))}
        </ol>
      )}
      {order.state === 'cancelled' && (
        <p class="warn">
          {order.cancelReason ? `Cancelled: ${order.cancelReason}.` : 'Cancelled.'}{' '}
          {order.refund &&
            (order.refund.status === 'refunded' ? (
              <>
                Refunded <Money amount={order.refund.amount} currency={order.currency} />.
              </>
            ) : (
              'The refund is on its way.'
            ))}
        </p>
      )}
      {order.state === 'awaitingPayment' && <PayLater order={order} onOrder={accept} />}

      <section class="card" aria-labelledby="shipment-heading" data-testid="shipment">
        <h2 id="shipment-heading">Delivery</h2>
        {order.shippingAddress ? <p>To {formatAddress(order.shippingAddress)}</p> : <p class="muted">No shipping address on this order.</p>}
        {!order.shipmentId ? (
          <p class="muted">{halted ? 'Nothing will be shipped.' : 'The shipment is opened once the order is paid.'}</p>
        ) : !shipment ? (
          <Loading what="the shipment" />
        ) : (
          <>
            <p>
              Shipment:{' '}
              <strong class={`badge shipment-${shipment.state}`} data-testid="shipment-state">
                {SHIPMENT_STATE_TEXT[shipment.state]}
              </strong>
              {shipment.exception && <span class="warn"> ({shipment.exception.reason})</span>}
            </p>
            {(shipment.carrier || order.carrier) && (
              <dl class="tracking">
                <div>
                  <dt>Carrier</dt>
                  <dd data-testid="carrier">{shipment.carrier ?? order.carrier}</dd>
                </div>
                <div>
                  <dt>Tracking number</dt>
                  <dd data-testid="tracking-number">{shipment.trackingNumber ?? order.trackingNumber}</dd>
                </div>
              </dl>
            )}
            <h3>Timeline</h3>
            <ol class="timeline" data-testid="shipment-timeline">
              {shipment.history.map((entry, index) => (
                <li key={`${entry.state}-${entry.at}-${index}`} data-state={entry.state}>
                  <strong>{SHIPMENT_STATE_TEXT[entry.state]}</strong> <time dateTime={new Date(entry.at).toISOString()}>{formatTime(entry.at)}</time>
                  {entry.note && <span class="muted"> — {entry.note}</span>}
                </li>
              ))}
            </ol>
          </>
        )}
      </section>

      <section class="card" aria-labelledby="items-heading">
        <h2 id="items-heading">Items</h2>
        <ul class="plain-list">
          {order.items.map((line) => (
            <li key={line.productId} class="row spread">
              <span>
                {line.quantity} × <a href={href.product(line.productId)}>{line.name}</a>
              </span>
              <span>
                <Price price={line.unitPrice} listPrice={line.listPrice} currency={order.currency} />
              </span>
            </li>
          ))}
        </ul>
        <p class="total">
          Total{' '}
          <strong data-testid="order-total">
            <Money amount={order.total} currency={order.currency} />
          </strong>
        </p>
        {order.payment && (
          <p class="muted small">
            Paid <Money amount={order.payment.amount} currency={order.currency} /> on {formatTime(order.payment.paidAt)}.
          </p>
        )}
      </section>
      <CancelOrder order={order} onOrder={accept} shipment={shipment} />
      <p>
        <a href={href.orders()}>All your orders</a>
      </p>
    </article>
  );
}

function PayLater({ order, onOrder }: { order: OrderView; onOrder: (order: OrderView) => void }) {
  const [card, setCard] = useState(emptyCard);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(order.lastPaymentError ? declineText(order.lastPaymentError) : null);
  const pay = usePayment();
  const submit = async (event: Event) => {
    event.preventDefault();
    const paid = cardOf(card);
    if ('problem' in paid) return setError(paid.problem);
    setBusy(true);
    setError(null);
    try {
      const after = await pay(order.id, paid.payment);
      onOrder(after);
      if (after.state === 'awaitingPayment' && after.lastPaymentError) setError(declineText(after.lastPaymentError));
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card pay-later" onSubmit={submit} noValidate>
      <h2>Pay for this order</h2>
      <p>
        Pay within <Countdown to={order.paymentDeadline} label="time left" />, or the order expires and its items go back on sale.
      </p>
      <CardFields draft={card} onChange={setCard} />
      <ErrorNote error={error} />
      <button type="submit" disabled={busy}>
        {busy ? 'Paying…' : 'Pay now'}
      </button>
    </form>
  );
}

function CancelOrder({ order, onOrder, shipment }: { order: OrderView; onOrder: (order: OrderView) => void; shipment: ShipmentView | null }) {
  const { conn } = useShop();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const cancellable =
    order.state === 'awaitingPayment' ||
    order.state === 'paid' ||
    (order.state === 'fulfilling' && (!shipment || ['pending', 'picking', 'packed'].includes(shipment.state)));
  if (!cancellable) return null;
  const cancel = async () => {
    if (!conn) return;
    setError(null);
    try {
      onOrder((await conn.call('order:cancel', { orderId: order.id })).order);
      setConfirming(false);
    } catch (failure) {
      setError(describeError(failure));
    }
  };
  return (
    <section class="cancel" aria-label="Cancel the order">
      {confirming ? (
        <p class="row">
          <span>Cancel this order{order.payment ? ' and refund the payment' : ''}?</span>
          <button type="button" class="danger" onClick={cancel}>
            Yes, cancel it
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Keep it
          </button>
        </p>
      ) : (
        <button type="button" class="secondary" onClick={() => setConfirming(true)}>
          Cancel order
        </button>
      )}
      <ErrorNote error={error} />
    </section>
  );
}
