// The actor inspector on /warehouse and `npm run inspect`: an order taken through checkout, payment and its shipment
// shows its whole journal, replays to its first state and to its stored snapshot, a tampered snapshot is flagged,
// the live stream reports every change, customers are kept out and only admins requeue a parked delivery.
import { spawn } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import { of } from 'rxjs';
import { initialTransition } from 'xstate';
import type { FlowDefinition } from '../../src/kernel/outbox/flows.ts';
import { connectWarehouse } from '../../src/client/index.ts';
import { orderMachine } from '../../src/modules/order/order.machine.ts';
import type { ActorChanged, OrderView, ShipmentView, WarehouseResults } from '../../src/protocol/index.ts';
import {
  appForTest,
  call,
  connect,
  createProduct,
  nextEvent,
  ok,
  record,
  registerCustomer,
  socketForTest,
  staffToken,
  TEST_CARD,
  type TestApp,
} from '../helpers/app.ts';

const CLI = path.resolve(import.meta.dirname, '../../src/cli/inspect.ts');
const ADDRESS = { name: 'Ann Example', line1: '1 Main Street', city: 'Berlin', postalCode: '10115', country: 'DE' };

/** A flow that only counts what it is handed, so a requeued delivery can be seen to run again. */
function probeFlow(): FlowDefinition & { runs: number[] } {
  const runs: number[] = [];
  return {
    name: 'inspector-probe',
    delivery: 'best-effort',
    on: ['order.paid'],
    run: (events$) => {
      events$.subscribe((event) => runs.push(event.seq));
      return of(undefined);
    },
    runs,
  };
}

async function adminToken(app: TestApp): Promise<string> {
  const admin = await app.app.services.auth.upsertAccount({
    email: `admin-${Date.now()}@example.com`,
    password: 'admin-password',
    name: 'Admin',
    role: 'admin',
  });
  return app.app.services.auth.issue({ sub: admin.id, role: 'admin', name: admin.name, email: admin.email });
}

/** Runs `npm run inspect`'s script against the test database: exit code and output. */
function inspectCli(app: TestApp, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, DATABASE_URL: app.databaseUrl, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.on('error', reject);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`inspect ${args.join(' ')} did not finish: ${stderr}`));
    }, 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** An order checked out, paid and shipped to delivery; the relay drained after each step. */
async function deliveredOrder(app: TestApp, store: Awaited<ReturnType<typeof connect>>, warehouse: Awaited<ReturnType<typeof connect>>) {
  const product = await createProduct(app.app, { onHand: 5, price: 1500 });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 2 });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: `co-${cart.id}`, shippingAddress: ADDRESS });
  await ok(store, 'order:pay', { orderId: order.id, requestId: 'pay-1', payment: TEST_CARD });
  await app.app.relay.drain();
  const shipmentId = (await ok<{ order: OrderView }>(store, 'order:get', { orderId: order.id })).order.shipmentId!;
  for (const to of ['picking', 'packed', 'shipped', 'delivered'] as const) {
    await ok<{ shipment: ShipmentView }>(warehouse, 'shipment:advance', {
      shipmentId,
      to,
      ...(to === 'shipped' ? { carrier: 'DHL', trackingNumber: 'TRACK-1' } : {}),
    });
    await app.app.relay.drain();
  }
  return { orderId: order.id, cartId: cart.id, shipmentId };
}

const journalOf = async (app: TestApp, actorId: string) =>
  ((await app.app.db.knex('actor_journal').where({ actor_id: actorId }).orderBy('version')) as Array<{ version: number; event: string; at: number }>).map(
    (row) => ({ version: Number(row.version), event: JSON.parse(row.event), at: Number(row.at) }),
  );

const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

