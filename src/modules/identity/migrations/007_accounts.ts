// Customer accounts: an address book, revoked tokens (logout), a per-account token cut-off (password change,
// deletion) and deletion itself.
import type { Knex } from 'knex';

export const name = '007_accounts';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('customers', (t) => {
    // Tokens issued before this instant (epoch ms) are no longer accepted: a password change or a deletion ends every session.
    t.bigInteger('tokens_valid_after').notNullable().defaultTo(0);
    t.bigInteger('deleted_at').nullable();
  });
  await knex.schema.createTable('revoked_tokens', (t) => {
    t.string('token_id', 64).primary();
    t.string('subject', 64).notNullable();
    // Kept until the token would have expired anyway; then the row may go.
    t.bigInteger('expires_at').notNullable();
    t.index(['expires_at']);
  });
  await knex.schema.createTable('addresses', (t) => {
    t.string('id', 64).primary();
    t.string('customer_id', 64).notNullable().references('id').inTable('customers').onDelete('CASCADE');
    t.string('label', 60).notNullable().defaultTo('');
    t.string('name', 200).notNullable();
    t.string('line1', 200).notNullable();
    t.string('line2', 200).nullable();
    t.string('city', 100).notNullable();
    t.string('postal_code', 20).notNullable();
    t.string('country', 2).notNullable();
    t.boolean('is_default').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['customer_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('addresses');
  await knex.schema.dropTable('revoked_tokens');
  await knex.schema.alterTable('customers', (t) => {
    t.dropColumn('deleted_at');
    t.dropColumn('tokens_valid_after');
  });
}
