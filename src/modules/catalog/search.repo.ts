// Product search, one repository over two engines: SQLite FTS5 (the embedded default) and PostgreSQL full-text
// (a weighted tsvector with a GIN index), both kept in step by the triggers of migration 006. Both answer the same
// queries — words, filters, sorts, keyset or offset pages, facets and suggestions — with the same SQL around a
// different text match; stock, price, rating and archiving are read from `products` itself, so they are never behind.
import type { Knex } from 'knex';
import type { Dialect } from '../../kernel/db/db.ts';
import type { ProductFacets } from '../../protocol/index.ts';
import type { ProductRow } from './catalog.repo.ts';
import { PRICE_BUCKETS, RATING_THRESHOLDS, SORT_KEYS, type SearchSort, type SearchTerm, type SortKey } from './search.ts';

/** What every match must satisfy; a filter left out does not filter. */
export interface SearchFilter {
  /** The words to find, all of them (see `searchTerms`); undefined: no text condition. Never empty. */
  readonly terms?: readonly SearchTerm[] | undefined;
  /** The products of these categories (a category and its descendants). */
  readonly categoryIds?: readonly string[] | undefined;
  readonly minPrice?: number | undefined;
  readonly maxPrice?: number | undefined;
  /** At least this many stars on average (unrated products never qualify). */
  readonly minRating?: number | undefined;
  /** true: something is available (on hand minus reserved); false: nothing is. */
  readonly inStock?: boolean | undefined;
}

export interface SearchPageQuery extends SearchFilter {
  readonly sort: SearchSort;
  readonly limit: number;
  /** Skipped matches (page mode); ignored when `after` is given. */
  readonly offset: number;
  /** The sort keys of the last product already seen (keyset mode): the page starts strictly after it. */
  readonly after?: SortKey | undefined;
}

export interface SearchPage {
  readonly rows: ProductRow[];
  /** The sort keys of the last row, when more matches follow it; null on the last page. */
  readonly next: SortKey | null;
}

export interface SearchRepo {
  /** One page of the matches, in the sort's order. */
  page(query: SearchPageQuery): Promise<SearchPage>;
  /** How many products match and their facets, counted in one statement (so the counts agree with each other). */
  facets(filter: SearchFilter): Promise<{ total: number; facets: ProductFacets }>;
  /** Up to `limit` products on sale matching `terms`, best first. */
  suggest(terms: readonly SearchTerm[], limit: number): Promise<Array<{ id: string; name: string }>>;
}

/** The search repository of a database. */
export function searchRepoFor(db: { readonly knex: Knex; readonly dialect: Dialect }): SearchRepo {
  return db.dialect === 'postgres' ? new PostgresSearchRepo(db.knex) : new SqliteSearchRepo(db.knex);
}

/**
 * What a word scores in the field it is found in; a product's match score is, per word of the query, the weight of
 * the best field that has it, summed. A name match therefore always outranks a match in the description only, however
 * often the description repeats the word (which ts_rank_cd alone would reward), and the score depends on the product
 * and the query alone.
 */
export const FIELD_WEIGHTS = { name: 8, skuOrCategory: 4, attributes: 2, description: 1 } as const;

/** A piece of SQL and its `?` bindings. */
interface Fragment {
  readonly sql: string;
  readonly bindings: readonly Knex.RawBinding[];
}
const sql = (text: string, ...bindings: Knex.RawBinding[]): Fragment => ({ sql: text, bindings });
const join = (parts: readonly Fragment[], separator: string): Fragment => ({
  sql: parts.map((part) => part.sql).join(separator),
  bindings: parts.flatMap((part) => part.bindings),
});

/** How one engine matches words: the tables to read, the condition, the score and (PostgreSQL) the rank. */
interface TextMatch {
  /** FROM: must name the products `p`. */
  readonly from: Fragment;
  readonly where: Fragment;
  readonly relevance: Fragment;
  readonly rank: Fragment;
}

/** Only words reach the engines' query languages: a guard against a caller that skipped `searchTerms`. */
function checked(terms: readonly SearchTerm[]): readonly SearchTerm[] {
  for (const term of terms) if (!/^[\p{L}\p{N}\p{M}]+$/u.test(term.text)) throw new Error(`not a search word: ${JSON.stringify(term.text)}`);
  return terms;
}

const RATING_KEY = 'CASE WHEN p.rating_count > 0 THEN CAST(p.rating_sum AS BIGINT) * 10000 / p.rating_count ELSE -1 END';

abstract class SqlSearchRepo implements SearchRepo {
  constructor(protected readonly knex: Knex) {}

  /** The engine's word match for `terms` (never empty, only words). */
  protected abstract textMatch(terms: readonly SearchTerm[]): TextMatch;

