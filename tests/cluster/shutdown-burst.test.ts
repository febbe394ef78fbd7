// Graceful shutdown under load: a few hundred commands in flight on many sockets when the node gets SIGTERM, and a
// client that reads slowly. Every command is answered (done, or refused with UNAVAILABLE) before the client is told
// `io server disconnect`; nothing the node committed goes unacknowledged, nothing refused was committed (checked in
// PostgreSQL), and the node waits for a slow reader to take its answers instead of dropping them.
import test from '../helpers/cluster-test.ts';
import type { Socket } from 'socket.io-client';
import { nextEvent, ok, TEST_CARD } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, emitAck, eventually, guests, sleep, notReady } from '../helpers/cluster.ts';
import type { Ack } from '../../src/protocol/index.ts';

const SOCKETS = 40;
const COMMANDS_PER_SOCKET = 8; // 6 × cart:addItem, 2 × cart:create, none with a requestId

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  // One node per test: each test stops its own. A's payments take 1.5 s, so one in flight holds its shutdown open.
  a = await lab.node('node-a', { PAYMENT_LATENCY_MS: '1500' });
  b = await lab.node('node-b');
});

/** Waits for the child to exit, or reports it still running after `ms`. */
async function exitOf(child: ServerChild, ms = 30_000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([child.exited, new Promise((resolve) => (timer = setTimeout(() => resolve({ code: `still running after ${ms} ms` }), ms)))]);
  clearTimeout(timer);
  return exit;
}

/** The versions of the ADD_ITEM entries in each cart's journal. */
async function addItemVersions(cartIds: readonly string[]): Promise<Map<string, Set<number>>> {
  const { rows } = await lab.pg.query<{ actor_id: string; version: number; event: string }>(
    'select actor_id, version, event from actor_journal where actor_id = any($1)',
    [cartIds],
  );
  const journal = new Map<string, Set<number>>(cartIds.map((id) => [id, new Set()]));
  for (const row of rows) {
    if ((JSON.parse(row.event) as { type: string }).type === 'ADD_ITEM') journal.get(row.actor_id)!.add(Number(row.version));
  }
  return journal;
}

const cartsOf = (guestId: string) => lab.count(`select count(*) as n from actors where kind = 'cart' and owner_id = $1`, [guestId]);
const versionOf = (ack: Ack<any> | undefined) => (ack?.ok ? (ack.data as { cart: { version: number } }).cart.version : -1);

interface Sent {
  readonly client: number;
  readonly command: 'cart:addItem' | 'cart:create';
  /** 1: sent before SIGTERM; 2: sent once the node said it was not ready. */
  readonly wave: 1 | 2;
  readonly ack: Promise<{ ack: Ack<any> | undefined; at: number }>;
}

