// The history checkers on small hand-made histories: each passes a correct history and fails a broken one
// (a check that cannot fail is a defect).
import test from 'ava';
import {
  checkAcknowledgedInJournal,
  checkAnswers,
  checkConvergence,
  checkJournal,
  checkJournalExplained,
  checkNoDuplicates,
  checkRealTimeOrder,
  checkRefusals,
  checkShipmentCancelledFirst,
  checkStock,
  checkViewsMatchReplay,
  History,
  replayJournal,
  Rng,
  type ChargeRow,
  type Facts,
  type JournalEntry,
  type Operation,
  type Outcome,
  type ReservationRow,
  type StoredActor,
} from '../helpers/history.ts';

const OWNER = 'guest_1';
const CART = 'cart_1';
const ORDER = 'order_1';
const P1 = 'prod_1';
const P2 = 'prod_2';
const T0 = 1_000_000;
const DAY = 86_400_000;

const cartInit = (at = T0): JournalEntry => ({
  actorId: CART,
  kind: 'cart',
  version: 1,
  event: { type: 'xstate.init', input: { id: CART, customerId: OWNER, currency: 'EUR', ttlMs: DAY, at } },
  at,
});
const cartEvent = (version: number, at: number, event: Record<string, unknown>): JournalEntry => ({
  actorId: CART,
  kind: 'cart',
  version,
  event: { ...(event as { type: string }), at },
  at,
});
const orderInit = (at: number): JournalEntry => ({
  actorId: ORDER,
  kind: 'order',
  version: 1,
  event: {
    type: 'xstate.init',
    input: {
      id: ORDER,
      customerId: OWNER,
      cartId: CART,
      items: [{ productId: P1, quantity: 1, unitPrice: 500, name: 'P1', sku: 'P1' }],
      currency: 'EUR',
      shippingAddress: null,
      paymentWindowMs: 6000,
      at,
    },
  },
  at,
});
const orderEvent = (version: number, at: number, event: Record<string, unknown>): JournalEntry => ({
  actorId: ORDER,
  kind: 'order',
  version,
  event: { ...(event as { type: string }), at },
  at,
});

/** A cart with one line, checked out into an order that is then paid: a history with nothing wrong in it. */
function cleanJournal(): JournalEntry[] {
  return [
    cartInit(),
    cartEvent(2, T0 + 100, { type: 'ADD_ITEM', productId: P1, quantity: 1, unitPrice: 500 }),
    cartEvent(3, T0 + 300, { type: 'CHECKOUT_STARTED', orderId: ORDER, requestId: 'chk-1', shippingAddress: null }),
    orderInit(T0 + 310),
    cartEvent(4, T0 + 320, { type: 'CHECKOUT_COMPLETED', orderId: ORDER }),
    orderEvent(2, T0 + 500, { type: 'PAY_REQUESTED', requestId: 'pay-1' }),
    orderEvent(3, T0 + 520, { type: 'PAYMENT_SUCCEEDED', requestId: 'pay-1', chargeId: 'chg_1' }),
  ];
}

/** Facts whose stored snapshots are what the journal replays to (so only what a test breaks is wrong). */
function factsOf(journal: JournalEntry[], extra: Partial<Facts> = {}): Facts {
  const replay = replayJournal({ journal, actors: [], charges: [], reservations: [], products: [], cartKeys: new Map() });
  const actors: StoredActor[] = [...replay.byActor].map(([id, versions]) => {
    const last = versions.at(-1)!;
    return {
      id,
      kind: journal.find((e) => e.actorId === id)!.kind,
      version: last.version,
      state: last.state,
      ownerId: OWNER,
      snapshot: { value: last.value, context: last.context },
    };
  });
  return {
    journal,
    actors,
    charges: [{ id: 'chg_1', key: `pay:${ORDER}:pay-1`, kind: 'charge', orderId: ORDER, status: 'succeeded', declineReason: null }],
    reservations: [{ orderId: ORDER, productId: P1, quantity: 1, status: 'active' }],
    products: [
      { id: P1, onHand: 5, reserved: 1, stockVersion: 1 },
      { id: P2, onHand: 5, reserved: 0, stockVersion: 0 },
    ],
    cartKeys: new Map([[`${OWNER}:cart-1`, CART]]),
    ...extra,
  };
}

