// Retention (src/kernel/retention.ts, docs/OPERATIONS.md "Retention") on the real app and its real database, with a
// clock the tests move forward: dispatched outbox rows past OUTBOX_RETENTION_MS go with their deliveries (never one
// still in flight or parked), idempotency records past their window go (a retry after it is a new request), expired
// and checked-out carts past CART_JOURNAL_RETENTION_MS lose their journal but keep their snapshot (orders never do),
// the inspector says "compacted" instead of "corrupt", small batches interleave with other work, `0` turns it off,
// and stopping the app mid-pass is clean.
import { Writable } from 'node:stream';
import test from 'ava';
import type { Knex } from 'knex';
import { ConfigError, loadConfig, type Config } from '../../src/config.ts';
import { RetentionRepo } from '../../src/kernel/db/retention.repo.ts';
import { RetentionJob, type RetentionTask } from '../../src/kernel/retention.ts';
import type { CartView, OrderView, WarehouseResults } from '../../src/protocol/index.ts';
import { appForTest, call, createProduct, eventually, ok, registerCustomer, sleep, socketForTest, staffToken, type TestApp } from '../helpers/app.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' } as const;

/** An app whose clock the test moves (`clock.advance`), with no timer-driven retention or sweep unless asked. */
async function retentionApp(
  t: Parameters<typeof appForTest>[0],
  config: Partial<Config> = {},
  logStream?: Writable,
): Promise<TestApp & { clock: { advance(ms: number): void; now(): number } }> {
  let offset = 0;
  const now = () => Date.now() + offset;
  const app = await appForTest(t, {
    config: { retentionIntervalMs: 0, sweepIntervalMs: 3_600_000, ...(logStream ? { logLevel: 'info' } : {}), ...config },
    app: { clock: now, ...(logStream ? { logStream } : {}) },
  });
  return Object.assign(app, { clock: { advance: (ms: number) => (offset += ms), now } });
}

const count = async (knex: Knex, table: string, where: Record<string, unknown> = {}): Promise<number> =>
  Number(((await knex(table).where(where).count({ n: '*' }).first()) as { n: number | string } | undefined)?.n ?? 0);

/** Inserts an outbox row as the relay would have left it (fanned out, dispatched or not) with deliveries to flows no app runs. */
async function outboxRow(
  knex: Knex,
  options: { createdAt: number; dispatchedAt: number | null; deliveries: ReadonlyArray<'pending' | 'done' | 'parked'> },
): Promise<number> {
  // In one transaction: a running retention timer must never see the row without its deliveries.
  return knex.transaction(async (trx) => {
    const [inserted] = await trx('outbox')
      .insert({
        actor_id: `retention_probe_${Math.random().toString(36).slice(2)}`,
        kind: 'probe',
        type: 'probe.happened',
        payload: '{}',
        created_at: options.createdAt,
        fanned_out_at: options.createdAt,
        dispatched_at: options.dispatchedAt,
      })
      .returning('seq');
    const seq = Number(typeof inserted === 'object' ? (inserted as { seq: number }).seq : inserted);
    const deliveries = options.deliveries.map((state, i) => ({
      seq,
      flow: `retention-probe-${i}`,
      actor_id: 'retention_probe',
      state,
      settled_at: state === 'pending' ? null : options.createdAt,
    }));
    if (deliveries.length > 0) await trx('outbox_deliveries').insert(deliveries);
    return seq;
  });
}

/** Every actor's journal is `through+1 .. version` without a gap, `through` its compaction (0 when never compacted). */
async function journalsHold(knex: Knex): Promise<string[]> {
  const actors = (await knex('actors').select('id', 'version')) as Array<{ id: string; version: number | string }>;
  const journal = (await knex('actor_journal').select('actor_id', 'version')) as Array<{ actor_id: string; version: number | string }>;
  const compactions = (await knex('actor_journal_compactions').select('actor_id', 'through_version')) as Array<{
    actor_id: string;
    through_version: number | string;
  }>;
  const through = new Map(compactions.map((row) => [row.actor_id, Number(row.through_version)]));
  const versions = new Map<string, number[]>();
  for (const row of journal) versions.set(row.actor_id, [...(versions.get(row.actor_id) ?? []), Number(row.version)]);
  return actors.flatMap((actor) => {
    const from = (through.get(actor.id) ?? 0) + 1;
    const expected = Array.from({ length: Math.max(0, Number(actor.version) - from + 1) }, (_, i) => from + i);
    const actual = (versions.get(actor.id) ?? []).sort((a, b) => a - b);
    return JSON.stringify(actual) === JSON.stringify(expected) ? [] : [`${actor.id}: journal [${actual}] but expected [${expected}]`];
  });
}

