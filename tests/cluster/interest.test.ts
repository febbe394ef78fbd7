// Which topics anyone watches, across nodes (src/kernel/gateway/interest.ts): a change nobody watches is not
// published through Redis, one watched only on its own node is not either, one watched on another node is; a
// watcher that subscribes while the actor keeps changing on another node ends at its last version; a node that
// starts later learns what the others watch.
import { Redis } from 'ioredis';
import type { Socket } from 'socket.io-client';
import test from '../helpers/cluster-test.ts';
import { guestToken, nextEvent, ok } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, eventually, redisClientIds, sleep } from '../helpers/cluster.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;
let listener: Redis;
/** Every message the nodes published to the /store namespace's channels, as text (msgpack keeps strings as they are). */
const published: string[] = [];

lab.install(test, async () => {
  [a, b] = await lab.cluster(2);
  listener = new Redis(lab.redis.url, { lazyConnect: true, maxRetriesPerRequest: null });
  listener.on('error', () => undefined); // the teardown stops Redis under it
  await listener.connect();
  listener.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => published.push(message.toString('latin1')));
  await listener.psubscribe('socket.io#/store#*');
});

test.after.always(() => listener?.disconnect());

/** Messages published so far that name `id`, after the ones in flight have had time to arrive. */
async function publishedAbout(id: string): Promise<number> {
  await sleep(150);
  return published.filter((message) => message.includes(id)).length;
}

/** Polls `check` (every 50 ms, for at most 10 s) until it holds. */
const until = (what: string, check: () => Promise<boolean>) => eventually(check, what, 10_000, 50);

test.serial('a cart change is published through Redis only while a client of another node watches it', async (t) => {
  const productId = await lab.insertProduct(100, 700);
  const token = await guestToken(a.url);
  const onA = await lab.store(a, token);
  const onB = await lab.store(b, token);
  const { cart } = await ok(onA, 'cart:create', {});

  // Nobody watches: no push is built, nothing is published.
  await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  t.is(await publishedAbout(cart.id), 0, 'an unwatched change is not published');

  // Watched on its own node only: delivered there, still not published.
  await ok(onA, 'subscribe', { topic: `cart:${cart.id}` });
  const local = nextEvent(onA, 'cart:updated', (view) => view.id === cart.id && view.version === 3);
  await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  t.is((await local).items[0]?.quantity, 2);
  t.is(await publishedAbout(cart.id), 0, 'a change watched only on its own node is not published');

  // Watched on B too: published, and B's client gets it.
  await ok(onB, 'subscribe', { topic: `cart:${cart.id}` });
  const remote = nextEvent(onB, 'cart:updated', (view) => view.id === cart.id && view.version === 4);
  await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  t.is((await remote).items[0]?.quantity, 3);
  const whileWatched = await publishedAbout(cart.id);
  t.true(whileWatched > 0, 'a change watched on another node is published');

  // B's client leaves: once A has heard, A publishes no more, and its own client still gets every change.
  await ok(onB, 'unsubscribe', { topic: `cart:${cart.id}` });
  let version = 4;
  await until('node A to hear that B stopped watching', async () => {
    const before = await publishedAbout(cart.id);
    const pushed = nextEvent(onA, 'cart:updated', (view) => view.id === cart.id && view.version === version + 1);
    await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
    version++;
    await pushed;
    return (await publishedAbout(cart.id)) === before;
  });
  t.pass();
});

test.serial('a client of B that subscribes while the cart keeps changing through A ends at its last version', async (t) => {
  const productId = await lab.insertProduct(10_000, 100);
  const token = await guestToken(a.url);
  const onA = await lab.store(a, token);
  for (let round = 0; round < 5; round++) {
    const onB: Socket = await lab.store(b, token);
    const { cart } = await ok(onA, 'cart:create', {});
    let last = 1;
    const changes = (async () => {
      for (let i = 0; i < 15; i++) last = (await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 })).cart.version;
    })();
    let seen = 0;
    onB.on('cart:updated', (view: { id: string; version: number }) => {
      if (view.id === cart.id) seen = Math.max(seen, view.version);
    });
    await sleep(round * 7);
    const subscribed = await ok(onB, 'subscribe', { topic: `cart:${cart.id}` });
    seen = Math.max(seen, (subscribed.view as { version: number }).version);
    await changes;
    await until(`B's client to reach version ${last}`, async () => seen === last);
    t.is(seen, 16, 'the last of 15 additions after the creation');
    onB.disconnect();
  }
});

