import test, { type ExecutionContext } from 'ava';
import { SimulatedClock, createActor, initialTransition, transition, type SnapshotFrom } from 'xstate';
import { cartMachine, cartRefusal, type CartChange, type CartEmitted, type CartEvent, type CartInput } from '../../src/modules/cart/cart.machine.ts';
import { MAX_CART_LINES, MAX_LINE_QUANTITY } from '../../src/domain/types.ts';
import { emitted, emittedTypes, roundTrip } from '../helpers/machines.ts';

type CartSnapshot = SnapshotFrom<typeof cartMachine>;

const T0 = 1_700_000_000_000;
const TTL = 60 * 60 * 1000;
const MINUTE = 60_000;

const input = (overrides: Partial<CartInput> = {}): CartInput => ({
  id: 'cart-1',
  customerId: 'guest-1',
  currency: 'EUR',
  ttlMs: TTL,
  at: T0,
  ...overrides,
});

const fresh = (overrides: Partial<CartInput> = {}): CartSnapshot => initialTransition(cartMachine, input(overrides))[0];

const add = (productId: string, quantity: number, at = T0 + MINUTE, unitPrice = 1_000): CartEvent => ({
  type: 'ADD_ITEM',
  productId,
  quantity,
  unitPrice,
  at,
});

const setQty = (productId: string, quantity: number, at = T0 + MINUTE, unitPrice = 1_000): CartEvent => ({
  type: 'SET_QUANTITY',
  productId,
  quantity,
  unitPrice,
  at,
});

const remove = (productId: string, at = T0 + MINUTE): CartEvent => ({ type: 'REMOVE_ITEM', productId, at });

const startCheckout = (at = T0 + 2 * MINUTE, orderId = 'order-1', requestId = 'req-1'): CartEvent => ({
  type: 'CHECKOUT_STARTED',
  orderId,
  requestId,
  at,
});

/** Sends `event`, asserting the machine accepted it; returns the next snapshot and what it emitted. */
function accept(t: ExecutionContext, snapshot: CartSnapshot, event: CartEvent): [CartSnapshot, CartEmitted[]] {
  t.true(snapshot.can(event), `expected ${event.type} to be accepted in ${JSON.stringify(snapshot.value)}`);
  const [next, actions] = transition(cartMachine, snapshot, event);
  t.not(next, snapshot, `${event.type} returned the same snapshot`);
  return [next, emitted<CartEmitted>(actions)];
}

/** Applies events in order, each of which must be accepted. */
function run(t: ExecutionContext, snapshot: CartSnapshot, ...events: CartEvent[]): CartSnapshot {
  return events.reduce((current, event) => accept(t, current, event)[0], snapshot);
}

/** Asserts the machine rejects `event`: `can` says no, and `transition` returns the very same snapshot and no actions. */
function reject(t: ExecutionContext, snapshot: CartSnapshot, event: CartEvent): void {
  t.false(snapshot.can(event), `expected ${event.type} to be rejected in ${JSON.stringify(snapshot.value)}`);
  const [next, actions] = transition(cartMachine, snapshot, event);
  t.is(next, snapshot, `${event.type} changed the snapshot`);
  t.deepEqual(actions, []);
}

// --- creation ----------------------------------------------------------------

test('a new cart is active and empty, with its expiry one TTL after creation', (t) => {
  const [cart, actions] = initialTransition(cartMachine, input());
  t.is(cart.value, 'active');
  t.is(cart.status, 'active');
  t.deepEqual(cart.context, {
    id: 'cart-1',
    customerId: 'guest-1',
    currency: 'EUR',
    items: [],
    ttlMs: TTL,
    createdAt: T0,
    updatedAt: T0,
    expiresAt: T0 + TTL,
    checkout: null,
    lastCheckoutError: null,
  });
  t.deepEqual(emitted(actions), [], 'creating a cart emits nothing');
});

// --- adding items ------------------------------------------------------------

