// Catalog management: categories form a tree, products carry images and attributes and can be archived.
import type { Knex } from 'knex';

export const name = '005_catalog_management';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('categories', (t) => {
    // No foreign key: SQLite cannot add one to an existing table; the catalog service checks the parent exists and
    // that the tree has no cycle.
    t.string('parent_id', 64).nullable();
    t.bigInteger('updated_at').notNullable().defaultTo(0);
    t.index(['parent_id']);
  });
  await knex.schema.alterTable('products', (t) => {
    t.text('images').notNullable().defaultTo('[]');
    t.text('attributes').notNullable().defaultTo('{}');
    t.bigInteger('archived_at').nullable();
  });
  // The single image of older rows becomes the first of the list (image_url stays: it is the first image).
  const withImage = (await knex('products').whereNotNull('image_url').select('id', 'image_url')) as Array<{ id: string; image_url: string }>;
  for (const row of withImage)
    await knex('products')
      .where({ id: row.id })
      .update({ images: JSON.stringify([row.image_url]) });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('products', (t) => {
    t.dropColumn('archived_at');
    t.dropColumn('attributes');
    t.dropColumn('images');
  });
  await knex.schema.alterTable('categories', (t) => {
    t.dropIndex(['parent_id']);
    t.dropColumn('updated_at');
    t.dropColumn('parent_id');
  });
}
