// Reviews and helpful votes: one review per customer and product, one vote per customer and review.
import type { Knex } from 'knex';

export const name = '009_reviews';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('reviews', (t) => {
    t.string('id', 64).primary();
    t.string('product_id', 64).notNullable();
    t.string('customer_id', 64).notNullable();
    t.string('author_name', 200).notNullable();
    t.integer('rating').notNullable();
    t.string('title', 120).notNullable();
    t.text('body').notNullable().defaultTo('');
    t.integer('helpful').notNullable().defaultTo(0);
    t.bigInteger('hidden_at').nullable();
    t.string('hidden_reason', 500).nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.unique(['product_id', 'customer_id']);
    t.index(['product_id', 'created_at']);
    t.index(['customer_id']);
    t.check('?? between 1 and 5', ['rating'], 'reviews_rating_stars');
  });
  await knex.schema.createTable('review_votes', (t) => {
    t.string('review_id', 64).notNullable().references('id').inTable('reviews').onDelete('CASCADE');
    t.string('voter_id', 64).notNullable();
    t.bigInteger('created_at').notNullable();
    t.primary(['review_id', 'voter_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('review_votes');
  await knex.schema.dropTable('reviews');
}
