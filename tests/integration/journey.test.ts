// The whole shopper journey against the real app: guest cart, sign-up, checkout, payment, warehouse fulfilment, delivery.
// Tests run serially: each starts its own app, server and database, and timing-sensitive checks (rate limits) get the CPU to themselves.
import test, { type ExecutionContext } from 'ava';
import type { Socket } from 'socket.io-client';
import type { CartView, OrderView, ProductView, ShipmentView, StockChanged } from '../../src/protocol/index.ts';
import {
  DECLINED_CARD,
  TEST_CARD,
  call,
  connect,
  createProduct,
  getJson,
  guestToken,
  inventoryInvariant,
  nextEvent,
  ok,
  postJson,
  record,
  registerCustomer,
  staffToken,
  startApp,
  type TestApp,
} from '../helpers/app.ts';

const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' } as const;

let requests = 0;
const requestId = (label: string) => `${label}-${process.pid}-${++requests}`;

async function boot(t: ExecutionContext): Promise<TestApp> {
  const app = await startApp();
  t.teardown(() => app.stop());
  return app;
}

async function open(t: ExecutionContext, url: string, namespace: '/store' | '/warehouse', token: string): Promise<Socket> {
  const socket = await connect(url, namespace, token);
  t.teardown(() => {
    socket.close();
  });
  return socket;
}

async function available(url: string, productId: string): Promise<number> {
  const { status, body } = await getJson<ProductView>(`${url}/api/products/${productId}`);
  if (status !== 200) throw new Error(`GET product ${productId}: ${status}`);
  return body.available;
}

function strictlyRising(t: ExecutionContext, versions: readonly number[], label: string): void {
  for (let i = 1; i < versions.length; i++) t.true(versions[i]! > versions[i - 1]!, `${label} versions rise: ${versions.join(', ')}`);
}

/** Puts `items` in a fresh cart of `token`'s owner, checks it out and returns the socket, cart and order. */
async function placeOrder(t: ExecutionContext, app: TestApp, token: string, items: ReadonlyArray<{ productId: string; quantity: number }>) {
  const socket = await open(t, app.url, '/store', token);
  const { cart } = await ok<{ cart: CartView }>(socket, 'cart:create', {});
  for (const item of items) await ok(socket, 'cart:addItem', { cartId: cart.id, ...item });
  const { order } = await ok<{ order: OrderView }>(socket, 'cart:checkout', { cartId: cart.id, requestId: requestId('checkout'), shippingAddress: ADDRESS });
  return { socket, cart, order };
}

/** Pays `order` and waits until the payment saga opened its shipment. */
async function payAndAwaitShipment(socket: Socket, order: OrderView): Promise<OrderView> {
  await ok(socket, 'subscribe', { topic: `order:${order.id}` });
  const fulfilling = nextEvent<OrderView>(socket, 'order:updated', (o) => o.id === order.id && o.state === 'fulfilling');
  const { order: paid } = await ok<{ order: OrderView }>(socket, 'order:pay', { orderId: order.id, requestId: requestId('pay'), payment: TEST_CARD });
  if (paid.state !== 'paid' && paid.state !== 'fulfilling') throw new Error(`order:pay answered ${paid.state}`);
  return fulfilling;
}

