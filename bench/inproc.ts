// Row 3, in-process: persisted actor events per second.
//   `raw`:     the ceiling — XState `transition` on the cart machine + JSON.stringify({ value, context }) + one upsert
//              in its own transaction through a prepared better-sqlite3 statement (WAL, synchronous=NORMAL); also the
//              same with the runtime's exact writes (compare-and-set UPDATE + journal INSERT on Emporium's real schema)
//              and XState alone, to tell where the time goes.
//   `runtime`: Emporium's ActorRuntime (createApp on a temp SQLite folder), app.runtime.send(...).
// Both apply the same events: SET_QUANTITY alternating 1 and 2 on a cart that holds three lines, so every event is
// accepted and the snapshot keeps its size. Runs as a child of bench/run.ts; answers one `run` request.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { initialTransition, transition } from 'xstate';
import { createApp, type App } from '../src/app.ts';
import { loadConfig, NO_ABUSE_LIMITS, type Config } from '../src/config.ts';
import { cartMachine } from '../src/modules/cart/cart.machine.ts';
import { migrateLatest, openDb } from '../src/kernel/db/db.ts';
import { appMigrations } from '../src/modules/index.ts';
import { now } from './lib/clock.ts';
import { serve } from './lib/ipc.ts';

export interface InprocArgs {
  readonly durationMs: number;
  readonly warmupMs: number;
  /** The "many actors" case (1,000 in the full run). */
  readonly actors: number;
}

type Snapshot = ReturnType<typeof initialTransition<typeof cartMachine>>[0];

const TTL = 86_400_000;
const LINES = ['p1', 'p2', 'p3'] as const;
const setQuantity = (quantity: number) => ({ type: 'SET_QUANTITY' as const, productId: 'p1', quantity, unitPrice: 1000 });

function newCart(id: string): Snapshot {
  const at = Date.now();
  let [snapshot] = initialTransition(cartMachine, { id, customerId: 'bench', currency: 'EUR', ttlMs: TTL, at });
  for (const productId of LINES) [snapshot] = transition(cartMachine, snapshot, { type: 'SET_QUANTITY', productId, quantity: 1, unitPrice: 1000, at });
  return snapshot;
}

/** Every timed loop stops at its duration or at this many events, whichever comes first. */
const MAX_EVENTS = 5_000_000;

/** Runs `step` synchronously for warm-up, then for `durationMs`; events per second. */
function timedSync(args: InprocArgs, step: (i: number) => void): { events: number; seconds: number; perSecond: number } {
  let i = 0;
  const warmEnd = now() + args.warmupMs;
  while (now() < warmEnd && i < MAX_EVENTS) for (let j = 0; j < 64; j++) step(i++);
  const start = now();
  const end = start + args.durationMs;
  let events = 0;
  let t = start;
  while (t < end && events < MAX_EVENTS) {
    for (let j = 0; j < 64; j++) step(i++);
    events += 64;
    t = now();
  }
  const seconds = (t - start) / 1000;
  return { events, seconds, perSecond: events / seconds };
}

