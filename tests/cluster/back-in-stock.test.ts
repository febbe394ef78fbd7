// Back in stock on two nodes (one PostgreSQL, one Redis): subscribers connected to either node are notified
// exactly once, whichever node claims them — the node that committed the restock, or both nodes' sweeps racing
// for a return they did not see (stock raised in the database, behind both nodes' backs).
import { call, nextEvent, ok, postJson, record, registerCustomer } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, eventually, sleep } from '../helpers/cluster.ts';
import test from '../helpers/cluster-test.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  [a, b] = await lab.cluster(2);
});

const notices = (productId: string) =>
  lab.count(`select count(*) as n from outbox where type = 'stock.backInStock' and payload::jsonb ->> 'productId' = $1`, [productId]);

async function subscribers(productId: string) {
  const ada = await registerCustomer(a.url, 'Ada');
  const bob = await registerCustomer(b.url, 'Bob');
  const guest = (await postJson<{ token: string; guestId: string }>(`${a.url}/api/auth/guest`, {})).body;
  // Ada on both nodes, Bob on B, the guest on A; each subscribes through a node of its own.
  const sockets = {
    adaOnA: await lab.store(a, ada.token),
    adaOnB: await lab.store(b, ada.token),
    bobOnB: await lab.store(b, bob.token),
    guestOnA: await lab.store(a, guest.token),
  };
  await ok(sockets.adaOnA, 'stock:notify', { productId });
  await ok(sockets.bobOnB, 'stock:notify', { productId });
  await ok(sockets.guestOnA, 'stock:notify', { productId });
  return { ada, bob, guest, sockets };
}

test('a restock committed on node A notifies subscribers on both nodes once', async (t) => {
  const productId = await lab.insertProduct(0);
  const { sockets } = await subscribers(productId);
  const heard = Object.fromEntries(Object.entries(sockets).map(([name, socket]) => [name, record(socket, ['stock:backInStock'])]));
  const arrivals = Object.values(sockets).map((socket) => nextEvent(socket, 'stock:backInStock', () => true, 20_000));

  const warehouse = await lab.warehouse(a, await lab.staffToken(a.url));
  await ok(warehouse, 'stock:restock', { productId, quantity: 4 });
  for (const notice of await Promise.all(arrivals)) t.like(notice, { productId, available: 4 });
  // Both nodes sweep every second: give them a few rounds to (wrongly) notify again.
  await sleep(3_000);
  t.deepEqual(Object.fromEntries(Object.entries(heard).map(([name, log]) => [name, log.length])), { adaOnA: 1, adaOnB: 1, bobOnB: 1, guestOnA: 1 });
  t.is(await notices(productId), 3);
});

test('a return neither node saw is claimed by the sweeps of both nodes racing, each subscription once', async (t) => {
  const productId = await lab.insertProduct(0);
  const { ada, bob, sockets } = await subscribers(productId);
  const heard = Object.fromEntries(Object.entries(sockets).map(([name, socket]) => [name, record(socket, ['stock:backInStock'])]));

  // Behind both nodes' backs: no in-process stock change anywhere, only the sweeps can find it.
  await lab.pg.query('update products set on_hand = 7, stock_version = stock_version + 1 where id = $1', [productId]);
  await eventually(async () => Object.values(heard).every((log) => log.length > 0), 'every socket notified by a sweep', 15_000);
  await sleep(3_000);
  t.deepEqual(Object.fromEntries(Object.entries(heard).map(([name, log]) => [name, log.length])), { adaOnA: 1, adaOnB: 1, bobOnB: 1, guestOnA: 1 });
  t.is(await notices(productId), 3);
  // The customers' e-mails are queued once each (the guest has none).
  const mails = await eventually(async () => {
    const { rows } = await lab.pg.query<{ customer_id: string }>(
      `select customer_id from mail_log where template = 'back-in-stock' and subject like 'Cluster product %'`,
    );
    const mine = rows.filter((row) => row.customer_id === ada.customerId || row.customer_id === bob.customerId);
    return mine.length >= 2 ? mine : undefined;
  }, 'the two e-mails queued');
  t.deepEqual(mails.map((row) => row.customer_id).sort(), [ada.customerId, bob.customerId].sort());

  // Now in stock: asking is refused, on either node.
  const refused = await call(sockets.bobOnB, 'stock:notify', { productId });
  t.like(refused, { ok: false, error: { code: 'CONFLICT', details: { reason: 'IN_STOCK', available: 7 } } });
});
