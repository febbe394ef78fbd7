// SQLite's durability setting (SQLITE_SYNCHRONOUS) and the checkpointing worker (SQLITE_CHECKPOINTER): the
// connection runs with the chosen `synchronous`, and the write-ahead log is copied back into the database file by
// the worker while commands keep committing, not by a commit.
import { statSync } from 'node:fs';
import test from 'ava';
import type { Database } from 'better-sqlite3';
import { loadConfig } from '../../src/config.ts';
import type { CartView } from '../../src/protocol/index.ts';
import { connect, eventually, guestToken, ok, startApp, type TestApp } from '../helpers/app.ts';

/** The app's own connection (SQLite: the pool holds exactly one). */
async function connection(app: TestApp): Promise<Database> {
  const client = app.app.db.knex.client as { acquireConnection(): Promise<Database>; releaseConnection(db: Database): Promise<void> };
  const db = await client.acquireConnection();
  await client.releaseConnection(db);
  return db;
}

test('SQLITE_SYNCHRONOUS is validated: normal or full, in any case', (t) => {
  t.is(loadConfig({}, { jwtSecret: 'x'.repeat(32) }).sqliteSynchronous, 'normal');
  t.is(loadConfig({ SQLITE_SYNCHRONOUS: 'FULL' }, { jwtSecret: 'x'.repeat(32) }).sqliteSynchronous, 'full');
  t.throws(() => loadConfig({ SQLITE_SYNCHRONOUS: 'off' }, { jwtSecret: 'x'.repeat(32) }), { message: /SQLITE_SYNCHRONOUS/ });
});

for (const [setting, pragma] of [
  ['normal', 1],
  ['full', 2],
] as const) {
  test(`SQLITE_SYNCHRONOUS=${setting} runs the connection with synchronous=${pragma}, and commands commit`, async (t) => {
    const app = await startApp({ config: { sqliteSynchronous: setting } });
    t.teardown(() => app.stop());
    t.is((await connection(app)).pragma('synchronous', { simple: true }), pragma);
    const store = await connect(app.url, '/store', await guestToken(app.url));
    t.teardown(() => store.close());
    const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', {});
    t.is(cart.version, 1);
  });
}

test('the checkpointing worker copies the log into the database file while the app runs; stop() ends it', async (t) => {
  const app = await startApp({ config: { sqliteCheckpointer: true, cartsPerMinute: 0, maxOpenCarts: 0 } });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : app.stop()));
  const db = await connection(app);
  // The connection only checkpoints past its fallback bound; the worker is what keeps the log short.
  t.is(db.pragma('wal_autocheckpoint', { simple: true }), 20_000);
  const file = db.name;
  const before = statSync(file).size;
  const store = await connect(app.url, '/store', await guestToken(app.url));
  t.teardown(() => store.close());
  // About a megabyte of snapshots and journal rows: far below the fallback bound, so only the worker moves them.
  for (let i = 0; i < 40; i++) {
    const { cart } = await ok<{ cart: CartView }>(store, 'cart:create', { requestId: `wal-${i}` });
    await ok(store, 'cart:addItem', { cartId: cart.id, productId: (await firstProduct(app)).id, quantity: 1 });
  }
  await eventually(() => statSync(file).size > before, 'the database file grows as the worker checkpoints', 10_000, 50);
  await app.stop();
  stopped = true;
  // Stopped cleanly: the last connection's close checkpointed and removed the log.
  t.false(
    (() => {
      try {
        return statSync(`${file}-wal`).size > 0;
      } catch {
        return false;
      }
    })(),
    'no write-ahead log is left behind',
  );
});

let product: { id: string } | undefined;
async function firstProduct(app: TestApp): Promise<{ id: string }> {
  if (!product) {
    const category = await app.app.services.catalog.createCategory({ slug: 'wal', name: 'WAL' });
    product = await app.app.services.catalog.createProduct({ sku: 'WAL-1', name: 'Log', categoryId: category.id, price: 100, onHand: 1000 });
  }
  return product;
}
