// Faults in a cluster's backing services, under traffic. PostgreSQL restarted: commands during the outage are
// refused cleanly (INTERNAL or UNAVAILABLE), the nodes recover by themselves, every acknowledged command is stored
// and the inventory invariant holds. Redis down or frozen: sign-in still works and is still throttled, counted by
// each node alone meanwhile. (Pushes and resync through a Redis outage: redis-outage.test.ts and redis-stall.test.ts.)
import test from '../helpers/cluster-test.ts';
import type { Socket } from 'socket.io-client';
import type { Ack } from '../../src/protocol/index.ts';
import { ok, postJson } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, emitAck, eventually, guests, sleep } from '../helpers/cluster.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

/** Password attempts per address per minute on every node: small, so a test reaches the throttle. */
const AUTH_ATTEMPTS = 4;
const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;
/** A third node whose link to Redis goes through a proxy that can freeze it. */
let c: ServerChild;
let redisLink: TcpProxy | undefined;

lab.install(test, async () => {
  // The lab's server trades durability for speed (synchronous_commit off): a crash would lose commits it had
  // acknowledged. This database commits as a production one does (fsync stays off: a crash of the server's
  // processes, not of the machine, loses nothing written).
  await lab.pg.query(`alter database "${new URL(lab.databaseUrl).pathname.slice(1)}" set synchronous_commit = on`);
  const env = { AUTH_ATTEMPTS_PER_MINUTE: String(AUTH_ATTEMPTS) };
  [a, b] = await lab.cluster(2, env);
  redisLink = await TcpProxy.start({ host: '127.0.0.1', port: lab.redis.port }, 'redis-c');
  c = await lab.node('node-c', { ...env, REDIS_URL: redisLink.rewrite(lab.redis.url) });
});
test.after.always(async () => {
  await redisLink?.close();
});

interface Answer {
  readonly ack: Ack<any> | undefined;
  readonly sentAt: number;
  readonly answeredAt: number;
}

async function send(socket: Socket, event: string, payload: unknown, log: Answer[]): Promise<Ack<any> | undefined> {
  const sentAt = Date.now();
  const ack = await emitAck(socket, event, payload, 12_000);
  log.push({ ack, sentAt, answeredAt: Date.now() });
  return ack;
}

test.serial('PostgreSQL restarted under traffic: refused cleanly meanwhile, recovered by itself, nothing acknowledged lost', async (t) => {
  if (!lab.postgres.down || !lab.postgres.up) {
    t.pass('PostgreSQL is not ours to restart (TEST_POSTGRES_URL)');
    return;
  }
  const products = [await lab.insertProduct(10_000), await lab.insertProduct(10_000), await lab.insertProduct(10_000)];
  const people = await guests(a.url, 8);
  const shoppers = await Promise.all(
    people.slice(0, 4).map(async ({ token }, i) => {
      const socket = await lab.store(i % 2 === 0 ? a : b, token);
      const { cart } = await ok(socket, 'cart:create', {});
      return { socket, cartId: cart.id as string, answers: [] as Answer[] };
    }),
  );
  const buyers = await Promise.all(
    people.slice(4).map(async ({ token }, i) => {
      const socket = await lab.store(i % 2 === 0 ? a : b, token);
      const { cart } = await ok(socket, 'cart:create', {});
      await ok(socket, 'cart:addItem', { cartId: cart.id, productId: products[i % 3], quantity: 2 });
      return { socket, cartId: cart.id as string, requestId: `co-pg-${i}`, answers: [] as Answer[] };
    }),
  );
  const checkout = (buyer: (typeof buyers)[number]) => send(buyer.socket, 'cart:checkout', { cartId: buyer.cartId, requestId: buyer.requestId }, buyer.answers);

  let running = true;
  t.teardown(() => {
    running = false; // a test that failed half-way stops its traffic too
  });
  const traffic = shoppers.map(async (shopper) => {
    for (let n = 0; n < 400 && running; n++) {
      await send(shopper.socket, 'cart:addItem', { cartId: shopper.cartId, productId: products[n % 3], quantity: 1 }, shopper.answers);
      await sleep(n % 2 === 0 ? 20 : 40);
    }
  });
  await sleep(800);

  // The server crashes (immediate shutdown: every connection dropped), stays away a few seconds, and comes back.
  await lab.postgres.down('immediate');
  const downAt = Date.now();
  const duringOutage = buyers.slice(0, 2).map(checkout);
  await sleep(2_500);
  await lab.postgres.up();
  const upAt = Date.now();
  const afterRestart = buyers.slice(2).map(checkout);

  // The nodes find their database again by themselves: commands succeed once more.
  const recovered = await eventually(
    async () => {
      const last = shoppers.map((shopper) => shopper.answers.at(-1));
      return last.every((answer) => answer && answer.sentAt > upAt && answer.ack?.ok) ? Date.now() : undefined;
    },
    'every shopper acknowledged again after the restart',
    20_000,
  );
  await sleep(800);
  running = false;
  await Promise.all([...traffic, ...duringOutage, ...afterRestart]);
  t.log(`commands acknowledged again ${recovered - upAt} ms after PostgreSQL was back (down for ${upAt - downAt} ms)`);

  t.false(a.hasExited() || b.hasExited(), 'both nodes kept running');
  for (const shopper of shoppers) {
    const unanswered = shopper.answers.filter((answer) => !answer.ack);
    t.is(unanswered.length, 0, 'every command answered');
    const odd = shopper.answers.filter(({ ack }) => ack && !ack.ok && !['INTERNAL', 'UNAVAILABLE'].includes(ack.error.code));
    t.deepEqual(
      odd.map(({ ack }) => ack),
      [],
    );
    t.true(
      shopper.answers.some((answer) => answer.sentAt > downAt && answer.answeredAt < upAt && answer.ack?.ok === false),
      'refused during the outage',
    );
    t.true(
      shopper.answers.filter((answer) => answer.sentAt > recovered).every((answer) => answer.ack?.ok),
      'all acknowledged once recovered',
    );

    // Every acknowledged change is stored at its version; the journal has no gap; the cart holds what it says.
    const acknowledged = shopper.answers.flatMap(({ ack }) => (ack?.ok ? [ack.data.cart.version as number] : []));
    t.true(
      acknowledged.every((version, i) => i === 0 || version > acknowledged[i - 1]!),
      `each acknowledged change has a version of its own: ${acknowledged.join(',')}`,
    );
    const row = await lab.actor(shopper.cartId);
    const versions = await lab.journalVersions(shopper.cartId);
    t.deepEqual(
      versions,
      Array.from({ length: row!.version }, (_, i) => i + 1),
    );
    t.deepEqual(
      acknowledged.filter((version) => !versions.includes(version)),
      [],
      'no acknowledged change lost',
    );
    // A refusal whose commit had reached PostgreSQL may have taken effect (INTERNAL says so): at most those.
    const units = ((row!.context.items ?? []) as Array<{ quantity: number }>).reduce((sum, line) => sum + line.quantity, 0);
    t.is(units, row!.version - 1, 'one unit per stored change');
    t.true(
      units >= acknowledged.length && units <= shopper.answers.length,
      `${units} units stored, ${acknowledged.length} acknowledged, ${shopper.answers.length} sent; versions acknowledged ${acknowledged.join(',')}; refusals ${shopper.answers
        .filter((answer) => !answer.ack?.ok)
        .map((answer) => JSON.stringify(answer.ack))
        .join(' ')}`,
    );
  }

  // A checkout refused during the outage, retried with its requestId, completes once.
  for (const buyer of buyers) {
    let ack = buyer.answers.at(-1)?.ack;
    for (let retry = 0; retry < 10 && !ack?.ok; retry++) {
      await sleep(300);
      ack = await checkout(buyer);
    }
    t.true(ack?.ok, JSON.stringify(ack));
    const again = await emitAck(buyer.socket, 'cart:checkout', { cartId: buyer.cartId, requestId: buyer.requestId });
    t.is(again?.ok && again.data.order.id, ack?.ok && ack.data.order.id);
  }
  t.true(
    buyers.slice(0, 2).every((buyer) => buyer.answers[0]?.ack?.ok === false),
    'checkouts during the outage were refused',
  );
  t.deepEqual(await lab.invariantProblems(), []);
  t.is(await lab.count(`select coalesce(sum(quantity), 0) as n from reservations where status = 'active'`), 2 * buyers.length, 'each checkout reserved once');
  await eventually(async () => (await lab.pendingOutbox()) === 0, 'the outbox drained', 20_000);
});

