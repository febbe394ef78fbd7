// Row 5, in-process (run with --expose-gc): heap per live actor and the rate of rehydration from cold.
//   raw reference: a bare XState cart snapshot (initialTransition) per id in a Map; rehydration by a prepared
//   better-sqlite3 SELECT + JSON.parse + machine.resolveState.
//   Emporium: carts created through app.runtime.create (createApp on a temp SQLite folder), then passivated and
//   brought back with runtime.get / runtime.send.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { initialTransition } from 'xstate';
import { createApp } from '../src/app.ts';
import { loadConfig, NO_ABUSE_LIMITS } from '../src/config.ts';
import { newId } from '../src/domain/ids.ts';
import { cartMachine } from '../src/modules/cart/cart.machine.ts';
import { heapAfterGc, mapLimit, now } from './lib/clock.ts';
import { serve } from './lib/ipc.ts';

export interface MemoryArgs {
  /** Ascending live-actor counts to measure at (10,000 and 100,000 in the full run). */
  readonly counts: readonly number[];
  /** Actors brought back from cold for the rehydration rate. */
  readonly rehydrate: number;
}

const TTL = 86_400_000;
// Real-looking ids (prefix + 32 hex digits), as the services make them.
const input = (id: string) => ({ id, customerId: newId('guest'), currency: 'EUR', ttlMs: TTL, at: Date.now() });

async function rawSnapshots(counts: readonly number[]) {
  const results: Array<{ count: number; bytesPerActor: number }> = [];
  for (const count of counts) {
    const before = await heapAfterGc();
    let map: Map<string, unknown> | undefined = new Map();
    for (let i = 0; i < count; i++) {
      const id = newId('cart');
      const [snapshot] = initialTransition(cartMachine, input(id));
      // Serialized once, as persisting it would: that flattens V8's cons strings (the ids) in place, and
      // Emporium's actors have been through it too, so both sides hold their strings in the same form.
      JSON.stringify({ id, value: snapshot.value, context: snapshot.context });
      map.set(id, snapshot);
    }
    const after = await heapAfterGc();
    results.push({ count: map.size, bytesPerActor: (after.heapUsed - before.heapUsed) / count });
    map = undefined;
  }
  return results;
}

async function run(args: MemoryArgs) {
  const raw = await rawSnapshots(args.counts);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'emporium-bench-mem-'));
  const config = loadConfig(
    { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', SEED_DEMO_DATA: 'false', PASSIVATE_AFTER_MS: '3600000', ...NO_ABUSE_LIMITS },
    { jwtSecret: 'bench-secret-bench-secret-bench-secret' },
  );
  const app = createApp(config);
  await app.start();
  try {
    // Warm-up (statement caches, JIT), then forget those actors: the baseline holds none.
    await mapLimit(
      Array.from({ length: 200 }, () => newId('cart')),
      50,
      (id) => app.runtime.create('cart', id, input(id)),
    );
    app.runtime.passivate(0);
    const base = await heapAfterGc();

    const emporium: Array<{ count: number; bytesPerActor: number; externalPerActor: number; createPerSecond: number; live: number }> = [];
    const ids: string[] = [];
    for (const count of args.counts) {
      const fresh = Array.from({ length: count - ids.length }, () => newId('cart'));
      const started = now();
      await mapLimit(fresh, 64, (id) => app.runtime.create('cart', id, input(id)));
      const seconds = (now() - started) / 1000;
      ids.push(...fresh);
      const heap = await heapAfterGc();
      emporium.push({
        count,
        bytesPerActor: (heap.heapUsed - base.heapUsed) / count,
        externalPerActor: (heap.external - base.external) / count,
        createPerSecond: fresh.length / seconds,
        live: app.runtime.liveCount,
      });
    }

    // Rehydration from cold: every actor leaves memory, then N of them come back.
    const sample = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / args.rehydrate)) === 0).slice(0, args.rehydrate);
    const timed = async (work: (id: string) => Promise<unknown>) => {
      app.runtime.passivate(0);
      await heapAfterGc();
      const started = now();
      await mapLimit(sample, 64, work);
      const seconds = (now() - started) / 1000;
      return { actors: sample.length, seconds, perSecond: sample.length / seconds };
    };
    const get = await timed(async (id) => {
      if (!(await app.runtime.get('cart', id))) throw new Error(`cart ${id} is missing`);
    });
    const send = await timed((id) => app.runtime.send('cart', id, { type: 'SET_QUANTITY', productId: 'p1', quantity: 1, unitPrice: 1000 }));

    // Raw rehydration: a second (read-only) connection to the same file.
    const db = new Database(config.databaseUrl, { readonly: true });
    const select = db.prepare('SELECT snapshot FROM actors WHERE id = ?');
    const rawStarted = now();
    let sink = 0;
    for (const id of sample) {
      const row = select.get(id) as { snapshot: string };
      const snapshot = cartMachine.resolveState(JSON.parse(row.snapshot) as never);
      sink += snapshot.context.items.length;
    }
    const rawSeconds = (now() - rawStarted) / 1000;
    db.close();
    const rawGet = { actors: sample.length, seconds: rawSeconds, perSecond: sample.length / rawSeconds, sink };

    return { raw, emporium, rehydrate: { get, send, rawGet } };
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

serve({
  run: (args: MemoryArgs) => run(args),
});
