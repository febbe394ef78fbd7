// Back-in-stock subscriptions: one row per product and caller (a customer or a guest), pending while
// `notified_at` is null. The notifier claims pending rows with `update … where notified_at is null`, so each
// subscription is notified once, whichever node (or sweep) gets there first.
import type { Knex } from 'knex';

export const name = '012_stock_notifications';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('stock_notifications', (t) => {
    t.string('product_id', 64).notNullable();
    // The subscriber: a customer id (`cus_…`) or a guest id (`guest_…`), as the token's subject names it.
    t.string('customer_id', 64).notNullable();
    t.bigInteger('created_at').notNullable();
    // Set, once, by the claim that notified it; a new `stock:notify` after that arms the same row again.
    t.bigInteger('notified_at').nullable();
    t.primary(['product_id', 'customer_id']);
    // The sweep looks for pending rows; the notifier for one product's pending rows.
    t.index(['notified_at', 'product_id'], 'stock_notifications_pending');
    // Account deletion and a caller's own subscriptions.
    t.index(['customer_id'], 'stock_notifications_customer');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('stock_notifications');
}
