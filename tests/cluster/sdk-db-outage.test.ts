// The SDK converges through a database outage: a client that reconnects while the node cannot read PostgreSQL gets
// its re-subscribes answered INTERNAL, keeps retrying them with backoff, and once the database is back follows its
// cart again — the current view, then every push. A topic the server then refuses (its cart is gone) is dropped
// and reported once. The real node, a real PostgreSQL whose database stops taking connections for a while.
import pg from 'pg';
import test from '../helpers/cluster-test.ts';
import { guestToken } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, emitAck, eventually, sleep } from '../helpers/cluster.ts';
import { connectStore, type CartView, type EmporiumError } from '../../src/client/index.ts';

const lab = new ClusterLab();
let a: ServerChild;

lab.install(test, async () => {
  a = await lab.node('node-a');
});

test('re-subscribes answered INTERNAL during a database outage are retried until the client follows its cart again', async (t) => {
  const admin = new pg.Client({ connectionString: lab.postgres.url });
  admin.on('error', () => undefined);
  await admin.connect();
  t.teardown(() => admin.end());
  const database = new URL(lab.databaseUrl).pathname.slice(1);
  const outage = async (on: boolean) => {
    await admin.query(`alter database "${database}" with allow_connections ${on ? 'false' : 'true'}`);
    if (on) await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
  };
  t.teardown(() => outage(false));

  const token = await guestToken(a.url);
  const errors: Array<{ topic: string; code: string }> = [];
  const store = await connectStore(a.url, {
    token,
    timeoutMs: 3_000,
    retry: { initialDelayMs: 100, maxDelayMs: 500 },
    onError: (error, topic) => errors.push({ topic, code: (error as EmporiumError).code }),
  });
  t.teardown(() => store.close());
  const subscribes = new Map<string, number>();
  store.socket.onAnyOutgoing((event: string, payload: { topic?: string }) => {
    if (event === 'subscribe' && payload.topic) subscribes.set(payload.topic, (subscribes.get(payload.topic) ?? 0) + 1);
  });

  const productId = await lab.insertProduct(1_000);
  const { cart } = await store.call('cart:create', {});
  const topic = `cart:${cart.id}`;
  const views: CartView[] = [];
  await store.subscribe<CartView>(topic, (view) => views.push(view));
  // A second cart, followed, then removed behind the node's back: re-subscribing to it is refused (NOT_FOUND).
  const { cart: doomed } = await store.call('cart:create', {});
  await store.subscribe<CartView>(`cart:${doomed.id}`, () => undefined);
  await lab.pg.query('delete from actors where id = $1', [doomed.id]);

  // Another connection of the same guest, which stays up throughout, to see what the node answers.
  const probe = await lab.store(a, token);

  await outage(true);
  await eventually(
    async () => {
      const ack = await emitAck(probe, 'subscribe', { topic }, 5_000);
      return ack?.ok === false && ack.error.code === 'INTERNAL';
    },
    'subscribe answering INTERNAL during the outage',
    15_000,
    200,
  );

  // The SDK's connection drops and comes back during the outage: its re-subscribes fail and are retried.
  const before = subscribes.get(topic) ?? 0;
  store.socket.io.engine.close();
  await eventually(async () => store.socket.connected && (subscribes.get(topic) ?? 0) >= before + 3, 'retried re-subscribes', 15_000, 50);
  t.false(views.length > 1, 'no view while the database is away');
  await sleep(500);

  await outage(false);
  // The cart moves on through the other connection; the SDK catches up (its retry gets through) and follows the pushes.
  let latest = 0;
  await eventually(
    async () => {
      const ack = await emitAck(probe, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 }, 5_000);
      if (ack?.ok) latest = ack.data.cart.version;
      return ack?.ok;
    },
    'a change once the database is back',
    15_000,
    200,
  );
  for (let i = 0; i < 3; i++) {
    const ack = await emitAck(probe, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 }, 5_000);
    t.true(ack?.ok, JSON.stringify(ack));
    if (ack?.ok) latest = ack.data.cart.version;
  }
  await eventually(async () => views.at(-1)?.version === latest, `the SDK's view reaching version ${latest}`, 15_000, 50);
  t.log(`${subscribes.get(topic)} subscribes of ${topic}; views ${views.map((view) => view.version).join(', ')}`);

  // Still following: the next change is pushed.
  const next = await emitAck(probe, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 }, 5_000);
  t.true(next?.ok);
  await eventually(async () => next?.ok && views.at(-1)?.version === next.data.cart.version, 'the next push', 10_000, 50);
  for (let i = 1; i < views.length; i++) t.true(views[i]!.version > views[i - 1]!.version, 'versions only rise');

  // The cart that is gone: dropped once refused, reported once, not asked for again.
  await eventually(async () => errors.length > 0, 'the refused topic reported', 10_000, 50);
  const doomedAsked = subscribes.get(`cart:${doomed.id}`);
  await sleep(1_000);
  t.deepEqual(errors, [{ topic: `cart:${doomed.id}`, code: 'NOT_FOUND' }]);
  t.is(subscribes.get(`cart:${doomed.id}`), doomedAsked);
});
