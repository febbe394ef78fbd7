// Fuzzing the real app (issue 12): every /store command (as a customer and as a guest), every /warehouse command (as
// staff and as an admin), unknown command names, and every REST route of /openapi.json get arbitrary and near-valid
// input. Each answer is a result or a documented refusal — never INTERNAL, a 5xx, a stack trace, a crash or a
// disconnect — and afterwards the invariants hold: stock, reservations, gapless journals, actor versions that only rose.
// Seeded and bounded: FUZZ_SEED replays a run (fast-check prints the seed and the counterexample on failure), FUZZ_RUNS
// runs more per property locally. See "Fuzzing" in CONTRIBUTING.md. Tests run serially: each starts its own app.
import { Buffer } from 'node:buffer';
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import type { z } from 'zod';
import type { App } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import { ERROR_CODES, storeCommands, storeResults, warehouseCommands, warehouseResults } from '../../src/protocol/index.ts';
import type { CartView, OfferView, OrderView, ReviewView } from '../../src/protocol/index.ts';
import { appForTest, call, createProduct, inventoryInvariant, nextEvent, ok, registerCustomer, socketForTest, staffToken, TEST_CARD } from '../helpers/app.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
/** Runs per property: each command gets this many arbitrary payloads and as many near-valid ones, per principal. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
fc.configureGlobal({ seed: SEED, numRuns: RUNS });

/** Per-principal limits off: the fuzzer sends thousands of commands a second from few principals. */
const LIMITS: Partial<Config> = { maxCommandsPerSecond: 1_000_000, maxCommandsPerPrincipalPerSecond: 0, cartsPerMinute: 0, maxOpenCarts: 0 };

/** Refusals a command may answer with; INTERNAL (and UNAVAILABLE, outside a shutdown) is a bug. */
const DOCUMENTED = new Set<string>([
  'VALIDATION',
  'NOT_FOUND',
  'FORBIDDEN',
  'INVALID_TRANSITION',
  'OUT_OF_STOCK',
  'CONFLICT',
  'RATE_LIMITED',
  'LIMIT_REACHED',
  'SOLD_OUT',
  'UNAUTHORIZED',
]);
const MAX_MESSAGE = 300;
/** Event names socket.io-client refuses to emit. */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' } as const;
const DAY = 86_400_000;

// ---------------------------------------------------------------- generators

/** Numbers at and around every bound the schemas have, and the odd ones. */
const nastyNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 2, 1.5, 0.1, 1e-9, 5, 6, 12, 13, 99, 100, 101, 200, 201, 500, 501, 1000, 1001, 5000, 5001, 1e6, 1e6 + 1, 1e8, 1e8 + 1),
  fc.constantFrom(1999, 2000, 2100, 2101, 2 ** 31, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, Infinity, -Infinity),
  fc.integer({ min: -3, max: 110 }),
  fc.integer(),
  fc.double(),
);
/** Strings: unicode, control characters, numbers as text, lengths at the bounds, injections, and almost-ids. */
const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '   ', 'NaN', 'Infinity', '-Infinity', '-0', '1e3', '0x10', ' 2 ', '١٢', '1_000', 'null', 'true', '[]', '{}'),
  fc.constantFrom('\u0000', 'a\u0000b', 'a\nb', 'a\rb', 'a\tb', '\u007f', '\u202e', '\ufeff', '\ud800', '😀', 'e\u0301', '𝕏'),
  fc.constantFrom("x' OR '1'='1", '../../etc/passwd', '%00', '%zz', '<script>', '{{x}}', '$(id)', '__proto__', 'constructor', 'prototype', 'toString'),
  fc.string({ unit: fc.constantFrom('\u0000', '\u001f', '\u007f', '\t', '\n', ' ', 'a', 'Z', '9', '-', '_', '.', ':', '/', '%', 'é', '😀'), maxLength: 64 }),
  fc
    .constantFrom(
      0,
      1,
      2,
      3,
      4,
      19,
      20,
      21,
      39,
      40,
      41,
      60,
      61,
      63,
      64,
      65,
      99,
      100,
      101,
      119,
      120,
      121,
      199,
      200,
      201,
      299,
      300,
      301,
      320,
      321,
      499,
      500,
      501,
      1000,
      1001,
    )
    .map((n) => 'a'.repeat(n)),
  fc.constantFrom(5000, 5001, 10_000).map((n) => 'b'.repeat(n)),
);
/** Opaque cursors as the listings decode them (base64url JSON): of the right shape, the wrong one, or with NUL in them. */
const base64url = (text: string) => Buffer.from(text).toString('base64url');
const cursorLike = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((value) => base64url(JSON.stringify(value))),
  fc.tuple(nastyNumber, nastyString).map((pair) => base64url(JSON.stringify(pair))),
  fc
    .tuple(fc.integer({ min: 0, max: 2 ** 42 }), fc.constantFrom('order_x', 'cart_\u0000', 'a\u0000', 'x'.repeat(100), ''))
    .map((pair) => base64url(JSON.stringify(pair))),
  fc
    .record({ v: fc.constantFrom(1, 2), f: nastyString, p: nastyNumber, k: fc.array(fc.oneof(nastyString, nastyNumber), { maxLength: 3 }) })
    .map((c) => base64url(JSON.stringify(c))),
  nastyString.map(base64url),
  fc.constantFrom('\u0000', 'a\u0000', 'rev_\u0000', '\ud800', 'é', 'x'.repeat(101)).map(base64url),
  fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([a, b]) => base64url(`${a}\u0000${b}`)),
  fc.string({ unit: fc.constantFrom('A', 'z', '0', '-', '_', '=', '+', '/', '.'), maxLength: 60 }),
);
/** Fields that carry a cursor get cursor-like values more often. */
const CURSOR_FIELD = /^(before|cursor)$/;

