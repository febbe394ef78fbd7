// Fresh reads across nodes: on PostgreSQL a node whose cached copy of an actor is stale (another node wrote since)
// judges each event on the stored state, not on its cache. Skipped on SQLite (one writer process, memory trusted).
import test from 'ava';
import { appForTest } from '../helpers/app.ts';

(process.env.TEST_POSTGRES_URL ? test.serial : test.serial.skip)(
  'PostgreSQL: a node with a stale copy judges events on the stored state, not its cache',
  async (t) => {
    const one = await appForTest(t);
    const two = await appForTest(t, { dataDir: one.dataDir });
    const id = 'cart_stalecopy';
    await one.app.runtime.create('cart', id, { id, customerId: 'c1', currency: 'EUR', ttlMs: 3_600_000, at: Date.now() });
    await one.app.runtime.send('cart', id, { type: 'ADD_ITEM', productId: 'p1', quantity: 1, unitPrice: 100 });
    // Node two removes the line; node one still caches it, so REMOVE_ITEM p2 (added by two) looks invalid to its cache.
    await two.app.runtime.send('cart', id, { type: 'ADD_ITEM', productId: 'p2', quantity: 1, unitPrice: 100 });
    const removed = await one.app.runtime.send('cart', id, { type: 'REMOVE_ITEM', productId: 'p2' });
    t.is(removed.version, 4);
    t.deepEqual(
      removed.snapshot.context.items.map((line) => line.productId),
      ['p1'],
    );
  },
);
