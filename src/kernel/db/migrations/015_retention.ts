// Retention (src/kernel/retention.ts) and an outbox that ages well.
//
// - Partial indexes for the relay: its scans look only at the few rows still in flight (not fanned out, not
//   dispatched, deliveries pending or parked), so they no longer walk the settled history they used to index in
//   full. The full indexes they replace go: `outbox_fan_out` and the two `(flow, …state…)` delivery indexes. The
//   full `(dispatched_at, seq)` index stays: retention finds old dispatched rows by it.
// - Indexes for retention itself: idempotency records by age, and final actors by kind, state and age (partial:
//   actors that are done, so an actor still changing costs it nothing).
// - `actor_journal_compactions`: one row per actor whose journal retention deleted, so readers (the inspector,
//   `npm run inspect`, invariant checks) tell "compacted" from "corrupt".
import type { Knex } from 'knex';

export const name = '015_retention';

/** Partial indexes: `CREATE INDEX … WHERE …` reads the same on SQLite and PostgreSQL. */
const PARTIAL_INDEXES: ReadonlyArray<readonly [name: string, table: string, columns: string, where: string]> = [
  // fanOut: `where fanned_out_at is null order by seq`.
  ['outbox_unfanned', 'outbox', 'seq', 'fanned_out_at IS NULL'],
  // claim: an earlier event of the actor not fanned out yet (`o.actor_id = ? and o.seq < ? and o.fanned_out_at is null`).
  ['outbox_unfanned_actor', 'outbox', 'actor_id, seq', 'fanned_out_at IS NULL'],
  // pendingCount, oldestPendingCreatedAt: `where dispatched_at is null [order by seq]`.
  ['outbox_undispatched', 'outbox', 'seq', 'dispatched_at IS NULL'],
  // claim: a flow's pending deliveries in seq order, and an actor's earlier pending one (the not-exists).
  ['outbox_deliveries_pending', 'outbox_deliveries', 'flow, seq', "state = 'pending'"],
  ['outbox_deliveries_pending_actor', 'outbox_deliveries', 'flow, actor_id, seq', "state = 'pending'"],
  // parked, requeueParked, countsByFlow: parked deliveries by flow.
  ['outbox_deliveries_parked', 'outbox_deliveries', 'seq', "state = 'parked'"],
  // Retention: final actors of a kind and state, oldest change first (keyset on updated_at, id).
  ['actors_done_by_age', 'actors', 'kind, state, updated_at, id', "status = 'done'"],
];

export async function up(knex: Knex): Promise<void> {
  for (const [index, table, columns, where] of PARTIAL_INDEXES) {
    // IF NOT EXISTS: on a large PostgreSQL database an operator may build them first with CREATE INDEX CONCURRENTLY.
    await knex.raw(`CREATE INDEX IF NOT EXISTS ${index} ON ${table} (${columns}) WHERE ${where}`);
  }
  // Replaced by the partial indexes above (nothing else reads by them).
  await knex.schema.alterTable('outbox', (t) => {
    t.dropIndex(['fanned_out_at', 'seq'], 'outbox_fan_out');
  });
  await knex.schema.alterTable('outbox_deliveries', (t) => {
    t.dropIndex(['flow', 'state', 'seq'], 'outbox_deliveries_flow_state');
    t.dropIndex(['flow', 'actor_id', 'state', 'seq'], 'outbox_deliveries_flow_actor');
  });
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.index(['created_at'], 'idempotency_keys_created_at');
  });
  await knex.schema.createTable('actor_journal_compactions', (t) => {
    t.string('actor_id', 64).primary();
    t.string('kind', 16).notNullable();
    /** Journal versions 1 to this one were deleted; later ones (an erasure after the compaction) may remain. */
    t.integer('through_version').notNullable();
    /** Journal entries deleted in all. */
    t.integer('entries').notNullable();
    /** When retention last deleted some of it. */
    t.bigInteger('compacted_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('actor_journal_compactions');
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.dropIndex(['created_at'], 'idempotency_keys_created_at');
  });
  await knex.schema.alterTable('outbox_deliveries', (t) => {
    t.index(['flow', 'state', 'seq'], 'outbox_deliveries_flow_state');
    t.index(['flow', 'actor_id', 'state', 'seq'], 'outbox_deliveries_flow_actor');
  });
  await knex.schema.alterTable('outbox', (t) => {
    t.index(['fanned_out_at', 'seq'], 'outbox_fan_out');
  });
  for (const [index] of [...PARTIAL_INDEXES].reverse()) await knex.raw(`DROP INDEX IF EXISTS ${index}`);
}
