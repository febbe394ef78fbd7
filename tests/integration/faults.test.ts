// Fault injection on one node (SQLite): the disk fills up or fails under traffic, another process holds the write
// lock, the payment provider turns slow. Every command is answered — refused cleanly (INTERNAL or UNAVAILABLE,
// with the error envelope) or done — nothing is half-written, nothing acknowledged is lost, and the node
// recovers by itself once the fault clears. (A payment provider that throws: payment-breaker.test.ts.)
import { spawn } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import type { Socket } from 'socket.io-client';
import { SqliteFaults } from '../../src/kernel/db/sqlite-faults.ts';
import { defaultModules } from '../../src/modules/index.ts';
import { AUTHORIZATION_STALL_MS } from '../../src/modules/order/index.ts';
import { paymentKey } from '../../src/modules/order/order.service.ts';
import { SimulatedPaymentProvider, type ChargeRequest, type PaymentProvider } from '../../src/modules/order/payment-provider.ts';
import type { Ack, OrderView } from '../../src/protocol/index.ts';
import { appForTest, call, createProduct, guestToken, inventoryInvariant, ok, socketForTest, TEST_CARD, type TestApp } from '../helpers/app.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** The SQLite faults need SQLite: skipped in the PostgreSQL pass (`npm run test:postgres`; tests/cluster/faults.test.ts there). */
const onSqlite = process.env.TEST_POSTGRES_URL ? test.serial.skip : test.serial;

interface Answer {
  readonly ack: Ack<any> | undefined;
  readonly sentAt: number;
  readonly answeredAt: number;
}

/** Sends `event` and records its ack, or `undefined` when none came within `timeoutMs` (never rejects). */
async function send(socket: Socket, event: string, payload: unknown, log: Answer[], timeoutMs = 15_000): Promise<Ack<any> | undefined> {
  const sentAt = Date.now();
  const ack = await call(socket, event, payload, timeoutMs).catch(() => undefined);
  log.push({ ack, sentAt, answeredAt: Date.now() });
  return ack;
}

/** Every answer is one: ok, or a refusal in the protocol's envelope with one of `codes`. */
function assertAnswered(t: import('ava').ExecutionContext, answers: readonly Answer[], codes: readonly string[], what: string): void {
  const unanswered = answers.filter((answer) => answer.ack === undefined).length;
  t.is(unanswered, 0, `${what}: every command answered`);
  const odd = answers.filter(
    ({ ack }) => ack && !ack.ok && !(codes.includes(ack.error.code) && typeof ack.error.message === 'string' && ack.error.message.length > 0),
  );
  t.deepEqual(
    odd.map(({ ack }) => ack),
    [],
    `${what}: refusals are ${codes.join(' or ')} with a message`,
  );
}

/**
 * What is stored holds together: each actor's journal runs 1..version with no gap, and each domain event an
 * actor wrote in the outbox has its journal entry (written in the same transaction, stamped with the same instant).
 */
async function storedConsistently(t: import('ava').ExecutionContext, app: TestApp): Promise<void> {
  const knex = app.app.db.knex;
  const actors = (await knex('actors').select('id', 'kind', 'version')) as Array<{ id: string; kind: string; version: number }>;
  const journal = (await knex('actor_journal').select('actor_id', 'version', 'at')) as Array<{ actor_id: string; version: number; at: number }>;
  const versions = new Map<string, number[]>();
  const instants = new Set<string>();
  for (const row of journal) {
    versions.set(row.actor_id, [...(versions.get(row.actor_id) ?? []), Number(row.version)]);
    instants.add(`${row.actor_id}@${Number(row.at)}`);
  }
  const broken = actors.filter((actor) => {
    const stored = (versions.get(actor.id) ?? []).sort((a, b) => a - b);
    return stored.length !== Number(actor.version) || stored.some((version, i) => version !== i + 1);
  });
  t.deepEqual(
    broken.map((actor) => `${actor.kind} ${actor.id} v${actor.version}: journal ${versions.get(actor.id)?.join(',')}`),
    [],
    'actor versions and journals agree',
  );
  const kinds = new Map(actors.map((actor) => [actor.id, actor.kind]));
  const outbox = (await knex('outbox').select('seq', 'actor_id', 'kind', 'type', 'created_at')) as Array<{
    seq: number;
    actor_id: string;
    kind: string;
    type: string;
    created_at: number;
  }>;
  const orphans = outbox.filter((row) => kinds.get(row.actor_id) === row.kind && !instants.has(`${row.actor_id}@${Number(row.created_at)}`));
  t.deepEqual(
    orphans.map((row) => `${row.seq} ${row.kind} ${row.actor_id} ${row.type}`),
    [],
    'no outbox row without its journal entry',
  );
  const invariant = await inventoryInvariant(app.app);
  t.deepEqual(invariant.problems, [], 'reserved == active reservations <= on hand');
}

