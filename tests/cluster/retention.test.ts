// Retention on two nodes at once (two apps in this process on one real PostgreSQL database, as two nodes of a cluster
// would be): both prune the same old outbox rows, idempotency records and cart journals at the same moment, in small
// batches. Neither fails, nothing is deleted twice or left behind, every compaction is recorded once in full, and
// PostgreSQL saw no deadlock (each batch locks its rows with SKIP LOCKED, so the nodes take different rows).
import type { Knex } from 'knex';
import test from '../helpers/cluster-test.ts';
import { startApp, type TestApp } from '../helpers/app.ts';
import { startPostgres, type PostgresServer } from '../helpers/services.ts';

const DAY = 86_400_000;
let server: PostgresServer | undefined;

test.before(async () => {
  server = await startPostgres();
});

test.after.always(async () => {
  await server?.stop();
});

const count = async (knex: Knex, table: string, where: Record<string, unknown> = {}): Promise<number> =>
  Number(((await knex(table).where(where).count({ n: '*' }).first()) as { n: number | string } | undefined)?.n ?? 0);

/** What a busy store leaves behind over a week: dispatched events, idempotency records, expired carts with journals. */
async function seedOld(knex: Knex, round: number, sizes: { outbox: number; keys: number; carts: number; entries: number }): Promise<void> {
  const old = Date.now() - 10 * DAY;
  const rows = Array.from({ length: sizes.outbox }, (_, i) => ({
    actor_id: `probe_${round}_${i % 50}`,
    kind: 'probe',
    type: 'probe.happened',
    payload: '{}',
    created_at: old + i,
    fanned_out_at: old + i,
    dispatched_at: old + i,
  }));
  const inserted = (await knex.batchInsert('outbox', rows, 500).returning('seq' as never)) as unknown as Array<{ seq: number | string }>;
  const seqs = inserted.map((row) => Number(row.seq));
  await knex.batchInsert(
    'outbox_deliveries',
    seqs.flatMap((seq) => ['a', 'b'].map((flow) => ({ seq, flow: `probe-${flow}`, actor_id: 'probe', state: 'done', settled_at: old }))),
    500,
  );
  await knex.batchInsert(
    'idempotency_keys',
    Array.from({ length: sizes.keys }, (_, i) => ({ scope: 'probe', key: `${round}:${i}`, result: 'x', created_at: old + i })),
    500,
  );
  await knex.batchInsert(
    'actors',
    Array.from({ length: sizes.carts }, (_, i) => ({
      id: `cart_probe_${round}_${i}`,
      kind: 'cart',
      version: sizes.entries,
      machine_version: 1,
      state: i % 2 === 0 ? 'expired' : 'checkedOut',
      status: 'done',
      owner_id: 'probe',
      snapshot: '{}',
      next_deadline_at: null,
      created_at: old,
      updated_at: old + i,
    })),
    500,
  );
  await knex.batchInsert(
    'actor_journal',
    Array.from({ length: sizes.carts }, (_, i) =>
      Array.from({ length: sizes.entries }, (_, v) => ({ actor_id: `cart_probe_${round}_${i}`, kind: 'cart', version: v + 1, event: '{"type":"x"}', at: old })),
    ).flat(),
    500,
  );
}

test('two nodes pruning the same database at once: no error, no deadlock, each row deleted once, every compaction whole', async (t) => {
  const databaseUrl = await server!.createDatabase(`emporium_retention_${process.pid}`);
  const node = (): Promise<TestApp> => startApp({ config: { databaseUrl, retentionIntervalMs: 0, retentionBatch: 40, sweepIntervalMs: 3_600_000 } });
  const a = await node();
  t.teardown(() => a.stop());
  const b = await node();
  t.teardown(() => b.stop());
  const knex = a.app.db.knex;
  const deadlocks = async () =>
    Number(
      ((await knex.raw('select deadlocks from pg_stat_database where datname = current_database()')) as { rows: Array<{ deadlocks: number | string }> }).rows[0]
        ?.deadlocks,
    );
  const deadlocksBefore = await deadlocks();
  const sizes = { outbox: 1500, keys: 1200, carts: 120, entries: 6 };

  for (let round = 0; round < 3; round++) {
    await seedOld(knex, round, sizes);
    const [ra, rb] = await Promise.all([a.app.retention.runOnce(), b.app.retention.runOnce()]);
    t.log(
      `round ${round}: node a ${ra.outboxRows} rows, ${ra.idempotencyKeys} keys, ${ra.journalEntries} entries; node b ${rb.outboxRows}, ${rb.idempotencyKeys}, ${rb.journalEntries}`,
    );
    t.deepEqual([...ra.failed, ...rb.failed], [], 'no task failed on either node');
    t.is(ra.outboxRows + rb.outboxRows, sizes.outbox, 'each outbox row deleted once');
    t.is(ra.outboxDeliveries + rb.outboxDeliveries, 2 * sizes.outbox);
    t.is(ra.idempotencyKeys + rb.idempotencyKeys, sizes.keys);
    t.is(ra.journalEntries + rb.journalEntries, sizes.carts * sizes.entries);
    t.is(await count(knex, 'outbox', { kind: 'probe' }), 0);
    t.is(await count(knex, 'outbox_deliveries'), 0);
    t.is(await count(knex, 'idempotency_keys', { scope: 'probe' }), 0);
    t.is(await count(knex, 'actor_journal', { kind: 'cart' }), 0);
    // Two nodes may each have deleted part of one cart's journal: the marker holds the whole of it.
    const markers = (await knex('actor_journal_compactions').where('actor_id', 'like', `cart_probe_${round}_%`)) as Array<{
      through_version: number;
      entries: number;
    }>;
    t.is(markers.length, sizes.carts);
    t.true(
      markers.every((marker) => Number(marker.through_version) === sizes.entries && Number(marker.entries) === sizes.entries),
      'through the last version, every entry counted once',
    );
  }
  // Backends report their statistics within a second or so.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.is(await deadlocks(), deadlocksBefore, 'PostgreSQL detected no deadlock');
});
