// One row per checkout attempt (order id): whether its stock was reserved or refused, decided once for every node.
import type { Knex } from 'knex';

export const name = '003_reservation_decisions';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('reservation_decisions', (t) => {
    // The key is taken first in the reserving transaction: a duplicate on another node waits on it, then reads the outcome.
    t.string('order_id', 64).primary();
    t.string('cart_id', 64).nullable();
    t.string('outcome', 16).notNullable();
    t.string('product_id', 64).nullable();
    t.integer('requested').nullable();
    t.integer('available').nullable();
    t.bigInteger('created_at').notNullable();
    t.check("?? in ('reserved', 'out_of_stock')", ['outcome'], 'reservation_decisions_outcome');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('reservation_decisions');
}
