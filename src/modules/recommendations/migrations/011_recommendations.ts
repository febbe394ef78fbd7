// The Person–Product graph the recommendations read, built from paid orders by the `recommendations` flow:
// customer→product edges, product↔product co-purchase counts (both directions stored), units sold per product,
// and the paid orders already counted (so a redelivered `order.paid` counts once).
import type { Knex } from 'knex';

export const name = '011_recommendations';

export async function up(knex: Knex): Promise<void> {
  // What a signed-in customer bought (guests have no history to keep): one row per customer and product.
  await knex.schema.createTable('reco_customer_products', (t) => {
    t.string('customer_id', 64).notNullable();
    t.string('product_id', 64).notNullable();
    t.integer('units').notNullable();
    t.integer('orders').notNullable();
    t.bigInteger('last_at').notNullable();
    t.primary(['customer_id', 'product_id']);
    t.index(['customer_id', 'last_at'], 'reco_customer_products_recent');
  });
  // Paid orders that held both products. Each pair is stored in both directions, (a, b) and (b, a), with the same
  // count: "bought with a" is then one index range on product_id, with no OR and no UNION.
  await knex.schema.createTable('reco_co_purchases', (t) => {
    t.string('product_id', 64).notNullable();
    t.string('other_id', 64).notNullable();
    t.integer('orders').notNullable();
    t.bigInteger('last_at').notNullable();
    t.primary(['product_id', 'other_id']);
    t.index(['product_id', 'orders'], 'reco_co_purchases_ranked');
  });
  // Units sold per product over paid orders (the best sellers), guests included.
  await knex.schema.createTable('reco_product_sales', (t) => {
    t.string('product_id', 64).primary();
    t.integer('units').notNullable();
    t.integer('orders').notNullable();
    t.bigInteger('last_at').notNullable();
    t.index(['units'], 'reco_product_sales_units');
  });
  // Paid orders already in the graph: written in the same transaction as their counts.
  await knex.schema.createTable('reco_orders', (t) => {
    t.string('order_id', 64).primary();
    t.bigInteger('counted_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('reco_orders');
  await knex.schema.dropTable('reco_product_sales');
  await knex.schema.dropTable('reco_co_purchases');
  await knex.schema.dropTable('reco_customer_products');
}