const cartView = (version: number, state = 'active', items: Array<[string, number]> = [[P1, 1]], orderId: string | null = null) => ({
  cart: { id: CART, version, state, items: items.map(([productId, quantity]) => ({ productId, quantity, unitPrice: 500 })), orderId },
});
const orderView = (version: number, state: string, extra: Record<string, unknown> = {}) => ({
  order: { id: ORDER, version, state, paymentAttempts: 0, lastPaymentError: null, payment: null, ...extra },
});
const ok = (data: unknown): Outcome => ({ type: 'ok', data });
const refused = (code: string): Outcome => ({ type: 'refused', code, message: code.toLowerCase() });
const unknown: Outcome = { type: 'unknown', reason: 'no ack' };

/** Adds a finished operation with chosen times (relative to T0) to `history`. */
function op(
  history: History,
  command: string,
  payload: unknown,
  from: number,
  to: number | undefined,
  outcome: Outcome,
  extra: Partial<Operation> = {},
): Operation {
  const entry: Operation = {
    id: history.ops.length + 1,
    customer: 'c00',
    owner: OWNER,
    node: 'A',
    command,
    payload,
    group: undefined,
    phase: 'workload',
    invokedAt: T0 + from,
    completedAt: to === undefined ? undefined : T0 + to,
    outcome,
    ...extra,
  };
  history.ops.push(entry);
  return entry;
}

/** The operations behind cleanJournal(), all acknowledged. */
function cleanHistory(): History {
  const history = new History(1);
  history.startedAt = T0;
  op(history, 'cart:create', { requestId: 'cart-1' }, -10, 5, ok(cartView(1, 'active', [])));
  op(history, 'cart:addItem', { cartId: CART, productId: P1, quantity: 1 }, 90, 110, ok(cartView(2)));
  op(history, 'cart:checkout', { cartId: CART, requestId: 'chk-1' }, 290, 330, ok(orderView(1, 'awaitingPayment')));
  op(
    history,
    'order:pay',
    { orderId: ORDER, requestId: 'pay-1', payment: {} },
    490,
    530,
    ok(orderView(3, 'paid', { paymentAttempts: 1, payment: { chargeId: 'chg_1' } })),
  );
  return history;
}

const messages = (violations: Array<{ message: string }>) => violations.map((v) => v.message).join('\n');

test('Rng: a seed gives the same sequence, forks are independent of what was drawn before', (t) => {
  const a = new Rng(42);
  const b = new Rng(42);
  t.deepEqual(a.draws(5), b.draws(5));
  t.deepEqual(new Rng(42).fork('x').draws(3), new Rng(42).fork('x').draws(3));
  t.notDeepEqual(new Rng(42).fork('x').draws(3), new Rng(42).fork('y').draws(3));
  t.notDeepEqual(new Rng(42).draws(3), new Rng(43).draws(3));
  const values = new Rng(7).draws(1000);
  t.true(values.every((v) => v >= 0 && v < 1));
  t.true(Math.abs(values.reduce((s, v) => s + v, 0) / values.length - 0.5) < 0.05);
});

test('a clean history passes every check', (t) => {
  const facts = factsOf(cleanJournal());
  const history = cleanHistory();
  const replay = replayJournal(facts);
  t.deepEqual(replay.violations, []);
  t.deepEqual(checkJournal(facts), []);
  t.deepEqual(checkRealTimeOrder(history), []);
  t.deepEqual(checkAcknowledgedInJournal(history, facts), []);
  t.deepEqual(checkJournalExplained(history, facts), []);
  t.deepEqual(checkViewsMatchReplay(history, replay), []);
  t.deepEqual(checkRefusals(history, facts, replay), []);
  t.deepEqual(checkAnswers(history), []);
  t.deepEqual(checkNoDuplicates(history, facts), []);
  t.deepEqual(
    checkStock(factsOf(cleanJournal(), { reservations: [], products: [{ id: P1, onHand: 5, reserved: 0, stockVersion: 2 }] }), new Map()).length,
    1,
    'a paid order must hold its stock',
  );
  t.deepEqual(checkStock(facts, new Map([[P1, 5]])), []);
  t.deepEqual(
    checkConvergence(
      [
        { client: 'c00@A', topic: `cart:${CART}`, version: 4 },
        { client: 'c00@B', topic: `product:${P1}`, version: 1 },
      ],
      facts,
    ),
    [],
  );
});