/** The ADD_ITEM versions stored in a cart's journal. */
async function addedVersions(app: TestApp, cartId: string): Promise<number[]> {
  const rows = (await app.app.db.knex('actor_journal').where({ actor_id: cartId }).orderBy('version').select('version', 'event')) as Array<{
    version: number;
    event: string;
  }>;
  return rows.filter((row) => (JSON.parse(row.event) as { type: string }).type === 'ADD_ITEM').map((row) => Number(row.version));
}

/** A shopper adding one unit at a time to its own cart, round the products, until told to stop. */
function shop(socket: Socket, cartId: string, products: readonly string[], answers: Answer[], running: () => boolean): Promise<void> {
  return (async () => {
    for (let n = 0; n < 320 && running(); n++) {
      await send(socket, 'cart:addItem', { cartId, productId: products[n % products.length], quantity: 1 }, answers);
      await sleep(10);
    }
  })();
}

/** Every acknowledged addItem is stored at the version it was acknowledged with; every refused one left nothing. */
async function noAcknowledgedLoss(t: import('ava').ExecutionContext, app: TestApp, cartId: string, answers: readonly Answer[]): Promise<void> {
  const acknowledged = answers.flatMap(({ ack }) => (ack?.ok ? [ack.data.cart.version as number] : []));
  const stored = await addedVersions(app, cartId);
  t.deepEqual(stored, acknowledged, `cart ${cartId}: the journal holds exactly the acknowledged changes`);
  const row = (await app.app.db.knex('actors').where({ id: cartId }).first('version', 'snapshot')) as { version: number; snapshot: string };
  t.is(Number(row.version), 1 + acknowledged.length);
  const units = (JSON.parse(row.snapshot) as { context: { items: Array<{ quantity: number }> } }).context.items.reduce((sum, line) => sum + line.quantity, 0);
  t.is(units, acknowledged.length, `cart ${cartId}: one unit per acknowledged addItem`);
}

