// Delivery per flow: each flow keeps its own record of each outbox row it consumes, so one failing flow retries
// (and is finally parked) alone, without holding back the others.
import type { Knex } from 'knex';

export const name = '004_outbox_deliveries';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    // Claims, attempts and errors now live per flow, in outbox_deliveries.
    t.dropColumn('attempts');
    t.dropColumn('claimed_by');
    t.dropColumn('claimed_until');
    t.dropColumn('last_error');
  });
  await knex.schema.alterTable('outbox', (t) => {
    // Set once the row's deliveries (one per interested flow) exist; `dispatched_at` once they are all settled.
    t.bigInteger('fanned_out_at').nullable();
    t.index(['fanned_out_at', 'seq'], 'outbox_fan_out');
  });
  // Rows already delivered under the old relay need no deliveries.
  await knex('outbox')
    .whereNotNull('dispatched_at')
    .update({ fanned_out_at: knex.ref('dispatched_at') });
  await knex.schema.createTable('outbox_deliveries', (t) => {
    t.bigInteger('seq').notNullable();
    t.string('flow', 64).notNullable();
    t.string('actor_id', 64).notNullable();
    t.string('state', 8).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error').nullable();
    t.string('claimed_by', 64).nullable();
    /** A claim's lease, or after a failure the instant the next attempt may start. */
    t.bigInteger('claimed_until').nullable();
    t.bigInteger('settled_at').nullable();
    t.primary(['seq', 'flow']);
    t.index(['flow', 'state', 'seq'], 'outbox_deliveries_flow_state');
    t.index(['flow', 'actor_id', 'state', 'seq'], 'outbox_deliveries_flow_actor');
    t.check("?? in ('pending', 'done', 'parked')", ['state'], 'outbox_deliveries_state');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('outbox_deliveries');
  await knex.schema.alterTable('outbox', (t) => {
    t.dropIndex(['fanned_out_at', 'seq'], 'outbox_fan_out');
    t.dropColumn('fanned_out_at');
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('claimed_by', 128).nullable();
    t.bigInteger('claimed_until').nullable();
    t.text('last_error').nullable();
  });
}
