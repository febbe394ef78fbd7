// Drop quotas and the claims checkouts make on them. The offers themselves are actors (kind `offer`); these two tables
// exist because a drop's units are claimed in the checkout's stock transaction, all or nothing with the stock.
import type { Knex } from 'knex';

export const name = '010_offers';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('drop_quotas', (t) => {
    t.string('offer_id', 64).primary();
    t.string('product_id', 64).notNullable().index();
    t.integer('quota').notNullable();
    // Held by checkouts (active claims); never above the quota.
    t.integer('claimed').notNullable().defaultTo(0);
    t.integer('per_customer_limit').notNullable();
    t.bigInteger('starts_at').notNullable();
    t.bigInteger('ends_at').nullable();
    // Cancelled or ended: no further claims.
    t.boolean('closed').notNullable().defaultTo(false);
    t.bigInteger('updated_at').notNullable();
    t.check('?? >= 0 and ?? <= ??', ['claimed', 'claimed', 'quota'], 'drop_quotas_claimed_within_quota');
  });
  await knex.schema.createTable('drop_claims', (t) => {
    t.increments('id').primary();
    t.string('offer_id', 64).notNullable();
    t.string('order_id', 64).notNullable();
    t.string('customer_id', 64).notNullable();
    t.integer('quantity').notNullable();
    // held: the order has the units; sold: it shipped (for good); returned: its order expired or was cancelled.
    t.string('status', 16).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['offer_id', 'order_id']);
    t.index(['order_id']);
    t.index(['offer_id', 'customer_id', 'status']);
    t.check('?? > 0', ['quantity'], 'drop_claims_quantity_positive');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('drop_claims');
  await knex.schema.dropTableIfExists('drop_quotas');
}