test.serial('a guest shops, signs up, checks out, pays and follows the shipment to delivery', async (t) => {
  const app = await boot(t);
  const { url } = app;
  const lamp = await createProduct(app.app, { onHand: 10, price: 2_500, name: 'Desk Lamp' });
  const mug = await createProduct(app.app, { onHand: 5, price: 900, name: 'Mug' });

  // 1. A guest gets a token, opens the store and fills a cart.
  const guest = await postJson<{ token: string; guestId: string }>(`${url}/api/auth/guest`, {});
  t.is(guest.status, 200);
  t.truthy(guest.body.token);
  const guestSocket = await open(t, url, '/store', guest.body.token);

  const { cart: created } = await ok<{ cart: CartView }>(guestSocket, 'cart:create', {});
  t.is(created.state, 'active');
  t.deepEqual(created.items, []);
  t.is(created.customerId, guest.body.guestId);

  const subscribed = await ok<{ topic: string; view: CartView }>(guestSocket, 'subscribe', { topic: `cart:${created.id}` });
  t.is(subscribed.topic, `cart:${created.id}`);
  t.is(subscribed.view.version, created.version);
  const guestCartPushes = record(guestSocket, ['cart:updated']);

  const afterLamp = await ok<{ cart: CartView }>(guestSocket, 'cart:addItem', { cartId: created.id, productId: lamp.id, quantity: 2 });
  t.deepEqual(
    afterLamp.cart.items.map(({ productId, quantity, unitPrice }) => ({ productId, quantity, unitPrice })),
    [{ productId: lamp.id, quantity: 2, unitPrice: 2_500 }],
  );
  await ok(guestSocket, 'cart:addItem', { cartId: created.id, productId: mug.id, quantity: 1 });
  const pushedAfterSet = nextEvent<CartView>(guestSocket, 'cart:updated', (c) => c.items.some((l) => l.productId === mug.id && l.quantity === 3));
  const { cart: guestCart } = await ok<{ cart: CartView }>(guestSocket, 'cart:setQuantity', { cartId: created.id, productId: mug.id, quantity: 3 });
  t.is(guestCart.total, 2 * 2_500 + 3 * 900);
  t.is(guestCart.itemCount, 5);
  t.is(guestCart.version, created.version + 3);
  t.is((await pushedAfterSet).version, guestCart.version);
  t.deepEqual(
    guestCartPushes.map((p) => (p.payload as CartView).version),
    [created.version + 1, created.version + 2, created.version + 3],
  );

  // 2. The guest registers with its token as the bearer: the cart comes along.
  const email = `journey-${process.pid}-${Date.now()}@example.com`;
  const registered = await postJson<{ token: string; customer: { id: string; email: string }; adoptedCarts: string[] }>(
    `${url}/api/auth/register`,
    { email, password: 'correct horse battery', name: 'Ada' },
    guest.body.token,
  );
  t.is(registered.status, 201);
  t.is(registered.body.customer.email, email);
  t.deepEqual(registered.body.adoptedCarts, [created.id]);

  // 3. The customer reconnects with the new token and finds the same cart; the guest token no longer reaches it.
  const socket = await open(t, url, '/store', registered.body.token);
  const { cart: adopted } = await ok<{ cart: CartView }>(socket, 'cart:get', { cartId: created.id });
  t.is(adopted.customerId, registered.body.customer.id);
  t.is(adopted.state, 'active');
  t.deepEqual(adopted.items, guestCart.items);
  t.is(adopted.total, guestCart.total);
  const denied = await call(guestSocket, 'cart:get', { cartId: created.id });
  t.like(denied, { ok: false, error: { code: 'FORBIDDEN' } });
  guestSocket.close();

  // 4. Checkout reserves the stock: the product rooms hear about it.
  await ok(socket, 'subscribe', { topic: `cart:${created.id}` });
  const lampTopic = await ok<{ view: ProductView & { version: number } }>(socket, 'subscribe', { topic: `product:${lamp.id}` });
  t.is(lampTopic.view.available, 10);
  const mugTopic = await ok<{ view: ProductView & { version: number } }>(socket, 'subscribe', { topic: `product:${mug.id}` });
  t.is(mugTopic.view.available, 5);
  const stock = record(socket, ['stock:changed']);
  const lampReserved = nextEvent<StockChanged>(socket, 'stock:changed', (s) => s.productId === lamp.id);
  const mugReserved = nextEvent<StockChanged>(socket, 'stock:changed', (s) => s.productId === mug.id);
  const cartCheckedOut = nextEvent<CartView>(socket, 'cart:updated', (c) => c.id === created.id && c.state === 'checkedOut');

  const { order } = await ok<{ order: OrderView }>(socket, 'cart:checkout', { cartId: created.id, requestId: requestId('checkout'), shippingAddress: ADDRESS });
  t.is(order.state, 'awaitingPayment');
  t.is(order.customerId, registered.body.customer.id);
  t.is(order.cartId, created.id);
  t.is(order.total, guestCart.total);
  t.deepEqual(order.shippingAddress, ADDRESS);
  t.deepEqual(
    order.items.map(({ productId, quantity }) => ({ productId, quantity })).sort((a, b) => a.productId.localeCompare(b.productId)),
    [
      { productId: lamp.id, quantity: 2 },
      { productId: mug.id, quantity: 3 },
    ].sort((a, b) => a.productId.localeCompare(b.productId)),
  );
  t.like(await lampReserved, { productId: lamp.id, available: 8, onHand: 10 });
  t.like(await mugReserved, { productId: mug.id, available: 2, onHand: 5 });
  t.true((await lampReserved).version > lampTopic.view.version);
  t.is((await cartCheckedOut).orderId, order.id);
  t.is(await available(url, lamp.id), 8);
  t.is(await available(url, mug.id), 2);

  // 5. Payment: the order goes paid, then fulfilling once its shipment exists.
  const { view: orderTopic } = await ok<{ view: OrderView }>(socket, 'subscribe', { topic: `order:${order.id}` });
  t.is(orderTopic.version, order.version);
  const log = record(socket, ['order:updated', 'shipment:updated']);
  const fulfilling = nextEvent<OrderView>(socket, 'order:updated', (o) => o.state === 'fulfilling');
  const { order: paid } = await ok<{ order: OrderView }>(socket, 'order:pay', { orderId: order.id, requestId: requestId('pay'), payment: TEST_CARD });
  t.true(paid.state === 'paid' || paid.state === 'fulfilling', `paid order is ${paid.state}`);
  t.truthy(paid.payment);
  t.is(paid.payment!.amount, order.total);
  const inFulfilment = await fulfilling;
  t.truthy(inFulfilment.shipmentId);
  const shipmentId = inFulfilment.shipmentId!;

  const { view: shipmentTopic } = await ok<{ view: ShipmentView }>(socket, 'subscribe', { topic: `shipment:${shipmentId}` });
  t.is(shipmentTopic.state, 'pending');
  t.is(shipmentTopic.orderId, order.id);
  t.is(shipmentTopic.customerId, registered.body.customer.id);
  t.deepEqual(shipmentTopic.shippingAddress, ADDRESS);

  // 6. The warehouse works the shipment from its board.
  const staff = await open(t, url, '/warehouse', await staffToken(app.app));
  const board = await ok<{ topic: string; view: { shipments: ShipmentView[] } }>(staff, 'subscribe', { topic: 'shipments' });
  t.true(board.view.shipments.some((s) => s.id === shipmentId && s.state === 'pending'));
  const boardLog = record(staff, ['shipment:updated']);

  const advance = async (to: string, extra: Record<string, unknown> = {}) => {
    const { shipment } = await ok<{ shipment: ShipmentView }>(staff, 'shipment:advance', { shipmentId, to, ...extra });
    t.is(shipment.state, to as ShipmentView['state']);
    return shipment;
  };
  await advance('picking');
  await advance('packed');
  const orderShipped = nextEvent<OrderView>(socket, 'order:updated', (o) => o.state === 'shipped');
  const lampSold = nextEvent<StockChanged>(socket, 'stock:changed', (s) => s.productId === lamp.id && s.onHand === 8);
  const mugSold = nextEvent<StockChanged>(socket, 'stock:changed', (s) => s.productId === mug.id && s.onHand === 2);
  const shipped = await advance('shipped', { carrier: 'DHL', trackingNumber: 'TRACK-12345' });
  t.is(shipped.trackingNumber, 'TRACK-12345');
  t.is(shipped.carrier, 'DHL');
  t.like(await orderShipped, { trackingNumber: 'TRACK-12345', carrier: 'DHL' });
  t.like(await lampSold, { available: 8, onHand: 8 });
  t.like(await mugSold, { available: 2, onHand: 2 });
  await advance('inTransit');
  const orderDelivered = nextEvent<OrderView>(socket, 'order:updated', (o) => o.state === 'delivered');
  const shipmentDelivered = nextEvent<ShipmentView>(socket, 'shipment:updated', (s) => s.state === 'delivered');
  const delivered = await advance('delivered');
  t.deepEqual(
    delivered.history.map((h) => h.state),
    ['pending', 'picking', 'packed', 'shipped', 'inTransit', 'delivered'],
  );
  await shipmentDelivered;
  const final = await orderDelivered;
  t.is(final.state, 'delivered');
  t.is(final.trackingNumber, 'TRACK-12345');

  // 7. Every push arrived, in order, with rising versions.
  const orderPushes = log.filter((p) => p.event === 'order:updated').map((p) => p.payload as OrderView);
  const shipmentPushes = log.filter((p) => p.event === 'shipment:updated').map((p) => p.payload as ShipmentView);
  t.deepEqual(
    orderPushes.map((o) => o.state),
    ['authorizing', 'paid', 'fulfilling', 'shipped', 'delivered'],
  );
  strictlyRising(t, [orderTopic.version, ...orderPushes.map((o) => o.version)], 'order');
  t.is(orderPushes.at(-1)!.version, orderTopic.version + 5, 'no order change went unannounced');
  t.deepEqual(
    shipmentPushes.map((s) => s.state),
    ['picking', 'packed', 'shipped', 'inTransit', 'delivered'],
  );
  strictlyRising(t, [shipmentTopic.version, ...shipmentPushes.map((s) => s.version)], 'shipment');
  t.is(shipmentPushes.at(-1)!.version, shipmentTopic.version + 5);
  t.deepEqual(
    boardLog.map((p) => (p.payload as ShipmentView).state),
    ['picking', 'packed', 'shipped', 'inTransit', 'delivered'],
  );

  // 8. Stock: reserved at checkout, sold at shipping; the pushes say so and so does the catalog.
  const lampPushes = stock.filter((p) => p.payload.productId === lamp.id).map((p) => p.payload as StockChanged);
  t.deepEqual(
    lampPushes.map(({ available, onHand }) => ({ available, onHand })),
    [
      { available: 8, onHand: 10 },
      { available: 8, onHand: 8 },
    ],
  );
  strictlyRising(t, [lampTopic.view.version, ...lampPushes.map((s) => s.version)], 'stock');
  t.is(await available(url, lamp.id), 8);
  t.is(await available(url, mug.id), 2);
  const rows = (await app.app.db.knex('products').whereIn('id', [lamp.id, mug.id]).select('id', 'on_hand', 'reserved')) as Array<{
    id: string;
    on_hand: number;
    reserved: number;
  }>;
  t.deepEqual(Object.fromEntries(rows.map((r) => [r.id, [Number(r.on_hand), Number(r.reserved)]])), { [lamp.id]: [8, 0], [mug.id]: [2, 0] });
  t.deepEqual(await inventoryInvariant(app.app), { ok: true, problems: [] });

  // The order is final and reads back the same.
  const { order: readBack } = await ok<{ order: OrderView }>(socket, 'order:get', { orderId: order.id });
  t.is(readBack.state, 'delivered');
  t.is(readBack.version, final.version);
  t.is(readBack.trackingNumber, 'TRACK-12345');
  const { shipment: shipmentBack } = await ok<{ shipment: ShipmentView }>(socket, 'shipment:get', { shipmentId });
  t.is(shipmentBack.state, 'delivered');
});

