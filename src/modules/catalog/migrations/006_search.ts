// Search: products gain their rating aggregate, and a full-text index of their name, SKU, category, attributes and
// description that triggers keep in step with every write — SQLite FTS5 on the embedded database, a weighted
// tsvector with a GIN index on PostgreSQL. Stock, price, rating and archiving are not indexed: search reads them
// from `products` in the same query, so they are never behind.
import type { Knex } from 'knex';

export const name = '006_search';

/** knex's PostgreSQL client says `postgresql`; the SQLite one (better-sqlite3, subclassed) `sqlite3`. */
const isPostgres = (knex: Knex) => knex.client.dialect === 'postgresql';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('products', (t) => {
    t.integer('rating_count').notNullable().defaultTo(0);
    t.integer('rating_sum').notNullable().defaultTo(0);
    t.text('rating_histogram').notNullable().defaultTo('[0,0,0,0,0]');
  });
  for (const statement of isPostgres(knex) ? postgresUp() : sqliteUp()) await knex.raw(statement);
}

export async function down(knex: Knex): Promise<void> {
  for (const statement of isPostgres(knex) ? postgresDown : sqliteDown) await knex.raw(statement);
  await knex.schema.alterTable('products', (t) => {
    t.dropColumn('rating_histogram');
    t.dropColumn('rating_sum');
    t.dropColumn('rating_count');
  });
}

// ---------------------------------------------------------------- SQLite: FTS5

/**
 * The text of a product's attributes for the index: the values of its strings and numbers, and the names of the
 * facts that are true (`organic: true` is found by "organic"); false and nested values say nothing searchable.
 */
const sqliteAttributes = (json: string) =>
  `CASE WHEN json_valid(${json}) AND json_type(${json}) = 'object' THEN coalesce((SELECT group_concat(CASE type WHEN 'true' THEN key ELSE value END, ' ') FROM json_each(${json}) WHERE type IN ('text', 'integer', 'real', 'true')), '') ELSE '' END`;

const sqliteDocument = (row: 'new') =>
  `${row}.id, ${row}.name, ${row}.sku, coalesce((SELECT name FROM categories WHERE id = ${row}.category_id), ''), ${sqliteAttributes(`${row}.attributes`)}, ${row}.description`;

const FTS_COLUMNS = 'name, sku, category, attributes, description';
const ftsValues = (row: 'new' | 'old') => `${row}.doc_id, ${row}.name, ${row}.sku, ${row}.category, ${row}.attributes, ${row}.description`;
const indexedChanged = (old: string, now: string) =>
  ['name', 'sku', 'description', 'category_id', 'attributes'].map((column) => `${old}.${column} IS NOT ${now}.${column}`).join(' OR ');

/**
 * `product_search_docs` holds each product's searchable text, one row per product under a stable integer key
 * (`doc_id`, an INTEGER PRIMARY KEY, which VACUUM never renumbers — the rowid of `products`, keyed by a text id,
 * it may); `product_search_fts` indexes it as external content (the text is stored once). Triggers on `products` and
 * `categories` keep the documents in step, and triggers on the documents keep the index in step, so every writer —
 * the catalog, an import, a hand-written UPDATE — updates the index in its own transaction.
 */