onSqlite('disk full and I/O errors under traffic: refused cleanly, nothing half-written, nothing acknowledged lost, recovered without a restart', async (t) => {
  const faults = new SqliteFaults();
  const app = await appForTest(t, { app: { sqliteFaults: faults } });
  const productIds: string[] = [];
  for (let i = 0; i < 4; i++) productIds.push((await createProduct(app.app, { onHand: 1_000, price: 500 })).id);

  // Shoppers add to their carts all along; buyers check out during the faults.
  const shoppers = await Promise.all(
    [0, 1, 2, 3].map(async () => {
      const socket = await socketForTest(t, app.url, '/store', await guestToken(app.url));
      const { cart } = await ok(socket, 'cart:create', {});
      return { socket, cartId: cart.id as string, answers: [] as Answer[] };
    }),
  );
  const buyers = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      const socket = await socketForTest(t, app.url, '/store', await guestToken(app.url));
      const { cart } = await ok(socket, 'cart:create', {});
      await ok(socket, 'cart:addItem', { cartId: cart.id, productId: productIds[i % 4], quantity: 2 });
      await ok(socket, 'cart:addItem', { cartId: cart.id, productId: productIds[(i + 1) % 4], quantity: 1 });
      return { socket, cartId: cart.id as string, requestId: `co-${i}`, answers: [] as Answer[] };
    }),
  );
  const checkout = (buyer: (typeof buyers)[number]) => send(buyer.socket, 'cart:checkout', { cartId: buyer.cartId, requestId: buyer.requestId }, buyer.answers);

  let running = true;
  t.teardown(() => {
    running = false; // a test that failed half-way stops its traffic too
  });
  const traffic = shoppers.map((shopper) => shop(shopper.socket, shopper.cartId, productIds, shopper.answers, () => running));
  await sleep(400);

  // The disk is full: every COMMIT fails (and leaves its transaction open, as SQLite may).
  const fullFrom = Date.now();
  faults.fail('SQLITE_FULL', { on: 'commit', times: Number.POSITIVE_INFINITY });
  const duringFull = buyers.slice(0, 4).map(checkout);
  await sleep(700);
  faults.clear();
  const fullThrown = faults.thrown;
  const fullTo = Date.now();

  // Then the disk fails now and then: single writes fail, half-way through a change too (its actor row was
  // updated, its journal or outbox row or reservation not), while the changes around them go through.
  const flaky = setInterval(() => faults.fail('SQLITE_IOERR_WRITE', { on: 'write', times: 1 }), 40);
  const duringIoErrors = buyers.slice(4).map(checkout);
  await sleep(900);
  clearInterval(flaky);
  faults.clear();
  const ioThrown = faults.thrown - fullThrown;
  await Promise.all([...duringFull, ...duringIoErrors]);

  // And a disk that really is full, as SQLite itself sees it: the file may not grow by another page.
  const realFrom = Date.now();
  const pages = (await app.app.db.knex.raw('PRAGMA page_count')) as Array<{ page_count: number }>;
  await app.app.db.knex.raw(`PRAGMA max_page_count = ${pages[0]!.page_count}`);
  await sleep(500);
  await app.app.db.knex.raw('PRAGMA max_page_count = 4294967294');
  const realTo = Date.now();

  // Healthy again: new commands succeed at once, without a restart.
  const clearedAt = Date.now();
  await sleep(500);
  running = false;
  await Promise.all(traffic);

  t.true(fullThrown > 0 && ioThrown > 0, `faults thrown: ${fullThrown} on commit, ${ioThrown} on writes`);
  for (const shopper of shoppers) {
    assertAnswered(t, shopper.answers, ['INTERNAL'], 'shopper');
    const refusedWhileFull = shopper.answers.filter((a) => a.sentAt >= fullFrom + 50 && a.answeredAt <= fullTo && !a.ack?.ok).length;
    t.true(refusedWhileFull > 0, 'commands were refused while the disk was full');
    const after = shopper.answers.filter((a) => a.sentAt > clearedAt);
    t.true(after.length > 5 && after.every((a) => a.ack?.ok), 'every command after the fault cleared succeeded');
    await noAcknowledgedLoss(t, app, shopper.cartId, shopper.answers);
  }
  const failures = shoppers.flatMap((s) => s.answers).filter((a) => !a.ack?.ok).length;
  // Which writes SQLite refuses then depends on which need a new page: some did.
  const refusedWhileReallyFull = shoppers.flatMap((s) => s.answers).filter((a) => a.sentAt >= realFrom && a.answeredAt <= realTo && !a.ack?.ok).length;
  t.true(refusedWhileReallyFull > 0, 'commands were refused while SQLite found the disk full');

  // A refused checkout is retried with its requestId (the protocol says that is safe) and completes, once.
  for (const buyer of buyers) {
    assertAnswered(t, buyer.answers, ['INTERNAL'], 'buyer');
    let ack = buyer.answers.at(-1)?.ack;
    for (let retry = 0; retry < 5 && !ack?.ok; retry++) ack = await checkout(buyer);
    t.true(ack?.ok, `${buyer.cartId}: ${JSON.stringify(ack)}`);
  }
  const orderIds = buyers.map((buyer) => (buyer.answers.at(-1)!.ack as { data: { order: OrderView } }).data.order.id);
  t.is(new Set(orderIds).size, buyers.length, 'one order per cart');
  const knex = app.app.db.knex;
  for (const [i, buyer] of buyers.entries()) {
    const again = await ok<{ order: OrderView }>(buyer.socket, 'cart:checkout', { cartId: buyer.cartId, requestId: buyer.requestId });
    t.is(again.order.id, orderIds[i]!, 'the same requestId answers the same order');
    const reservations = (await knex('reservations').where({ order_id: again.order.id, status: 'active' }).select('quantity')) as Array<{ quantity: number }>;
    t.is(
      reservations.reduce((sum, r) => sum + Number(r.quantity), 0),
      3,
      'its lines reserved once',
    );
  }
  const [reserved] = (await knex('reservations').where({ status: 'active' }).sum({ n: 'quantity' })) as Array<{ n: number | string }>;
  t.is(Number(reserved?.n), 3 * buyers.length);
  await storedConsistently(t, app);
  t.log(`${fullThrown} commits failed (disk full), ${ioThrown} writes failed (I/O error); ${failures} shopper commands refused`);

  // Still serving, and the periodic duties (sweeps, outbox) went on: nothing is left behind.
  t.is((await fetch(`${app.url}/ready`)).status, 200);
  const pending = async () => Number(((await knex('outbox').whereNull('dispatched_at').count({ n: '*' })) as Array<{ n: number | string }>)[0]?.n);
  for (let round = 0; round < 50 && (await pending()) > 0; round++) {
    await app.app.sweep();
    await sleep(100);
  }
  t.is(await pending(), 0, 'every domain event delivered');
  t.is(Number(((await knex('outbox_deliveries').where({ state: 'parked' }).count({ n: '*' })) as Array<{ n: number | string }>)[0]?.n), 0, 'none parked');
});