test.serial('a declined card keeps the order awaiting payment; a new request with a good card pays it', async (t) => {
  const app = await boot(t);
  const product = await createProduct(app.app, { onHand: 3, price: 1_234 });
  const customer = await registerCustomer(app.url);
  const { socket, order } = await placeOrder(t, app, customer.token, [{ productId: product.id, quantity: 1 }]);
  await ok(socket, 'subscribe', { topic: `order:${order.id}` });

  const declinedRequest = requestId('pay-declined');
  const declined = await call<{ order: OrderView }>(socket, 'order:pay', { orderId: order.id, requestId: declinedRequest, payment: DECLINED_CARD });
  t.true(declined.ok);
  if (!declined.ok) return;
  t.is(declined.data.order.state, 'awaitingPayment');
  t.is(declined.data.order.lastPaymentError, 'card_declined');
  t.is(declined.data.order.payment, null);
  t.is(declined.data.order.paymentAttempts, 1);
  t.is(await available(app.url, product.id), 2, 'the reservation is kept after a decline');

  // The same declined request again is not a second attempt.
  const again = await ok<{ order: OrderView }>(socket, 'order:pay', { orderId: order.id, requestId: declinedRequest, payment: DECLINED_CARD });
  t.is(again.order.state, 'awaitingPayment');

  const fulfilling = nextEvent<OrderView>(socket, 'order:updated', (o) => o.state === 'fulfilling');
  const { order: paid } = await ok<{ order: OrderView }>(socket, 'order:pay', { orderId: order.id, requestId: requestId('pay-ok'), payment: TEST_CARD });
  t.true(paid.state === 'paid' || paid.state === 'fulfilling');
  t.is(paid.lastPaymentError, null);
  t.is(paid.payment?.amount, 1_234);
  t.truthy((await fulfilling).shipmentId);

  const charges = (await app.app.db.knex('payment_charges').where({ order_id: order.id, kind: 'charge' }).select('status')) as Array<{ status: string }>;
  t.deepEqual(charges.map((c) => c.status).sort(), ['declined', 'succeeded']);
});