test.serial('SIGTERM mid-burst: every command answered (done or UNAVAILABLE) before io server disconnect, every commit acknowledged', async (t) => {
  const products = await Promise.all([lab.insertProduct(1_000_000), lab.insertProduct(1_000_000), lab.insertProduct(1_000_000)]);
  // A payment in flight (1.5 s at the provider) throughout: commands sent after SIGTERM reach a node still draining.
  const payer = await lab.store(a, (await guests(a.url, 1))[0]!.token);
  const { cart: payerCart } = await ok(payer, 'cart:create', {});
  await ok(payer, 'cart:addItem', { cartId: payerCart.id, productId: products[0]!, quantity: 1 });
  const { order } = await ok(payer, 'cart:checkout', { cartId: payerCart.id, requestId: 'burst-checkout' });
  await ok(payer, 'subscribe', { topic: `order:${order.id}` });
  const authorizing = nextEvent(payer, 'order:updated', (view) => view.id === order.id && view.state === 'authorizing');
  const paid = emitAck(payer, 'order:pay', { orderId: order.id, requestId: 'burst-pay', payment: TEST_CARD }, 30_000);
  await authorizing;
  const identities = await guests(a.url, SOCKETS);
  const clients: Array<{ guestId: string; socket: Socket; cartId: string; reason: Promise<string> }> = [];
  for (const { token, guestId } of identities) {
    const socket = await lab.store(a, token);
    const { cart } = await ok(socket, 'cart:create', {});
    const reason = new Promise<string>((resolve) => socket.once('disconnect', (why) => resolve(why)));
    clients.push({ guestId, socket, cartId: cart.id, reason });
  }

  // The burst: every command of every socket is sent before SIGTERM, none awaited; SIGTERM once 20 are answered.
  let answered = 0;
  let reachedTrigger!: () => void;
  const trigger = new Promise<void>((resolve) => (reachedTrigger = resolve));
  const sent: Sent[] = [];
  for (let k = 0; k < COMMANDS_PER_SOCKET; k++) {
    for (const [client, { socket, cartId }] of clients.entries()) {
      const command = k % 4 === 3 ? 'cart:create' : 'cart:addItem';
      const payload = command === 'cart:create' ? {} : { cartId, productId: products[(client + k) % products.length]!, quantity: 1 };
      const ack = emitAck(socket, command, payload, 30_000).then((response) => {
        if (response && ++answered === 20) reachedTrigger();
        return { ack: response, at: Date.now() };
      });
      sent.push({ client, command, wave: 1, ack });
    }
  }
  await trigger;
  const termAt = Date.now();
  a.kill('SIGTERM');

  // Commands keep coming once the node is draining: each socket sends two more. They are refused, and answered.
  await eventually(() => notReady(a.url), '/ready answering 503', 2_000, 10);
  for (const [client, { socket, cartId }] of clients.entries()) {
    for (const command of ['cart:addItem', 'cart:create'] as const) {
      const payload = command === 'cart:create' ? {} : { cartId, productId: products[client % products.length]!, quantity: 1 };
      sent.push({ client, command, wave: 2, ack: emitAck(socket, command, payload, 30_000).then((response) => ({ ack: response, at: Date.now() })) });
    }
  }

  const results = await Promise.all(sent.map(async (s) => ({ ...s, ...(await s.ack) })));
  const reasons = await Promise.all(clients.map((client) => client.reason));
  const exit = await exitOf(a);

  const unanswered = results.filter((r) => r.ack === undefined);
  const done = results.filter((r) => r.ack?.ok === true);
  const refused = results.filter((r) => r.ack?.ok === false);
  const afterTerm = results.filter((r) => r.ack !== undefined && r.at >= termAt);
  t.log(
    `${results.length} commands: ${done.length} done, ${refused.length} refused, ${unanswered.length} unanswered; ${afterTerm.length} answered after SIGTERM`,
  );

  t.deepEqual(exit, { code: 0, signal: null }, a.stderr().slice(-2000));
  t.is(unanswered.length, 0, `unanswered: ${unanswered.map((r) => `${r.command}@${r.client}`).join(', ')}`);
  for (const r of refused) t.is(r.ack?.ok === false ? r.ack.error.code : '', 'UNAVAILABLE', JSON.stringify(r.ack));
  t.deepEqual(results.filter((r) => r.wave === 2 && r.ack?.ok !== false).length, 0, 'a command sent after /ready said 503 was not refused');
  const payment = await paid;
  t.true(payment?.ok && ['paid', 'fulfilling'].includes(payment.data.order.state), JSON.stringify(payment));
  t.true(afterTerm.length > 0, 'SIGTERM came after the burst was over: nothing was in flight');
  t.deepEqual(
    reasons.filter((reason) => reason !== 'io server disconnect'),
    [],
    `disconnect reasons: ${reasons.join(', ')}`,
  );
  t.false(/shutdown grace ran out/.test(a.stderr()), a.stderr().slice(-2000));

  // What PostgreSQL holds is exactly what was acknowledged.
  const journal = await addItemVersions(clients.map((client) => client.cartId));
  for (const [client, { cartId, guestId }] of clients.entries()) {
    const mine = results.filter((r) => r.client === client);
    const addsDone = mine.filter((r) => r.command === 'cart:addItem' && r.ack?.ok);
    const versions = journal.get(cartId)!;
    t.is(versions.size, addsDone.length, `cart ${cartId}: ${versions.size} ADD_ITEM in the journal, ${addsDone.length} acknowledged`);
    for (const r of addsDone) t.true(versions.has(versionOf(r.ack)), `cart ${cartId}: acknowledged version ${versionOf(r.ack)} is not in the journal`);
    const createsDone = mine.filter((r) => r.command === 'cart:create' && r.ack?.ok);
    const carts = await cartsOf(guestId);
    t.is(carts, 1 + createsDone.length, `guest ${guestId}: ${carts} carts stored, ${1 + createsDone.length} acknowledged`);
    for (const r of createsDone) {
      const id = r.ack?.ok ? (r.ack.data as { cart: { id: string } }).cart.id : '';
      t.truthy(await lab.actor(id), `acknowledged cart ${id} is not stored`);
    }
  }
});