/** Another process on the same SQLite file that holds the write lock (`BEGIN IMMEDIATE`) when told, as a CLI might. */
async function lockHolder(t: import('ava').ExecutionContext, file: string) {
  const script = `
    const Database = require(${JSON.stringify(path.resolve('node_modules/better-sqlite3'))});
    const db = new Database(${JSON.stringify(file)}, { timeout: 60000 });
    const readline = require('node:readline');
    readline.createInterface({ input: process.stdin }).on('line', (line) => {
      const ms = Number(line);
      db.exec('BEGIN IMMEDIATE');
      process.stdout.write('locked\\n');
      setTimeout(() => { db.exec('COMMIT'); process.stdout.write('released\\n'); }, ms);
    });
    process.stdout.write('ready\\n');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.on('error', () => undefined);
  child.stdin.on('error', () => undefined);
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter(Boolean));
    for (const wake of waiters.splice(0)) wake();
  });
  const next = async (expected: string) => {
    while (lines[0] !== expected) {
      if (lines.length > 0) throw new Error(`lock holder said ${lines[0]}, not ${expected}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
    lines.shift();
  };
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  await next('ready');
  return {
    /** Takes the write lock, and resolves once held; it is released `ms` later (`released()` resolves then). */
    async hold(ms: number): Promise<{ released: Promise<void> }> {
      child.stdin.write(`${ms}\n`);
      await next('locked');
      return { released: next('released') };
    },
  };
}

onSqlite('another process holding the write lock: commands wait for it, or past the busy timeout are refused, and then succeed', async (t) => {
  const app = await appForTest(t);
  const productIds: string[] = [];
  for (let i = 0; i < 3; i++) productIds.push((await createProduct(app.app, { onHand: 1_000 })).id);
  const shoppers = await Promise.all(
    [0, 1, 2].map(async () => {
      const socket = await socketForTest(t, app.url, '/store', await guestToken(app.url));
      const { cart } = await ok(socket, 'cart:create', {});
      return { socket, cartId: cart.id as string, answers: [] as Answer[] };
    }),
  );
  const holder = await lockHolder(t, app.app.config.databaseUrl);
  let running = true;
  t.teardown(() => {
    running = false; // a test that failed half-way stops its traffic too
  });
  const traffic = shoppers.map((shopper) => shop(shopper.socket, shopper.cartId, productIds, shopper.answers, () => running));
  await sleep(200);

  // A storm of short holds, each well within the busy timeout (5 s): writers wait their turn.
  const stormFrom = Date.now();
  for (let i = 0; i < 5; i++) {
    const { released } = await holder.hold(300);
    await released;
    await sleep(100);
  }
  const stormTo = Date.now();
  await sleep(200);

  // One hold longer than the busy timeout: the writes waiting for it give up (SQLITE_BUSY), refused as INTERNAL.
  const longFrom = Date.now();
  const { released } = await holder.hold(6_000);
  await released;
  const releasedAt = Date.now();
  await sleep(600);
  running = false;
  await Promise.all(traffic);

  for (const shopper of shoppers) {
    assertAnswered(t, shopper.answers, ['INTERNAL'], 'shopper');
    const inStorm = shopper.answers.filter((a) => a.sentAt >= stormFrom && a.answeredAt <= stormTo);
    t.true(inStorm.length > 0 && inStorm.every((a) => a.ack?.ok), 'during the storm every command waited and succeeded');
    const after = shopper.answers.filter((a) => a.sentAt > releasedAt + 50);
    t.true(after.length > 3 && after.every((a) => a.ack?.ok), 'once the lock was released every command succeeded');
    await noAcknowledgedLoss(t, app, shopper.cartId, shopper.answers);
  }
  const refused = shoppers.flatMap((s) => s.answers).filter((a) => !a.ack?.ok);
  // The writes that waited for the lock in vain (one batch, or a few) were refused; the rest went through after.
  t.true(
    refused.some((a) => a.sentAt >= longFrom && a.sentAt <= releasedAt),
    'past the busy timeout, commands were refused',
  );
  t.log(
    `${shoppers.reduce((n, s) => n + s.answers.length, 0)} commands, ${refused.length} refused (${[...new Set(refused.map((a) => a.ack?.ok === false && a.ack.error.code))].join(', ')})`,
  );
  await storedConsistently(t, app);
});