test.serial('an order through checkout, payment and delivery: timeline, time travel, the snapshot check and the live stream', async (t) => {
  const app = await appForTest(t);
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));

  const subscribed = await ok<{ topic: string; view: WarehouseResults['inspect:summary']['summary'] }>(warehouse, 'subscribe', { topic: 'inspector' });
  t.is(subscribed.topic, 'inspector');
  const orderKind = subscribed.view.kinds.find((kind) => kind.kind === 'order');
  t.truthy(orderKind, 'every hosted kind is counted, even with no actor yet');
  t.deepEqual(
    orderKind!.states.map((state) => state.state),
    ['awaitingPayment', 'authorizing', 'paid', 'fulfilling', 'shipped', 'delivered', 'cancelled', 'expired'],
  );
  const changes = record(warehouse, ['actor:changed']);

  const { orderId, cartId, shipmentId } = await deliveredOrder(app, store, warehouse);
  const journal = await journalOf(app, orderId);
  t.true(journal.length >= 6, `the order went through its life (${journal.length} versions)`);

  // inspect:actor: every journal entry, in order, replayed; the machine drawn; the replay matches the stored snapshot.
  const inspected = await ok<WarehouseResults['inspect:actor']>(warehouse, 'inspect:actor', { id: orderId });
  t.is(inspected.actor.kind, 'order');
  t.is(inspected.actor.state, 'delivered');
  t.is(inspected.actor.ownerId, customer.customerId);
  t.is(inspected.journalLength, journal.length);
  t.deepEqual(
    inspected.timeline.map((entry) => [entry.version, entry.event.type, entry.at]),
    journal.map((entry) => [entry.version, entry.event.type, entry.at]),
  );
  t.deepEqual(
    inspected.timeline.map((entry) => entry.state),
    ['awaitingPayment', 'authorizing', 'paid', 'fulfilling', 'shipped', 'delivered'],
  );
  const paidEntry = inspected.timeline.find((entry) => entry.event.type === 'PAYMENT_SUCCEEDED')!;
  t.true(
    paidEntry.changed.some((change) => change.path.startsWith('payment')),
    `the payment shows as changed: ${JSON.stringify(paidEntry.changed)}`,
  );
  t.true(inspected.check.matches, JSON.stringify(inspected.check.mismatch));
  t.is(inspected.check.mismatch, null);
  t.is(inspected.machine.current, 'delivered');
  t.is(inspected.machine.initial, 'awaitingPayment');
  t.true(inspected.machine.states.some((state) => state.name === 'delivered' && state.type === 'final'));
  t.deepEqual(
    inspected.machine.transitions.find((transition) => transition.source === 'awaitingPayment' && transition.event === 'PAY_REQUESTED'),
    { source: 'awaitingPayment', event: 'PAY_REQUESTED', targets: ['authorizing'], guard: 'isBeforeDeadline' },
  );

  // inspect:replay at version 1 is the order as created: the journal's input through the machine.
  const first = await ok<WarehouseResults['inspect:replay']>(warehouse, 'inspect:replay', { id: orderId, version: 1 });
  t.is(journal[0]!.event.type, 'xstate.init');
  const [initial] = initialTransition(orderMachine, journal[0]!.event.input);
  t.is(first.replayed.state, 'awaitingPayment');
  t.deepEqual(first.replayed.context, plain(initial.context));
  t.is(first.replayed.version, 1);
  t.true(first.check.matches);
  const last = await ok<WarehouseResults['inspect:replay']>(warehouse, 'inspect:replay', { id: orderId, version: journal.length });
  t.deepEqual(last.replayed.context, plain((await app.app.runtime.get('order', orderId))!.snapshot.context), 'the last version is the stored actor');
  const beyond = await call(warehouse, 'inspect:replay', { id: orderId, version: journal.length + 1 });
  t.false(beyond.ok);
  if (!beyond.ok) t.is(beyond.error.code, 'NOT_FOUND');
  const unknown = await call(warehouse, 'inspect:actor', { id: 'ord_does_not_exist' });
  t.false(unknown.ok);
  if (!unknown.ok) t.is(unknown.error.code, 'NOT_FOUND');

  // The live stream: every committed change of the order, the cart and the shipment, in order per actor.
  const deadline = Date.now() + 10_000;
  while (changes.filter((c) => c.payload.id === orderId).length < journal.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const orderChanges = changes.map((c) => c.payload as ActorChanged).filter((c) => c.id === orderId);
  t.deepEqual(
    orderChanges.map((c) => [c.kind, c.version, c.event, c.at]),
    journal.map((entry) => ['order', entry.version, entry.event.type, entry.at]),
  );
  t.is(orderChanges.at(-1)!.state, 'delivered');
  t.true(changes.some((c) => c.payload.id === cartId && c.payload.state === 'checkedOut'));
  t.true(changes.some((c) => c.payload.id === shipmentId && c.payload.state === 'delivered'));

  // Search and counts.
  const summary = await ok<WarehouseResults['inspect:summary']>(warehouse, 'inspect:summary', {});
  t.is(summary.summary.kinds.find((kind) => kind.kind === 'order')!.states.find((state) => state.state === 'delivered')!.count, 1);
  const byPrefix = await ok<WarehouseResults['inspect:actors']>(warehouse, 'inspect:actors', { q: orderId.slice(0, 10) });
  t.true(byPrefix.actors.some((actor) => actor.id === orderId));
  t.true(byPrefix.actors.every((actor) => actor.id.startsWith(orderId.slice(0, 10)) || actor.ownerId === orderId.slice(0, 10)));
  const byOwner = await ok<WarehouseResults['inspect:actors']>(warehouse, 'inspect:actors', { q: customer.customerId });
  t.deepEqual(byOwner.actors.map((actor) => actor.id).sort(), [orderId, cartId, shipmentId].sort());
  const firstPage = await ok<WarehouseResults['inspect:actors']>(warehouse, 'inspect:actors', { q: customer.customerId, limit: 2 });
  t.is(firstPage.actors.length, 2);
  t.truthy(firstPage.nextCursor);
  const secondPage = await ok<WarehouseResults['inspect:actors']>(warehouse, 'inspect:actors', {
    q: customer.customerId,
    limit: 2,
    before: firstPage.nextCursor,
  });
  t.deepEqual([...firstPage.actors, ...secondPage.actors].map((actor) => actor.id).sort(), [orderId, cartId, shipmentId].sort());
  t.is(secondPage.nextCursor, null);
  const delivered = await ok<WarehouseResults['inspect:actors']>(warehouse, 'inspect:actors', { kind: 'shipment', state: 'delivered' });
  t.deepEqual(
    delivered.actors.map((actor) => actor.id),
    [shipmentId],
  );
  const badCursor = await call(warehouse, 'inspect:actors', { before: 'not-a-cursor' });
  t.false(badCursor.ok);
  if (!badCursor.ok) t.is(badCursor.error.code, 'VALIDATION');

  // Tampering with the stored snapshot shows as a mismatch, on the socket.
  const row = (await app.app.db.knex('actors').where({ id: orderId }).first()) as { snapshot: string };
  const snapshot = JSON.parse(row.snapshot);
  snapshot.context.total += 1;
  await app.app.db
    .knex('actors')
    .where({ id: orderId })
    .update({ snapshot: JSON.stringify(snapshot) });
  const tampered = await ok<WarehouseResults['inspect:actor']>(warehouse, 'inspect:actor', { id: orderId });
  t.false(tampered.check.matches);
  t.truthy(tampered.check.mismatch);
  t.deepEqual(tampered.check.mismatch!.differences, [{ path: 'context.total', replayed: snapshot.context.total - 1, stored: snapshot.context.total }]);
  t.regex(tampered.check.mismatch!.message, /differs from the stored snapshot in context\.total/);
  const tamperedReplay = await ok<WarehouseResults['inspect:replay']>(warehouse, 'inspect:replay', { id: orderId, version: 1 });
  t.false(tamperedReplay.check.matches);
});