test.serial('cancelling a paid order refunds it and puts the stock back', async (t) => {
  const app = await boot(t);
  const product = await createProduct(app.app, { onHand: 4, price: 5_000 });
  const customer = await registerCustomer(app.url);
  const { socket, order } = await placeOrder(t, app, customer.token, [{ productId: product.id, quantity: 3 }]);
  t.is(await available(app.url, product.id), 1);
  const fulfilling = await payAndAwaitShipment(socket, order);
  const shipmentId = fulfilling.shipmentId!;
  await ok(socket, 'subscribe', { topic: `product:${product.id}` });
  await ok(socket, 'subscribe', { topic: `shipment:${shipmentId}` });

  const refunded = nextEvent<OrderView>(socket, 'order:updated', (o) => o.state === 'cancelled' && o.refund?.status === 'refunded');
  const released = nextEvent<StockChanged>(socket, 'stock:changed', (s) => s.productId === product.id && s.available === 4);
  const shipmentCancelled = nextEvent<ShipmentView>(socket, 'shipment:updated', (s) => s.state === 'cancelled');
  const { order: cancelled } = await ok<{ order: OrderView }>(socket, 'order:cancel', { orderId: order.id });
  t.is(cancelled.state, 'cancelled');
  t.is(cancelled.cancelReason, 'cancelled by customer');
  t.like(cancelled.refund, { amount: 15_000, chargeId: fulfilling.payment!.chargeId });

  const done = await refunded;
  t.is(done.refund?.status, 'refunded');
  t.truthy(done.refund?.refundId);
  t.like(await released, { available: 4, onHand: 4 });
  t.is((await shipmentCancelled).id, shipmentId);
  t.is(await available(app.url, product.id), 4);
  t.deepEqual(await inventoryInvariant(app.app), { ok: true, problems: [] });

  const refunds = await app.app.db.knex('payment_charges').where({ order_id: order.id, kind: 'refund' });
  t.is(refunds.length, 1);

  // Cancelled is final for the customer: a second cancel and a payment are refused.
  t.like(await call(socket, 'order:cancel', { orderId: order.id }), {
    ok: false,
    error: { code: 'INVALID_TRANSITION', details: { state: 'cancelled', event: 'CANCEL', reason: 'ORDER_CLOSED' } },
  });
  t.like(await call(socket, 'order:pay', { orderId: order.id, requestId: requestId('late'), payment: TEST_CARD }), {
    ok: false,
    error: { code: 'INVALID_TRANSITION', details: { state: 'cancelled', event: 'PAY_REQUESTED', reason: 'ORDER_CLOSED' } },
  });
});

