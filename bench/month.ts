// A month of traffic on the real app, and how large the SQLite database is at the end of it, with and without
// retention (src/kernel/retention.ts, docs/OPERATIONS.md "Retention"). createApp() on the caller's DATA_DIR with a
// clock this file moves an hour at a time; guests call the services directly (no sockets): each creates a cart
// (with a requestId, so an idempotency record too) and adds 1–3 lines; about one in ten checks out and pays, the
// others abandon their cart, which expires after CART_TTL_MS (1 day). After every hour: a sweep (deadlines, outbox),
// a relay drain and, with `retention`, a retention pass with the app's default windows (outbox 1 day, idempotency
// 7 days, cart journals 7 days). The same seed gives both settings the same traffic.
// Run as a child (bench/run.ts): `run` answers over IPC. By hand: `npx tsx bench/month.ts --self-test [--days N] [--visitors N]`.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type App, createApp } from '../src/app.ts';
import { loadConfig, NO_ABUSE_LIMITS } from '../src/config.ts';
import { newId } from '../src/domain/ids.ts';
import type { Identity } from '../src/domain/identity.ts';
import type { RetentionReport } from '../src/kernel/retention.ts';
import { serve } from './lib/ipc.ts';

export interface MonthArgs {
  /** Simulated days (30: a month). */
  readonly days: number;
  readonly visitorsPerDay: number;
  /** Run a retention pass after every simulated hour (else never). */
  readonly retention: boolean;
  /** An empty DATA_DIR the caller creates and removes: `emporium.sqlite` is created in it. */
  readonly dir: string;
}

/** Row counts at the end of the month. */
export interface MonthRows {
  readonly actors: number;
  readonly actor_journal: number;
  readonly outbox: number;
  readonly outbox_deliveries: number;
  readonly idempotency_keys: number;
  /** One row per cart whose journal retention compacted (grows only with retention). */
  readonly actor_journal_compactions: number;
}

export interface MonthResult {
  readonly days: number;
  readonly visitorsPerDay: number;
  readonly retention: boolean;
  /** Size of `emporium.sqlite` after a TRUNCATE checkpoint (the WAL is empty then): what the disk holds. */
  readonly fileBytes: number;
  /** (page_count - freelist_count) * page_size: the pages holding rows. Deleted rows free pages; the file keeps them. */
  readonly usedBytes: number;
  readonly pages: { readonly count: number; readonly free: number; readonly size: number };
  readonly rows: MonthRows;
  /** The largest tables and indexes by bytes in use (SQLite's dbstat), largest first. */
  readonly largest: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
  /** What the simulated traffic did. */
  readonly traffic: { readonly visitors: number; readonly lines: number; readonly orders: number };
  /** Actors at the end by kind and state, e.g. `cart.expired` (from the database). */
  readonly actorStates: Readonly<Record<string, number>>;
  /** What every retention pass deleted together (zeros without retention). */
  readonly pruned: { readonly outboxRows: number; readonly outboxDeliveries: number; readonly idempotencyKeys: number; readonly journalEntries: number };
  /** Wall-clock time of the whole simulation, start to measurement. */
  readonly seconds: number;
}

const HOUR = 3_600_000;
const PRODUCTS = 20;
const CONCURRENCY = 8;
const CHECKOUT_SHARE = 0.1;
const CARD = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' } as const;
const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' } as const;
const COUNTED = ['actors', 'actor_journal', 'outbox', 'outbox_deliveries', 'idempotency_keys', 'actor_journal_compactions'] as const;

