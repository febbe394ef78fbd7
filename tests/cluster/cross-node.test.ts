// Two real nodes on one PostgreSQL and one Redis: a push caused on one node reaches clients of the other,
// for storefront topics (cart, order, product stock) and for the warehouse board (shipments).
import test from '../helpers/cluster-test.ts';
import { call, getJson, guestToken, nextEvent, ok, postJson, registerCustomer, TEST_CARD } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab } from '../helpers/cluster.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  [a, b] = await lab.cluster(2);
});

test('a client on node A receives cart:updated, order:updated and stock:changed caused through node B', async (t) => {
  const productId = await lab.insertProduct(5, 1500);
  const token = await guestToken(a.url);
  const onA = await lab.store(a, token);
  const onB = await lab.store(b, token);

  const { cart } = await ok(onB, 'cart:create', {});
  await ok(onA, 'subscribe', { topic: `cart:${cart.id}` });
  const product = await ok(onA, 'subscribe', { topic: `product:${productId}` });
  t.is(product.view.available, 5);

  const cartPush = nextEvent(onA, 'cart:updated', (view) => view.id === cart.id && view.version === 2);
  await ok(onB, 'cart:addItem', { cartId: cart.id, productId, quantity: 2 });
  const pushedCart = await cartPush;
  t.is(pushedCart.items[0].quantity, 2);
  t.is(pushedCart.total, 3000);

  const stockPush = nextEvent(onA, 'stock:changed', (stock) => stock.productId === productId && stock.available === 3);
  const checkout = await call<{ order: { id: string; state: string } }>(onB, 'cart:checkout', { cartId: cart.id, requestId: 'x-node-1' });
  t.true(checkout.ok);
  if (!checkout.ok) return;
  t.is((await stockPush).available, 3);

  const order = checkout.data.order;
  await ok(onA, 'subscribe', { topic: `order:${order.id}` });
  const paidPush = nextEvent(onA, 'order:updated', (view) => view.id === order.id && view.state === 'paid');
  const shipmentLinked = nextEvent(onA, 'order:updated', (view) => view.id === order.id && view.shipmentId !== null);
  const paid = await ok(onB, 'order:pay', { orderId: order.id, requestId: 'x-node-pay-1', payment: TEST_CARD });
  t.true(['paid', 'fulfilling'].includes(paid.order.state));
  t.is((await paidPush).state, 'paid');
  // The saga (order.paid -> shipment), run by whichever node's relay claimed the event, is heard on A too.
  t.is((await shipmentLinked).shipmentId, `ship_${order.id.slice('order_'.length)}`);
});

test('a warehouse client on node A sees shipment:updated for a shipment advanced through node B', async (t) => {
  const staff = await lab.staffToken(a.url);
  const boardA = await lab.warehouse(a, staff);
  const boardB = await lab.warehouse(b, staff);
  await ok(boardA, 'subscribe', { topic: 'shipments' });

  // A customer on B buys something; the shipment it opens appears on A's board.
  const productId = await lab.insertProduct(3);
  const customer = await lab.store(b, await guestToken(b.url));
  const { cart } = await ok(customer, 'cart:create', {});
  await ok(customer, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  const { order } = await ok(customer, 'cart:checkout', { cartId: cart.id, requestId: 'wh-1' });
  const shipmentId = `ship_${order.id.slice('order_'.length)}`;
  const opened = nextEvent(boardA, 'shipment:updated', (view) => view.id === shipmentId && view.state === 'pending');
  await ok(customer, 'order:pay', { orderId: order.id, requestId: 'wh-pay-1', payment: TEST_CARD });
  t.is((await opened).orderId, order.id);

  // Staff on B moves it along; A's board follows every step, and A's stock topic sees the sale.
  await ok(boardA, 'subscribe', { topic: `shipment:${shipmentId}` });
  const stockA = await ok(boardA, 'subscribe', { topic: `product:${productId}` });
  t.is(stockA.view.available, 2);
  for (const to of ['picking', 'packed', 'shipped'] as const) {
    const pushed = nextEvent(boardA, 'shipment:updated', (view) => view.id === shipmentId && view.state === to);
    const sold = to === 'shipped' ? nextEvent(boardA, 'stock:changed', (stock) => stock.productId === productId && stock.onHand === 2) : undefined;
    const { shipment } = await ok(boardB, 'shipment:advance', { shipmentId, to, ...(to === 'shipped' ? { trackingNumber: 'TRACK-X1' } : {}) });
    t.is(shipment.state, to);
    const view = await pushed;
    t.is(view.state, to);
    if (to === 'shipped') {
      t.is(view.trackingNumber, 'TRACK-X1');
      t.is((await sold!).available, 2);
    }
  }
  const row = await lab.actor(shipmentId);
  t.is(row?.state, 'shipped');
});

test('logging out through node A disconnects the sockets that token opened on node B; another session stays', async (t) => {
  const customer = await registerCustomer(a.url);
  const other = (await postJson<{ token: string }>(`${b.url}/api/auth/login`, { email: customer.email, password: customer.password })).body.token;
  const onB = await lab.store(b, customer.token);
  const otherOnB = await lab.store(b, other);
  const gone = new Promise<string>((resolve) => onB.once('disconnect', (reason) => resolve(reason)));

  const response = await fetch(`${a.url}/api/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${customer.token}` } });
  t.is(response.status, 204);
  t.is(await gone, 'io server disconnect');
  t.is((await getJson(`${b.url}/api/me`, customer.token)).status, 401, 'the revocation holds on every node');
  t.true(otherOnB.connected);
  t.is((await ok(otherOnB, 'carts:list', {})).carts.length, 0);
});