test('adding an item creates a line with its quantity and unit price', (t) => {
  const [cart] = accept(t, fresh(), add('p1', 2, T0 + MINUTE, 1_250));
  t.deepEqual(cart.context.items, [{ productId: 'p1', quantity: 2, unitPrice: 1_250 }]);
});

test('adding the same product again merges into one line with the summed quantity', (t) => {
  const cart = run(t, fresh(), add('p1', 2), add('p2', 1), add('p1', 3));
  t.deepEqual(
    cart.context.items.map(({ productId, quantity }) => ({ productId, quantity })),
    [
      { productId: 'p1', quantity: 5 },
      { productId: 'p2', quantity: 1 },
    ],
    'one line per product, in the order first added',
  );
});

test('merging a line keeps the unit price of the latest add', (t) => {
  const cart = run(t, fresh(), add('p1', 1, T0 + MINUTE, 1_000), add('p1', 1, T0 + 2 * MINUTE, 900));
  t.deepEqual(cart.context.items, [{ productId: 'p1', quantity: 2, unitPrice: 900 }]);
});

test('adding zero, negative or non-numeric quantities is rejected', (t) => {
  const cart = run(t, fresh(), add('p1', 1));
  for (const quantity of [0, -1, -100, Number.NaN, 0.5]) {
    reject(t, cart, add('p1', quantity));
    reject(t, cart, add('p2', quantity));
  }
  t.deepEqual(
    cart.context.items.map((line) => line.quantity),
    [1],
  );
});

test('a line may hold up to MAX_LINE_QUANTITY, and an add that would exceed it is rejected whole', (t) => {
  reject(t, fresh(), add('p1', MAX_LINE_QUANTITY + 1));
  reject(t, fresh(), add('p1', Number.POSITIVE_INFINITY));

  const full = run(t, fresh(), add('p1', MAX_LINE_QUANTITY));
  t.is(full.context.items[0]?.quantity, MAX_LINE_QUANTITY);
  reject(t, full, add('p1', 1));

  const almost = run(t, fresh(), add('p1', MAX_LINE_QUANTITY - 2));
  reject(t, almost, add('p1', 3));
  const [topped] = accept(t, almost, add('p1', 2));
  t.is(topped.context.items[0]?.quantity, MAX_LINE_QUANTITY);
});

test('a cart may hold up to MAX_CART_LINES distinct products', (t) => {
  const products = Array.from({ length: MAX_CART_LINES }, (_, i) => `p${i}`);
  const full = run(t, fresh(), ...products.map((productId) => add(productId, 1)));
  t.is(full.context.items.length, MAX_CART_LINES);

  reject(t, full, add('one-too-many', 1));
  reject(t, full, setQty('one-too-many', 1));

  const [more] = accept(t, full, add('p0', 4));
  t.is(more.context.items.length, MAX_CART_LINES, 'adding to an existing line is still allowed');
  t.is(more.context.items[0]?.quantity, 5);

  const [changed] = accept(t, full, setQty('p1', 7));
  t.is(changed.context.items.find((line) => line.productId === 'p1')?.quantity, 7, 'setting an existing line is still allowed');

  const [freed] = accept(t, full, remove('p3'));
  const [again] = accept(t, freed, add('one-too-many', 1));
  t.is(again.context.items.length, MAX_CART_LINES, 'a freed slot can be used again');
});

// --- setting quantities ------------------------------------------------------

test('SET_QUANTITY replaces the quantity and unit price of a line rather than adding to it', (t) => {
  const cart = run(t, fresh(), add('p1', 5, T0 + MINUTE, 1_000), setQty('p1', 2, T0 + 2 * MINUTE, 1_100));
  t.deepEqual(cart.context.items, [{ productId: 'p1', quantity: 2, unitPrice: 1_100 }]);
});

test('SET_QUANTITY on a product not yet in the cart adds a line', (t) => {
  const [cart] = accept(t, fresh(), setQty('p9', 3, T0 + MINUTE, 499));
  t.deepEqual(cart.context.items, [{ productId: 'p9', quantity: 3, unitPrice: 499 }]);
});

