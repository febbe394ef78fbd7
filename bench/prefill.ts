// An aged store for the bench: a database with Emporium's schema and `actors` actors (carts and orders at rest,
// as months of traffic leave them) with `journalPerActor` journal rows each, written straight through
// better-sqlite3 in large transactions (about a minute for a million actors and ten million journal rows).
// Run as a child (bench/run.ts): `prefill.ts <json {dir, actors, journalPerActor}>`; answers over IPC.
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrateLatest, openDb } from '../src/kernel/db/db.ts';
import { appMigrations } from '../src/modules/index.ts';
import { serve } from './lib/ipc.ts';

export interface PrefillArgs {
  /** The DATA_DIR to fill: `emporium.sqlite` is created in it. */
  readonly dir: string;
  readonly actors: number;
  readonly journalPerActor: number;
}

/** Creates the schema, then the aged actors; returns the database file's size and how long it took. */
export async function prefill(args: PrefillArgs): Promise<{ file: string; bytes: number; seconds: number; actors: number; journal: number }> {
  const started = performance.now();
  mkdirSync(args.dir, { recursive: true });
  const file = path.join(args.dir, 'emporium.sqlite');
  const knexDb = openDb(file, appMigrations());
  await migrateLatest(knexDb);
  await knexDb.close();

  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144');
  const insertActor = db.prepare(
    `INSERT INTO actors (id, kind, version, machine_version, state, status, owner_id, snapshot, next_deadline_at, created_at, updated_at)
     VALUES (?, ?, ?, 1, ?, 'done', ?, ?, NULL, ?, ?)`,
  );
  const insertJournal = db.prepare('INSERT INTO actor_journal (actor_id, kind, version, event, at) VALUES (?, ?, ?, ?, ?)');
  // A month ago and older: nothing here is due, active, or anyone's current cart.
  const base = Date.now() - 40 * 86_400_000;
  const line = (i: number) => ({ productId: `prod_aged_${String(i % 500).padStart(4, '0')}`, quantity: 1 + (i % 3), unitPrice: 1000 + (i % 900) });
  const chunk = 20_000;
  for (let from = 0; from < args.actors; from += chunk) {
    db.transaction(() => {
      for (let i = from; i < Math.min(args.actors, from + chunk); i++) {
        // Nine carts (expired or checked out) for each order, as browsing outnumbers buying.
        const order = i % 10 === 9;
        const id = `${order ? 'order' : 'cart'}_aged_${String(i).padStart(9, '0')}`;
        const at = base + i * 2;
        const owner = `guest_aged_${String(i).padStart(9, '0')}`;
        const items = [line(i), line(i + 7)];
        const state = order ? 'delivered' : i % 3 === 0 ? 'checkedOut' : 'expired';
        const context = order
          ? { id, customerId: owner, currency: 'EUR', items, total: items.reduce((n, l) => n + l.quantity * l.unitPrice, 0), createdAt: at, updatedAt: at }
          : { id, customerId: owner, currency: 'EUR', items, ttlMs: 86_400_000, expiresAt: at + 86_400_000, createdAt: at, updatedAt: at };
        insertActor.run(id, order ? 'order' : 'cart', args.journalPerActor, state, owner, JSON.stringify({ value: state, context }), at, at);
        for (let v = 1; v <= args.journalPerActor; v++) {
          const event = v === 1 ? { type: 'xstate.init', input: { id, customerId: owner } } : { type: 'ADD_ITEM', ...line(i + v), at: at + v };
          insertJournal.run(id, order ? 'order' : 'cart', v, JSON.stringify(event), at + v);
        }
      }
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const { size } = statSync(file);
  return { file, bytes: size, seconds: (performance.now() - started) / 1000, actors: args.actors, journal: args.actors * args.journalPerActor };
}

if (process.send) {
  serve({
    prefill: (args: PrefillArgs) => prefill(args),
  });
}