  async page(query: SearchPageQuery): Promise<SearchPage> {
    const keys = SORT_KEYS[query.sort];
    const after = query.after ? this.keyset(query.sort, query.after) : sql('1 = 1');
    const order = keys.map((key) => `m.${key.column} ${key.desc ? 'DESC' : 'ASC'}`).join(', ');
    const statement = join(
      [
        sql('WITH m AS ('),
        this.matches(query),
        sql(') SELECT * FROM m WHERE'),
        after,
        sql(`ORDER BY ${order} LIMIT ? OFFSET ?`, query.limit + 1, query.after ? 0 : query.offset),
      ],
      ' ',
    );
    const rows = (await this.run(statement)) as Array<ProductRow & Record<string, unknown>>;
    const more = rows.length > query.limit;
    const page = more ? rows.slice(0, query.limit) : rows;
    const last = page.at(-1);
    return {
      rows: page,
      next: more && last ? keys.map((key) => (key.type === 'number' ? Number(last[key.column]) : String(last[key.column]))) : null,
    };
  }

  async facets(filter: SearchFilter): Promise<{ total: number; facets: ProductFacets }> {
    const priceColumns = PRICE_BUCKETS.map(
      (bucket, i) => `sum(CASE WHEN m.price >= ${bucket.min}${bucket.max === null ? '' : ` AND m.price < ${bucket.max}`} THEN 1 ELSE 0 END) AS price_${i}`,
    );
    const ratingColumns = RATING_THRESHOLDS.map(
      (stars) => `sum(CASE WHEN m.rating_count > 0 AND m.rating_sum >= ${stars} * m.rating_count THEN 1 ELSE 0 END) AS rating_${stars}`,
    );
    const statement = join(
      [
        sql('WITH m AS ('),
        this.matches(filter),
        sql(
          `) SELECT m.category_id AS category_id, c.slug AS slug, c.name AS name, count(*) AS matches, ${[...priceColumns, ...ratingColumns].join(', ')}
          FROM m LEFT JOIN categories AS c ON c.id = m.category_id
          GROUP BY m.category_id, c.slug, c.name`,
        ),
      ],
      ' ',
    );
    const groups = (await this.run(statement)) as Array<Record<string, string | number | null>>;
    const sum = (column: string) => groups.reduce((total, group) => total + Number(group[column] ?? 0), 0);
    const categories = groups
      .map((group) => ({
        id: String(group.category_id),
        slug: String(group.slug ?? group.category_id),
        name: String(group.name ?? group.category_id),
        count: Number(group.matches),
      }))
      .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.id < b.id ? -1 : 1));
    return {
      total: sum('matches'),
      facets: {
        categories,
        price: PRICE_BUCKETS.map((bucket, i) => ({ min: bucket.min, max: bucket.max, count: sum(`price_${i}`) })),
        rating: RATING_THRESHOLDS.map((stars) => ({ min: stars, count: sum(`rating_${stars}`) })),
      },
    };
  }

  async suggest(terms: readonly SearchTerm[], limit: number): Promise<Array<{ id: string; name: string }>> {
    if (terms.length === 0) return [];
    const statement = join(
      [
        sql('WITH m AS ('),
        this.matches({ terms }),
        sql(') SELECT m.id, m.name FROM m ORDER BY m.relevance DESC, m.text_rank DESC, m.name, m.id LIMIT ?', limit),
      ],
      ' ',
    );
    const rows = (await this.run(statement)) as Array<{ id: string; name: string }>;
    return rows.map((row) => ({ id: row.id, name: row.name }));
  }

  /** Rows of a `knex.raw` answer: an array on SQLite, `{ rows }` on PostgreSQL. */
  protected abstract rowsOf(result: unknown): unknown[];

  private async run(statement: Fragment): Promise<unknown[]> {
    return this.rowsOf(await this.knex.raw(statement.sql, statement.bindings));
  }

  /** Every product on sale that matches: its columns, `relevance`, `text_rank` and `rating_key` (the sorts' keys). */
  private matches(filter: SearchFilter): Fragment {
    const text: TextMatch = filter.terms
      ? this.textMatch(checked(filter.terms))
      : { from: sql('products AS p'), where: sql('1 = 1'), relevance: sql('0'), rank: sql('0') };
    const conditions: Fragment[] = [text.where, sql('p.archived_at IS NULL')];
    if (filter.categoryIds !== undefined) {
      conditions.push(
        filter.categoryIds.length === 0 ? sql('1 = 0') : sql(`p.category_id IN (${filter.categoryIds.map(() => '?').join(', ')})`, ...filter.categoryIds),
      );
    }
    if (filter.minPrice !== undefined) conditions.push(sql('p.price >= ?', filter.minPrice));
    if (filter.maxPrice !== undefined) conditions.push(sql('p.price <= ?', filter.maxPrice));
    // Average >= n, in integers: sum >= n * count.
    if (filter.minRating !== undefined) conditions.push(sql('p.rating_count > 0 AND p.rating_sum >= ? * p.rating_count', filter.minRating));
    if (filter.inStock === true) conditions.push(sql('p.on_hand - p.reserved > 0'));
    if (filter.inStock === false) conditions.push(sql('p.on_hand - p.reserved <= 0'));
    return join(
      [
        sql('SELECT p.*,'),
        text.relevance,
        sql('AS relevance,'),
        text.rank,
        sql(`AS text_rank, ${RATING_KEY} AS rating_key FROM`),
        text.from,
        sql('WHERE'),
        join(
          conditions.map((condition) => join([sql('('), condition, sql(')')], '')),
          ' AND ',
        ),
      ],
      ' ',
    );
  }

  /** Strictly after `after` in the sort's order: (k1 beyond v1) or (k1 = v1 and k2 beyond v2) or … */
  private keyset(sort: SearchSort, after: SortKey): Fragment {
    const keys = SORT_KEYS[sort];
    const alternatives = keys.map((key, i) =>
      join(
        [...keys.slice(0, i).map((equal, j) => sql(`m.${equal.column} = ?`, after[j]!)), sql(`m.${key.column} ${key.desc ? '<' : '>'} ?`, after[i]!)],
        ' AND ',
      ),
    );
    return join(
      [
        sql('('),
        join(
          alternatives.map((alternative) => join([sql('('), alternative, sql(')')], '')),
          ' OR ',
        ),
        sql(')'),
      ],
      '',
    );
  }
}

