// A refused reservation may be refused by a participant (a drop's quota, a customer's limit) rather than by stock:
// the refusal's code is recorded with the decision, so a duplicate of the checkout gets the same answer.
import type { Knex } from 'knex';

export const name = '013_reservation_refusals';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('reservation_decisions', (t) => {
    t.string('refusal', 32).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('reservation_decisions', (t) => {
    t.dropColumn('refusal');
  });
}