test('dispatched outbox rows past the window go with their deliveries; undispatched, parked, pending and recent ones stay', async (t) => {
  const app = await retentionApp(t);
  const { knex } = app.app.db;
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const product = await createProduct(app.app, { onHand: 5 });
  // Real traffic: a cart checked out writes domain events the relay delivers and dispatches.
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  await ok(store, 'cart:checkout', { cartId: cart.id, requestId: 'co-outbox', shippingAddress: ADDRESS });
  await app.app.relay.drain();
  const real = (await knex('outbox').whereNotNull('dispatched_at').select('seq')) as Array<{ seq: number | string }>;
  t.true(real.length > 0, 'the checkout dispatched domain events');

  const old = app.clock.now() - 3 * DAY;
  const doneOld = await outboxRow(knex, { createdAt: old, dispatchedAt: old + 1000, deliveries: ['done', 'done'] });
  const unwantedOld = await outboxRow(knex, { createdAt: old, dispatchedAt: old, deliveries: [] });
  const parkedOld = await outboxRow(knex, { createdAt: old, dispatchedAt: old + 1000, deliveries: ['done', 'parked'] });
  const undispatchedOld = await outboxRow(knex, { createdAt: old, dispatchedAt: null, deliveries: ['done', 'pending'] });
  // Cannot happen (the last delivery to settle dispatches the row), and even so the row would stay.
  const pendingOld = await outboxRow(knex, { createdAt: old, dispatchedAt: old + 1000, deliveries: ['pending'] });
  const recent = await outboxRow(knex, { createdAt: app.clock.now(), dispatchedAt: app.clock.now(), deliveries: ['done'] });

  // Nothing of the checkout is a day old yet.
  let report = await app.app.retention.runOnce();
  t.is(report.outboxRows, 2, 'the two old dispatched rows without anything in flight');
  t.is(report.outboxDeliveries, 2);
  t.deepEqual(report.failed, []);
  const left = async () => ((await knex('outbox').select('seq')) as Array<{ seq: number | string }>).map((row) => Number(row.seq));
  t.false((await left()).includes(doneOld));
  t.false((await left()).includes(unwantedOld));
  t.is(await count(knex, 'outbox_deliveries', { seq: doneOld }), 0, 'its deliveries went with it');
  for (const seq of [parkedOld, undispatchedOld, pendingOld, recent, ...real.map((row) => Number(row.seq))]) t.true((await left()).includes(seq));
  t.is(await count(knex, 'outbox_deliveries', { seq: parkedOld }), 2, 'a parked row keeps every delivery (an operator may requeue it)');

  // A day and a bit later the checkout's rows are old too; the parked, undispatched and pending ones still stay.
  app.clock.advance(DAY + HOUR);
  report = await app.app.retention.runOnce();
  t.is(report.outboxRows, real.length + 1, "the checkout's rows and the recent one");
  t.deepEqual((await left()).sort(), [parkedOld, undispatchedOld, pendingOld].sort());
  // The parked one is requeued and delivered: only then, a day after, does it go.
  await knex('outbox_deliveries').where({ seq: parkedOld, state: 'parked' }).update({ state: 'done', settled_at: app.clock.now() });
  await knex('outbox').where({ seq: parkedOld }).update({ dispatched_at: app.clock.now() });
  t.is((await app.app.retention.runOnce()).outboxRows, 0, 'dispatched again just now');
  app.clock.advance(DAY + HOUR);
  t.is((await app.app.retention.runOnce()).outboxRows, 1);
  t.deepEqual((await left()).sort(), [undispatchedOld, pendingOld].sort());
  // The relay still works on what is left and what comes.
  const { cart: next } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: next.id, productId: product.id, quantity: 1 });
  await ok(store, 'cart:checkout', { cartId: next.id, requestId: 'co-after', shippingAddress: ADDRESS });
  await app.app.relay.drain();
  t.is(
    await app.app.db
      .knex('outbox')
      .whereNull('dispatched_at')
      .whereNot({ seq: undispatchedOld })
      .count({ n: '*' })
      .first()
      .then((r) => Number(r?.n)),
    0,
  );
});