/** A small seeded generator (mulberry32): the same traffic for both settings. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Runs `work` over `items`, `limit` at once; on the first failure no new item starts, and it rejects once every running one has ended. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
      while (!failure && next < items.length) {
        const item = items[next++]!;
        try {
          await work(item);
        } catch (error) {
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw failure.error;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

function checkArgs(args: MonthArgs): void {
  if (!args || typeof args !== 'object') throw new Error('simulateMonth: expected { days, visitorsPerDay, retention, dir }');
  if (!Number.isInteger(args.days) || args.days < 1) throw new Error(`simulateMonth: days must be a positive integer (got ${args.days})`);
  if (!Number.isInteger(args.visitorsPerDay) || args.visitorsPerDay < 1) {
    throw new Error(`simulateMonth: visitorsPerDay must be a positive integer (got ${args.visitorsPerDay})`);
  }
  if (typeof args.retention !== 'boolean') throw new Error(`simulateMonth: retention must be true or false (got ${args.retention})`);
  if (typeof args.dir !== 'string' || args.dir === '') throw new Error('simulateMonth: dir (the DATA_DIR to use) is required');
}

/** Simulates `days` days of `visitorsPerDay` guests on the real app in `dir`, then measures the database. */
export async function simulateMonth(args: MonthArgs): Promise<MonthResult> {
  checkArgs(args);
  const started = performance.now();
  const config = loadConfig(
    {
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: args.dir,
      LOG_LEVEL: 'warn',
      SEED_DEMO_DATA: 'false',
      PAYMENT_LATENCY_MS: '0',
      ...NO_ABUSE_LIMITS,
      // Nothing runs on a timer: this file sweeps and prunes at each simulated hour (the longest interval Node allows).
      RETENTION_INTERVAL_MS: '0',
      SWEEP_INTERVAL_MS: String(2 ** 31 - 1),
    },
    { jwtSecret: 'bench-secret-bench-secret-bench-secret' },
  );
  // Real time goes on underneath (ids, ordering), moved forward an hour at a time.
  let offset = 0;
  const clock = () => Date.now() + offset;
  const failed = (where: string, error: unknown) =>
    new Error(`month simulation failed (${args.days} days x ${args.visitorsPerDay} visitors, retention ${args.retention}) at ${where}: ${message(error)}`, {
      cause: error,
    });
  let app: App;
  try {
    app = createApp(config, { clock });
  } catch (error) {
    throw failed('creating the app', error);
  }
  const traffic = { visitors: 0, lines: 0, orders: 0 };
  const pruned = { outboxRows: 0, outboxDeliveries: 0, idempotencyKeys: 0, journalEntries: 0 };
  let where = 'starting the app';
  let outcome: { error: unknown } | undefined;
  try {
    await app.start();
    where = 'seeding products';
    const products = await seed(app);
    const rng = random(20_240_601);

    /** One hour's housekeeping: every due deadline (the sweep takes 200 at a time), the outbox, then retention. */
    const housekeeping = async () => {
      await app.sweep();
      while ((await app.runtime.sweepDeadlines()) > 0) {}
      await app.relay.drain();
      if (args.retention) tally(pruned, await app.retention.runOnce());
    };

    for (let day = 0; day < args.days; day++) {
      for (let hour = 0; hour < 24; hour++) {
        where = `day ${day + 1}, hour ${hour}`;
        // This hour's share of the day's visitors, spread evenly.
        const from = Math.floor((hour * args.visitorsPerDay) / 24);
        const to = Math.floor(((hour + 1) * args.visitorsPerDay) / 24);
        const visits = Array.from({ length: to - from }, (_, i) => ({
          id: `${day}-${from + i}`,
          lines: 1 + Math.floor(rng() * 3),
          first: Math.floor(rng() * PRODUCTS),
          buys: rng() < CHECKOUT_SHARE,
        }));
        await eachLimited(visits, CONCURRENCY, (visit) => visitor(app, products, visit, traffic));
        offset += HOUR;
        await housekeeping();
      }
    }
    where = 'the last sweep';
    await housekeeping();
  } catch (error) {
    outcome = { error };
  } finally {
    await app.stop().catch((error: unknown) => {
      if (outcome) return;
      outcome = { error };
      where = 'stopping the app';
    });
  }
  if (outcome) throw failed(where, outcome.error);

  let measured: ReturnType<typeof measure>;
  try {
    measured = measure(config.databaseUrl);
  } catch (error) {
    throw failed('measuring the database', error);
  }
  return {
    days: args.days,
    visitorsPerDay: args.visitorsPerDay,
    retention: args.retention,
    ...measured,
    traffic,
    pruned,
    seconds: (performance.now() - started) / 1000,
  };
}