test('checkJournal: a gap, a duplicate, or a journal that disagrees with the stored version', (t) => {
  const journal = cleanJournal();
  const gap = factsOf(journal);
  t.regex(messages(checkJournal({ ...gap, journal: journal.filter((e) => !(e.actorId === CART && e.version === 2)) })), /cart_1 \(stored v4\).*missing \[2\]/);
  t.regex(
    messages(checkJournal({ ...gap, journal: [...journal, cartEvent(3, T0 + 301, { type: 'ADD_ITEM', productId: P2, quantity: 1, unitPrice: 1 })] })),
    /duplicated \[3\]/,
  );
  t.regex(messages(checkJournal({ ...gap, actors: gap.actors.map((a) => (a.id === CART ? { ...a, version: 5 } : a)) })), /missing \[5\]/);
  t.regex(messages(checkJournal({ ...gap, actors: gap.actors.filter((a) => a.id !== ORDER) })), /order_1: journal entries without an actor/);
});

test('replayJournal: a stored snapshot the journal does not lead to, and an event the machine would refuse', (t) => {
  const facts = factsOf(cleanJournal());
  const tampered = facts.actors.map((a) => (a.id === CART ? { ...a, snapshot: { ...a.snapshot, context: { ...a.snapshot.context, items: [] } } } : a));
  t.regex(messages(replayJournal({ ...facts, actors: tampered }).violations), /cart_1 v4: replay gives/);
  const refusedEvent = [...cleanJournal().slice(0, 2), cartEvent(3, T0 + 200, { type: 'REMOVE_ITEM', productId: P2 })];
  t.regex(
    messages(
      replayJournal(factsOf(refusedEvent.slice(0, 2))).violations.concat(
        replayJournal({ ...factsOf(refusedEvent.slice(0, 2)), journal: refusedEvent }).violations,
      ),
    ),
    /does not accept the journaled/,
  );
  const wrongState = facts.actors.map((a) => (a.id === CART ? { ...a, state: 'active' } : a));
  t.regex(messages(replayJournal({ ...facts, actors: wrongState }).violations), /stored state column active, snapshot says checkedOut/);
});

test('checkRealTimeOrder: a stale read after an ack, a write that did not move past an earlier ack, two acks of one version', (t) => {
  const stale = cleanHistory();
  op(stale, 'cart:get', { cartId: CART }, 200, 210, ok(cartView(1, 'active', [])));
  t.regex(messages(checkRealTimeOrder(stale)), /cart:get .* saw v1 although .* cart:addItem/);

  const concurrent = cleanHistory();
  op(concurrent, 'cart:get', { cartId: CART }, 95, 105, ok(cartView(1, 'active', [])));
  t.deepEqual(checkRealTimeOrder(concurrent), [], 'a read concurrent with the write may see either version');

  const sameVersion = cleanHistory();
  op(sameVersion, 'cart:removeItem', { cartId: CART, productId: P1 }, 200, 210, ok(cartView(2)));
  const found = messages(checkRealTimeOrder(sameVersion));
  t.regex(found, /cart:removeItem .* saw v2 although/);
  t.regex(found, /cart_1 v2 acknowledged to two writes/);
});