test('idempotency records past the window go, recent ones stay: a cart:create retried inside it gets its cart, after it a new one', async (t) => {
  const app = await retentionApp(t);
  const { knex } = app.app.db;
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const first = (await ok<{ cart: CartView }>(store, 'cart:create', { requestId: 'create-old' })).cart;
  app.clock.advance(8 * DAY);
  const second = (await ok<{ cart: CartView }>(store, 'cart:create', { requestId: 'create-recent' })).cart;
  t.is(await count(knex, 'idempotency_keys'), 2);

  const report = await app.app.retention.runOnce();
  t.is(report.idempotencyKeys, 1);
  const keys = ((await knex('idempotency_keys').select('key')) as Array<{ key: string }>).map((row) => row.key);
  t.deepEqual(keys, [`${customer.customerId}:create-recent`]);

  // Inside its window a retry is the same request; past it, a new one (documented in OPERATIONS.md "Retention").
  t.is((await ok<{ cart: CartView }>(store, 'cart:create', { requestId: 'create-recent' })).cart.id, second.id);
  const late = (await ok<{ cart: CartView }>(store, 'cart:create', { requestId: 'create-old' })).cart;
  t.not(late.id, first.id, 'a retry older than the window creates a new cart');
  t.is((await ok<{ cart: CartView }>(store, 'cart:get', { cartId: first.id })).cart.id, first.id, 'the first cart itself is untouched');
});