/**
 * Counterexamples the fuzzer found, run first on every run (fast-check's `examples`): a cursor whose decoded id
 * holds NUL reached PostgreSQL, which refuses NUL in text, and came back as INTERNAL.
 */
const REGRESSIONS = {
  commands: {
    'inspect:actors': [{ before: base64url(JSON.stringify([1, 'a\u0000'])) }],
    'orders:list': [{ before: base64url(JSON.stringify([1, 'a\u0000'])) }],
  } as Record<string, unknown[]>,
  /** Query strings, by route. */
  queries: {
    'get /api/products/{id}/reviews': [`cursor=${base64url('a\u0000')}`, `cursor=${base64url('\u0000')}`],
    'get /api/products': [`cursor=${base64url(JSON.stringify({ v: 1, f: 'x', p: 1, k: ['a\u0000', 'b'] }))}`],
  } as Record<string, string[]>,
};
/** A string up to the message limit: the caller's `fits` keeps the whole payload under it. */
const hugeString = fc
  .record({ unit: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }), length: fc.integer({ min: 1_000, max: 60_000 }) })
  .map(({ unit, length }) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));
const binary = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.constant(new ArrayBuffer(8)),
  fc.constant(new Float64Array([1, Number.NaN])),
  fc.constant(Buffer.from('buffer')),
);
const leaf = fc.oneof(nastyNumber, nastyString, nastyString, cursorLike, fc.boolean(), fc.constant(null), fc.constant(undefined));
/** A value of any shape for one field: a leaf, a small array or object, binary data, or a huge string. */
const nastyValue = fc.oneof(
  { weight: 6, arbitrary: leaf },
  { weight: 1, arbitrary: fc.array(leaf, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), leaf, { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: binary },
  { weight: 1, arbitrary: hugeString },
);
/** Anything Socket.IO can carry (no BigInt: JSON cannot; Maps and Sets would arrive as {}). */
const anyPayload = fc.oneof(
  fc.jsonValue({ stringUnit: 'binary' }),
  fc.anything({
    withNullPrototype: true,
    withTypedArray: true,
    withSparseArray: true,
    withDate: true,
    withBoxedValues: true,
    stringUnit: 'binary',
    maxDepth: 4,
  }),
  fc.dictionary(fc.string(), nastyValue, { maxKeys: 8 }),
  fc.array(nastyValue, { maxLength: 4 }),
  nastyValue,
  fc.constantFrom(null, undefined, 0, '', [], {}, [{}], true),
);

/** What a payload costs on the wire, binary data aside; huge strings are kept under the message limit. */
function jsonBytes(value: unknown): number {
  try {
    const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? null : v));
    return text === undefined ? 0 : Buffer.byteLength(text);
  } catch {
    return Number.POSITIVE_INFINITY; // not JSON: the client could not send it either
  }
}

type Path = ReadonlyArray<string | number>;
/** Every field of a payload, at any depth (objects and arrays), and the payload itself ([]). */
function pathsOf(value: unknown, path: Path = []): Path[] {
  const children =
    Array.isArray(value) && value.length > 0
      ? value.flatMap((item, i) => pathsOf(item, [...path, i]))
      : value !== null && typeof value === 'object' && !Array.isArray(value)
        ? Object.entries(value).flatMap(([key, item]) => pathsOf(item, [...path, key]))
        : [];
  return [path, ...children];
}

/** Adds an own property, `__proto__` included (assignment would set the prototype instead). */
function setOwn(target: object, key: string, value: unknown): object {
  return Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

type Mutation = 'none' | 'delete' | 'replace' | 'extra' | 'wrap' | 'stringify' | 'swap';
/** The base with one field changed: removed, replaced (wrong type, bound, another real id), wrapped, or a key added. */
function mutate(base: unknown, path: Path, mutation: Mutation, value: unknown, key: string, swap: unknown): unknown {
  if (mutation === 'none') return base;
  const copy = structuredClone(base) as Record<string | number, unknown>;
  if (path.length === 0) {
    if (mutation === 'extra' && copy && typeof copy === 'object') return setOwn(copy, key, value);
    if (mutation === 'wrap') return [copy];
    if (mutation === 'stringify') return JSON.stringify(copy);
    return mutation === 'delete' ? undefined : mutation === 'swap' ? swap : value;
  }
  let parent: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const current = parent[last];
  if (mutation === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (mutation === 'replace') parent[last] = value;
  else if (mutation === 'swap') parent[last] = swap;
  else if (mutation === 'wrap') parent[last] = Array.isArray(current) ? { value: current } : [current];
  else if (mutation === 'stringify') parent[last] = typeof current === 'string' ? ` ${current}` : JSON.stringify(current);
  else if (current !== null && typeof current === 'object') setOwn(current, key, value);
  else setOwn(parent, key, value);
  return copy;
}

/** Near-valid payloads: one of the command's valid shapes, with one field mutated (or none). */
function nearValid(bases: readonly unknown[], realIds: readonly string[]): fc.Arbitrary<unknown> {
  return fc.constantFrom(...bases).chain((base) =>
    fc
      .constantFrom(...pathsOf(base))
      .chain((path) =>
        fc.record({
          path: fc.constant(path),
          mutation: fc.constantFrom<Mutation>('none', 'delete', 'replace', 'replace', 'replace', 'extra', 'wrap', 'stringify', 'swap'),
          value: CURSOR_FIELD.test(String(path.at(-1))) ? fc.oneof(cursorLike, nastyValue) : nastyValue,
          key: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('__proto__', 'constructor', 'id', 'customerId', 'unitPrice', 'onHand', 'role')),
          swap: fc.oneof(fc.constantFrom(...realIds), leaf),
        }),
      )
      .map(({ path, mutation, value, key, swap }) => mutate(base, path, mutation, value, key, swap)),
  );
}

// ---------------------------------------------------------------- answers

type Ack = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string; details?: unknown } };