/**
 * FTS5: `product_search_fts` (external content over `product_search_docs`). Each word is a quoted string — never an
 * operator, a column filter or `NEAR` — the last one with `*` for its prefix; unicode61 folds case and accents of
 * the query as it did of the text. The score asks per word which fields have it, through column filters.
 */
export class SqliteSearchRepo extends SqlSearchRepo {
  protected textMatch(terms: readonly SearchTerm[]): TextMatch {
    const phrase = (term: SearchTerm) => `"${term.text}"${term.prefix ? ' *' : ''}`;
    const inFields = (fields: string, term: SearchTerm) =>
      sql('d.doc_id IN (SELECT rowid FROM product_search_fts WHERE product_search_fts MATCH ?)', `{${fields}} : ${phrase(term)}`);
    const scores = terms.map((term) =>
      join(
        [
          sql('(CASE WHEN'),
          inFields('name', term),
          sql(`THEN ${FIELD_WEIGHTS.name} WHEN`),
          inFields('sku category', term),
          sql(`THEN ${FIELD_WEIGHTS.skuOrCategory} WHEN`),
          inFields('attributes', term),
          sql(`THEN ${FIELD_WEIGHTS.attributes} ELSE ${FIELD_WEIGHTS.description} END)`),
        ],
        ' ',
      ),
    );
    return {
      from: sql('product_search_fts JOIN product_search_docs AS d ON d.doc_id = product_search_fts.rowid JOIN products AS p ON p.id = d.product_id'),
      where: sql('product_search_fts MATCH ?', terms.map(phrase).join(' AND ')),
      relevance: join(scores, ' + '),
      // bm25 is left out on purpose: it weighs a product against the whole catalog, so adding any product moves the
      // others, and a keyset cursor taken before would skip or repeat products. The score alone orders, then the id.
      rank: sql('0'),
    };
  }

  protected rowsOf(result: unknown): unknown[] {
    return result as unknown[];
  }
}

/**
 * PostgreSQL: `product_search.document`, a tsvector weighted name A, SKU and category B, attributes C, description
 * D. The query is built for `to_tsquery` from words only — each one quoted, the last with `:*` — and folded by the
 * same `product_search_unaccent` as the documents; `simple` lower-cases both. `ts_rank_cd` orders within a score.
 */
export class PostgresSearchRepo extends SqlSearchRepo {
  protected textMatch(terms: readonly SearchTerm[]): TextMatch {
    const lexeme = (term: SearchTerm, weights = '') => `'${term.text}'${term.prefix || weights ? ':' : ''}${term.prefix ? '*' : ''}${weights}`;
    const tsquery = (text: string) => sql("to_tsquery('simple', product_search_unaccent(?))", text);
    const all = terms.map((term) => lexeme(term)).join(' & ');
    const scores = terms.map((term) =>
      join(
        [
          sql('(CASE WHEN s.document @@'),
          tsquery(lexeme(term, 'A')),
          sql(`THEN ${FIELD_WEIGHTS.name} WHEN s.document @@`),
          tsquery(lexeme(term, 'B')),
          sql(`THEN ${FIELD_WEIGHTS.skuOrCategory} WHEN s.document @@`),
          tsquery(lexeme(term, 'C')),
          sql(`THEN ${FIELD_WEIGHTS.attributes} ELSE ${FIELD_WEIGHTS.description} END)`),
        ],
        ' ',
      ),
    );
    return {
      from: sql('products AS p JOIN product_search AS s ON s.product_id = p.id'),
      where: join([sql('s.document @@'), tsquery(all)], ' '),
      relevance: join(scores, ' + '),
      // In millionths, as an integer: a cursor carries it back exactly.
      rank: join([sql("round(ts_rank_cd('{0.1, 0.2, 0.4, 1.0}', s.document,"), tsquery(all), sql(') * 1000000)::bigint')], ' '),
    };
  }

  protected rowsOf(result: unknown): unknown[] {
    return (result as { rows: unknown[] }).rows;
  }
}