async function seed(app: App): Promise<string[]> {
  const category = await app.services.catalog.createCategory({ slug: 'month', name: 'Month' });
  const ids: string[] = [];
  for (let i = 0; i < PRODUCTS; i++) {
    const product = await app.services.catalog.createProduct({
      sku: `MONTH-${i}`,
      name: `Month product ${i}`,
      categoryId: category.id,
      price: 1000 + i,
      onHand: 10_000_000,
    });
    ids.push(product.id);
  }
  return ids;
}

/** One guest: a cart with `lines` products (1 or 2 of each); checks out and pays when `buys`, else walks away. */
async function visitor(
  app: App,
  products: readonly string[],
  visit: { id: string; lines: number; first: number; buys: boolean },
  traffic: { visitors: number; lines: number; orders: number },
): Promise<void> {
  const identity: Identity = { sub: newId('guest'), role: 'guest', name: 'Guest' };
  const { carts, checkout, orders } = app.services;
  const cart = await carts.create(identity, `create-${visit.id}`);
  for (let line = 0; line < visit.lines; line++) {
    // Distinct products: the first, then every seventh after it.
    await carts.addItem(identity, cart.id, products[(visit.first + line * 7) % products.length]!, 1 + ((visit.first + line) % 2));
  }
  traffic.visitors++;
  traffic.lines += visit.lines;
  if (!visit.buys) return;
  const order = await checkout.checkout(identity, cart.id, `checkout-${visit.id}`, ADDRESS);
  const paid = await orders.pay(identity, order.id, `pay-${visit.id}`, CARD);
  if (paid.state !== 'paid' && paid.state !== 'fulfilling') throw new Error(`order ${order.id} is ${paid.state} after paying`);
  traffic.orders++;
}

function tally(into: { outboxRows: number; outboxDeliveries: number; idempotencyKeys: number; journalEntries: number }, report: RetentionReport): void {
  if (report.failed.length > 0) throw new Error(`retention pass failed: ${report.failed.join(', ')} (the app's log has the error)`);
  into.outboxRows += report.outboxRows;
  into.outboxDeliveries += report.outboxDeliveries;
  into.idempotencyKeys += report.idempotencyKeys;
  into.journalEntries += report.journalEntries;
}

/** After the app closed its connection: checkpoints the WAL into the file (and empties it), then reads sizes and counts. Never vacuums. */
function measure(file: string): Pick<MonthResult, 'fileBytes' | 'usedBytes' | 'pages' | 'rows' | 'largest' | 'actorStates'> {
  const db = new Database(file);
  try {
    const checkpoint = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    if (checkpoint[0]?.busy) throw new Error(`the WAL of ${file} could not be checkpointed (busy): is another connection open?`);
    const pragma = (name: string) => Number(db.pragma(name, { simple: true }));
    const pages = { count: pragma('page_count'), free: pragma('freelist_count'), size: pragma('page_size') };
    const rows = Object.fromEntries(
      COUNTED.map((table) => [table, Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n)]),
    ) as unknown as MonthRows;
    const states = db.prepare('SELECT kind, state, count(*) AS n FROM actors GROUP BY kind, state ORDER BY kind, state').all() as Array<{
      kind: string;
      state: string;
      n: number;
    }>;
    const actorStates = Object.fromEntries(states.map((row) => [`${row.kind}.${row.state}`, Number(row.n)]));
    let largest: Array<{ name: string; bytes: number }> = [];
    try {
      largest = db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 8').all() as typeof largest;
    } catch {
      // A better-sqlite3 built without the dbstat table: the totals are enough.
    }
    return { fileBytes: statSync(file).size, usedBytes: (pages.count - pages.free) * pages.size, pages, rows, largest, actorStates };
  } finally {
    db.close();
  }
}

async function selfTest(): Promise<void> {
  const option = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name);
    const value = at < 0 ? fallback : Number(process.argv[at + 1]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
    return value;
  };
  const days = option('--days', 3);
  const visitorsPerDay = option('--visitors', 20);
  const results: MonthResult[] = [];
  for (const retention of [false, true]) {
    const dir = mkdtempSync(path.join(tmpdir(), 'emporium-bench-month-'));
    try {
      results.push(await simulateMonth({ days, visitorsPerDay, retention, dir }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(JSON.stringify(results, null, 2));
}

if (process.send) {
  serve({
    run: (args: MonthArgs) => simulateMonth(args),
  });
} else if (process.argv.includes('--self-test')) {
  selfTest().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
