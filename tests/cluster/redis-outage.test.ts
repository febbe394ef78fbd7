// Redis stopped for several seconds under traffic, then started again: nodes keep acknowledging commands
// (durable in PostgreSQL) and pushing to their own clients; cross-node pushes resume; clients that stayed
// connected get `resync`, subscribe again and hold what PostgreSQL holds; no acknowledged command is lost.
import test from '../helpers/cluster-test.ts';
import type { Socket } from 'socket.io-client';
import type { Ack } from '../../src/protocol/index.ts';
import { nextEvent, ok } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { Redis } from 'ioredis';
import { ClusterLab, emitAck, eventually, guests, redisClientIds, sleep } from '../helpers/cluster.ts';

const OUTAGE_MS = 4000;
const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  [a, b] = await lab.cluster(2);
});

interface Worker {
  readonly name: string;
  readonly home: 'A' | 'B';
  readonly cartId: string;
  /** Sends the commands, through its home node. */
  readonly command: Socket;
  /** Follow the cart from node A and from node B. */
  readonly watchers: { readonly A: Socket; readonly B: Socket };
  /** Highest version each watcher has been pushed, and when. */
  readonly seen: { A: Array<{ version: number; at: number }>; B: Array<{ version: number; at: number }> };
  readonly acks: Array<{ ack: Ack<any> | undefined; sentAt: number; answeredAt: number }>;
}

test.serial('a Redis outage under traffic: commands keep being acknowledged, pushes resume, clients resync and converge', async (t) => {
  const products = await Promise.all([lab.insertProduct(10_000), lab.insertProduct(10_000), lab.insertProduct(10_000), lab.insertProduct(10_000)]);
  const identities = await guests(a.url, 4);
  const workers: Worker[] = [];
  for (const [i, { token }] of identities.entries()) {
    const home = i % 2 === 0 ? 'A' : 'B';
    const command = await lab.store(home === 'A' ? a : b, token);
    const { cart } = await ok(command, 'cart:create', {});
    const watchers = { A: await lab.store(a, token), B: await lab.store(b, token) };
    const worker: Worker = { name: `w${i}`, home, cartId: cart.id, command, watchers, seen: { A: [], B: [] }, acks: [] };
    for (const side of ['A', 'B'] as const) {
      await ok(watchers[side], 'subscribe', { topic: `cart:${cart.id}` });
      watchers[side].on('cart:updated', (view: { id: string; version: number }) => {
        if (view.id === cart.id) worker.seen[side].push({ version: view.version, at: Date.now() });
      });
    }
    workers.push(worker);
  }
  const resyncs = new Map<Socket, number>();
  for (const worker of workers) {
    for (const socket of [worker.command, worker.watchers.A, worker.watchers.B]) socket.on('resync', () => resyncs.set(socket, Date.now()));
  }
  const lastSeen = (worker: Worker, side: 'A' | 'B') => worker.seen[side].at(-1)?.version ?? 0;

  // Traffic: every worker adds one unit at a time (a few products, so no line hits its limit), paced, bounded.
  let stopTraffic = false;
  const traffic = workers.map(async (worker) => {
    for (let n = 0; n < 300 && !stopTraffic; n++) {
      const sentAt = Date.now();
      const ack = await emitAck(worker.command, 'cart:addItem', { cartId: worker.cartId, productId: products[n % products.length], quantity: 1 }, 10_000);
      worker.acks.push({ ack, sentAt, answeredAt: Date.now() });
      await sleep(40);
    }
  });

  // Before the outage, a change made through B reaches A (and the reverse).
  const crossBefore = workers.find((w) => w.home === 'B')!;
  await nextEvent(crossBefore.watchers.A, 'cart:updated', (view) => view.id === crossBefore.cartId && view.version >= 3);

  await lab.redis.stop();
  const outageStart = Date.now();
  // Let both nodes notice the loss, then look at the heart of the outage.
  await sleep(OUTAGE_MS);
  const outageEnd = Date.now();
  await lab.redis.start();

  // Commands sent during the outage were acknowledged on both nodes, and local subscribers still got their pushes.
  const window = { from: outageStart + 500, to: outageEnd };
  for (const worker of workers) {
    const during = worker.acks.filter((entry) => entry.sentAt >= window.from && entry.answeredAt <= window.to);
    t.true(during.length >= 10, `${worker.name} (via ${worker.home}) had ${during.length} commands answered during the outage`);
    t.true(
      during.every((entry) => entry.ack?.ok),
      `${worker.name}: ${JSON.stringify(during.find((entry) => !entry.ack?.ok)?.ack)}`,
    );
    // Every change acknowledged during the outage was pushed to the subscriber on the same node.
    const duringVersions = during.map((entry) => (entry.ack as { data: { cart: { version: number } } }).data.cart.version);
    await eventually(
      async () => duringVersions.every((version) => worker.seen[worker.home].some((push) => push.version === version)),
      `${worker.name}: local pushes for every command acknowledged during the outage`,
      5_000,
    );
    const local = worker.seen[worker.home].filter((push) => duringVersions.includes(push.version));
    const remote = worker.seen[worker.home === 'A' ? 'B' : 'A'].filter((push) => push.at >= window.from && push.at <= window.to);
    t.log(`${worker.name} via ${worker.home}: ${during.length} acks, ${local.length} local pushes, ${remote.length} cross-node pushes during the outage`);
  }

  // Redis is back: every client that stayed connected is told to resync.
  const sockets = workers.flatMap((worker) => [worker.command, worker.watchers.A, worker.watchers.B]);
  await eventually(async () => sockets.every((socket) => resyncs.has(socket)), 'resync reaching every connected client', 15_000);
  t.true(sockets.every((socket) => socket.connected));

  // Cross-node pushes resume, both ways: a change via B reaches A's subscriber again (and via A reaches B's).
  for (const worker of workers) {
    const remote = worker.home === 'A' ? 'B' : 'A';
    const mark = Date.now();
    await eventually(
      async () => worker.seen[remote].some((push) => push.at > mark),
      `a change via ${worker.home} reaching a subscriber on ${remote} after Redis returned`,
      15_000,
    );
  }
  t.log(`resync ${Math.max(...resyncs.values()) - outageEnd} ms after redis-server was started again`);

  stopTraffic = true;
  await Promise.all(traffic);

  // No acknowledged command lost: every one was accepted, and the database holds exactly them.
  for (const worker of workers) {
    t.true(
      worker.acks.every((entry) => entry.ack?.ok),
      `${worker.name}: every command acknowledged ok`,
    );
    const accepted = worker.acks.filter((entry) => entry.ack?.ok).length;
    const row = await lab.actor(worker.cartId);
    t.is(row?.version, 1 + accepted, `${worker.name}: version`);
    t.is(
      ((row?.context.items ?? []) as Array<{ quantity: number }>).reduce((sum, line) => sum + line.quantity, 0),
      accepted,
      `${worker.name}: units in the cart`,
    );
    t.deepEqual(
      await lab.journalVersions(worker.cartId),
      Array.from({ length: 1 + accepted }, (_, i) => i + 1),
    );
    const lastAck = worker.acks.at(-1)!.ack as { data: { cart: { version: number } } };
    t.is(lastAck.data.cart.version, 1 + accepted);

    // Subscribing again (what a client does on resync) gives both watchers the view PostgreSQL has.
    for (const side of ['A', 'B'] as const) {
      const { view } = await ok(worker.watchers[side], 'subscribe', { topic: `cart:${worker.cartId}` });
      t.is(view.version, row!.version);
      t.is(view.itemCount, accepted);
    }
    // And since the link is back, the pushes alone brought each watcher to the last version too.
    await eventually(
      async () => lastSeen(worker, 'A') === row!.version && lastSeen(worker, 'B') === row!.version,
      `${worker.name}'s watchers seeing the last version`,
      5_000,
    );
  }
});

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

