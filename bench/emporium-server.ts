// Emporium under test: the real app from createApp() on a temp SQLite folder, in its own process,
// with products that have plenty of stock, a staff token for the warehouse, and over IPC: its heap
// (after full GCs) and the commit time of every stock change of one tracked product (by version and by level).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp } from '../src/app.ts';
import { loadConfig, NO_ABUSE_LIMITS } from '../src/config.ts';
import { heapAfterGc, now } from './lib/clock.ts';
import { serve } from './lib/ipc.ts';
import { profileSql } from './lib/sql-profile.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as {
  products?: number;
  onHand?: number;
  sqlProfile?: boolean;
  /** A number sets STOCK_PUSH_WINDOW_MS; 'default' leaves it unset (the app's default, coalescing on); absent means 0. */
  stockPushWindowMs?: number | 'default';
  /** SQLITE_SYNCHRONOUS: 'normal' (the default) or 'full'. */
  sqliteSynchronous?: 'normal' | 'full';
  /** Use this DATA_DIR (a pre-filled store, bench/prefill.ts) instead of a fresh one; the caller removes it. */
  dataDir?: string;
};
const sqlStats = options.sqlProfile ? profileSql() : undefined;
const productCount = options.products ?? 20;
const onHand = options.onHand ?? 1_000_000;

const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'emporium-bench-'));
const config = loadConfig(
  {
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    SEED_DEMO_DATA: 'false',
    PAYMENT_LATENCY_MS: '0',
    // The abuse limits stay in the path (the command buckets are taken on every command) but never refuse.
    ...NO_ABUSE_LIMITS,
    // The fan-out rows time every stock:changed by its version: coalescing (STOCK_PUSH_WINDOW_MS) is off unless asked
    // for ('default': the app's own default, as the drop row runs).
    ...(options.stockPushWindowMs === 'default' ? {} : { STOCK_PUSH_WINDOW_MS: String(options.stockPushWindowMs ?? 0) }),
    ...(options.sqliteSynchronous ? { SQLITE_SYNCHRONOUS: options.sqliteSynchronous } : {}),
  },
  { jwtSecret: 'bench-secret-bench-secret-bench-secret' },
);
const app = createApp(config);

// Subscribed before start(), so this observer runs first: right after the stock transaction commits,
// before the gateway emits the push. Keyed by the product's stock version, as stock:changed carries it.
const commitTimes = new Map<number, number>();
/** The same commits keyed by the level they left (`available`): the drop row maps a drop's remaining units to it. */
const availableTimes = new Map<number, number>();
let trackedProduct: string | undefined;
app.services.inventory.stockChanged$.subscribe((level) => {
  if (level.productId !== trackedProduct) return;
  const at = now();
  commitTimes.set(level.version, at);
  if (!availableTimes.has(level.available)) availableTimes.set(level.available, at);
});

const started = (async () => {
  const { url } = await app.start();
  const category = await app.services.catalog.createCategory({ slug: 'bench', name: 'Bench' });
  const products: string[] = [];
  for (let i = 0; i < productCount; i++) {
    const product = await app.services.catalog.createProduct({
      sku: `BENCH-${i}`,
      name: `Bench product ${i}`,
      categoryId: category.id,
      price: 1000 + i,
      onHand,
    });
    products.push(product.id);
  }
  const staff = await app.services.auth.upsertAccount({ email: 'bench-staff@example.com', password: 'bench-staff-password', name: 'Bench', role: 'staff' });
  const staffToken = await app.services.auth.issue({ sub: staff.id, role: 'staff', name: staff.name, email: staff.email });
  return {
    url,
    products,
    staffToken,
    /** List price of each product, in minor units (same order as `products`). */
    prices: products.map((_, i) => 1000 + i),
    stockPushWindowMs: config.stockPushWindowMs,
    recommendationsDebounceMs: config.recommendationsDebounceMs,
    sweepIntervalMs: config.sweepIntervalMs,
  };
})();

serve({
  info: () => started,
  heap: () => heapAfterGc(),
  /** CPU time this process used so far (user + system), in ms. */
  cpu: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  },
  liveActors: () => app.runtime.liveCount,
  trackProduct: (productId: string) => {
    trackedProduct = productId;
    commitTimes.clear();
    availableTimes.clear();
    return true;
  },
  commitTimes: () => Object.fromEntries(commitTimes),
  availableTimes: () => Object.fromEntries(availableTimes),
  /** With `sqlProfile`: time spent in each SQL statement so far (and the process's CPU time). */
  sqlStats: () => (sqlStats ? { cpuMs: process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000, statements: sqlStats() } : null),
  clearCommitTimes: () => {
    commitTimes.clear();
    availableTimes.clear();
    return true;
  },
  async stop() {
    await app.stop().catch((error: unknown) => console.error('stop failed', error));
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    setImmediate(() => process.exit(0));
    return true;
  },
});