test('SET_QUANTITY to 0 removes the line', (t) => {
  const cart = run(t, fresh(), add('p1', 2), add('p2', 1));
  const [next] = accept(t, cart, setQty('p1', 0, T0 + 2 * MINUTE));
  t.deepEqual(
    next.context.items.map((line) => line.productId),
    ['p2'],
  );
});

test('SET_QUANTITY to 0 for a product not in the cart is rejected', (t) => {
  reject(t, fresh(), setQty('p1', 0));
  reject(t, run(t, fresh(), add('p2', 1)), setQty('p1', 0));
});

test('SET_QUANTITY with a negative quantity or above MAX_LINE_QUANTITY is rejected', (t) => {
  const cart = run(t, fresh(), add('p1', 2));
  for (const quantity of [-1, MAX_LINE_QUANTITY + 1, Number.NaN]) {
    reject(t, cart, setQty('p1', quantity));
    reject(t, cart, setQty('p2', quantity));
  }
  const [max] = accept(t, cart, setQty('p1', MAX_LINE_QUANTITY));
  t.is(max.context.items[0]?.quantity, MAX_LINE_QUANTITY);
});

// --- removing items ----------------------------------------------------------

test('REMOVE_ITEM removes the line and leaves the others in order', (t) => {
  const cart = run(t, fresh(), add('p1', 1), add('p2', 2), add('p3', 3));
  const [next] = accept(t, cart, remove('p2', T0 + 5 * MINUTE));
  t.deepEqual(
    next.context.items.map((line) => line.productId),
    ['p1', 'p3'],
  );
});

test('REMOVE_ITEM of a product that is not in the cart is rejected', (t) => {
  reject(t, fresh(), remove('p1'));
  const cart = run(t, fresh(), add('p1', 1));
  reject(t, cart, remove('p2'));
  const emptied = run(t, cart, remove('p1', T0 + 2 * MINUTE));
  reject(t, emptied, remove('p1', T0 + 3 * MINUTE));
});

// --- updatedAt / expiresAt -----------------------------------------------------

test('every accepted change bumps updatedAt and restarts the expiry from its own time', (t) => {
  const base = run(t, fresh(), add('p1', 2, T0 + MINUTE));
  const at = T0 + 20 * MINUTE;
  const changes: CartEvent[] = [
    add('p1', 1, at),
    add('p2', 1, at),
    setQty('p1', 5, at),
    setQty('p1', 0, at),
    setQty('p2', 1, at),
    remove('p1', at),
    { type: 'ASSIGN_CUSTOMER', customerId: 'customer-7', at },
  ];
  for (const change of changes) {
    const [next] = accept(t, base, change);
    t.is(next.context.updatedAt, at, `${change.type} bumps updatedAt`);
    t.is(next.context.expiresAt, at + TTL, `${change.type} restarts the expiry`);
    t.is(next.context.createdAt, T0, `${change.type} leaves createdAt alone`);
  }
});

test('a rejected change leaves updatedAt and expiresAt untouched', (t) => {
  const cart = run(t, fresh(), add('p1', 2, T0 + MINUTE));
  reject(t, cart, add('p1', 0, T0 + 30 * MINUTE));
  reject(t, cart, remove('nope', T0 + 30 * MINUTE));
  t.is(cart.context.updatedAt, T0 + MINUTE);
  t.is(cart.context.expiresAt, T0 + MINUTE + TTL);
});

test('ASSIGN_CUSTOMER hands the cart to a customer, also while checking out', (t) => {
  const [active] = accept(t, fresh(), { type: 'ASSIGN_CUSTOMER', customerId: 'customer-7', at: T0 + MINUTE });
  t.is(active.context.customerId, 'customer-7');
  t.is(active.value, 'active');

  const checkingOut = run(t, fresh(), add('p1', 1), startCheckout());
  const [still] = accept(t, checkingOut, { type: 'ASSIGN_CUSTOMER', customerId: 'customer-8', at: T0 + 3 * MINUTE });
  t.is(still.value, 'checkingOut');
  t.is(still.context.customerId, 'customer-8');
  t.deepEqual(still.context.checkout, checkingOut.context.checkout, 'the checkout in progress is kept');
});

