// `stock:changed` under a rush: 50 restocks of one product in a burst reach a `product:<id>` watcher as a few
// pushes, versions strictly rising, the last level always among them — while the in-process stream
// (`InventoryService.stockChanged$`, which the back-in-stock trigger reads) still sees every change. With
// STOCK_PUSH_WINDOW_MS=0 every change is pushed.
import test from 'ava';
import type { StockChanged } from '../../src/protocol/index.ts';
import { appForTest, createProduct, guestToken, ok, record, socketForTest, staffToken, type TestApp } from '../helpers/app.ts';

async function rush(t: Parameters<typeof appForTest>[0], app: TestApp, restocks: number) {
  const product = await createProduct(app.app, { onHand: 0 });
  const watcher = await socketForTest(t, app.url, '/store', await guestToken(app.url));
  const warehouse = await socketForTest(t, app.url, '/warehouse', await staffToken(app.app));
  const { view } = await ok<{ view: { version: number; available: number } }>(watcher, 'subscribe', { topic: `product:${product.id}` });
  const pushes = record(watcher, ['stock:changed']);
  const inProcess: number[] = [];
  const tap = app.app.services.inventory.stockChanged$.subscribe((level) => {
    if (level.productId === product.id) inProcess.push(level.version);
  });
  t.teardown(() => tap.unsubscribe());

  const started = performance.now();
  const acks = await Promise.all(
    Array.from({ length: restocks }, () => ok<{ stock: StockChanged }>(warehouse, 'stock:restock', { productId: product.id, quantity: 1 })),
  );
  const elapsedMs = performance.now() - started;
  const last = Math.max(...acks.map((ack) => ack.stock.version));
  // The last level always arrives (a leading push may even beat its ack): wait for it in what was recorded.
  const levels = () => pushes.map((p) => p.payload as StockChanged);
  for (const deadline = Date.now() + 5_000; !levels().some((s) => s.version === last); ) {
    if (Date.now() > deadline) throw new Error(`the last level (version ${last}) never arrived: ${JSON.stringify(levels())}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Anything still on its way would arrive within a window: none may come after the last level.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const final = levels().find((s) => s.version === last)!;
  return { product, view, pushes: levels(), inProcess, final, last, elapsedMs };
}

test('50 rapid restocks reach a watcher as a few stock:changed, strictly rising, ending on the last level; in-process subscribers see all 50', async (t) => {
  const app = await appForTest(t);
  t.is(app.app.config.stockPushWindowMs, 100, 'coalesced by default, 100 ms');
  const { view, pushes, inProcess, final, last, elapsedMs } = await rush(t, app, 50);

  t.deepEqual(final, { productId: final.productId, available: 50, onHand: 50, version: last });
  t.is(pushes.at(-1)?.version, last, 'the last push is the last level');
  const versions = [view.version, ...pushes.map((p) => p.version)];
  t.true(
    versions.every((version, i) => i === 0 || version > versions[i - 1]!),
    `versions strictly rising: ${versions.join(', ')}`,
  );
  // One push at once, then at most one per 100 ms window while the rush lasts, plus the trailing one.
  t.true(pushes.length < 50, `${pushes.length} pushes for 50 changes`);
  t.true(pushes.length <= 2 + Math.ceil(elapsedMs / 100), `${pushes.length} pushes in ${Math.round(elapsedMs)} ms`);
  t.log(`${pushes.length} stock:changed for 50 restocks in ${Math.round(elapsedMs)} ms`);
  // Each push carries a real level: available and onHand of that version.
  for (const push of pushes) t.is(push.available, push.version - view.version);

  t.is(inProcess.length, 50, 'stockChanged$ carries every change');
  t.is(new Set(inProcess).size, 50);
});

test('with STOCK_PUSH_WINDOW_MS=0 every stock change is pushed', async (t) => {
  const app = await appForTest(t, { config: { stockPushWindowMs: 0 } });
  const { pushes, last } = await rush(t, app, 20);
  t.is(pushes.length, 20);
  t.is(pushes.at(-1)?.version, last);
  t.deepEqual(
    [...pushes.map((p) => p.version)].sort((a, b) => a - b),
    pushes.map((p) => p.version),
  );
});
