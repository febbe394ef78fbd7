// One cart driven from two real nodes at once: the compare-and-set keeps it single-writer, so every accepted
// command is in the final version and quantity, the journal has no gap, and a refused one left no trace.
import test from '../helpers/cluster-test.ts';
import { guestToken, ok } from '../helpers/app.ts';
import type { ServerChild } from '../helpers/child.ts';
import { ClusterLab, emitAck } from '../helpers/cluster.ts';

const lab = new ClusterLab();
let a: ServerChild;
let b: ServerChild;

lab.install(test, async () => {
  [a, b] = await lab.cluster(2);
});

test('40 concurrent cart:addItem split over two nodes: version = 1 + accepted, quantity = accepted, no update lost', async (t) => {
  const productId = await lab.insertProduct(1000, 100);
  const token = await guestToken(a.url);
  // Several connections per node, so the commands also race inside each node, not only across them.
  const sockets = [await lab.store(a, token), await lab.store(b, token), await lab.store(a, token), await lab.store(b, token)];
  const { cart } = await ok(sockets[0]!, 'cart:create', {});

  const commands = 40;
  const acks = await Promise.all(
    Array.from({ length: commands }, (_, i) => emitAck(sockets[i % sockets.length]!, 'cart:addItem', { cartId: cart.id, productId, quantity: 1 }, 60_000)),
  );

  t.true(
    acks.every((ack) => ack !== undefined),
    'every command is answered',
  );
  const accepted = acks.filter((ack) => ack?.ok) as Array<{ ok: true; data: { cart: { version: number; itemCount: number } } }>;
  const refused = acks.filter((ack) => ack && !ack.ok) as Array<{ ok: false; error: { code: string } }>;
  // The only acceptable refusal is CONFLICT (lost the compare-and-set after every retry).
  t.deepEqual(
    [...new Set(refused.map((ack) => ack.error.code))].filter((code) => code !== 'CONFLICT'),
    [],
  );
  const viaA = acks.filter((ack, i) => ack?.ok && i % 2 === 0).length;
  t.log(`${accepted.length} accepted (${viaA} via A, ${accepted.length - viaA} via B), ${refused.length} CONFLICT`);
  t.true(accepted.length > 0);

  // Every accepted command got its own version: no two acks claim the same write.
  const versions = accepted.map((ack) => ack.data.cart.version).sort((x, y) => x - y);
  t.is(new Set(versions).size, accepted.length);
  t.deepEqual(
    versions,
    Array.from({ length: accepted.length }, (_, i) => i + 2),
  );
  // Each ack's quantity is its version - 1: every write saw all the writes before it.
  for (const ack of accepted) t.is(ack.data.cart.itemCount, ack.data.cart.version - 1);

  // PostgreSQL: the final version and quantity count exactly the accepted commands.
  const row = await lab.actor(cart.id);
  t.is(row?.version, 1 + accepted.length);
  t.is(row?.context.items.length, 1);
  t.is(row?.context.items[0].quantity, accepted.length);
  t.deepEqual(
    await lab.journalVersions(cart.id),
    Array.from({ length: 1 + accepted.length }, (_, i) => i + 1),
  );

  // Both nodes now serve the same, final view.
  for (const socket of [sockets[0]!, sockets[1]!]) {
    const { cart: view } = await ok(socket, 'cart:get', { cartId: cart.id });
    t.is(view.version, 1 + accepted.length);
    t.is(view.itemCount, accepted.length);
  }
});