function sqliteUp(): string[] {
  return [
    `CREATE TABLE product_search_docs (
      doc_id INTEGER PRIMARY KEY,
      product_id VARCHAR(64) NOT NULL UNIQUE,
      name TEXT NOT NULL, sku TEXT NOT NULL, category TEXT NOT NULL, attributes TEXT NOT NULL, description TEXT NOT NULL
    )`,
    // unicode61 folds case and (remove_diacritics 2) accents; the prefix indexes make as-you-type prefixes cheap.
    `CREATE VIRTUAL TABLE product_search_fts USING fts5(${FTS_COLUMNS}, content='product_search_docs', content_rowid='doc_id',
      tokenize='unicode61 remove_diacritics 2', prefix='2 3')`,
    `CREATE TRIGGER product_search_docs_insert AFTER INSERT ON product_search_docs BEGIN
      INSERT INTO product_search_fts (rowid, ${FTS_COLUMNS}) VALUES (${ftsValues('new')});
    END`,
    `CREATE TRIGGER product_search_docs_delete AFTER DELETE ON product_search_docs BEGIN
      INSERT INTO product_search_fts (product_search_fts, rowid, ${FTS_COLUMNS}) VALUES ('delete', ${ftsValues('old')});
    END`,
    `CREATE TRIGGER product_search_docs_update AFTER UPDATE ON product_search_docs BEGIN
      INSERT INTO product_search_fts (product_search_fts, rowid, ${FTS_COLUMNS}) VALUES ('delete', ${ftsValues('old')});
      INSERT INTO product_search_fts (rowid, ${FTS_COLUMNS}) VALUES (${ftsValues('new')});
    END`,
    `CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
      INSERT INTO product_search_docs (product_id, ${FTS_COLUMNS}) VALUES (${sqliteDocument('new')})
        ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, sku = excluded.sku, category = excluded.category,
          attributes = excluded.attributes, description = excluded.description;
    END`,
    // Only a change of indexed text: stock, price, rating and version updates do not touch the index.
    `CREATE TRIGGER products_search_update AFTER UPDATE OF name, sku, description, category_id, attributes ON products
      WHEN ${indexedChanged('old', 'new')} BEGIN
      INSERT INTO product_search_docs (product_id, ${FTS_COLUMNS}) VALUES (${sqliteDocument('new')})
        ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, sku = excluded.sku, category = excluded.category,
          attributes = excluded.attributes, description = excluded.description;
    END`,
    `CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
      DELETE FROM product_search_docs WHERE product_id = old.id;
    END`,
    // A renamed category is found under its new name.
    `CREATE TRIGGER categories_search_rename AFTER UPDATE OF name ON categories WHEN old.name IS NOT new.name BEGIN
      UPDATE product_search_docs SET category = new.name WHERE product_id IN (SELECT id FROM products WHERE category_id = new.id);
    END`,
    // The products that exist already.
    `INSERT INTO product_search_docs (product_id, ${FTS_COLUMNS})
      SELECT p.id, p.name, p.sku, coalesce(c.name, ''), ${sqliteAttributes('p.attributes')}, p.description
      FROM products p LEFT JOIN categories c ON c.id = p.category_id`,
  ];
}

const sqliteDown = [
  'DROP TRIGGER IF EXISTS categories_search_rename',
  'DROP TRIGGER IF EXISTS products_search_delete',
  'DROP TRIGGER IF EXISTS products_search_update',
  'DROP TRIGGER IF EXISTS products_search_insert',
  'DROP TABLE IF EXISTS product_search_fts',
  'DROP TABLE IF EXISTS product_search_docs',
];

// ---------------------------------------------------------------- PostgreSQL: tsvector + GIN

/**
 * Latin letters with accents and their plain letters (from Unicode's canonical decompositions, which never change),
 * for `translate`: PostgreSQL's `unaccent` is an extension a database may not have, and search must not depend on it.
 */
function accentMap(): { from: string; to: string } {
  let from = '';
  let to = '';
  for (const [first, last] of [
    [0xc0, 0x24f],
    [0x1e00, 0x1eff],
  ] as const) {
    for (let code = first; code <= last; code++) {
      const letter = String.fromCodePoint(code);
      const base = letter.normalize('NFD').replace(/\p{M}+/gu, '');
      if (base !== letter && /^[A-Za-z]$/.test(base)) {
        from += letter;
        to += base;
      }
    }
  }
  return { from, to };
}