// --- checkout ------------------------------------------------------------------

test('checkout cannot start on an empty cart', (t) => {
  reject(t, fresh(), startCheckout());
  const emptied = run(t, fresh(), add('p1', 1), remove('p1', T0 + 2 * MINUTE));
  reject(t, emptied, startCheckout(T0 + 3 * MINUTE));
});

test('starting checkout records the order and request and moves to checkingOut', (t) => {
  const cart = run(t, fresh(), add('p1', 2));
  const [next, events] = accept(t, cart, startCheckout(T0 + 2 * MINUTE, 'order-9', 'req-9'));
  t.is(next.value, 'checkingOut');
  t.deepEqual(next.context.checkout, { orderId: 'order-9', requestId: 'req-9', startedAt: T0 + 2 * MINUTE, shippingAddress: null });
  t.is(next.context.updatedAt, T0 + 2 * MINUTE);
  t.deepEqual(next.context.items, cart.context.items, 'the lines are carried into checkout unchanged');
  t.deepEqual(events, [], 'starting checkout emits nothing');
});

test('a cart that is checking out is locked against changes to its lines and against expiry', (t) => {
  const cart = run(t, fresh(), add('p1', 2), startCheckout());
  const late = T0 + 100 * TTL;
  reject(t, cart, add('p1', 1, T0 + 3 * MINUTE));
  reject(t, cart, add('p2', 1, T0 + 3 * MINUTE));
  reject(t, cart, setQty('p1', 5, T0 + 3 * MINUTE));
  reject(t, cart, setQty('p1', 0, T0 + 3 * MINUTE));
  reject(t, cart, remove('p1', T0 + 3 * MINUTE));
  reject(t, cart, startCheckout(T0 + 3 * MINUTE, 'order-2', 'req-2'));
  reject(t, cart, { type: 'EXPIRE', at: late });
});

test('a failed checkout returns the cart to active with the reason, its lines intact and its expiry restarted', (t) => {
  const cart = run(t, fresh(), add('p1', 2), add('p2', 1), startCheckout(T0 + 2 * MINUTE));
  const at = T0 + 3 * MINUTE;
  const [failed, events] = accept(t, cart, { type: 'CHECKOUT_FAILED', orderId: 'order-1', reason: 'OUT_OF_STOCK: p2', at });
  t.is(failed.value, 'active');
  t.is(failed.context.lastCheckoutError, 'OUT_OF_STOCK: p2');
  t.is(failed.context.checkout, null);
  t.deepEqual(failed.context.items, cart.context.items);
  t.is(failed.context.updatedAt, at);
  t.is(failed.context.expiresAt, at + TTL);
  t.deepEqual(events, []);

  // The customer can fix the cart and try again; a new attempt clears the old error.
  const fixed = run(t, failed, remove('p2', T0 + 4 * MINUTE));
  t.is(fixed.context.lastCheckoutError, 'OUT_OF_STOCK: p2', 'the error stays visible until the next attempt');
  const [retry] = accept(t, fixed, startCheckout(T0 + 5 * MINUTE, 'order-2', 'req-2'));
  t.is(retry.value, 'checkingOut');
  t.is(retry.context.lastCheckoutError, null);
  t.deepEqual(retry.context.checkout, { orderId: 'order-2', requestId: 'req-2', startedAt: T0 + 5 * MINUTE, shippingAddress: null });
});

test('checkout results are rejected when no checkout is in progress', (t) => {
  const cart = run(t, fresh(), add('p1', 2));
  reject(t, cart, { type: 'CHECKOUT_FAILED', orderId: 'order-1', reason: 'x', at: T0 + 2 * MINUTE });
  reject(t, cart, { type: 'CHECKOUT_COMPLETED', orderId: 'order-1', at: T0 + 2 * MINUTE });
});