/** A sign-in, and how long its answer took (at most 10 s: then it counts as no answer, status 0). */
async function login(url: string, email: string, password: string): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const response = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
    signal: AbortSignal.timeout(10_000),
  }).catch(() => undefined);
  await response?.body?.cancel();
  return { status: response?.status ?? 0, ms: Date.now() - started };
}

test.serial('Redis down or frozen: sign-in still works, answered at once, and is still throttled, by each node alone', async (t) => {
  const email = `faults-${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const registered = await postJson(`${a.url}/api/auth/register`, { email, password, name: 'Fault' });
  t.is(registered.status, 201);

  // Redis is down: each node counts the attempts from an address by itself.
  await lab.redis.stop();
  try {
    for (const node of [a, b]) {
      const answers: number[] = [];
      for (let i = 0; i < AUTH_ATTEMPTS; i++) {
        const { status, ms } = await login(node.url, email, password);
        answers.push(status);
        t.true(ms < 2_000, `answered in ${ms} ms`);
      }
      t.deepEqual(answers, Array(AUTH_ATTEMPTS).fill(200), 'signed in while Redis is down');
      t.is((await login(node.url, email, password)).status, 429, 'and throttled past the limit, on this node');
    }
  } finally {
    await lab.redis.start();
  }

  // Redis is back (empty): the nodes count together again.
  const linkUp = async (node: ServerChild) => /^emporium_redis_up 1$/m.test(await (await fetch(`${node.url}/metrics`)).text());
  await eventually(async () => (await linkUp(a)) && (await linkUp(b)) && (await linkUp(c)), 'every Redis link up again', 15_000, 200);
  await eventually(async () => (await login(a.url, email, password)).status === 200, 'sign-in counted in Redis again', 10_000, 200);
  const shared: number[] = [];
  for (let i = 0; i < AUTH_ATTEMPTS; i++) shared.push((await login((i % 2 === 0 ? b : a).url, email, password)).status);
  t.deepEqual(shared, [...Array(AUTH_ATTEMPTS - 1).fill(200), 429], 'attempts on both nodes count against one limit');

  // Node C's link to Redis freezes (Redis takes the commands and never answers): sign-in there is answered anyway.
  redisLink!.cut({ existing: 'freeze', incoming: 'stall' });
  try {
    const frozen: number[] = [];
    for (let i = 0; i <= AUTH_ATTEMPTS; i++) {
      const { status, ms } = await login(c.url, email, password);
      frozen.push(status);
      t.true(ms < 3_000, `answered in ${ms} ms while Redis is frozen`);
    }
    t.deepEqual(frozen, [...Array(AUTH_ATTEMPTS).fill(200), 429], 'counted by C alone meanwhile');
  } finally {
    redisLink!.restore();
  }
});