test.serial("orders:list returns the customer's own orders only", async (t) => {
  const app = await boot(t);
  const product = await createProduct(app.app, { onHand: 20 });
  const alice = await registerCustomer(app.url, 'Alice');
  const bob = await registerCustomer(app.url, 'Bob');
  const first = await placeOrder(t, app, alice.token, [{ productId: product.id, quantity: 1 }]);
  const second = await placeOrder(t, app, alice.token, [{ productId: product.id, quantity: 2 }]);
  const bobs = await placeOrder(t, app, bob.token, [{ productId: product.id, quantity: 1 }]);

  const { orders } = await ok<{ orders: OrderView[] }>(first.socket, 'orders:list', {});
  t.deepEqual(orders.map((o) => o.id).sort(), [first.order.id, second.order.id].sort());
  t.true(orders.every((o) => o.customerId === alice.customerId));
  const { orders: bobOrders } = await ok<{ orders: OrderView[] }>(bobs.socket, 'orders:list', {});
  t.deepEqual(
    bobOrders.map((o) => o.id),
    [bobs.order.id],
  );

  const fresh = await registerCustomer(app.url, 'Nobody');
  const socket = await open(t, app.url, '/store', fresh.token);
  t.deepEqual(await ok(socket, 'orders:list', {}), { orders: [], nextCursor: null });
});