test.serial('a node started later learns what the others watch: a change through it reaches a client of B', async (t) => {
  const productId = await lab.insertProduct(50, 900);
  const token = await guestToken(b.url);
  const onB = await lab.store(b, token);
  const { cart } = await ok(onB, 'cart:create', {});
  await ok(onB, 'subscribe', { topic: `cart:${cart.id}` });

  const c = await lab.node('node-c');
  const onC = await lab.store(c, token);
  // Long enough for C to have asked the others (until it has, it publishes everything, and this would prove nothing).
  await sleep(1_500);
  const pushed = nextEvent(onB, 'cart:updated', (view) => view.id === cart.id && view.version === 2);
  await ok(onC, 'cart:addItem', { cartId: cart.id, productId, quantity: 2 });
  t.is((await pushed).items[0]?.quantity, 2);
});

test.serial('a topic subscribed on B while the nodes could not hear Redis gets the changes made through A once they can again', async (t) => {
  const productId = await lab.insertProduct(1000, 300);
  const token = await guestToken(a.url);
  const onA = await lab.store(a, token);
  const watcherB = await lab.store(b, token);
  const { cart } = await ok(onA, 'cart:create', {});
  // The watcher behaves as the SDK does: a push with a higher version replaces its view; `resync` makes it subscribe again.
  let held = 0;
  const take = (view: { id: string; version: number }) => {
    if (view.id === cart.id && view.version > held) held = view.version;
  };
  watcherB.on('cart:updated', take);
  watcherB.on('resync', () => void ok(watcherB, 'subscribe', { topic: `cart:${cart.id}` }).then(({ view }) => take(view as never)));

  // Redis takes no new connections, and every node's subscriber connection is cut: none hears the others now.
  const admin = new Redis(lab.redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined); // it sees Redis refuse and cut connections on purpose
  t.teardown(() => admin.disconnect());
  await admin.config('SET', 'maxclients', '1');
  try {
    const subscribers = await redisClientIds(admin, 'emporium-sub');
    t.true(subscribers.length >= 2, "every node's subscriber connection");
    for (const id of subscribers) await admin.client('KILL', 'ID', id);
    await sleep(300);
    // Subscribed meanwhile on B: nobody can be told.
    take((await ok(watcherB, 'subscribe', { topic: `cart:${cart.id}` })).view as never);
    await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  } finally {
    await admin.config('SET', 'maxclients', '10000');
  }
  // Once both are back, changes through A reach B's watcher, and it ends at the last version.
  await until("B's watcher to hold version 2", async () => held >= 2);
  for (let i = 0; i < 3; i++) await ok(onA, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  await until("B's watcher to hold version 5", async () => held === 5);
  t.is(held, 5);
});

async function redisUp(url: string): Promise<boolean> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').some((line) => line === 'emporium_redis_up 1');
}

test.serial('a node whose link to Redis was cut publishes what others began to watch meanwhile, from the moment it is back', async (t) => {
  // Node D reaches Redis through a proxy that can cut it alone; a client of B watches a cart D changes.
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: lab.redis.port }, 'redis-d');
  t.teardown(() => proxy.close());
  const d = await lab.node('node-d', { REDIS_URL: proxy.rewrite(lab.redis.url) });
  const productId = await lab.insertProduct(1000, 400);
  const token = await guestToken(b.url);
  const onD = await lab.store(d, token);
  const watcherB = await lab.store(b, token);
  const { cart } = await ok(onD, 'cart:create', {});
  await until('node D to be linked', () => redisUp(d.url));

  proxy.cut({ existing: 'reset', incoming: 'refuse' });
  await until('node D to notice', async () => !(await redisUp(d.url)));
  // Subscribed while D hears nothing: B asks the nodes it can count, and D is not among them.
  let held = (await ok(watcherB, 'subscribe', { topic: `cart:${cart.id}` })).view.version as number;
  // This watcher takes pushes only (no resync): B's own link never broke, so nothing would tell it to look again.
  watcherB.on('cart:updated', (view: { id: string; version: number }) => {
    if (view.id === cart.id && view.version > held) held = view.version;
  });
  proxy.restore();
  await until('node D to be linked again', () => redisUp(d.url));
  // At once: D must not rely on what it knew before the cut.
  await ok(onD, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  await until("B's watcher to get the change made through D", async () => held === 2);
  t.is(held, 2);
});
