// A limited drop over two real nodes: 10 units, 200 buyers at once split over both nodes, and one buyer trying from
// a socket on each node. Exactly 10 are sold at the drop price, the rest are refused with a clear code, the buyer
// gets at most one, and every watcher sees the drop reach 0 remaining and sold out.
import test from '../helpers/cluster-test.ts';
import type { Socket } from 'socket.io-client';
import { nextEvent, ok } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, emitAck, guestTokens, mapLimit } from '../helpers/cluster.ts';
import type { OfferRemaining, OfferView } from '../../src/protocol/index.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  [a, b] = await lab.cluster(2, { SWEEP_INTERVAL_MS: '200' });
});

test('a drop of 10 units with 200 buyers over two nodes sells exactly 10 at the drop price; one customer gets one from two sockets', async (t) => {
  const quota = 10;
  const productId = await lab.insertProduct(100, 2500);
  const staff = await lab.warehouse(a, await lab.staffToken(a.url));
  const [watcherToken, greedyToken, ...tokens] = await guestTokens(a.url, 202);
  // A watcher on node B follows every offer; their pushes come from whichever node commits.
  const watcher = await lab.store(b, watcherToken!);
  await ok(watcher, 'subscribe', { topic: 'offers' });
  const remaining: OfferRemaining[] = [];
  watcher.on('offer:remaining', (payload: OfferRemaining) => remaining.push(payload));
  const started = nextEvent<OfferView>(watcher, 'offer:started', () => true, 20_000);
  const { offer } = await ok<{ offer: OfferView }>(staff, 'offer:create', {
    sort: 'drop',
    name: 'Cluster drop',
    productId,
    dropPrice: 999,
    quota,
    perCustomerLimit: 1,
    startsAt: Date.now() + 3_000,
  });
  t.is((await started).id, offer.id);

  const prepare = async (socket: Socket) => {
    const { cart } = await ok(socket, 'cart:create', {});
    const added = await ok(socket, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 });
    t.is(added.cart.items[0].unitPrice, 999);
    return { socket, cartId: cart.id as string };
  };
  const buyers = await mapLimit(tokens, 20, async (token, i) => prepare(await lab.store(i % 2 === 0 ? a : b, token)));
  const greedy = [await prepare(await lab.store(a, greedyToken!)), await prepare(await lab.store(b, greedyToken!))];

  // The customer on two nodes at once first: one unit, and LIMIT_REACHED on the other node.
  const greedyAcks = await Promise.all(greedy.map(({ socket, cartId }, i) => emitAck(socket, 'cart:checkout', { cartId, requestId: `greedy-${i}` }, 60_000)));
  t.deepEqual(greedyAcks.map((ack) => (ack?.ok ? 'OK' : ack?.error.code)).sort(), ['LIMIT_REACHED', 'OK']);
  // Then the other 200 all at once, for the units left.
  const acks = [
    ...greedyAcks,
    ...(await Promise.all(buyers.map(({ socket, cartId }, i) => emitAck(socket, 'cart:checkout', { cartId, requestId: `drop-${i}` }, 60_000)))),
  ];
  const codes = new Map<string, number>();
  for (const ack of acks) {
    const code = ack === undefined ? 'NO_ACK' : ack.ok ? 'OK' : ack.error.code;
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  t.log(Object.fromEntries(codes));
  t.is(codes.get('OK'), quota);
  // The losers are told the drop is sold out, or (their cart re-priced by the sell-out first) that the price changed.
  for (const code of codes.keys()) t.true(['OK', 'SOLD_OUT', 'CONFLICT', 'LIMIT_REACHED'].includes(code), code);
  t.true((codes.get('SOLD_OUT') ?? 0) > 0);

  // What PostgreSQL holds: 10 orders of one unit at the drop price, 10 units claimed, none twice by one customer.
  const orders = await lab.pg.query<{ snapshot: string }>(`select snapshot from actors where kind = 'order'`);
  const lines = orders.rows.map((row) => (JSON.parse(row.snapshot) as { context: { items: Array<{ unitPrice: number; offerId: string }> } }).context.items[0]!);
  t.is(lines.length, quota);
  t.true(lines.every((line) => line.unitPrice === 999 && line.offerId === offer.id));
  t.is(await lab.count(`select coalesce(sum(quantity), 0) as n from drop_claims where offer_id = $1 and status = 'held'`, [offer.id]), quota);
  t.is(
    await lab.count(`select count(*) as n from (select customer_id from drop_claims where offer_id = $1 group by customer_id having sum(quantity) > 1) x`, [
      offer.id,
    ]),
    0,
  );
  t.deepEqual(await lab.invariantProblems(), []);

  // Every watcher sees the drop run out.
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !remaining.some((r) => r.remaining === 0 && r.state === 'soldOut')) await new Promise((resolve) => setTimeout(resolve, 100));
  t.true(
    remaining.some((r) => r.remaining === 0 && r.state === 'soldOut'),
    JSON.stringify(remaining.map((r) => [r.remaining, r.state])),
  );
  t.is((await lab.actor(offer.id))?.state, 'soldOut');
});