test.serial("logging in with a guest bearer adopts the guest's cart", async (t) => {
  const app = await boot(t);
  const product = await createProduct(app.app, { onHand: 5, price: 700 });
  const customer = await registerCustomer(app.url);
  const guest = await guestToken(app.url);
  const guestSocket = await open(t, app.url, '/store', guest);
  const { cart } = await ok<{ cart: CartView }>(guestSocket, 'cart:create', {});
  const { cart: filled } = await ok<{ cart: CartView }>(guestSocket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 });

  const login = await postJson<{ token: string; customer: { id: string }; adoptedCarts: string[] }>(
    `${app.url}/api/auth/login`,
    { email: customer.email, password: customer.password },
    guest,
  );
  t.is(login.status, 200);
  t.is(login.body.customer.id, customer.customerId);
  t.deepEqual(login.body.adoptedCarts, [cart.id]);

  const socket = await open(t, app.url, '/store', login.body.token);
  const { cart: adopted } = await ok<{ cart: CartView }>(socket, 'cart:get', { cartId: cart.id });
  t.is(adopted.customerId, customer.customerId);
  t.deepEqual(adopted.items, filled.items);
  const { carts } = await ok<{ carts: CartView[] }>(socket, 'carts:list', {});
  t.true(carts.some((c) => c.id === cart.id));
  t.like(await call(guestSocket, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 }), { ok: false, error: { code: 'FORBIDDEN' } });

  // A plain login (no guest bearer) adopts nothing.
  const plain = await postJson<{ adoptedCarts: string[] }>(`${app.url}/api/auth/login`, { email: customer.email, password: customer.password });
  t.is(plain.status, 200);
  t.deepEqual(plain.body.adoptedCarts, []);
});