/** The simulated provider, whose card authorizations may turn slow: each charge waits `chargeLatencyMs` first. */
class SlowProvider implements PaymentProvider {
  inner!: SimulatedPaymentProvider;
  chargeLatencyMs = 0;
  charge = async (request: ChargeRequest) => {
    if (this.chargeLatencyMs > 0) await sleep(this.chargeLatencyMs);
    return this.inner.charge(request);
  };
  refund: PaymentProvider['refund'] = (request) => this.inner.refund(request);
  lookup: PaymentProvider['lookup'] = (key) => this.inner.lookup(key);
  closeUnsettled: PaymentProvider['closeUnsettled'] = (key, reason) => this.inner.closeUnsettled(key, reason);
}

test.serial('a payment provider slower than the breaker timeout: order:pay answers UNAVAILABLE, the order settles by itself, charged once', async (t) => {
  let offset = 0;
  const clock = () => Date.now() + offset;
  const provider = new SlowProvider();
  const app = await appForTest(t, {
    config: { sweepIntervalMs: 3_600_000 },
    app: { clock, modules: defaultModules({ payments: provider, paymentsBreaker: { timeoutMs: 250, volumeThreshold: 3, resetTimeoutMs: 300 } }) },
  });
  provider.inner = new SimulatedPaymentProvider(app.app.db.knex, clock, 0);
  const store = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  const product = await createProduct(app.app, { onHand: 5, price: 1_500 });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: 'co-slow' });
  const pay = () => call<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-slow', payment: TEST_CARD });

  // The attempt is recorded (its key looked up at the provider), then the charge outlives the breaker's timeout.
  provider.chargeLatencyMs = 400;
  const started = Date.now();
  const first = await pay();
  t.like(first, { ok: false, error: { code: 'UNAVAILABLE', message: 'the payment provider did not answer in time; try again shortly' } });
  t.true(Date.now() - started < 2_000, 'answered at the timeout, not when the provider finished');
  t.is((await ok<{ order: OrderView }>(store, 'order:get', { orderId: order.id })).order.state, 'authorizing');
  // The provider finishes the charge it was given, late, under the attempt's key.
  const key = paymentKey(order.id, 'pay-slow');
  const ledger = () => app.app.db.knex('payment_charges').where({ order_id: order.id, kind: 'charge' }).select('idempotency_key', 'status');
  for (let i = 0; i < 50 && (await ledger()).length === 0; i++) await sleep(20);
  t.deepEqual(await ledger(), [{ idempotency_key: key, status: 'succeeded' }]);

  // Other commands are not held up meanwhile; the customer asks again and again: once the breaker opens, at once.
  provider.chargeLatencyMs = 1_000;
  const refusals: string[] = [];
  for (let i = 0; i < 4; i++) {
    const ack = await pay();
    refusals.push(ack.ok ? 'ok' : ack.error.message);
  }
  t.true(
    refusals.every((message) => message.startsWith('the payment provider')),
    refusals.join(' | '),
  );
  t.true(refusals.includes('the payment provider is unavailable; try again shortly'), 'the breaker opened');
  await ok(store, 'cart:get', { cartId: cart.id });

  // The provider recovers (its last slow charges come back). Nobody retries: past the stall timeout, recovery
  // reads the provider's record of the attempt and the order is paid.
  provider.chargeLatencyMs = 0;
  await sleep(1_100);
  offset += AUTHORIZATION_STALL_MS + 1_000;
  let state = 'authorizing';
  for (let round = 0; round < 100 && state === 'authorizing'; round++) {
    await app.app.sweep(); // refused while the breaker is open; settled once it lets a trial through
    state = (await ok<{ order: OrderView }>(store, 'order:get', { orderId: order.id })).order.state;
    if (state === 'authorizing') await sleep(30);
  }
  const settled = (await ok<{ order: OrderView }>(store, 'order:get', { orderId: order.id })).order;
  t.not(settled.state, 'awaitingPayment');
  t.not(settled.state, 'authorizing');
  t.truthy(settled.payment?.chargeId);
  t.is(settled.paymentAttempts, 1);

  // The same request now answers the paid order; the provider was charged once.
  const again = await ok<{ order: OrderView }>(store, 'order:pay', { orderId: order.id, requestId: 'pay-slow', payment: TEST_CARD });
  t.is(again.order.payment?.chargeId, settled.payment?.chargeId);
  t.deepEqual(await ledger(), [{ idempotency_key: key, status: 'succeeded' }], 'one charge, no second');
});
