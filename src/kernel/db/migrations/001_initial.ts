// Initial schema: catalog, customers, actors (snapshots, journal, outbox), inventory, payments, idempotency.
import type { Knex } from 'knex';

export const name = '001_initial';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('categories', (t) => {
    t.string('id', 64).primary();
    t.string('slug', 64).notNullable().unique();
    t.string('name', 200).notNullable();
    t.text('description').notNullable().defaultTo('');
    t.integer('position').notNullable().defaultTo(0);
  });

  await knex.schema.createTable('products', (t) => {
    t.string('id', 64).primary();
    t.string('sku', 64).notNullable().unique();
    t.string('name', 200).notNullable();
    t.text('description').notNullable().defaultTo('');
    t.string('category_id', 64).notNullable().references('id').inTable('categories');
    t.bigInteger('price').notNullable();
    t.string('currency', 3).notNullable();
    t.integer('on_hand').notNullable().defaultTo(0);
    t.integer('reserved').notNullable().defaultTo(0);
    // Rises with every stock change, so clients can drop stale `stock:changed` pushes.
    t.bigInteger('stock_version').notNullable().defaultTo(0);
    t.string('image_url', 500).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['category_id']);
    // The inventory invariant, enforced by the database itself.
    t.check('?? >= 0 AND ?? >= 0 AND ?? <= ??', ['on_hand', 'reserved', 'reserved', 'on_hand'], 'products_stock_invariant');
    t.check('?? >= 0', ['price'], 'products_price_non_negative');
  });

  await knex.schema.createTable('customers', (t) => {
    t.string('id', 64).primary();
    t.string('email', 320).notNullable().unique();
    t.string('password_hash', 300).notNullable();
    t.string('name', 200).notNullable();
    t.string('role', 16).notNullable().defaultTo('customer');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('actors', (t) => {
    t.string('id', 64).primary();
    t.string('kind', 16).notNullable();
    // Rises by one per accepted event; the compare-and-set key.
    t.integer('version').notNullable();
    t.integer('machine_version').notNullable();
    t.string('state', 64).notNullable();
    t.string('status', 16).notNullable();
    t.string('owner_id', 64).nullable();
    t.text('snapshot').notNullable();
    t.bigInteger('next_deadline_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['kind', 'state']);
    t.index(['owner_id', 'kind']);
    t.index(['next_deadline_at']);
  });

  await knex.schema.createTable('actor_journal', (t) => {
    t.bigIncrements('seq').primary();
    t.string('actor_id', 64).notNullable();
    t.string('kind', 16).notNullable();
    t.integer('version').notNullable();
    t.text('event').notNullable();
    t.bigInteger('at').notNullable();
    t.unique(['actor_id', 'version']);
  });

  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('seq').primary();
    t.string('actor_id', 64).notNullable();
    t.string('kind', 16).notNullable();
    t.string('type', 64).notNullable();
    t.text('payload').notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('dispatched_at').nullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.string('claimed_by', 128).nullable();
    t.bigInteger('claimed_until').nullable();
    t.text('last_error').nullable();
    t.index(['dispatched_at', 'seq']);
  });

  await knex.schema.createTable('reservations', (t) => {
    t.increments('id').primary();
    t.string('order_id', 64).notNullable();
    t.string('product_id', 64).notNullable().references('id').inTable('products');
    t.integer('quantity').notNullable();
    t.string('status', 16).notNullable();
    t.bigInteger('expires_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['order_id', 'product_id']);
    t.index(['status', 'expires_at']);
    t.check('?? > 0', ['quantity'], 'reservations_quantity_positive');
  });

  await knex.schema.createTable('payment_charges', (t) => {
    t.string('id', 64).primary();
    t.string('idempotency_key', 200).notNullable().unique();
    t.string('kind', 16).notNullable();
    t.string('order_id', 64).notNullable().index();
    t.bigInteger('amount').notNullable();
    t.string('currency', 3).notNullable();
    t.string('status', 16).notNullable();
    t.string('decline_reason', 200).nullable();
    t.string('card_last4', 4).nullable();
    t.bigInteger('created_at').notNullable();
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.string('scope', 64).notNullable();
    t.string('key', 200).notNullable();
    t.text('result').nullable();
    t.bigInteger('created_at').notNullable();
    t.primary(['scope', 'key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['idempotency_keys', 'payment_charges', 'reservations', 'outbox', 'actor_journal', 'actors', 'customers', 'products', 'categories']) {
    await knex.schema.dropTableIfExists(table);
  }
}