function short(value: unknown, max = 400): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (ArrayBuffer.isView(v) ? `<${v.constructor.name} ${v.byteLength}>` : v)) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/** Why an error body breaks the protocol's rules, or undefined when it keeps them. */
function errorBodyProblem(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return 'error is not an object';
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || !(ERROR_CODES as readonly string[]).includes(code)) return `unknown code ${short(code)}`;
  if (!DOCUMENTED.has(code)) return `code ${code}`;
  if (typeof message !== 'string' || message.length === 0) return 'message is not a non-empty string';
  if (message.length > MAX_MESSAGE) return `message of ${message.length} characters`;
  const text = JSON.stringify(error);
  if (text.includes('    at ') || /\.(ts|js):\d+/.test(text) || text.includes('"stack"')) return 'a stack trace';
  return undefined;
}

/** Throws (for fast-check to report) unless the ack is a result of the command's result schema or a documented refusal. */
function checkAck(label: string, ack: unknown, result: z.ZodType | undefined): Ack {
  const fail = (why: string): never => {
    throw new Error(`${label}: ${why}; ack ${short(ack)}`);
  };
  if (ack === null || typeof ack !== 'object') return fail('the ack is not an object');
  const answer = ack as Ack;
  if (answer.ok === true) {
    if (!('data' in answer)) return fail('ok without data');
    if (result) {
      const parsed = result.safeParse(answer.data);
      if (!parsed.success) return fail(`data does not match the result schema: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
    }
    return answer;
  }
  if (answer.ok !== false) return fail('ok is neither true nor false');
  const problem = errorBodyProblem(answer.error);
  if (problem) fail(problem);
  return answer;
}

/** A socket that counts as broken once it disconnects or reports an error: the fuzzer never closes one itself. */
function watch(socket: Socket, label: string, incidents: string[]): Socket {
  socket.on('disconnect', (reason) => incidents.push(`${label} disconnected: ${reason}`));
  socket.on('connect_error', (error) => incidents.push(`${label} connect_error: ${error.message}`));
  socket.io.on('error', (error) => incidents.push(`${label} manager error: ${error.message}`));
  return socket;
}

const BUDGET_BYTES = (maxMessageBytes: number) => maxMessageBytes - 2_048;

/** Sends one command and checks its answer and the connection. */
async function send(
  socket: Socket,
  label: string,
  name: string | number,
  payload: unknown,
  result: z.ZodType | undefined,
  incidents: string[],
  emitted: Map<string, Map<string, number>>,
): Promise<Ack> {
  let ack: unknown;
  try {
    ack = await socket.timeout(10_000).emitWithAck(name as string, payload);
  } catch (error) {
    throw new Error(`${label} ${String(name).slice(0, 80)}: no answer (${(error as Error).message}); connected ${socket.connected}; ${incidents.join('; ')}`);
  }
  const answer = checkAck(`${label} ${String(name).slice(0, 80)}`, ack, result);
  if (!socket.connected || incidents.length > 0) throw new Error(`${label} ${String(name).slice(0, 80)}: ${incidents.join('; ') || 'disconnected'}`);
  const outcome = answer.ok ? 'ok' : answer.error.code;
  const key = `${label} ${typeof name === 'string' && name.length < 40 ? name : '(unknown)'}`;
  const counts = emitted.get(key) ?? new Map<string, number>();
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  emitted.set(key, counts);
  return answer;
}

// ---------------------------------------------------------------- invariants

interface ActorRow {
  readonly id: string;
  readonly kind: string;
  readonly version: number;
}

async function actorVersions(app: App): Promise<Map<string, number>> {
  const rows = (await app.db.knex('actors').select('id', 'version')) as Array<{ id: string; version: number | string }>;
  return new Map(rows.map((row) => [row.id, Number(row.version)]));
}

async function productRow(app: App, id: string): Promise<{ on_hand: number; reserved: number; version: number }> {
  const row = (await app.db.knex('products').where({ id }).first()) as Record<string, unknown>;
  return { on_hand: Number(row.on_hand), reserved: Number(row.reserved), version: Number(row.version) };
}

/**
 * After the fuzzing: reserved == sum(active reservations) <= on_hand and nothing negative for every product; every
 * actor's journal is 1..version without a gap (or, for a journal retention compacted, through+1..version: its marker in
 * actor_journal_compactions says versions 1..through went on purpose); no actor vanished or went back; the product no
 * payload names is as it was.
 */
async function checkInvariants(
  t: ExecutionContext,
  app: App,
  before: Map<string, number>,
  control: { id: string; row: Awaited<ReturnType<typeof productRow>> },
): Promise<void> {
  t.deepEqual(await inventoryInvariant(app), { ok: true, problems: [] }, 'the inventory invariant holds');
  const knex = app.db.knex;
  const journal = (await knex('actor_journal')
    .select('actor_id')
    .count({ n: '*' })
    .max({ top: 'version' })
    .min({ bottom: 'version' })
    .groupBy('actor_id')) as Array<{ actor_id: string; n: number | string; top: number | string; bottom: number | string }>;
  const journalOf = new Map(journal.map((row) => [row.actor_id, row]));
  const compacted = new Map(
    ((await knex('actor_journal_compactions').select('actor_id', 'through_version')) as Array<{ actor_id: string; through_version: number | string }>).map(
      (row) => [row.actor_id, Number(row.through_version)],
    ),
  );
  const actors = (await knex('actors').select('id', 'kind', 'version')) as ActorRow[];
  const gaps = actors.flatMap((actor) => {
    const entry = journalOf.get(actor.id);
    const version = Number(actor.version);
    const from = (compacted.get(actor.id) ?? 0) + 1;
    if (!entry) return from > version ? [] : [`${actor.kind} ${actor.id}: no journal`];
    if (Number(entry.n) !== version - from + 1 || Number(entry.top) !== version || Number(entry.bottom) !== from) {
      return [`${actor.kind} ${actor.id}: version ${version}, journal ${entry.bottom}..${entry.top} (${entry.n} entries), compacted through ${from - 1}`];
    }
    return [];
  });
  t.deepEqual(gaps, [], 'every journal is 1..version (or through+1..version once compacted) without a gap');
  const actorIds = new Set(actors.map((actor) => actor.id));
  t.deepEqual(
    journal.filter((row) => !actorIds.has(row.actor_id)).map((row) => row.actor_id),
    [],
    'no journal without its actor',
  );
  const after = await actorVersions(app);
  const fell = [...before].filter(([id, version]) => (after.get(id) ?? -1) < version).map(([id, version]) => `${id}: ${version} -> ${after.get(id)}`);
  t.deepEqual(fell, [], 'no actor vanished or went back a version');
  t.deepEqual(await productRow(app, control.id), control.row, 'the product no payload names did not move');
}

// ---------------------------------------------------------------- the world

async function delivered(store: Socket, staff: Socket, productIds: readonly string[], n: number): Promise<{ order: OrderView; shipmentId: string }> {
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  for (const productId of productIds) await ok(store, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `fuzz-delivered-${n}`, shippingAddress: ADDRESS });
  await ok(store, 'subscribe', { topic: `order:${order.id}` });
  const opened = nextEvent<OrderView>(store, 'order:updated', (view) => view.id === order.id && view.shipmentId !== null);
  const done = nextEvent<OrderView>(store, 'order:updated', (view) => view.id === order.id && view.state === 'delivered');
  await ok(store, 'order:pay', { orderId: order.id, requestId: `fuzz-delivered-pay-${n}`, payment: TEST_CARD });
  const shipmentId = (await opened).shipmentId!;
  for (const to of ['picking', 'packed', 'shipped', 'inTransit', 'delivered']) {
    await ok(staff, 'shipment:advance', { shipmentId, to, ...(to === 'shipped' ? { carrier: 'DHL', trackingNumber: `T-${n}` } : {}) });
  }
  await done;
  return { order, shipmentId };
}

async function checkedOut(store: Socket, productId: string, label: string): Promise<OrderView> {
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  return (await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `fuzz-${label}`, shippingAddress: ADDRESS })).order;
}

// ---------------------------------------------------------------- Socket.IO

test.serial('fuzzing every command of /store and /warehouse: results or documented refusals, never INTERNAL or a disconnect; invariants hold', async (t) => {
  const started = Date.now();
  const { app, url } = await appForTest(t, { config: LIMITS });
  const budget = BUDGET_BYTES(app.config.maxMessageBytes);
  const fits = (payload: unknown) => jsonBytes(payload) <= budget;
  const incidents: string[] = [];

  const main = await createProduct(app, { onHand: 1_000, price: 2_000 });
  const second = await createProduct(app, { onHand: 100, price: 1_500 });
  const archivable = await createProduct(app, { onHand: 5, price: 700 });
  const soldOut = await createProduct(app, { onHand: 0, price: 900 });
  const control = await createProduct(app, { onHand: 7, price: 1_100 });

  const customer = await registerCustomer(url, 'Fuzz Customer');
  const store = watch(await socketForTest(t, url, '/store', customer.token), 'customer', incidents);
  const guestSession = await app.services.auth.guest();
  const guest = watch(await socketForTest(t, url, '/store', guestSession.token), 'guest', incidents);
  const staff = watch(await socketForTest(t, url, '/warehouse', await staffToken(app)), 'staff', incidents);
  const adminAccount = await app.services.auth.upsertAccount({
    email: `fuzz-admin-${Date.now()}@example.com`,
    password: 'admin-pass-1',
    name: 'Admin',
    role: 'admin',
  });
  const adminToken = await app.services.auth.issue({ sub: adminAccount.id, role: 'admin', name: adminAccount.name, email: adminAccount.email });
  const admin = watch(await socketForTest(t, url, '/warehouse', adminToken), 'admin', incidents);

  // Objects for real ids: carts, orders in every stage, shipments, reviews, an address, an offer.
  const { addresses } = await ok<{ addresses: Array<{ id: string }> }>(store, 'address:save', { ...ADDRESS, label: 'Home', makeDefault: true });
  const { addresses: both } = await ok<{ addresses: Array<{ id: string }> }>(store, 'address:save', { ...ADDRESS, line1: '1 Other Street', label: 'Office' });
  const homeId = addresses[0]!.id;
  const officeId = both.find((a) => a.id !== homeId)!.id;
  const { order: deliveredOrder, shipmentId: deliveredShipment } = await delivered(store, staff, [main.id, second.id], 1);
  const { review: keptReview } = await ok<{ review: ReviewView }>(store, 'review:create', { productId: main.id, rating: 4, title: 'Solid', body: 'Fine.' });
  const { review: doomedReview } = await ok<{ review: ReviewView }>(store, 'review:create', { productId: second.id, rating: 2, title: 'Meh' });
  const toPay = await checkedOut(store, main.id, 'to-pay');
  const toCancel = await checkedOut(store, main.id, 'to-cancel');
  const paid = await checkedOut(store, main.id, 'paid');
  await ok(store, 'subscribe', { topic: `order:${paid.id}` });
  const shipmentOpened = nextEvent<OrderView>(store, 'order:updated', (view) => view.id === paid.id && view.shipmentId !== null);
  await ok(store, 'order:pay', { orderId: paid.id, requestId: 'fuzz-paid-pay', payment: TEST_CARD });
  const openShipment = (await shipmentOpened).shipmentId!;
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: main.id, quantity: 2 });
  const { cart: checkoutCart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: checkoutCart.id, productId: second.id, quantity: 1 });
  const { cart: guestCart } = await ok<{ cart: CartView }>(guest, 'cart:create', {});
  await ok(guest, 'cart:addItem', { cartId: guestCart.id, productId: main.id, quantity: 1 });
  const { cart: guestCheckoutCart } = await ok<{ cart: CartView }>(guest, 'cart:create', {});
  await ok(guest, 'cart:addItem', { cartId: guestCheckoutCart.id, productId: second.id, quantity: 1 });
  const now = Date.now();
  const sale = {
    sort: 'sale',
    name: 'Fuzz sale',
    startsAt: now + 30 * DAY,
    endsAt: now + 31 * DAY,
    discount: { type: 'percent', percent: 10 },
    productIds: [second.id],
    categoryIds: [],
  };
  const drop = { sort: 'drop', name: 'Fuzz drop', startsAt: now + 40 * DAY, endsAt: null, productId: main.id, dropPrice: 100, quota: 5, perCustomerLimit: 1 };
  const { offer } = await ok<{ offer: OfferView }>(staff, 'offer:create', sale);
  const ordersCursor = (await ok<{ nextCursor: string | null }>(store, 'orders:list', { limit: 1 })).nextCursor!;
  const actorsCursor = (await ok<{ nextCursor: string | null }>(staff, 'inspect:actors', { limit: 1 })).nextCursor!;
  const setupDone = Date.now();

  const realIds = [
    main.id,
    second.id,
    archivable.id,
    soldOut.id,
    cart.id,
    guestCart.id,
    toPay.id,
    deliveredOrder.id,
    openShipment,
    keptReview.id,
    offer.id,
    homeId,
  ];
  const customerIds = {
    cartId: cart.id,
    checkoutCartId: checkoutCart.id,
    orderId: toPay.id,
    cancelOrderId: toCancel.id,
    otherOrderId: deliveredOrder.id,
    shipmentId: deliveredShipment,
  };
  const guestIds = {
    cartId: guestCart.id,
    checkoutCartId: guestCheckoutCart.id,
    orderId: toPay.id,
    cancelOrderId: toCancel.id,
    otherOrderId: deliveredOrder.id,
    shipmentId: deliveredShipment,
  };
  const storeBases = (ids: typeof customerIds): Record<keyof typeof storeCommands, unknown[]> => ({
    'cart:create': [{}, { requestId: 'fuzz-create-1' }],
    'cart:get': [{ cartId: ids.cartId }, { cartId: cart.id }],
    'carts:list': [{}],
    'cart:addItem': [
      { cartId: ids.cartId, productId: main.id, quantity: 1 },
      { cartId: ids.cartId, productId: soldOut.id, quantity: 1 },
    ],
    'cart:setQuantity': [{ cartId: ids.cartId, productId: main.id, quantity: 2 }],
    'cart:removeItem': [{ cartId: ids.cartId, productId: second.id }],
    'cart:checkout': [
      { cartId: ids.checkoutCartId, requestId: 'fuzz-checkout-1', shippingAddress: { ...ADDRESS, line2: 'Floor 2' } },
      { cartId: ids.checkoutCartId, requestId: 'fuzz-checkout-2' },
    ],
    'order:get': [{ orderId: ids.orderId }, { orderId: ids.otherOrderId }],
    'order:pay': [{ orderId: ids.orderId, requestId: 'fuzz-pay-1', payment: { ...TEST_CARD } }],
    'order:cancel': [{ orderId: ids.cancelOrderId }],
    'orders:list': [
      { state: 'awaitingPayment', limit: 10 },
      { limit: 1, before: ordersCursor },
    ],
    'shipment:get': [{ shipmentId: ids.shipmentId }],
    'addresses:list': [{}],
    'address:save': [{ ...ADDRESS, line2: 'Floor 3', id: homeId, label: 'Home', makeDefault: true }],
    'address:delete': [{ addressId: officeId }],
    'review:create': [{ productId: main.id, rating: 5, title: 'Great', body: 'Really.' }],
    'review:update': [{ reviewId: keptReview.id, rating: 3, title: 'Still solid', body: 'Edited.' }],
    'review:delete': [{ reviewId: doomedReview.id }],
    'review:vote': [{ reviewId: keptReview.id }],
    'stock:notify': [{ productId: soldOut.id }],
    'stock:unnotify': [{ productId: soldOut.id }],
    'stock:notifications': [{}],
    subscribe: [{ topic: `cart:${ids.cartId}` }, { topic: `product:${main.id}` }, { topic: `order:${ids.orderId}` }, { topic: 'offers' }],
    unsubscribe: [{ topic: `cart:${ids.cartId}` }, { topic: `product:${main.id}` }],
  });
  const warehouseBases: Record<keyof typeof warehouseCommands, unknown[]> = {
    'shipments:list': [{ state: 'pending', limit: 10 }],
    'shipment:get': [{ shipmentId: openShipment }],
    'shipment:advance': [
      { shipmentId: openShipment, to: 'picking' },
      { shipmentId: openShipment, to: 'shipped', carrier: 'DHL', trackingNumber: 'TRACK-1' },
      { shipmentId: openShipment, to: 'exception', reason: 'lost' },
    ],
    'stock:get': [{ productId: main.id }],
    'stock:restock': [{ productId: main.id, quantity: 5 }],
    'catalog:upsertCategory': [{ slug: 'fuzz-category', name: 'Fuzz', description: 'Fuzzed', parent: null, position: 1 }],
    'catalog:upsertProduct': [
      {
        sku: 'FUZZ-SKU-1',
        name: 'Fuzz product',
        description: 'A product the fuzzer edits',
        price: 500,
        currency: 'EUR',
        category: 'test',
        images: ['https://example.com/a.png'],
        attributes: { color: 'red', size: 3, eco: true },
      },
    ],
    'catalog:archiveProduct': [{ productId: archivable.id }],
    'review:hide': [{ reviewId: keptReview.id, reason: 'spam' }],
    'offer:create': [sale, drop],
    'offer:update': [
      { ...sale, offerId: offer.id },
      { ...drop, offerId: offer.id },
    ],
    'offer:cancel': [{ offerId: offer.id, reason: 'fuzz' }],
    'offers:list': [{ state: 'scheduled', limit: 10 }],
    'inspect:summary': [{}],
    'inspect:actors': [{ kind: 'cart', state: 'active', q: 'cart_', limit: 10 }, { before: actorsCursor }],
    'inspect:actor': [{ id: cart.id, limit: 10 }],
    'inspect:replay': [{ id: toPay.id, version: 1 }],
    'inspect:deliveries': [{ id: paid.id, limit: 10 }],
    'inspect:retry': [{ seq: 1, flow: 'payment' }],
    subscribe: [{ topic: 'shipments' }, { topic: `shipment:${openShipment}` }, { topic: 'inspector' }, { topic: `product:${main.id}` }],
    unsubscribe: [{ topic: 'shipments' }],
  };

  const before = await actorVersions(app);
  const controlRow = await productRow(app, control.id);
  const answers = new Map<string, Map<string, number>>();
  let sent = 0;
  const property = async (label: string, socket: Socket, name: string, payloads: fc.Arbitrary<unknown>, result: z.ZodType | undefined) => {
    const examples = (REGRESSIONS.commands[name] ?? []).map((payload): [unknown] => [payload]);
    await fc.assert(
      fc.asyncProperty(payloads.filter(fits), async (payload) => {
        sent++;
        await send(socket, label, name, payload, result, incidents, answers);
      }),
      { examples },
    );
  };

  const storeNames = Object.keys(storeCommands) as Array<keyof typeof storeCommands>;
  for (const [label, socket, ids] of [
    ['customer', store, customerIds],
    ['guest', guest, guestIds],
  ] as const) {
    const bases = storeBases(ids);
    for (const name of storeNames) {
      await property(`/store ${label} arbitrary`, socket, name, anyPayload, storeResults[name]);
      await property(`/store ${label} near-valid`, socket, name, nearValid(bases[name], realIds), storeResults[name]);
    }
  }
  const warehouseNames = Object.keys(warehouseCommands) as Array<keyof typeof warehouseCommands>;
  for (const name of warehouseNames) {
    const either = fc.constantFrom<'staff' | 'admin'>('staff', 'admin');
    for (const [kind, payloads] of [
      ['arbitrary', anyPayload],
      ['near-valid', nearValid(warehouseBases[name], realIds)],
    ] as const) {
      await fc.assert(
        fc.asyncProperty(either, payloads.filter(fits), async (who, payload) => {
          sent++;
          await send(who === 'staff' ? staff : admin, `/warehouse ${who} ${kind}`, name, payload, warehouseResults[name], incidents, answers);
        }),
        { examples: (REGRESSIONS.commands[name] ?? []).map((payload): ['staff' | 'admin', unknown] => ['staff', payload]) },
      );
    }
  }
  // Names no table has: made up, the other namespace's, inherited properties, numbers, huge ones.
  const unknownName = (table: object) =>
    fc
      .oneof(
        fc.string({ unit: 'binary', maxLength: 100 }),
        fc.constantFrom(
          ...Object.keys(storeCommands),
          ...Object.keys(warehouseCommands),
          'constructor',
          '__proto__',
          'hasOwnProperty',
          'toString',
          'cart:destroy',
        ),
        fc.integer({ min: 1_000, max: 2_000 }).map((n) => 'c'.repeat(n)),
        fc.integer(),
      )
      .filter((name) => typeof name === 'number' || (!RESERVED_EVENTS.has(name) && !Object.hasOwn(table, name)));
  for (const [label, socket, table] of [
    ['/store customer', store, storeCommands],
    ['/store guest', guest, storeCommands],
    ['/warehouse staff', staff, warehouseCommands],
  ] as const) {
    await fc.assert(
      fc.asyncProperty(unknownName(table), anyPayload.filter(fits), async (name, payload) => {
        sent++;
        const ack = await send(socket, `${label} unknown`, name, payload, undefined, incidents, answers);
        if (ack.ok || ack.error.code !== 'VALIDATION') throw new Error(`unknown command ${String(name).slice(0, 40)} answered ${short(ack)}`);
      }),
    );
  }

  t.deepEqual(incidents, [], 'no socket was disconnected or saw an error');
  for (const [label, socket] of [
    ['customer', store],
    ['guest', guest],
    ['staff', staff],
    ['admin', admin],
  ] as const) {
    t.true(socket.connected, `${label} is still connected`);
  }
  // Everyone is still served.
  t.like(await call(store, 'cart:get', { cartId: cart.id }), { ok: true });
  t.like(await call(staff, 'stock:get', { productId: control.id }), { ok: true, data: { stock: { onHand: 7 } } });

  // Every write commits the actor, its journal entry and the stock together: the invariants hold at any instant.
  await checkInvariants(t, app, before, { id: control.id, row: controlRow });

  const outcomes = new Map<string, number>();
  for (const counts of answers.values()) for (const [outcome, n] of counts) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + n);
  t.true((outcomes.get('ok') ?? 0) > 0, 'some near-valid commands were carried out');
  t.log(
    `seed ${SEED}, ${RUNS} runs per property: ${sent} commands (${storeNames.length} /store x 2 principals, ${warehouseNames.length} /warehouse, unknown names); ` +
      `outcomes ${short(Object.fromEntries(outcomes))}; setup ${setupDone - started} ms, fuzzing ${Date.now() - setupDone} ms`,
  );
});

// ---------------------------------------------------------------- REST

const METHODS = ['get', 'post', 'patch', 'delete'] as const;

interface Operation {
  readonly method: (typeof METHODS)[number];
  readonly path: string;
  readonly query: ReadonlyArray<{ name: string; values: readonly string[] }>;
  readonly body: boolean;
}

/** Every operation of the OpenAPI document, with its query parameters (and their enum values) and whether it takes a body. */
function operationsOf(document: { paths: Record<string, Record<string, unknown>> }): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method] !== undefined).map((method): Operation => {
      const spec = item[method] as { parameters?: Array<{ name: string; in: string; schema?: { enum?: unknown[] } }>; requestBody?: unknown };
      const query = (spec.parameters ?? [])
        .filter((parameter) => parameter.in === 'query')
        .map((parameter) => ({ name: parameter.name, values: (parameter.schema?.enum ?? []).map(String) }));
      return { method, path, query, body: spec.requestBody !== undefined };
    }),
  );
}

/** Percent-encodes any string, lone surrogates included (encodeURIComponent throws on those). */
function encode(text: string): string {
  return encodeURIComponent((text as string & { toWellFormed(): string }).toWellFormed());
}

const pathParameter = (realIds: readonly string[]) =>
  fc.oneof(
    fc.constantFrom(...realIds),
    nastyString.map(encode),
    fc.string({ unit: 'binary', maxLength: 120 }).map(encode),
    fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AE', '%F0%9F', 'a%00b', '%2F', '..', '.', 'x'.repeat(100), 'x'.repeat(101), 'a;b', 'a,b', '*'),
  );

const queryString = (parameters: Operation['query']) => {
  const names = parameters.map((p) => p.name);
  const values = parameters.flatMap((p) => p.values);
  const value = fc.oneof(nastyString, cursorLike, nastyNumber.map(String), fc.constantFrom('true', 'false', '1', '0', '', ...values));
  const pair = fc
    .oneof(
      names.length > 0 ? fc.constantFrom(...names) : fc.constant('q'),
      fc.constantFrom('__proto__', 'constructor', 'q[]', 'page[0]'),
      fc.string({ maxLength: 12 }),
    )
    .chain((name) => fc.tuple(fc.constant(name), CURSOR_FIELD.test(name) ? fc.oneof(cursorLike, value) : value));
  return fc.oneof(
    fc.constant(''),
    fc.array(pair, { minLength: 1, maxLength: 6 }).map((pairs) => pairs.map(([key, value]) => `${encode(key)}=${encode(value)}`).join('&')),
    fc.constantFrom('%', '%%', 'q=%zz', '&&&', '=', '==', 'page=1&page=2', 'a[b][c]=1', `q=${'x'.repeat(5_000)}`, `cursor=${'y'.repeat(2_000)}`),
  );
};

type Body = { readonly kind: 'none' } | { readonly kind: 'json'; readonly value: unknown } | { readonly kind: 'raw'; readonly text: string };

const rawBody = fc.oneof(
  fc.constantFrom('{', '{"a":', 'null', '"text"', '[]', '1', 'true', ' ', '\u0000', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}'),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.integer({ min: 60_000, max: 80_000 }).map((n) => `{"name":"${'z'.repeat(n)}"}`),
);
const requestBody = (bases: readonly unknown[], realIds: readonly string[]) =>
  fc.oneof(
    fc.constant<Body>({ kind: 'none' }),
    fc.jsonValue({ stringUnit: 'binary' }).map((value): Body => ({ kind: 'json', value })),
    nearValid(bases, realIds).map((value): Body => ({ kind: 'json', value })),
    nearValid(bases, realIds).map((value): Body => ({ kind: 'json', value })),
    rawBody.map((text): Body => ({ kind: 'raw', text })),
  );

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
] as const;
/** One request: who asks, the path parameter, the query string, the body and its content type. */
interface FuzzRequest {
  readonly auth: (typeof AUTHS)[number];
  readonly parameter: string;
  readonly query: string;
  readonly body: Body;
  readonly contentType: (typeof CONTENT_TYPES)[number];
}
const AUTHS = ['none', 'guest', 'customer', 'staff', 'garbage', 'long', 'basic', 'empty', 'lowercase', 'tampered'] as const;

test.serial('fuzzing every REST route of /openapi.json: no 5xx, every error in the envelope; invariants hold', async (t) => {
  const started = Date.now();
  const { app, url } = await appForTest(t, { config: LIMITS });
  const main = await createProduct(app, { onHand: 50, price: 1_000 });
  const control = await createProduct(app, { onHand: 7, price: 1_100 });
  const customer = await registerCustomer(url, 'Rest Customer');
  const staff = await staffToken(app);
  const guest = (await app.services.auth.guest()).token;
  const customerIdentity = { sub: customer.customerId, role: 'customer' as const, name: 'Rest Customer', email: customer.email };
  const document = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const operations = operationsOf(document);
  const before = await actorVersions(app);
  const controlRow = await productRow(app, control.id);

  const bodies: Record<string, unknown[]> = {
    'post /api/auth/register': [{ email: 'fuzz-register@example.com', password: 'correct horse battery', name: 'Fuzz' }],
    'post /api/auth/login': [
      { email: customer.email, password: customer.password },
      { email: customer.email, password: 'wrong password' },
    ],
    'patch /api/me': [{ name: 'Renamed' }, { email: 'fuzz-new@example.com', currentPassword: 'wrong password' }],
    'post /api/me/password': [{ currentPassword: 'wrong password', newPassword: 'another long password' }],
    'delete /api/me': [{ password: 'wrong password' }],
  };
  const realIds = [main.id, customer.customerId, 'prod_missing'];
  /** The Authorization header; logout gets a fresh token of the same kind, so the others stay valid. */
  const authorization = async (auth: (typeof AUTHS)[number], logout: boolean): Promise<string | undefined> => {
    const fresh = async (kind: 'guest' | 'customer' | 'staff') =>
      kind === 'guest' ? (await app.services.auth.guest()).token : kind === 'customer' ? app.services.auth.issue(customerIdentity) : staffToken(app);
    const valid = async (kind: 'guest' | 'customer' | 'staff') => (logout ? fresh(kind) : { guest, customer: customer.token, staff }[kind]);
    switch (auth) {
      case 'none':
        return undefined;
      case 'guest':
      case 'customer':
      case 'staff':
        return `Bearer ${await valid(auth)}`;
      case 'garbage':
        return 'Bearer not-a-token';
      case 'long':
        return `Bearer ${'a'.repeat(8_000)}`;
      case 'basic':
        return 'Basic dXNlcjpwYXNz';
      case 'empty':
        return 'Bearer ';
      case 'lowercase':
        return `bearer ${await valid('guest')}`;
      case 'tampered':
        return `Bearer ${customer.token.slice(0, -4)}AAAA`;
    }
  };

  let requests = 0;
  const statuses = new Map<number, number>();
  for (const operation of operations) {
    const label = `${operation.method.toUpperCase()} ${operation.path}`;
    const key = `${operation.method} ${operation.path}`;
    const request: fc.Arbitrary<FuzzRequest> = fc.record({
      auth: fc.constantFrom(...AUTHS),
      parameter: pathParameter([main.id, 'prod_missing']),
      query: queryString(operation.query),
      body: operation.method === 'get' ? fc.constant<Body>({ kind: 'none' }) : requestBody(bodies[key] ?? [{}], realIds),
      contentType: fc.constantFrom(...CONTENT_TYPES),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ auth, parameter, query, body, contentType }) => {
        requests++;
        const path = operation.path.replace('{id}', parameter);
        const target = `${url}${path}${query ? `?${query}` : ''}`;
        const headers: Record<string, string> = {};
        const header = await authorization(auth, operation.path === '/api/auth/logout');
        if (header !== undefined) headers.authorization = header;
        let payload: Uint8Array<ArrayBuffer> | undefined;
        if (body.kind !== 'none') {
          const text = body.kind === 'json' ? (JSON.stringify(body.value) ?? 'null') : body.text;
          payload = new TextEncoder().encode(text);
          if (contentType) headers['content-type'] = contentType;
        }
        let response: Response;
        try {
          response = await fetch(target, { method: operation.method.toUpperCase(), headers, body: payload, redirect: 'manual' });
        } catch (error) {
          throw new Error(`${label}: ${target.slice(0, 200)}: no answer (${(error as Error).message})`);
        }
        const text = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const what = `${label} as ${auth}: ${response.status} for ${target.slice(url.length, url.length + 200)}; answer ${text.slice(0, 300)}`;
        if (response.status >= 500) throw new Error(what);
        if (response.status < 400) return;
        let envelope: { ok?: unknown; error?: unknown };
        try {
          envelope = JSON.parse(text) as typeof envelope;
        } catch {
          throw new Error(`${what}: not JSON`);
        }
        if (envelope.ok !== false) throw new Error(`${what}: not the error envelope`);
        const problem = errorBodyProblem(envelope.error);
        if (problem) throw new Error(`${what}: ${problem}`);
      }),
      {
        numRuns: RUNS * 4,
        examples: (REGRESSIONS.queries[key] ?? []).map((query): [FuzzRequest] => [
          { auth: 'none', parameter: main.id, query, body: { kind: 'none' }, contentType: 'application/json' },
        ]),
      },
    );
  }

  // The principals the fuzzer used are still served; the data is whole.
  const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${customer.token}` } });
  t.is(me.status, 200, 'the customer token still works');
  await checkInvariants(t, app, before, { id: control.id, row: controlRow });
  t.log(
    `seed ${SEED}, ${RUNS * 4} runs per route: ${requests} requests over ${operations.length} operations (${operations.map((o) => `${o.method.toUpperCase()} ${o.path}`).join(', ')}); ` +
      `statuses ${short(Object.fromEntries(statuses))}; ${Date.now() - started} ms`,
  );
});