test.serial('a shipment exception is reported and resumed; the customer follows both', async (t) => {
  const app = await boot(t);
  const product = await createProduct(app.app, { onHand: 2 });
  const customer = await registerCustomer(app.url);
  const { socket, order } = await placeOrder(t, app, customer.token, [{ productId: product.id, quantity: 1 }]);
  const fulfilling = await payAndAwaitShipment(socket, order);
  const shipmentId = fulfilling.shipmentId!;
  const { view: start } = await ok<{ view: ShipmentView }>(socket, 'subscribe', { topic: `shipment:${shipmentId}` });
  const pushes = record(socket, ['shipment:updated']);
  const staff = await open(t, app.url, '/warehouse', await staffToken(app.app));

  await ok(staff, 'shipment:advance', { shipmentId, to: 'picking' });
  await ok(staff, 'shipment:advance', { shipmentId, to: 'packed' });
  const { shipment: broken } = await ok<{ shipment: ShipmentView }>(staff, 'shipment:advance', { shipmentId, to: 'exception', reason: 'box crushed' });
  t.is(broken.state, 'exception');
  t.deepEqual(broken.exception, { reason: 'box crushed', from: 'packed' });
  t.like(broken.history.at(-1), { state: 'exception', note: 'box crushed' });

  // From an exception in the warehouse the parcel cannot jump to delivered.
  t.like(await call(staff, 'shipment:advance', { shipmentId, to: 'delivered' }), {
    ok: false,
    error: { code: 'INVALID_TRANSITION', details: { state: 'exception', event: 'DELIVER', reason: 'NOT_SHIPPED' } },
  });
  const { shipments: exceptions } = await ok<{ shipments: ShipmentView[] }>(staff, 'shipments:list', { state: 'exception' });
  t.deepEqual(
    exceptions.map((s) => s.id),
    [shipmentId],
  );

  const { shipment: resumed } = await ok<{ shipment: ShipmentView }>(staff, 'shipment:advance', { shipmentId, to: 'packed' });
  t.is(resumed.state, 'packed');
  t.is(resumed.exception, null);

  const orderShipped = nextEvent<OrderView>(socket, 'order:updated', (o) => o.state === 'shipped');
  const { shipment: shipped } = await ok<{ shipment: ShipmentView }>(staff, 'shipment:advance', { shipmentId, to: 'shipped' });
  t.regex(shipped.trackingNumber ?? '', /^[A-Z0-9]+$/, 'a tracking number is generated when none is given');
  t.is((await orderShipped).trackingNumber, shipped.trackingNumber);
  // With the carrier, the parcel can no longer be called back: the customer is told why.
  t.like(await call(socket, 'order:cancel', { orderId: order.id }), {
    ok: false,
    error: { code: 'INVALID_TRANSITION', details: { state: 'shipped', event: 'CANCEL', reason: 'ALREADY_SHIPPED' } },
  });

  // An exception in transit, then delivered straight from it.
  await ok(staff, 'shipment:advance', { shipmentId, to: 'inTransit' });
  await ok(staff, 'shipment:advance', { shipmentId, to: 'exception', reason: 'address not found' });
  const orderDelivered = nextEvent<OrderView>(socket, 'order:updated', (o) => o.state === 'delivered');
  const lastPush = nextEvent<ShipmentView>(socket, 'shipment:updated', (s) => s.state === 'delivered');
  const { shipment: delivered } = await ok<{ shipment: ShipmentView }>(staff, 'shipment:advance', { shipmentId, to: 'delivered' });
  t.is(delivered.state, 'delivered');
  await lastPush;
  t.is((await orderDelivered).state, 'delivered');

  t.deepEqual(
    pushes.map((p) => (p.payload as ShipmentView).state),
    ['picking', 'packed', 'exception', 'packed', 'shipped', 'inTransit', 'exception', 'delivered'],
  );
  strictlyRising(t, [start.version, ...pushes.map((p) => (p.payload as ShipmentView).version)], 'shipment');
  t.like(await call(staff, 'shipment:advance', { shipmentId, to: 'picking' }), {
    ok: false,
    error: { code: 'INVALID_TRANSITION', details: { state: 'delivered', reason: 'SHIPMENT_CLOSED' } },
  });
  t.deepEqual(await inventoryInvariant(app.app), { ok: true, problems: [] });
});