function rawMode(args: InprocArgs) {
  const dir = mkdtempSync(path.join(tmpdir(), 'emporium-bench-raw-'));
  try {
    // --- the ceiling: one upsert on a plain table
    const db = new Database(path.join(dir, 'raw.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(
      'CREATE TABLE actors_raw (id TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL, snapshot TEXT NOT NULL, updated_at INTEGER NOT NULL)',
    );
    const upsert = db.prepare(
      `INSERT INTO actors_raw (id, version, state, snapshot, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET version = excluded.version, state = excluded.state, snapshot = excluded.snapshot, updated_at = excluded.updated_at`,
    );
    const persist = db.transaction((id: string, version: number, state: string, json: string, at: number) => upsert.run(id, version, state, json, at));

    const ceiling = (count: number) => {
      const ids = Array.from({ length: count }, (_, i) => `cart_raw_${count}_${i}`);
      const snapshots = ids.map(newCart);
      const versions = ids.map(() => 4);
      return timedSync(args, (i) => {
        const a = i % count;
        const at = Date.now();
        const [next] = transition(cartMachine, snapshots[a]!, { ...setQuantity(1 + (i & 1)), at });
        const json = JSON.stringify({ value: next.value, context: next.context });
        persist.immediate(ids[a]!, ++versions[a]!, next.value as string, json, at);
        snapshots[a] = next;
      });
    };

    // --- XState alone (no database)
    const xstateOnly = (count: number) => {
      const snapshots = Array.from({ length: count }, (_, i) => newCart(`cart_x_${i}`));
      let sink = 0;
      const result = timedSync(args, (i) => {
        const a = i % count;
        const [next] = transition(cartMachine, snapshots[a]!, { ...setQuantity(1 + (i & 1)), at: Date.now() });
        sink += JSON.stringify({ value: next.value, context: next.context }).length;
        snapshots[a] = next;
      });
      return { ...result, sink };
    };

    const results = {
      ceiling1: ceiling(1),
      ceilingMany: ceiling(args.actors),
      xstate1: xstateOnly(1),
      xstateMany: xstateOnly(args.actors),
    };
    db.close();
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The runtime's exact writes (CAS UPDATE of the snapshot row + journal INSERT, on Emporium's own schema), hand-written. */
async function rawSameWritesMode(args: InprocArgs) {
  const dir = mkdtempSync(path.join(tmpdir(), 'emporium-bench-raw2-'));
  try {
    const file = path.join(dir, 'emporium.sqlite');
    const knexDb = openDb(file, appMigrations());
    await migrateLatest(knexDb);
    await knexDb.close();
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const insert = db.prepare(
      `INSERT INTO actors (id, kind, version, machine_version, state, status, owner_id, snapshot, next_deadline_at, created_at, updated_at)
       VALUES (?, 'cart', ?, 1, ?, 'active', 'bench', ?, ?, ?, ?)`,
    );
    const update = db.prepare(
      `UPDATE actors SET version = ?, machine_version = 1, state = ?, status = 'active', owner_id = 'bench', snapshot = ?, next_deadline_at = ?, updated_at = ?
       WHERE id = ? AND version = ?`,
    );
    const journal = db.prepare(`INSERT INTO actor_journal (actor_id, kind, version, event, at) VALUES (?, 'cart', ?, ?, ?)`);
    const write = db.transaction((id: string, version: number, state: string, json: string, deadline: number, event: string, at: number) => {
      if (update.run(version, state, json, deadline, at, id, version - 1).changes !== 1) throw new Error('lost compare-and-set');
      journal.run(id, version, event, at);
    });
    const run = (count: number) => {
      const ids = Array.from({ length: count }, (_, i) => `cart_rw_${count}_${i}`);
      const snapshots = ids.map(newCart);
      const versions = ids.map(() => 1);
      for (let a = 0; a < count; a++) {
        const s = snapshots[a]!;
        insert.run(
          ids[a]!,
          1,
          s.value as string,
          JSON.stringify({ value: s.value, context: s.context }),
          s.context.expiresAt,
          s.context.createdAt,
          s.context.updatedAt,
        );
      }
      return timedSync(args, (i) => {
        const a = i % count;
        const at = Date.now();
        const event = { ...setQuantity(1 + (i & 1)), at };
        const [next] = transition(cartMachine, snapshots[a]!, event);
        const json = JSON.stringify({ value: next.value, context: next.context });
        write.immediate(ids[a]!, ++versions[a]!, next.value as string, json, next.context.expiresAt, JSON.stringify(event), at);
        snapshots[a] = next;
      });
    };
    const results = { sameWrites1: run(1), sameWritesMany: run(args.actors) };
    db.close();
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The place for group commit: Config's `groupCommit` switch (GROUP_COMMIT). The per-event rows run the runtime with
 * it off, the group-commit rows with it on. Should the switch go away or change name, adapt this one function; when
 * it returns undefined the group-commit rows report n/a and the per-event rows run the default app.
 */
function groupCommitOverrides(config: Config): { readonly off: Partial<Config>; readonly on: Partial<Config> } | undefined {
  if (!('groupCommit' in config)) return undefined;
  return { off: { groupCommit: false } as Partial<Config>, on: { groupCommit: true } as Partial<Config> };
}

async function withApp<T>(overrides: Partial<Config>, work: (app: App) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'emporium-bench-rt-'));
  const config = loadConfig(
    { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', SEED_DEMO_DATA: 'false', PASSIVATE_AFTER_MS: '3600000', ...NO_ABUSE_LIMITS },
    { jwtSecret: 'bench-secret-bench-secret-bench-secret', ...overrides },
  );
  const app = createApp(config);
  await app.start();
  try {
    return await work(app);
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function runtimeEvents(app: App, args: InprocArgs) {
  const count = args.actors;
  const ids = Array.from({ length: count }, (_, i) => `cart_rt_${i}`);
  await Promise.all(
    ids.map(async (id) => {
      await app.runtime.create('cart', id, { id, customerId: 'bench', currency: 'EUR', ttlMs: TTL, at: Date.now() });
      for (const productId of LINES) await app.runtime.send('cart', id, { type: 'SET_QUANTITY', productId, quantity: 1, unitPrice: 1000 });
    }),
  );
  const timed = async (workers: readonly string[]) => {
    let events = 0;
    let phaseEnd = 0;
    let counting = false;
    const loop = async (id: string) => {
      let q = 0;
      while (now() < phaseEnd && q < MAX_EVENTS) {
        await app.runtime.send('cart', id, setQuantity(1 + (q++ & 1)));
        if (counting) events++;
      }
    };
    phaseEnd = now() + args.warmupMs;
    await Promise.all(workers.map(loop));
    counting = true;
    const start = now();
    phaseEnd = start + args.durationMs;
    await Promise.all(workers.map(loop));
    const seconds = (now() - start) / 1000;
    return { events, seconds, perSecond: events / seconds };
  };
  return { one: await timed(ids.slice(0, 1)), many: await timed(ids) };
}

async function runtimeMode(args: InprocArgs) {
  const probe = loadConfig({ DATA_DIR: tmpdir(), JWT_SECRET: 'bench-secret-bench-secret-bench-secret' });
  const overrides = groupCommitOverrides(probe);
  const plain = await withApp(overrides?.off ?? {}, (app) => runtimeEvents(app, args));
  const groupCommit = overrides ? await withApp(overrides.on, (app) => runtimeEvents(app, args)) : null;
  return {
    groupCommitOption: overrides !== undefined,
    runtime1: plain.one,
    runtimeMany: plain.many,
    groupCommit1: groupCommit?.one ?? null,
    groupCommitMany: groupCommit?.many ?? null,
  };
}

serve({
  raw: (args: InprocArgs) => rawMode(args),
  rawSameWrites: (args: InprocArgs) => rawSameWritesMode(args),
  runtime: (args: InprocArgs) => runtimeMode(args),
});
