// Test harness: the real app on port 0 over a real SQLite file in a temp dir, and real socket.io-client clients.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { createApp, type App, type AppOptions } from '../../src/app.ts';
import { loadConfig, NO_ADDRESS_LIMITS, type Config } from '../../src/config.ts';
import type { Ack } from '../../src/protocol/index.ts';

export interface TestApp {
  readonly app: App;
  readonly url: string;
  readonly dataDir: string;
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

const createdDirs = new Set<string>();
// Every temp folder goes when the test worker exits (not earlier: a restart test reopens its folder after a stop).
process.once('exit', () => {
  for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp folder, removed by `cleanup()` or, at the latest, when the test process exits. */
export function tempDir(prefix = 'emporium-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  createdDirs.add(dir);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Config for tests: port 0, quiet logs, a fixed secret, no demo data unless asked. */
export function testConfig(dataDir: string, overrides: Partial<Config> = {}): Config {
  return loadConfig(
    {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      SEED_DEMO_DATA: 'false',
      DATA_DIR: dataDir,
      PAYMENT_LATENCY_MS: '0',
      WEB_DIR: '',
      // Every test client comes from 127.0.0.1: limits per address are off unless a test sets them.
      ...NO_ADDRESS_LIMITS,
    },
    { jwtSecret: 'test-secret-test-secret-test-secret', ...postgresFor(dataDir), ...overrides },
  );
}

/**
 * With TEST_POSTGRES_URL set (a server URL, e.g. postgres://postgres@127.0.0.1:5432/postgres) the whole
 * integration suite runs on PostgreSQL: each data folder gets its own database, so a restart test that
 * reopens a folder reopens its database.
 */
function postgresFor(dataDir: string): Partial<Config> {
  const server = process.env.TEST_POSTGRES_URL;
  if (!server) return {};
  const url = new URL(server);
  url.pathname = `/${postgresDatabaseName(dataDir)}`;
  return { databaseUrl: url.toString() };
}

export function postgresDatabaseName(dataDir: string): string {
  return `emporium_test_${createHash('sha1').update(path.resolve(dataDir)).digest('hex').slice(0, 16)}`;
}

/** Creates the test database of `databaseUrl` if it is PostgreSQL and does not exist yet. */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  if (!/^postgres(ql)?:/.test(databaseUrl)) return;
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  client.on('error', () => undefined); // a failure surfaces through the awaited calls
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount)
      await client.query(`create database "${name}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently
      });
  } finally {
    await client.end();
  }
}

/** Starts the whole app. Pass `dataDir` to reopen an existing database (restart tests). */
export async function startApp(options: { dataDir?: string; config?: Partial<Config>; app?: AppOptions } = {}): Promise<TestApp> {
  const temp = options.dataDir ? undefined : tempDir();
  const dataDir = options.dataDir ?? temp!.dir;
  const config = testConfig(dataDir, options.config);
  await ensureDatabase(config.databaseUrl);
  const app = createApp(config, options.app);
  const { url } = await app.start();
  return {
    app,
    url,
    dataDir,
    databaseUrl: config.databaseUrl,
    stop: async () => {
      await app.stop();
      // A saga step refused by an actor that had not taken it is a broken invariant: it fails the test that caused it.
      if (app.anomalies.total > 0) throw new Error(`saga anomalies: ${JSON.stringify(Object.fromEntries(app.anomalies.byStep()))}`);
    },
  };
}

export async function postJson<T = unknown>(url: string, body: unknown, token?: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

export async function getJson<T = unknown>(url: string, token?: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, body: (await response.json()) as T };
}

export async function guestToken(url: string): Promise<string> {
  const { body } = await postJson<{ token: string }>(`${url}/api/auth/guest`, {});
  return body.token;
}

let accounts = 0;
export async function registerCustomer(url: string, name = 'Test Customer'): Promise<{ token: string; customerId: string; email: string; password: string }> {
  const email = `customer${++accounts}-${process.pid}-${Date.now()}@example.com`;
  const password = 'correct horse battery';
  const { status, body } = await postJson<{ token: string; customer: { id: string } }>(`${url}/api/auth/register`, { email, password, name });
  if (status !== 201) throw new Error(`register failed: ${status} ${JSON.stringify(body)}`);
  return { token: body.token, customerId: body.customer.id, email, password };
}

/** A staff account created through the service, as the create-staff command does. */
export async function staffToken(app: App): Promise<string> {
  const staff = await app.services.auth.upsertAccount({
    email: `staff-${Date.now()}-${++accounts}@example.com`,
    password: 'warehouse-pass',
    name: 'Staff',
    role: 'staff',
  });
  return app.services.auth.issue({ sub: staff.id, role: 'staff', name: staff.name, email: staff.email });
}

/** Opens a real Socket.IO connection and waits for it (or for its connect_error). */
export function connect(url: string, namespace: '/store' | '/warehouse' | string, token: string | undefined): Promise<Socket> {
  const socket = io(url + namespace, { auth: token === undefined ? {} : { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Emits a command and resolves with its ack. */
export function call<T = unknown>(socket: Socket, event: string, payload?: unknown, timeoutMs = 15_000): Promise<Ack<T>> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<Ack<T>>;
}

/** Like `call`, but resolves with `data` and throws on `{ ok: false }`. */
export async function ok<T = any>(socket: Socket, event: string, payload?: unknown): Promise<T> {
  const ack = await call<T>(socket, event, payload);
  if (!ack.ok) throw new Error(`${event} failed: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

/** Resolves with the first `event` payload that satisfies `match`. */
export function nextEvent<T = any>(socket: Socket, event: string, match: (payload: T) => boolean = () => true, timeoutMs = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    const listener = (payload: T) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    socket.on(event, listener);
  });
}

/** Records every payload of the given events, in arrival order. */
export function record(socket: Socket, events: readonly string[]): Array<{ event: string; payload: any }> {
  const log: Array<{ event: string; payload: any }> = [];
  for (const event of events) socket.on(event, (payload: unknown) => log.push({ event, payload }));
  return log;
}

let skus = 0;
/** A product with exactly `onHand` units, in its own category, for tests that count stock. */
export async function createProduct(app: App, options: { onHand: number; price?: number; name?: string }) {
  const n = ++skus;
  const categories = await app.services.catalog.listCategories();
  const category = categories.find((c) => c.slug === 'test') ?? (await app.services.catalog.createCategory({ slug: 'test', name: 'Test' }));
  return app.services.catalog.createProduct({
    sku: `TEST-${process.pid}-${Date.now()}-${n}`,
    name: options.name ?? `Test Product ${n}`,
    categoryId: category.id,
    price: options.price ?? 1000,
    onHand: options.onHand,
  });
}

/** Checks the inventory invariant for every product: reserved == sum(active reservations) <= on_hand. */
export async function inventoryInvariant(app: App): Promise<{ ok: boolean; problems: string[] }> {
  const knex = app.db.knex;
  const products = (await knex('products').select('id', 'on_hand', 'reserved')) as Array<{ id: string; on_hand: number; reserved: number }>;
  const active = (await knex('reservations')
    .select('product_id')
    .sum({ total: 'quantity' })
    .where({ status: 'active' })
    .groupBy('product_id')) as unknown as Array<{
    product_id: string;
    total: number | string;
  }>;
  const sums = new Map(active.map((row) => [row.product_id, Number(row.total)]));
  const problems: string[] = [];
  for (const p of products) {
    const reserved = Number(p.reserved);
    const onHand = Number(p.on_hand);
    if (reserved !== (sums.get(p.id) ?? 0)) problems.push(`${p.id}: reserved ${reserved} != active reservations ${sums.get(p.id) ?? 0}`);
    if (reserved > onHand || reserved < 0 || onHand < 0) problems.push(`${p.id}: reserved ${reserved}, on_hand ${onHand}`);
  }
  return { ok: problems.length === 0, problems };
}

export const TEST_CARD = { cardNumber: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' } as const;
export const DECLINED_CARD = { cardNumber: '4000000000000002', expMonth: 12, expYear: 2099, cvc: '123' } as const;

/**
 * Makes outbox rows undelivered again, as a crash before their delivery would leave them (all rows, or one
 * actor's): every flow gets them anew. Returns how many rows.
 */
export async function replayOutbox(knex: import('knex').Knex, actorId?: string): Promise<number> {
  const rows = knex('outbox');
  if (actorId) rows.where({ actor_id: actorId });
  const seqs = ((await rows.clone().select('seq')) as Array<{ seq: number | string }>).map((row) => Number(row.seq));
  await knex('outbox_deliveries').whereIn('seq', seqs).del();
  return rows.update({ dispatched_at: null, fanned_out_at: null });
}

/**
 * Starts the app for one test and stops it in the test's teardown. The test may stop it first (a restart
 * test, a shutdown test): stop() runs once. A stop that fails, saga anomalies included, fails the test.
 */
export async function appForTest(t: ExecutionContext, options: Parameters<typeof startApp>[0] = {}): Promise<TestApp> {
  const started = await startApp(options);
  let stopped: Promise<void> | undefined;
  const app: TestApp = { ...started, stop: () => (stopped ??= started.stop()) };
  t.teardown(() => app.stop());
  return app;
}

/** A connected socket on `namespace`, closed in the test's teardown (before the app it talks to stops). */
export async function socketForTest(t: ExecutionContext, url: string, namespace: '/store' | '/warehouse', token: string): Promise<Socket> {
  const socket = await connect(url, namespace, token);
  t.teardown(() => {
    socket.close();
  });
  return socket;
}

/** A data folder removed in the test's teardown (after the apps on it stopped: teardowns run last-registered first). */
export function folderForTest(t: ExecutionContext, prefix = 'emporium-test-'): string {
  const temp = tempDir(prefix);
  t.teardown(() => temp.cleanup());
  return temp.dir;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function eventually<T>(
  check: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  what: string,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(everyMs);
  }
}