test.serial('npm run inspect prints the timeline or one version from the database, and says what is wrong with exit codes', async (t) => {
  const app = await appForTest(t);
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  const { orderId } = await deliveredOrder(app, store, warehouse);
  const journal = await journalOf(app, orderId);
  const [initial] = initialTransition(orderMachine, journal[0]!.event.input);

  // The CLI prints the same timeline from the database (the runs are independent: side by side).
  const [cli, cliAt, badOption, missing, noSuch, help] = await Promise.all([
    inspectCli(app, 'order', orderId),
    inspectCli(app, 'order', orderId, '--at', '1', '--json'),
    inspectCli(app, 'order', orderId, '--bogus'),
    inspectCli(app, 'order'),
    inspectCli(app, 'order', 'ord_nope'),
    inspectCli(app, '--help'),
  ]);
  t.is(cli.code, 0, cli.stderr);
  for (const entry of journal) t.regex(cli.stdout, new RegExp(`^v${entry.version}\\s+\\S+\\s+${entry.event.type.replace('.', '\\.')}\\s`, 'm'));
  t.regex(cli.stdout, /replay matches the stored snapshot/);
  t.is(cliAt.code, 0, cliAt.stderr);
  t.deepEqual(JSON.parse(cliAt.stdout).replayed.context, plain(initial.context));
  t.is(badOption.code, 2);
  t.is(badOption.stderr.trim().split('\n').length, 1, badOption.stderr);
  t.regex(badOption.stderr, /^inspect: Unknown option '--bogus' \(try --help\)\n$/, 'one line, no stack trace');
  t.is(missing.code, 2);
  t.regex(missing.stderr, /an actor id is required/);
  t.is(noSuch.code, 1);
  t.regex(noSuch.stderr, /no actor ord_nope/);
  t.is(help.code, 0);
  t.regex(help.stdout, /usage: npm run inspect -- <kind> <id>/);

  // A tampered snapshot: exit 3 and the mismatch on stderr.
  const row = (await app.app.db.knex('actors').where({ id: orderId }).first()) as { snapshot: string };
  const snapshot = JSON.parse(row.snapshot);
  snapshot.context.total += 1;
  await app.app.db
    .knex('actors')
    .where({ id: orderId })
    .update({ snapshot: JSON.stringify(snapshot) });
  const tamperedCli = await inspectCli(app, 'order', orderId);
  t.is(tamperedCli.code, 3);
  t.regex(tamperedCli.stderr, /MISMATCH: .*context\.total/);
});

