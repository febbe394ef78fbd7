// The outbox is claimed per actor in commit order: index the lookup of an actor's earlier undelivered rows.
import type { Knex } from 'knex';

export const name = '002_outbox_actor_order';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.index(['actor_id', 'seq'], 'outbox_actor_seq');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropIndex(['actor_id', 'seq'], 'outbox_actor_seq');
  });
}