test.serial('pushes a node could not publish (its publishing connection alone was cut) are recovered by subscribers on other nodes', async (t) => {
  const productId = await lab.insertProduct(1000);
  const { token } = (await guests(a.url, 1))[0]!;
  const onA = await lab.store(a, token);
  const watcherB = await lab.store(b, token);
  const { cart } = await ok(onA, 'cart:create', {});
  let held = (await ok(watcherB, 'subscribe', { topic: `cart:${cart.id}` })).view.version as number;
  // The watcher behaves as the SDK does: pushes with a higher version replace its view; `resync` makes it subscribe again.
  watcherB.on('cart:updated', (view: { id: string; version: number }) => {
    if (view.id === cart.id && view.version > held) held = view.version;
  });
  watcherB.on('resync', () => {
    void ok(watcherB, 'subscribe', { topic: `cart:${cart.id}` }).then(({ view }) => {
      if (view.version > held) held = view.version;
    });
  });
  await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  await eventually(async () => held === 2, 'the first push crossing over');

  // An admin connection opened first; then Redis takes no new connections and the publishing connections are cut.
  const admin = new Redis(lab.redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => {}); // it sees Redis refuse and cut connections on purpose
  t.teardown(() => admin.disconnect());
  await admin.config('SET', 'maxclients', '1');
  try {
    const clients = await redisClientIds(admin, 'emporium-pub');
    t.is(clients.length, 2);
    for (const id of clients) await admin.client('KILL', 'ID', id);
    await eventually(async () => (await metric(a.url, 'emporium_redis_up')) === 0, 'node A noticing its publishing connection is gone', 5_000);

    // A change through A meanwhile: acknowledged, durable, but its push cannot reach B.
    const before = await metric(a.url, 'emporium_redis_dropped_publishes');
    const { cart: changed } = await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
    t.is(changed.version, 3);
    t.true((await metric(a.url, 'emporium_redis_dropped_publishes')) > before);
  } finally {
    await admin.config('SET', 'maxclients', '10000');
  }
  await eventually(async () => (await metric(a.url, 'emporium_redis_up')) === 1, 'node A publishing again', 10_000);

  // No further change happens: B's watcher must still converge on version 3.
  await eventually(async () => held === 3, "B's watcher recovering the push A could not publish", 10_000);
  t.is((await lab.actor(cart.id))?.version, 3);
});