test('checkAcknowledgedInJournal: a lost acknowledged write, an ack whose entry is another event, checkouts and payments without their entries', (t) => {
  const facts = factsOf(cleanJournal());
  const lost = cleanHistory();
  op(
    lost,
    'cart:addItem',
    { cartId: CART, productId: P2, quantity: 2 },
    600,
    610,
    ok(
      cartView(5, 'active', [
        [P1, 1],
        [P2, 2],
      ]),
    ),
  );
  t.regex(messages(checkAcknowledgedInJournal(lost, facts)), /cart_1 v5 is not in the journal/);

  const wrongEvent = cleanHistory();
  op(wrongEvent, 'cart:setQuantity', { cartId: CART, productId: P1, quantity: 3 }, 95, 105, ok(cartView(2)));
  t.regex(messages(checkAcknowledgedInJournal(wrongEvent, facts)), /journal cart_1 v2 is .*ADD_ITEM.*not this SET_QUANTITY/);

  const outside = cleanHistory();
  outside.ops[1] = { ...outside.ops[1]!, invokedAt: T0 + 150, completedAt: T0 + 160 };
  t.regex(messages(checkAcknowledgedInJournal(outside, facts)), /not this ADD_ITEM/, 'the entry was stamped before the operation began');

  const withoutStart = factsOf(cleanJournal().map((e) => (e.event.type === 'CHECKOUT_STARTED' ? { ...e, event: { ...e.event, requestId: 'chk-other' } } : e)));
  t.regex(messages(checkAcknowledgedInJournal(cleanHistory(), withoutStart)), /no CHECKOUT_STARTED chk-1/);

  const otherPayment = factsOf(cleanJournal().map((e) => (e.event.type === 'PAY_REQUESTED' ? { ...e, event: { ...e.event, requestId: 'pay-0' } } : e)));
  t.regex(messages(checkAcknowledgedInJournal(cleanHistory(), otherPayment)), /no PAY_REQUESTED pay-1/);

  const staleDuplicate = cleanHistory();
  op(staleDuplicate, 'order:pay', { orderId: ORDER, requestId: 'pay-1', payment: {} }, 491, 525, ok(orderView(1, 'awaitingPayment')), { node: 'B' });
  t.regex(messages(checkAcknowledgedInJournal(staleDuplicate, facts)), /answered v1, older than its own request's PAY_REQUESTED at v2/);

  const cancelled = factsOf([...cleanJournal(), orderEvent(4, T0 + 700, { type: 'CANCEL', reason: 'cancelled by customer' })]);
  const cancel = cleanHistory();
  op(cancel, 'order:cancel', { orderId: ORDER }, 690, 710, ok(orderView(4, 'cancelled', { cancelReason: 'cancelled by customer' })));
  t.deepEqual(checkAcknowledgedInJournal(cancel, cancelled), []);
  const cancelBefore = cleanHistory();
  op(cancelBefore, 'order:cancel', { orderId: ORDER }, 720, 730, ok(orderView(4, 'cancelled', { cancelReason: 'cancelled by customer' })));
  t.regex(messages(checkAcknowledgedInJournal(cancelBefore, cancelled)), /no CANCEL of order_1 stamped during the operation/);
});

test('checkAnswers: a cancel answered with another reason, duplicates of one payment with different outcomes', (t) => {
  const warehouse = cleanHistory();
  op(warehouse, 'order:cancel', { orderId: ORDER }, 690, 710, ok(orderView(4, 'cancelled', { cancelReason: 'shipment cancelled by the warehouse' })));
  t.regex(messages(checkAnswers(warehouse)), /cancelReason "shipment cancelled by the warehouse"/);

  const duplicates = new History(1);
  op(
    duplicates,
    'order:pay',
    { orderId: ORDER, requestId: 'pay-1' },
    490,
    530,
    ok(orderView(3, 'paid', { paymentAttempts: 1, payment: { chargeId: 'chg_1' } })),
    { group: 'g1' },
  );
  op(duplicates, 'order:pay', { orderId: ORDER, requestId: 'pay-1' }, 490, 520, ok(orderView(1, 'awaitingPayment')), { group: 'g1', node: 'B' });
  t.regex(messages(checkAnswers(duplicates)), /duplicates of payment g1 got different outcomes/);
  duplicates.ops[1] = { ...duplicates.ops[1]!, outcome: ok(orderView(4, 'fulfilling', { paymentAttempts: 1, payment: { chargeId: 'chg_1' } })) };
  t.deepEqual(checkAnswers(duplicates), [], 'the same charge, a later state');
});

test('checkJournalExplained: a refused write that left an entry, a write before its command, carts and orders nobody asked for', (t) => {
  const journal = [...cleanJournal().slice(0, 2), cartEvent(3, T0 + 200, { type: 'ADD_ITEM', productId: P2, quantity: 1, unitPrice: 500 })];
  const facts = factsOf(journal, { charges: [], reservations: [] });
  const refusedOnly = new History(1);
  op(refusedOnly, 'cart:create', { requestId: 'cart-1' }, -10, 5, ok(cartView(1, 'active', [])));
  op(refusedOnly, 'cart:addItem', { cartId: CART, productId: P1, quantity: 1 }, 90, 110, ok(cartView(2)));
  op(refusedOnly, 'cart:addItem', { cartId: CART, productId: P2, quantity: 1 }, 190, 210, refused('OUT_OF_STOCK'));
  t.regex(
    messages(checkJournalExplained(refusedOnly, facts)),
    /cart_1 v3 .*ADD_ITEM.* made by no acknowledged, unknown or INTERNAL operation; refused operations alike: \[".*OUT_OF_STOCK/,
  );

  const explained = new History(1);
  explained.ops.push(...refusedOnly.ops.slice(0, 2));
  op(explained, 'cart:addItem', { cartId: CART, productId: P2, quantity: 1 }, 190, undefined, unknown);
  t.deepEqual(checkJournalExplained(explained, facts), [], 'an unknown outcome may have written it');
  const internal = new History(1);
  internal.ops.push(...refusedOnly.ops.slice(0, 2));
  op(internal, 'cart:addItem', { cartId: CART, productId: P2, quantity: 1 }, 190, 210, refused('INTERNAL'));
  t.deepEqual(checkJournalExplained(internal, facts), [], 'INTERNAL may have written it');

  const tooLate = new History(1);
  tooLate.ops.push(...refusedOnly.ops.slice(0, 2));
  op(tooLate, 'cart:addItem', { cartId: CART, productId: P2, quantity: 1 }, 250, undefined, unknown);
  t.regex(messages(checkJournalExplained(tooLate, facts)), /cart_1 v3/, 'an entry stamped before the only candidate was invoked');

  const twice = new History(1);
  twice.ops.push(...refusedOnly.ops.slice(0, 2));
  op(twice, 'cart:addItem', { cartId: CART, productId: P2, quantity: 1 }, 190, undefined, unknown);
  const doubled = [...journal, cartEvent(4, T0 + 400, { type: 'ADD_ITEM', productId: P2, quantity: 1, unitPrice: 500 })];
  t.regex(messages(checkJournalExplained(twice, factsOf(doubled))), /cart_1 v4/, 'one unknown command explains one entry, not two');

  const cancelJournal = factsOf([...cleanJournal(), orderEvent(4, T0 + 700, { type: 'CANCEL', reason: 'cancelled by customer' })]);
  const refusedCancel = cleanHistory();
  op(refusedCancel, 'order:cancel', { orderId: ORDER }, 690, 710, refused('CONFLICT'));
  t.regex(messages(checkJournalExplained(refusedCancel, cancelJournal)), /CANCEL.*no order:cancel that may have written it/);
  const timedOutCancel = cleanHistory();
  op(timedOutCancel, 'order:cancel', { orderId: ORDER }, 690, undefined, unknown);
  t.deepEqual(checkJournalExplained(timedOutCancel, cancelJournal), []);

  const refusedPay = cleanHistory();
  refusedPay.ops[3] = { ...refusedPay.ops[3]!, outcome: refused('INVALID_TRANSITION') };
  t.regex(messages(checkJournalExplained(refusedPay, factsOf(cleanJournal()))), /PAY_REQUESTED.*no order:pay with requestId pay-1/);

  const noKey = factsOf(cleanJournal(), { cartKeys: new Map() });
  t.regex(messages(checkJournalExplained(cleanHistory(), noKey)), /cart cart_1 .* has no cart:create behind it/);
  const refusedCreate = cleanHistory();
  refusedCreate.ops[0] = { ...refusedCreate.ops[0]!, outcome: refused('UNAVAILABLE') };
  t.regex(messages(checkJournalExplained(refusedCreate, factsOf(cleanJournal()))), /every cart:create with its key was refused/);

  const orphanOrder = factsOf(
    cleanJournal().map((e) =>
      e.event.type === 'CHECKOUT_STARTED' || e.event.type === 'CHECKOUT_COMPLETED' ? { ...e, event: { ...e.event, orderId: 'order_other' } } : e,
    ),
  );
  t.regex(messages(checkJournalExplained(cleanHistory(), orphanOrder)), /order order_1 exists but cart cart_1's journal never started a checkout for it/);
});

test('checkViewsMatchReplay: an ack or a push showing what the journal does not have', (t) => {
  const facts = factsOf(cleanJournal());
  const replay = replayJournal(facts);
  const lying = cleanHistory();
  op(lying, 'cart:get', { cartId: CART }, 200, 210, ok(cartView(2, 'checkedOut')));
  t.regex(messages(checkViewsMatchReplay(lying, replay)), /state shown "checkedOut", journal has "active"/);
  const wrongLines = cleanHistory();
  op(wrongLines, 'cart:get', { cartId: CART }, 200, 210, ok(cartView(2, 'active', [[P1, 2]])));
  t.regex(messages(checkViewsMatchReplay(wrongLines, replay)), /items shown/);
  const push = cleanHistory();
  push.pushes.push({ client: 'c00@A', node: 'A', event: 'order:updated', view: orderView(9, 'paid').order, at: T0 + 600 });
  t.regex(messages(checkViewsMatchReplay(push, replay)), /push order:updated .* order_1 v9 .* is not a version the journal has/);
});

test('checkRefusals: undocumented codes, faults that do not excuse INTERNAL or UNAVAILABLE, refusals the journal does not justify', (t) => {
  const facts = factsOf(cleanJournal());
  const replay = replayJournal(facts);
  const check = (build: (history: History) => void) => {
    const history = cleanHistory();
    build(history);
    return messages(checkRefusals(history, facts, replay));
  };
  t.regex(
    check((h) => op(h, 'order:cancel', { orderId: ORDER }, 600, 610, refused('OUT_OF_STOCK'))),
    /OUT_OF_STOCK is not a documented answer of order:cancel/,
  );
  t.regex(
    check((h) => op(h, 'cart:get', { cartId: CART }, 600, 610, refused('FORBIDDEN'))),
    /FORBIDDEN although/,
  );

  t.regex(
    check((h) => op(h, 'cart:get', { cartId: CART }, 600, 610, refused('INTERNAL'))),
    /INTERNAL while no PostgreSQL link was faulty/,
  );
  t.is(
    check((h) => {
      h.faults.push({ id: 1, kind: 'pg-cut', nodes: ['B'], detail: '', startedAt: T0 + 550, endedAt: T0 + 580 });
      op(h, 'cart:get', { cartId: CART }, 600, 610, refused('INTERNAL'));
    }),
    '',
    'INTERNAL within 3 s of a pg fault',
  );
  t.regex(
    check(
      (h) =>
        h.faults.push({ id: 1, kind: 'redis-cut', nodes: ['A'], detail: '', startedAt: T0 + 550, endedAt: T0 + 700 }) &&
        op(h, 'cart:get', { cartId: CART }, 600, 610, refused('INTERNAL')),
    ),
    /INTERNAL while no PostgreSQL/,
    'a Redis fault does not excuse INTERNAL',
  );

  t.regex(
    check((h) => op(h, 'cart:get', { cartId: CART }, 600, 610, refused('UNAVAILABLE'))),
    /UNAVAILABLE from node A, which was not shutting down/,
  );
  t.regex(
    check((h) => {
      h.faults.push({ id: 1, kind: 'sigterm', nodes: ['B'], detail: '', startedAt: T0 + 550, endedAt: T0 + 9000, exitedAt: T0 + 800 });
      op(h, 'cart:get', { cartId: CART }, 600, 610, refused('UNAVAILABLE'));
    }),
    /UNAVAILABLE from node A/,
    'only the draining node may answer UNAVAILABLE',
  );
  t.is(
    check((h) => {
      h.faults.push({ id: 1, kind: 'sigterm', nodes: ['A'], detail: '', startedAt: T0 + 550, endedAt: T0 + 9000, exitedAt: T0 + 800 });
      op(h, 'cart:get', { cartId: CART }, 600, 610, refused('UNAVAILABLE'));
    }),
    '',
  );

  // Cart v2 (active, one line of P1) from +100 to +300, then checkingOut.
  t.regex(
    check((h) => op(h, 'cart:addItem', { cartId: CART, productId: P2, quantity: 1 }, 150, 160, refused('INVALID_TRANSITION'))),
    /cart was active at every version/,
  );
  t.is(
    check((h) => op(h, 'cart:addItem', { cartId: CART, productId: P2, quantity: 1 }, 5_000, 5_010, refused('INVALID_TRANSITION'))),
    '',
    'checked out by then',
  );
  t.regex(
    check((h) => op(h, 'cart:removeItem', { cartId: CART, productId: P1 }, 5_000, 5_010, refused('NOT_FOUND'))),
    /NOT_FOUND although prod_1 was in the cart/,
  );
  t.is(
    check((h) => op(h, 'cart:removeItem', { cartId: CART, productId: P2 }, 150, 160, refused('NOT_FOUND'))),
    '',
  );
  t.regex(
    check((h) => op(h, 'cart:addItem', { cartId: CART, productId: P2, quantity: 1 }, 150, 160, refused('NOT_FOUND'))),
    /NOT_FOUND for cart_1, which exists/,
  );

  t.regex(
    check((h) =>
      op(h, 'order:pay', { orderId: ORDER, requestId: 'pay-1', payment: {} }, 505, 540, refused('INVALID_TRANSITION'), { node: 'B', group: 'pay-1' }),
    ),
    /its requestId was accepted at v2/,
  );
  t.is(
    check((h) => op(h, 'order:pay', { orderId: ORDER, requestId: 'pay-2', payment: {} }, 505, 540, refused('INVALID_TRANSITION'))),
    '',
    'another requestId while authorizing',
  );
  t.regex(
    check((h) => op(h, 'cart:checkout', { cartId: CART, requestId: 'chk-1' }, 305, 330, refused('OUT_OF_STOCK'), { node: 'B' })),
    /its requestId started the checkout of order_1/,
  );
  t.regex(
    check((h) => op(h, 'order:cancel', { orderId: ORDER }, 5_000, 5_010, refused('INVALID_TRANSITION'))),
    /order was cancellable at every version/,
  );
});

test('checkNoDuplicates: two orders from one cart, two answers for one checkout, double and stray charges', (t) => {
  const journal = cleanJournal();
  const facts = factsOf(journal);
  const secondOrder: StoredActor = { ...facts.actors.find((a) => a.id === ORDER)!, id: 'order_2' };
  t.regex(messages(checkNoDuplicates(cleanHistory(), { ...facts, actors: [...facts.actors, secondOrder] })), /cart cart_1 became 2 orders/);

  const twoAnswers = cleanHistory();
  op(twoAnswers, 'cart:checkout', { cartId: CART, requestId: 'chk-1' }, 295, 335, ok({ order: { id: 'order_2', version: 1, state: 'awaitingPayment' } }), {
    node: 'B',
  });
  t.regex(messages(checkNoDuplicates(twoAnswers, facts)), /checkout cart_1\/chk-1 answered different orders/);

  const charge = (id: string, key: string, status = 'succeeded'): ChargeRow => ({ id, key, kind: 'charge', orderId: ORDER, status, declineReason: null });
  const doubled = [charge('chg_1', `pay:${ORDER}:pay-1`), charge('chg_2', `pay:${ORDER}:pay-2`)];
  const found = messages(checkNoDuplicates(cleanHistory(), { ...facts, charges: doubled }));
  t.regex(found, /order order_1 charged 2 times/);
  t.regex(found, /charge chg_2 .* succeeded but order order_1 .* records payment .*chg_1.*money taken outside the order/);
  t.regex(
    messages(
      checkNoDuplicates(cleanHistory(), { ...facts, charges: [charge('chg_1', `pay:${ORDER}:pay-1`), charge('chg_1b', `pay:${ORDER}:pay-1`, 'declined')] }),
    ),
    /payment key pay:order_1:pay-1 charged 2 times/,
  );
  t.regex(
    messages(checkNoDuplicates(cleanHistory(), { ...facts, charges: [charge('chg_1', `pay:${ORDER}:pay-1`, 'declined')] })),
    /shows charge chg_1, ledger has/,
  );
});

test('checkStock: reserved against reservations, stock held by orders that should not hold it or not held by those that should', (t) => {
  const facts = factsOf(cleanJournal());
  const initial = new Map([[P1, 5]]);
  t.regex(messages(checkStock({ ...facts, products: [{ id: P1, onHand: 5, reserved: 2, stockVersion: 3 }] }, initial)), /reserved 2 != active reservations 1/);
  t.regex(messages(checkStock({ ...facts, products: [{ id: P1, onHand: 4, reserved: 1, stockVersion: 3 }] }, initial)), /on_hand 4, was 5/);
  const orphan: ReservationRow = { orderId: 'order_gone', productId: P2, quantity: 1, status: 'active' };
  t.regex(
    messages(checkStock({ ...facts, reservations: [...facts.reservations, orphan], products: [] }, initial)),
    /order order_gone, which does not exist, still holds/,
  );
  const cancelled = factsOf([...cleanJournal().slice(0, 5), orderEvent(2, T0 + 500, { type: 'CANCEL', reason: 'cancelled by customer' })]);
  t.regex(messages(checkStock({ ...cancelled, products: [] }, initial)), /order order_1 is cancelled but still holds/);
  t.regex(
    messages(checkStock({ ...facts, reservations: [{ orderId: ORDER, productId: P1, quantity: 2, status: 'active' }], products: [] }, initial)),
    /holds .*prod_1",2.*its lines are .*prod_1",1/,
  );
});

test('checkConvergence: a client left behind, or following something that is not stored', (t) => {
  const facts = factsOf(cleanJournal());
  t.regex(messages(checkConvergence([{ client: 'c00@B', topic: `order:${ORDER}`, version: 2 }], facts)), /c00@B holds order:order_1 v2, stored v3/);
  t.regex(messages(checkConvergence([{ client: 'c00@B', topic: `product:${P1}`, version: undefined }], facts)), /vnone, stored v1/);
  t.regex(messages(checkConvergence([{ client: 'c00@B', topic: 'cart:cart_x', version: 1 }], facts)), /not stored/);
});

test('checkShipmentCancelledFirst: a fulfilling order cancelled before its shipment', (t) => {
  const SHIP = 'ship_1';
  const shipment = (version: number, at: number, event: Record<string, unknown>): JournalEntry => ({
    actorId: SHIP,
    kind: 'shipment',
    version,
    event: { ...(event as { type: string }), at },
    at,
  });
  const journal = (shipmentCancelledAt: number) => [
    ...cleanJournal(),
    shipment(1, T0 + 600, { type: 'xstate.init', input: { id: SHIP, orderId: ORDER, customerId: OWNER, items: [], shippingAddress: null, at: T0 + 600 } }),
    orderEvent(4, T0 + 610, { type: 'SHIPMENT_CREATED', shipmentId: SHIP }),
    shipment(2, T0 + shipmentCancelledAt, { type: 'CANCEL' }),
    orderEvent(5, T0 + 700, { type: 'CANCEL', reason: 'cancelled by customer' }),
  ];
  const inOrder = factsOf(journal(690));
  t.deepEqual(checkShipmentCancelledFirst(inOrder, replayJournal(inOrder)), []);
  const late = factsOf(journal(900));
  t.regex(
    messages(checkShipmentCancelledFirst(late, replayJournal(late))),
    /order_1 v5 cancelled .* while fulfilling, but shipment ship_1 was cancelled only later, at v2 \(200 ms after\)/,
  );
  const never = factsOf(journal(900).filter((e) => !(e.actorId === SHIP && e.version === 2)));
  t.regex(messages(checkShipmentCancelledFirst(never, replayJournal(never))), /never cancelled \(pending\)/);
});