/**
 * ASCII punctuation, which the index reads as a space: PostgreSQL's parser would otherwise keep `VG-10` as `vg` and
 * the number `-10`, or `example.com` as one host name, where FTS5 (and the query) see plain words. `?` is left
 * out, as knex would read it as a placeholder; the parser treats it as a space anyway.
 */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>@[\\]^_`{|}~';
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

function postgresUp(): string[] {
  const accents = accentMap();
  return [
    // Accents off, for the documents and for the query alike (the same function folds both).
    `CREATE FUNCTION product_search_unaccent(value text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
      SELECT translate(value, ${literal(accents.from)}, ${literal(accents.to)})
    $fn$`,
    `CREATE FUNCTION product_search_text(value text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
      SELECT product_search_unaccent(translate(coalesce(value, ''), ${literal(PUNCTUATION)}, ${literal(' '.repeat(PUNCTUATION.length))}))
    $fn$`,
    // As on SQLite: string and number values, and the names of the facts that are true.
    `CREATE FUNCTION product_search_attributes(attributes text) RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
    DECLARE
      parsed jsonb;
    BEGIN
      BEGIN
        parsed := attributes::jsonb;
      EXCEPTION WHEN others THEN
        RETURN '';
      END;
      IF jsonb_typeof(parsed) IS DISTINCT FROM 'object' THEN
        RETURN '';
      END IF;
      RETURN coalesce((
        SELECT string_agg(CASE jsonb_typeof(entry.value) WHEN 'boolean' THEN entry.key ELSE entry.value #>> '{}' END, ' ')
        FROM jsonb_each(parsed) AS entry
        WHERE jsonb_typeof(entry.value) IN ('string', 'number') OR entry.value = 'true'::jsonb
      ), '');
    END
    $fn$`,
    // Weighted as the ranking wants them: name A, SKU and category B, attributes C, description D.
    `CREATE FUNCTION product_search_document(name text, sku text, category text, attributes text, description text)
      RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
      SELECT setweight(to_tsvector('simple'::regconfig, product_search_text(name)), 'A')
        || setweight(to_tsvector('simple'::regconfig, product_search_text(sku || ' ' || coalesce(category, ''))), 'B')
        || setweight(to_tsvector('simple'::regconfig, product_search_text(product_search_attributes(attributes))), 'C')
        || setweight(to_tsvector('simple'::regconfig, product_search_text(description)), 'D')
    $fn$`,
    `CREATE TABLE product_search (
      product_id VARCHAR(64) PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
      document tsvector NOT NULL
    )`,
    'CREATE INDEX product_search_document_gin ON product_search USING gin (document)',
    // The category is read FOR SHARE: a rename committing meanwhile is waited for and then seen, and a rename that
    // comes later waits for this product and then re-indexes it with the rest of the category.
    `CREATE FUNCTION product_search_sync() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      category_name text;
    BEGIN
      SELECT name INTO category_name FROM categories WHERE id = NEW.category_id FOR SHARE;
      INSERT INTO product_search (product_id, document)
        VALUES (NEW.id, product_search_document(NEW.name, NEW.sku, category_name, NEW.attributes, NEW.description))
        ON CONFLICT (product_id) DO UPDATE SET document = EXCLUDED.document;
      RETURN NULL;
    END
    $fn$`,
    'CREATE TRIGGER products_search_insert AFTER INSERT ON products FOR EACH ROW EXECUTE FUNCTION product_search_sync()',
    `CREATE TRIGGER products_search_update AFTER UPDATE OF name, sku, description, category_id, attributes ON products FOR EACH ROW
      WHEN (${['name', 'sku', 'description', 'category_id', 'attributes'].map((column) => `OLD.${column} IS DISTINCT FROM NEW.${column}`).join(' OR ')})
      EXECUTE FUNCTION product_search_sync()`,
    `CREATE FUNCTION product_search_category_renamed() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      UPDATE product_search AS s
        SET document = product_search_document(p.name, p.sku, NEW.name, p.attributes, p.description)
        FROM products AS p
        WHERE p.id = s.product_id AND p.category_id = NEW.id;
      RETURN NULL;
    END
    $fn$`,
    `CREATE TRIGGER categories_search_rename AFTER UPDATE OF name ON categories FOR EACH ROW
      WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION product_search_category_renamed()`,
    `INSERT INTO product_search (product_id, document)
      SELECT p.id, product_search_document(p.name, p.sku, c.name, p.attributes, p.description)
      FROM products AS p LEFT JOIN categories AS c ON c.id = p.category_id`,
  ];
}

const postgresDown = [
  'DROP TRIGGER IF EXISTS categories_search_rename ON categories',
  'DROP TRIGGER IF EXISTS products_search_update ON products',
  'DROP TRIGGER IF EXISTS products_search_insert ON products',
  'DROP FUNCTION IF EXISTS product_search_category_renamed()',
  'DROP FUNCTION IF EXISTS product_search_sync()',
  'DROP TABLE IF EXISTS product_search',
  'DROP FUNCTION IF EXISTS product_search_document(text, text, text, text, text)',
  'DROP FUNCTION IF EXISTS product_search_attributes(text)',
  'DROP FUNCTION IF EXISTS product_search_text(text)',
  'DROP FUNCTION IF EXISTS product_search_unaccent(text)',
];