test('checkout completes only for the order it started, and emits cart.checkedOut', (t) => {
  const cart = run(t, fresh(), add('p1', 2), startCheckout(T0 + 2 * MINUTE, 'order-1'));
  reject(t, cart, { type: 'CHECKOUT_COMPLETED', orderId: 'order-other', at: T0 + 3 * MINUTE });

  const [done, events] = accept(t, cart, { type: 'CHECKOUT_COMPLETED', orderId: 'order-1', at: T0 + 3 * MINUTE });
  t.is(done.value, 'checkedOut');
  t.is(done.status, 'done', 'checkedOut is final');
  t.is(done.context.updatedAt, T0 + 3 * MINUTE);
  t.deepEqual(events, [{ type: 'cart.checkedOut', cartId: 'cart-1', orderId: 'order-1' }]);
});

test('a checked-out cart accepts nothing more', (t) => {
  const done = run(t, fresh(), add('p1', 2), startCheckout(T0 + 2 * MINUTE, 'order-1'), {
    type: 'CHECKOUT_COMPLETED',
    orderId: 'order-1',
    at: T0 + 3 * MINUTE,
  });
  const at = T0 + 100 * TTL;
  const events: CartEvent[] = [
    add('p1', 1, at),
    setQty('p1', 1, at),
    remove('p1', at),
    { type: 'ASSIGN_CUSTOMER', customerId: 'c', at },
    startCheckout(at),
    { type: 'CHECKOUT_FAILED', orderId: 'order-1', reason: 'x', at },
    { type: 'CHECKOUT_COMPLETED', orderId: 'order-1', at },
    { type: 'EXPIRE', at },
  ];
  for (const event of events) reject(t, done, event);
});

// --- expiry ------------------------------------------------------------------------

test('EXPIRE before the deadline is rejected; at or after it the cart expires and emits cart.expired', (t) => {
  const cart = run(t, fresh(), add('p1', 1, T0));
  reject(t, cart, { type: 'EXPIRE', at: T0 + TTL - 1 });

  const [expired, events] = accept(t, cart, { type: 'EXPIRE', at: T0 + TTL });
  t.is(expired.value, 'expired');
  t.is(expired.status, 'done', 'expired is final');
  t.is(expired.context.updatedAt, T0 + TTL);
  t.deepEqual(events, [{ type: 'cart.expired', cartId: 'cart-1' }]);

  const [late] = accept(t, cart, { type: 'EXPIRE', at: T0 + 10 * TTL });
  t.is(late.value, 'expired', 'a late sweep still expires the cart');
});

test('an empty cart expires too', (t) => {
  const [expired] = accept(t, fresh(), { type: 'EXPIRE', at: T0 + TTL });
  t.is(expired.value, 'expired');
});

test('the expiry deadline is measured from the latest accepted change', (t) => {
  const cart = run(t, fresh(), add('p1', 1, T0 + 10 * MINUTE));
  reject(t, cart, { type: 'EXPIRE', at: T0 + TTL });
  reject(t, cart, { type: 'EXPIRE', at: T0 + 10 * MINUTE + TTL - 1 });
  t.true(cart.can({ type: 'EXPIRE', at: T0 + 10 * MINUTE + TTL }));
});

test('a failed checkout gives the cart a fresh expiry window', (t) => {
  const failed = run(t, fresh(), add('p1', 1, T0), startCheckout(T0 + TTL - MINUTE), {
    type: 'CHECKOUT_FAILED',
    orderId: 'order-1',
    reason: 'PAYMENT_PROVIDER_DOWN',
    at: T0 + TTL + MINUTE,
  });
  reject(t, failed, { type: 'EXPIRE', at: T0 + TTL + MINUTE });
  t.true(failed.can({ type: 'EXPIRE', at: T0 + 2 * TTL + MINUTE }));
});

test('an expired cart accepts nothing more', (t) => {
  const expired = run(t, fresh(), add('p1', 1, T0), { type: 'EXPIRE', at: T0 + TTL });
  const at = T0 + 2 * TTL;
  const events: CartEvent[] = [
    add('p1', 1, at),
    add('p2', 1, at),
    setQty('p1', 3, at),
    remove('p1', at),
    { type: 'ASSIGN_CUSTOMER', customerId: 'c', at },
    startCheckout(at),
    { type: 'EXPIRE', at },
  ];
  for (const event of events) reject(t, expired, event);
});