test.serial('SIGTERM while a client reads slowly: the node waits for it to take every answer, then disconnects it', async (t) => {
  // A client whose answers pile up on the server: megabytes of `carts:list` answers it has not read yet, with its
  // last commands' answers queued behind them (fifty full carts of one guest: one built, 49 cloned in PostgreSQL).
  const { token, guestId } = (await guests(b.url, 1))[0]!;
  const socket = await lab.store(b, token);
  const products = await Promise.all(Array.from({ length: 50 }, () => lab.insertProduct(1_000_000)));
  const { cart: full } = await ok(socket, 'cart:create', {});
  for (const productId of products) await ok(socket, 'cart:addItem', { cartId: full.id, productId, quantity: 1 });
  for (let i = 0; i < 49; i++) {
    await lab.pg.query(
      `insert into actors (id, kind, version, machine_version, state, status, owner_id, snapshot, next_deadline_at, created_at, updated_at)
       select $2::text, kind, version, machine_version, state, status, owner_id, replace(snapshot, $1::text, $2::text), next_deadline_at, created_at, updated_at
       from actors where id = $1::text`,
      [full.id, `${full.id}x${i}`],
    );
  }
  const { cart } = await ok(socket, 'cart:create', {});
  const answerBytes = JSON.stringify(await ok(socket, 'carts:list', {})).length;
  const reason = new Promise<string>((resolve) => socket.once('disconnect', (why) => resolve(why)));

  // Stop reading (the client's TCP socket is paused), then send the commands.
  const tcp = (socket.io.engine.transport as unknown as { ws?: { _socket?: { pause(): void; resume(): void } } }).ws?._socket;
  if (!tcp) return t.fail('no TCP socket under the WebSocket transport');
  tcp.pause();
  const lists = Array.from({ length: Math.ceil(8_000_000 / answerBytes) }, () => emitAck(socket, 'carts:list', {}, 60_000));
  const adds = products.slice(0, 6).map((productId) => emitAck(socket, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 }, 60_000));
  const create = emitAck(socket, 'cart:create', {}, 60_000);
  // Every command has run once its change is in PostgreSQL; its answer is then queued behind the listings.
  await eventually(
    async () => (await addItemVersions([cart.id])).get(cart.id)!.size === adds.length && (await cartsOf(guestId)) === 52,
    'the commands to run',
    15_000,
    50,
  );
  await sleep(200);

  b.kill('SIGTERM');
  await sleep(1_500); // the node refuses new commands now, and waits for this client
  t.false(b.hasExited(), 'the node left before its client had read its answers');
  tcp.resume();

  const answers = await Promise.all([...lists, ...adds, create]);
  t.log(`${lists.length} listings of ${Math.round(answerBytes / 1024)} KiB queued ahead of ${adds.length + 1} changes`);
  t.is(answers.filter((ack) => ack === undefined).length, 0, 'unanswered commands');
  t.true(
    answers.every((ack) => ack?.ok),
    JSON.stringify(answers.find((ack) => !ack?.ok)),
  );
  t.is(await reason, 'io server disconnect');
  t.deepEqual(await exitOf(b), { code: 0, signal: null }, b.stderr().slice(-2000));
  const versions = (await addItemVersions([cart.id])).get(cart.id)!;
  for (const ack of await Promise.all(adds)) t.true(versions.has(versionOf(ack)), `acknowledged version ${versionOf(ack)} is not in the journal`);
});