test('expired and checked-out carts past the window lose their journal and keep their snapshot; orders and newer carts keep theirs; the inspector says compacted', async (t) => {
  const app = await retentionApp(t);
  const { knex } = app.app.db;
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  const product = await createProduct(app.app, { onHand: 20, price: 1200 });
  const filled = async () => {
    const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
    await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
    return (await ok<{ cart: CartView }>(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 })).cart;
  };
  // Day 0: a cart left to expire, and a cart checked out (its order is never paid: it expires too, a final state).
  const abandoned = await filled();
  const bought = await filled();
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: bought.id, requestId: 'co-bought', shippingAddress: ADDRESS });
  await app.app.relay.drain();
  // Day 2: the sweep expires the abandoned cart (24 h) and the unpaid order (15 min).
  app.clock.advance(2 * DAY);
  await app.app.sweep();
  // Day 8: another cart, expired on day 9.5: inside the window on day 10.
  app.clock.advance(6 * DAY);
  const recent = await filled();
  app.clock.advance(1.5 * DAY);
  await app.app.sweep();
  const rows = async () =>
    new Map(
      ((await knex('actors').select('id', 'kind', 'state', 'version')) as Array<{ id: string; kind: string; state: string; version: number }>).map((row) => [
        row.id,
        row,
      ]),
    );
  const before = await rows();
  t.is(before.get(abandoned.id)?.state, 'expired');
  t.is(before.get(bought.id)?.state, 'checkedOut');
  t.is(before.get(order.id)?.state, 'expired');
  t.is(before.get(recent.id)?.state, 'expired');
  const journalOf = (id: string) => count(knex, 'actor_journal', { actor_id: id });
  const orderJournal = await journalOf(order.id);
  const recentJournal = await journalOf(recent.id);
  t.true(orderJournal > 1);

  // Day 10.
  app.clock.advance(0.5 * DAY);
  const report = await app.app.retention.runOnce();
  t.deepEqual(report.failed, []);
  t.is(report.journalsCompacted, 2, 'the expired cart and the checked-out one');
  t.is(report.journalEntries, before.get(abandoned.id)!.version + before.get(bought.id)!.version);
  t.is(await journalOf(abandoned.id), 0);
  t.is(await journalOf(bought.id), 0);
  t.is(await journalOf(order.id), orderJournal, "the order's journal is its audit trail: untouched");
  t.is(await journalOf(recent.id), recentJournal, 'a cart expired inside the window keeps its journal');
  t.deepEqual(await rows(), before, 'every snapshot row is as it was');
  const marker = await knex('actor_journal_compactions').where({ actor_id: abandoned.id }).first();
  t.like(marker, { kind: 'cart', through_version: before.get(abandoned.id)!.version });
  t.deepEqual(await journalsHold(knex), [], 'every journal is through+1..version');

  // The carts still answer, and a checkout retried with its requestId still gets its order (both from the snapshot).
  t.is((await ok<{ cart: CartView }>(store, 'cart:get', { cartId: abandoned.id })).cart.state, 'expired');
  t.is((await ok<{ cart: CartView }>(store, 'cart:get', { cartId: bought.id })).cart.state, 'checkedOut');
  const retried = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: bought.id, requestId: 'co-bought' });
  t.is(retried.order.id, order.id);

  // The inspector: the actor and its machine, no timeline, and a check that says "compacted", not a mismatch.
  const inspected = await ok<WarehouseResults['inspect:actor']>(warehouse, 'inspect:actor', { id: abandoned.id });
  t.is(inspected.actor.state, 'expired');
  t.deepEqual(inspected.timeline, []);
  t.is(inspected.journalLength, 0);
  t.like(inspected.check, { matches: false, mismatch: null, replayedVersion: 0, storedVersion: before.get(abandoned.id)!.version });
  t.is(inspected.check.compacted?.throughVersion, before.get(abandoned.id)!.version);
  t.regex(inspected.check.notes.join('\n'), /compacted by retention/);
  const replay = await call(warehouse, 'inspect:replay', { id: abandoned.id, version: 1 });
  t.false(replay.ok);
  if (!replay.ok) {
    t.is(replay.error.code, 'NOT_FOUND');
    t.regex(replay.error.message, /cannot be rebuilt: the journal was compacted by retention/);
  }
  const orderCheck = await ok<WarehouseResults['inspect:actor']>(warehouse, 'inspect:actor', { id: order.id });
  t.true(orderCheck.check.matches, "the order's journal still replays to its snapshot");
  t.is(orderCheck.check.compacted, undefined);

  // Erasing the customer writes a new version to the compacted cart: it is kept, shown unreplayed, and compacted in turn later.
  await app.app.runtime.redact(
    'cart',
    abandoned.id,
    (context) => context,
    (event) => event,
  );
  const afterErasure = await ok<WarehouseResults['inspect:actor']>(warehouse, 'inspect:actor', { id: abandoned.id });
  t.is(afterErasure.timeline.length, 1);
  t.is(afterErasure.timeline[0]?.event.type, 'emporium.redacted');
  t.is(afterErasure.check.compacted?.throughVersion, before.get(abandoned.id)!.version);
  t.deepEqual(await journalsHold(knex), []);
  t.is((await app.app.retention.runOnce()).journalEntries, 0, 'changed just now: inside the window again');
  app.clock.advance(8 * DAY);
  const later = await app.app.retention.runOnce();
  t.true(later.journalEntries >= 1);
  t.like(await knex('actor_journal_compactions').where({ actor_id: abandoned.id }).first(), {
    through_version: before.get(abandoned.id)!.version + 1,
    entries: before.get(abandoned.id)!.version + 1,
  });
  t.is(await journalOf(order.id), orderJournal, 'orders never');
  t.deepEqual(await journalsHold(knex), []);
});