// --- no hidden timers ------------------------------------------------------------

test('in a live actor on a simulated clock, the cart holds no timers: only an EXPIRE late enough expires it', (t) => {
  const clock = new SimulatedClock();
  clock.set(T0);
  const actor = createActor(cartMachine, { input: input({ at: clock.now() }), clock });
  const heard: CartEmitted[] = [];
  actor.on('*', (event) => heard.push(event));
  actor.start();

  actor.send(add('p1', 2, clock.now()));
  const before = actor.getSnapshot();
  const deadline = before.context.expiresAt;
  t.is(deadline, T0 + TTL);

  // Far past the deadline: nothing happens on its own.
  clock.increment(1_000 * TTL);
  t.is(actor.getSnapshot(), before, 'the snapshot did not change while time passed');
  t.is(actor.getSnapshot().value, 'active');
  t.deepEqual(actor.system.getSnapshot()._scheduledEvents, {}, 'no delayed events are scheduled');
  t.deepEqual(heard, []);

  // An EXPIRE stamped before the deadline is rejected, whatever the clock says.
  actor.send({ type: 'EXPIRE', at: deadline - 1 });
  t.is(actor.getSnapshot(), before);
  t.deepEqual(heard, []);

  // The runtime's sweep delivers EXPIRE with the current time.
  actor.send({ type: 'EXPIRE', at: clock.now() });
  t.is(actor.getSnapshot().value, 'expired');
  t.is(actor.getSnapshot().status, 'done');
  t.is(actor.getSnapshot().context.updatedAt, clock.now());
  t.deepEqual(heard, [{ type: 'cart.expired', cartId: 'cart-1' }]);
  actor.stop();
});

// --- persistence -------------------------------------------------------------------

/** Events probing every branch of the cart, at a time that would also expire it. */
const probes = (at: number): CartEvent[] => [
  add('p1', 1, at),
  add('p9', 1, at),
  add('p1', MAX_LINE_QUANTITY, at),
  setQty('p1', 0, at),
  setQty('p9', 4, at),
  remove('p1', at),
  remove('p9', at),
  { type: 'ASSIGN_CUSTOMER', customerId: 'customer-2', at },
  startCheckout(at, 'order-5', 'req-5'),
  { type: 'CHECKOUT_FAILED', orderId: 'order-1', reason: 'nope', at },
  { type: 'CHECKOUT_COMPLETED', orderId: 'order-1', at },
  { type: 'CHECKOUT_COMPLETED', orderId: 'order-other', at },
  { type: 'EXPIRE', at: at - TTL },
  { type: 'EXPIRE', at },
];

function assertSameBehaviour(t: ExecutionContext, original: CartSnapshot, restored: CartSnapshot, at: number): void {
  t.deepEqual(restored.value, original.value);
  t.deepEqual(restored.context, original.context);
  t.is(restored.status, original.status);
  for (const event of probes(at)) {
    const [a, aActions] = transition(cartMachine, original, event);
    const [b, bActions] = transition(cartMachine, restored, event);
    const label = `${event.type} in ${JSON.stringify(original.value)}`;
    t.is(restored.can(event), original.can(event), label);
    t.deepEqual(b.value, a.value, label);
    t.deepEqual(b.context, a.context, label);
    t.deepEqual(emitted(bActions), emitted(aActions), label);
  }
}