test.serial('customers cannot reach the inspector; staff read deliveries but only an admin requeues a parked one', async (t) => {
  const probe = probeFlow();
  const app = await appForTest(t, { app: { flows: [probe] } });
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  const admin = await socketForTest(t, app.url, '/warehouse', await adminToken(app));

  // The warehouse refuses customers at the handshake, and /store has no inspector command.
  const refused = await connect(app.url, '/warehouse', customer.token).then(
    (socket) => {
      socket.close();
      return undefined;
    },
    (error: Error & { data?: { code: string } }) => error,
  );
  t.is(refused?.data?.code, 'FORBIDDEN');
  for (const command of ['inspect:summary', 'inspect:actors', 'inspect:actor', 'inspect:replay', 'inspect:deliveries', 'inspect:retry']) {
    const answer = await call(store, command, {});
    t.false(answer.ok);
    if (!answer.ok) t.regex(answer.error.message, /unknown command/, command);
  }
  const topic = await call(store, 'subscribe', { topic: 'inspector' });
  t.false(topic.ok, 'no inspector topic on /store');

  const product = await createProduct(app.app, { onHand: 5 });
  const { cart } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: cart.id, productId: product.id, quantity: 1 });
  const { order } = await ok<{ order: OrderView }>(store, 'cart:checkout', { cartId: cart.id, requestId: 'co' });
  await ok(store, 'order:pay', { orderId: order.id, requestId: 'pay', payment: TEST_CARD });
  await app.app.relay.drain();
  t.is(probe.runs.length, 1);
  const seq = probe.runs[0]!;

  const before = await ok<WarehouseResults['inspect:deliveries']>(warehouse, 'inspect:deliveries', { id: order.id });
  const paidRow = before.rows.find((row) => row.seq === seq)!;
  t.is(paidRow.type, 'order.paid');
  t.deepEqual(
    paidRow.deliveries.find((delivery) => delivery.flow === 'inspector-probe'),
    {
      flow: 'inspector-probe',
      state: 'done',
      attempts: 0,
      lastError: null,
      settledAt: paidRow.deliveries.find((d) => d.flow === 'inspector-probe')!.settledAt,
      claimedUntil: null,
      claimed: false,
    },
  );
  t.true(
    before.rows.every((row, i) => i === 0 || row.seq > before.rows[i - 1]!.seq),
    'oldest first',
  );

  // As if the probe had failed until it was parked.
  await app.app.db.knex('outbox_deliveries').where({ seq, flow: 'inspector-probe' }).update({ state: 'parked', attempts: 8, last_error: 'simulated failure' });
  await app.app.db.knex('outbox').where({ seq }).update({ dispatched_at: Date.now() });
  const parked = await ok<WarehouseResults['inspect:deliveries']>(warehouse, 'inspect:deliveries', { id: order.id });
  t.like(
    parked.rows.find((row) => row.seq === seq)!.deliveries.find((delivery) => delivery.flow === 'inspector-probe'),
    {
      state: 'parked',
      attempts: 8,
      lastError: 'simulated failure',
    },
  );

  const byStaff = await call(warehouse, 'inspect:retry', { seq, flow: 'inspector-probe' });
  t.false(byStaff.ok);
  if (!byStaff.ok) t.is(byStaff.error.code, 'FORBIDDEN');
  t.is(probe.runs.length, 1, 'nothing requeued by staff');

  const requeued = await ok<WarehouseResults['inspect:retry']>(admin, 'inspect:retry', { seq, flow: 'inspector-probe' });
  t.like(
    requeued.row.deliveries.find((delivery) => delivery.flow === 'inspector-probe'),
    { state: 'pending', attempts: 0 },
  );
  const deadline = Date.now() + 10_000;
  while (probe.runs.length < 2 && Date.now() < deadline) {
    await app.app.relay.drain();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.deepEqual(probe.runs, [seq, seq], 'the requeued delivery ran again');
  const after = await ok<WarehouseResults['inspect:deliveries']>(warehouse, 'inspect:deliveries', { id: order.id });
  t.like(
    after.rows.find((row) => row.seq === seq)!.deliveries.find((delivery) => delivery.flow === 'inspector-probe'),
    { state: 'done' },
  );
  t.not(after.rows.find((row) => row.seq === seq)!.dispatchedAt, null);

  // Requeueing again: it is no longer parked; an unknown delivery is NOT_FOUND.
  const again = await call(admin, 'inspect:retry', { seq, flow: 'inspector-probe' });
  t.false(again.ok);
  if (!again.ok) t.is(again.error.code, 'INVALID_TRANSITION');
  const none = await call(admin, 'inspect:retry', { seq, flow: 'no-such-flow' });
  t.false(none.ok);
  if (!none.ok) t.is(none.error.code, 'NOT_FOUND');

  // Admins get the live stream as staff do; through the SDK every push reaches the subscriber (a stream, not a
  // versioned view: two actors at the same version are both delivered).
  await ok(admin, 'subscribe', { topic: 'inspector' });
  const change = nextEvent<ActorChanged>(admin, 'actor:changed', (c) => c.id === order.id);
  const sdk = await connectWarehouse(app.url, { token: await adminToken(app) });
  t.teardown(() => sdk.close());
  const views: unknown[] = [];
  await sdk.subscribe('inspector', (view) => views.push(view));
  t.like(views[0], { total: 3 }, 'the summary first: the cart, the order and its shipment');
  const { cart: other } = await ok(store, 'cart:create', {});
  await ok(store, 'cart:addItem', { cartId: other.id, productId: product.id, quantity: 1 });
  await ok(store, 'order:cancel', { orderId: order.id });
  const cancelled = await change;
  t.like(cancelled, { kind: 'order', id: order.id, event: 'CANCEL', state: 'cancelled' });
  const pushed = () => views.slice(1) as ActorChanged[];
  const deadline2 = Date.now() + 10_000;
  while (!pushed().some((c) => c.id === order.id && c.event === 'CANCEL') && Date.now() < deadline2) await new Promise((resolve) => setTimeout(resolve, 50));
  t.deepEqual(
    pushed()
      .filter((c) => c.id === other.id)
      .map((c) => [c.version, c.event]),
    [
      [1, 'xstate.init'],
      [2, 'ADD_ITEM'],
    ],
  );
  t.deepEqual(
    pushed().find((c) => c.id === order.id && c.event === 'CANCEL'),
    cancelled,
    'the SDK hands over the same push',
  );
});

test.serial("a deleted customer's actors still replay to their stored snapshots: the redaction is flagged, not a mismatch", async (t) => {
  const app = await appForTest(t);
  const customer = await registerCustomer(app.url);
  const store = await socketForTest(t, app.url, '/store', customer.token);
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  const ids = await deliveredOrder(app, store, warehouse);
  store.close();
  const deleted = await fetch(`${app.url}/api/me`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${customer.token}` },
    body: JSON.stringify({ password: customer.password }),
  });
  t.is(deleted.status, 204);
  for (const id of [ids.orderId, ids.cartId, ids.shipmentId]) {
    const inspected = await ok<WarehouseResults['inspect:actor']>(warehouse, 'inspect:actor', { id });
    t.true(inspected.check.matches, `${id}: ${JSON.stringify(inspected.check.mismatch)}`);
    const last = inspected.timeline.at(-1)!;
    t.is(last.event.type, 'emporium.redacted', id);
    t.true(last.redacted);
    t.regex(inspected.check.notes.join('\n'), /personal data erased/);
    t.false(JSON.stringify(inspected.timeline).includes('1 Main Street'), `${id}: the journal no longer holds the address`);
  }
});