test('npm run inspect says a compacted journal plainly and exits 4', async (t) => {
  const app = await retentionApp(t);
  const store = await socketForTest(t, app.url, '/store', (await registerCustomer(app.url)).token);
  const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
  app.clock.advance(2 * DAY);
  await app.app.sweep();
  app.clock.advance(8 * DAY);
  t.is((await app.app.retention.runOnce()).journalsCompacted, 1);
  const { spawnSync } = await import('node:child_process');
  const path = await import('node:path');
  const cli = path.resolve(import.meta.dirname, '../../src/cli/inspect.ts');
  const result = spawnSync(process.execPath, ['--import', 'tsx', cli, 'cart', cart.id], {
    env: { ...process.env, DATABASE_URL: app.databaseUrl, LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.is(result.status, 4, result.stderr);
  t.regex(result.stdout, /journal compacted through v2: nothing to replay \(not a mismatch\)/);
  t.notRegex(`${result.stdout}${result.stderr}`, /MISMATCH/);
});

test('with batches of 2, everything old goes in many small transactions, and other queries run between them', async (t) => {
  const app = await retentionApp(t, { retentionBatch: 2 });
  const { knex } = app.app.db;
  const old = app.clock.now() - 10 * DAY;
  for (let i = 0; i < 15; i++) await outboxRow(knex, { createdAt: old + i, dispatchedAt: old + i, deliveries: ['done', 'done'] });
  await knex('idempotency_keys').insert(Array.from({ length: 9 }, (_, i) => ({ scope: 'probe', key: `k${i}`, result: 'x', created_at: old + i })));
  // Old expired carts with journals of 3 entries, written as the runtime would have left them.
  for (let i = 0; i < 7; i++) {
    const id = `cart_retention_${i}`;
    await knex('actors').insert({
      id,
      kind: 'cart',
      version: 3,
      machine_version: 1,
      state: 'expired',
      status: 'done',
      owner_id: 'nobody',
      snapshot: '{}',
      next_deadline_at: null,
      created_at: old,
      updated_at: old + i,
    });
    await knex('actor_journal').insert([1, 2, 3].map((version) => ({ actor_id: id, kind: 'cart', version, event: '{"type":"x"}', at: old })));
  }

  // The app's own job: batches of 2, all of it gone in one pass, counted in /metrics.
  const report = await app.app.retention.runOnce();
  t.like(report, { outboxRows: 15, outboxDeliveries: 30, idempotencyKeys: 9, journalEntries: 21, journalsCompacted: 7, failed: [] });
  t.true(report.batches >= 8 + 5 + 11, `many small transactions (${report.batches})`);
  t.is(await count(knex, 'outbox', { kind: 'probe' }), 0);
  t.is(await count(knex, 'idempotency_keys', { scope: 'probe' }), 0);
  t.is(await count(knex, 'actor_journal', { kind: 'cart' }), 0);
  const metrics = (await fetch(`${app.url}/metrics`).then((response) => response.text())).split('\n');
  t.true(metrics.includes('emporium_retention_pruned_total{what="outbox_rows"} 15'), metrics.filter((line) => line.includes('retention')).join('\n'));
  t.true(metrics.includes('emporium_retention_pruned_total{what="journal_entries"} 21'));
  t.false(
    metrics.some((line) => line.startsWith('emporium_retention_failures_total{')),
    'no task failed',
  );

  // The same job watched: between two batches the event loop turns and other queries get the connection.
  for (let i = 0; i < 12; i++) await outboxRow(knex, { createdAt: old, dispatchedAt: old, deliveries: ['done'] });
  const timeline: string[] = [];
  const watched = new RetentionJob({
    repo: new RetentionRepo({ knex, dialect: app.app.db.dialect, transaction: app.app.db.transaction }),
    clock: app.clock.now,
    logger: app.app.logger,
    intervalMs: 0,
    batchSize: 2,
    outboxOlderThanMs: DAY,
    idempotencyOlderThanMs: 7 * DAY,
    journals: [],
    machineOf: () => undefined,
    onBatch: (task: RetentionTask, deleted: number) => timeline.push(`${task}:${deleted}`),
  });
  // Another client's work: a query, then the event loop's next turn (as commands arriving on sockets do).
  let running = true;
  const queries = (async () => {
    while (running) {
      await knex('products').count({ n: '*' });
      timeline.push('query');
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  const watchedReport = await watched.runOnce();
  running = false;
  await queries;
  t.is(watchedReport.outboxRows, 12);
  const batches = timeline.flatMap((entry, i) => (entry.startsWith('outbox') ? [i] : []));
  t.is(batches.length, 6);
  const between = timeline.slice(batches[0], batches.at(-1)).filter((entry) => entry === 'query').length;
  t.log(timeline.join(' '));
  t.true(between >= batches.length - 1, `queries ran between the batches: ${timeline.join(' ')}`);
});

test('RETENTION_INTERVAL_MS: the timer prunes on its own; 0 turns retention off', async (t) => {
  const lines: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const on = await retentionApp(t, { retentionIntervalMs: 50 }, logStream);
  const off = await retentionApp(t, { retentionIntervalMs: 0 });
  for (const app of [on, off]) {
    const old = app.clock.now() - 3 * DAY;
    for (let i = 0; i < 3; i++) await outboxRow(app.app.db.knex, { createdAt: old, dispatchedAt: old, deliveries: ['done'] });
  }
  t.true(on.app.retention.enabled);
  t.false(off.app.retention.enabled);
  await eventually(async () => (await count(on.app.db.knex, 'outbox', { kind: 'probe' })) === 0, 'the timer pruned the old rows', 10_000, 50);
  // Many intervals of the other app later, nothing of its went.
  await sleep(500);
  t.is(await count(off.app.db.knex, 'outbox', { kind: 'probe' }), 3, 'retention off: nothing pruned');
  // One info line per pass that pruned something (the timer may have run while the rows were being written).
  const summaries = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'retention pruned old rows');
  t.true(summaries.length > 0);
  for (const summary of summaries) t.like(summary, { level: 30, part: 'retention' });
  t.is(
    summaries.reduce((sum, summary) => sum + Number(summary.outboxRows), 0),
    3,
  );
  t.is(
    summaries.reduce((sum, summary) => sum + Number(summary.outboxDeliveries), 0),
    3,
  );
});

test('stopping the app while a pass runs ends it after the batch under way, before the database closes', async (t) => {
  const app = await retentionApp(t, { retentionBatch: 1 });
  const { knex } = app.app.db;
  const old = app.clock.now() - 3 * DAY;
  const rows = 1000;
  const probe = { actor_id: 'retention_probe', kind: 'probe', type: 'probe.happened', payload: '{}', created_at: old, fanned_out_at: old, dispatched_at: old };
  await knex.batchInsert(
    'outbox',
    Array.from({ length: rows }, () => probe),
    250,
  );
  const pass = app.app.retention.runOnce();
  await eventually(async () => (await count(knex, 'outbox', { kind: 'probe' })) < rows, 'the pass started', 10_000, 1);
  await app.stop();
  const report = await pass;
  t.true(report.stopped, 'cut short by the stop');
  t.deepEqual(report.failed, [], 'no batch ran against a closed database');
  t.true(report.outboxRows > 0 && report.outboxRows < rows, `${report.outboxRows} of ${rows} before the stop`);
});

test('the sweep does not prune: retention runs on its own timer only', async (t) => {
  const app = await retentionApp(t);
  const old = app.clock.now() - 3 * DAY;
  await outboxRow(app.app.db.knex, { createdAt: old, dispatchedAt: old, deliveries: ['done'] });
  await app.app.sweep();
  t.is(await count(app.app.db.knex, 'outbox', { kind: 'probe' }), 1);
});

test('the settings: defaults, 0 turns retention off, and an idempotency window under an hour is refused', (t) => {
  const base = { DATA_DIR: '/tmp/emporium-retention-config', JWT_SECRET: 'a-secret-of-sixteen-chars' };
  t.like(loadConfig(base), {
    retentionIntervalMs: 600_000,
    retentionBatch: 500,
    outboxRetentionMs: 86_400_000,
    idempotencyRetentionMs: 604_800_000,
    cartJournalRetentionMs: 604_800_000,
  });
  t.is(loadConfig({ ...base, RETENTION_INTERVAL_MS: '0' }).retentionIntervalMs, 0);
  const error = t.throws(() => loadConfig({ ...base, IDEMPOTENCY_RETENTION_MS: '60000', RETENTION_BATCH: '0' }), { instanceOf: ConfigError });
  t.regex(error.message, /IDEMPOTENCY_RETENTION_MS: IDEMPOTENCY_RETENTION_MS must be at least an hour/);
  t.regex(error.message, /RETENTION_BATCH/);
});