test('a snapshot round-trips through JSON and behaves the same afterwards', (t) => {
  const active = run(t, fresh(), add('p1', 2, T0 + MINUTE), add('p2', 1, T0 + 2 * MINUTE));
  const restoredActive = roundTrip(cartMachine, active);
  assertSameBehaviour(t, active, restoredActive, T0 + 2 * MINUTE + TTL);

  const checkingOut = run(t, active, startCheckout(T0 + 3 * MINUTE, 'order-1', 'req-1'));
  const restoredCheckingOut = roundTrip(cartMachine, checkingOut);
  assertSameBehaviour(t, checkingOut, restoredCheckingOut, T0 + 3 * MINUTE + TTL);

  // Drive the restored snapshot to the end, as the runtime would after a restart.
  const [done, actions] = transition(cartMachine, restoredCheckingOut, {
    type: 'CHECKOUT_COMPLETED',
    orderId: 'order-1',
    at: T0 + 4 * MINUTE,
  });
  t.is(done.value, 'checkedOut');
  t.is(done.status, 'done');
  t.deepEqual(emittedTypes(actions), ['cart.checkedOut']);

  const finished = roundTrip(cartMachine, done);
  t.is(finished.status, 'done', 'a final state stays final after a round-trip');
  t.false(finished.can(add('p1', 1, T0 + 5 * MINUTE)));
});

// --- known bugs ----------------------------------------------------------------------

// BUG: quantities are counts of units, but the guards only check ranges (`>= 1`, `>= 0`,
// `<= MAX_LINE_QUANTITY`), so fractional quantities are accepted into the cart and would flow
// into the order total and stock reservation. Expected: non-integer quantities are rejected.
test('non-integer quantities are rejected', (t) => {
  const cart = run(t, fresh(), add('p1', 1));
  t.false(cart.can(add('p1', 1.5)), 'ADD_ITEM 1.5 should be rejected');
  t.false(cart.can(add('p2', 2.25)), 'ADD_ITEM 2.25 of a new product should be rejected');
  t.false(cart.can(setQty('p1', 2.5)), 'SET_QUANTITY 2.5 should be rejected');
});

test('cartRefusal names the rule behind every refused change, and is null exactly when the machine takes it', (t) => {
  // Carts in each state with lines near both limits, and changes that land on either side of each rule.
  let full = fresh();
  for (let i = 0; i < MAX_CART_LINES; i++) full = transition(cartMachine, full, add(`p${i}`, 1))[0];
  const nearMax = transition(cartMachine, fresh(), add('p0', MAX_LINE_QUANTITY - 1))[0];
  const checkingOut = transition(cartMachine, nearMax, { type: 'CHECKOUT_STARTED', orderId: 'o1', requestId: 'r1', at: T0 + MINUTE })[0];
  const carts = { empty: fresh(), full, nearMax, checkingOut };
  const late = T0 + TTL + 1;
  const changes: CartChange[] = [
    add('p0', 1) as CartChange,
    add('p0', 2) as CartChange,
    add('new', 1) as CartChange,
    add('new', 0) as CartChange,
    add('p0', 1.5) as CartChange,
    add('p0', 1, late) as CartChange,
    setQty('p0', 0) as CartChange,
    setQty('new', 0) as CartChange,
    setQty('new', 3) as CartChange,
    setQty('p0', MAX_LINE_QUANTITY + 1) as CartChange,
    setQty('p0', -1) as CartChange,
    remove('p0') as CartChange,
    remove('new') as CartChange,
    { type: 'CHECKOUT_STARTED', orderId: 'o2', requestId: 'r2', at: T0 + MINUTE },
  ];
  const reasons = new Set<string>();
  for (const [name, cart] of Object.entries(carts)) {
    for (const change of changes) {
      const [next] = transition(cartMachine, cart, change);
      const refusal = cartRefusal(String(cart.value), cart.context, change);
      t.is(refusal === null, next !== cart, `${name} ${JSON.stringify(change)}: ${refusal?.reason ?? 'taken'}`);
      if (refusal) reasons.add(refusal.reason);
    }
  }
  // Every rule was met at least once by this table, so none of them can drift from the guards unnoticed.
  t.deepEqual([...reasons].sort(), ['CART_EMPTY', 'CART_EXPIRED', 'CART_NOT_ACTIVE', 'LINE_LIMIT', 'LINE_NOT_FOUND', 'MALFORMED_LINE', 'QUANTITY_LIMIT']);
});
