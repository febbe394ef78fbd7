// Search without SQL: how a shopper's text becomes match terms the database never parses as syntax, how each sort
// orders products (its keys), the price buckets of the facets, and the keyset cursor that says where a page ends.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../domain/errors.ts';
import type { PRODUCT_SORTS } from '../../protocol/index.ts';

export type SearchSort = (typeof PRODUCT_SORTS)[number];

/** One word of a query: letters, digits and combining marks only; `prefix` matches any word that starts with it. */
export interface SearchTerm {
  readonly text: string;
  readonly prefix: boolean;
}

/** Words of a query past this many are ignored: enough for any product name, and a bound on the work of one query. */
export const MAX_SEARCH_TERMS = 12;

/**
 * The words of `text`, as the indexes cut theirs: runs of Unicode letters, digits and combining marks. Everything
 * else — quotes, `*`, `-`, `:`, parentheses, `%`, `_`, backslashes — only separates words, so no character of the
 * input ever reaches the database as query syntax (FTS5 `MATCH` or `to_tsquery`), and SQL keywords are plain words.
 * The last word is a prefix (the shopper may still be typing it). Case and accents are left to the database, which
 * folds them the same way for the query as for the products. No word at all: nothing to search for (`[]`).
 */
export function searchTerms(text: string): SearchTerm[] {
  // A run of combining marks with no letter or digit (a stray accent) is no word: it would match nothing on one engine
  // and be dropped by the other.
  const words = (text.normalize('NFC').match(/[\p{L}\p{N}\p{M}]+/gu) ?? []).filter((word) => /[\p{L}\p{N}]/u.test(word));
  const terms: SearchTerm[] = [];
  const seen = new Set<string>();
  words.slice(0, MAX_SEARCH_TERMS).forEach((word, index, kept) => {
    const prefix = index === kept.length - 1;
    const key = `${prefix ? '*' : '='}${word}`;
    if (seen.has(key)) return;
    seen.add(key);
    terms.push({ text: word, prefix });
  });
  return terms;
}

/** A column a sort orders by, and its direction; every sort ends with `id`, so no two products tie. */
export interface SortColumn {
  readonly column: 'relevance' | 'text_rank' | 'name' | 'price' | 'created_at' | 'rating_key' | 'rating_count' | 'id';
  readonly type: 'number' | 'string';
  readonly desc: boolean;
}

const id: SortColumn = { column: 'id', type: 'string', desc: false };

/**
 * The keys of each sort, in order. `relevance` is the match score (per word, the weight of the best field it is in),
 * then the database's rank within equal scores (ts_rank_cd on PostgreSQL, none on SQLite), both depending on the
 * product and the query only — never on the rest of the catalog, so a product keeps its place while others are added
 * (bm25's corpus statistics would move it, and a cursor would skip or repeat). `rating` is the average in ten
 * thousandths of a star (unrated: -1, last), then the number of ratings.
 */
export const SORT_KEYS: Readonly<Record<SearchSort, readonly SortColumn[]>> = {
  relevance: [{ column: 'relevance', type: 'number', desc: true }, { column: 'text_rank', type: 'number', desc: true }, id],
  name: [{ column: 'name', type: 'string', desc: false }, id],
  price: [{ column: 'price', type: 'number', desc: false }, id],
  '-price': [{ column: 'price', type: 'number', desc: true }, id],
  newest: [{ column: 'created_at', type: 'number', desc: true }, id],
  rating: [{ column: 'rating_key', type: 'number', desc: true }, { column: 'rating_count', type: 'number', desc: true }, id],
};

/** The values of a sort's keys for one product: where a page ended. */
export type SortKey = readonly (string | number)[];

/**
 * The price facet's buckets, in minor units: `min <= price < max`, the last one open-ended. Fixed, so a shopper sees
 * the same ranges whatever the query (EUR: under 10, 10–25, 25–50, 50–100, 100–250, 250 and more).
 */
export const PRICE_BUCKETS: ReadonlyArray<{ readonly min: number; readonly max: number | null }> = [
  { min: 0, max: 1_000 },
  { min: 1_000, max: 2_500 },
  { min: 2_500, max: 5_000 },
  { min: 5_000, max: 10_000 },
  { min: 10_000, max: 25_000 },
  { min: 25_000, max: null },
];

/** The rating facet's thresholds: products rated at least this many stars on average. */
export const RATING_THRESHOLDS = [4, 3, 2, 1] as const;

/** What a cursor is bound to: the words, the filters and the sort of the query that made it. */
export interface CursorScope {
  readonly terms: readonly SearchTerm[] | undefined;
  readonly categoryId: string | undefined;
  readonly minPrice: number | undefined;
  readonly maxPrice: number | undefined;
  readonly minRating: number | undefined;
  readonly inStock: boolean | undefined;
  readonly sort: SearchSort;
}

const fingerprint = (scope: CursorScope) =>
  createHash('sha256')
    .update(
      JSON.stringify([
        scope.terms?.map((term) => [term.text, term.prefix]) ?? null,
        scope.categoryId ?? null,
        scope.minPrice ?? null,
        scope.maxPrice ?? null,
        scope.minRating ?? null,
        scope.inStock ?? null,
        scope.sort,
      ]),
    )
    .digest('base64url')
    .slice(0, 16);

// Key strings are names and ids (at most 200 characters), never with NUL, which PostgreSQL refuses in text.
const cursorKey = z.union([
  z
    .string()
    .max(500)
    .refine((key) => !key.includes('\u0000')),
  z.number().finite(),
]);
const cursorSchema = z.object({ v: z.literal(1), f: z.string(), p: z.number().int().min(1).max(1_000_000), k: z.array(cursorKey).max(5) }).strict();

/**
 * An opaque cursor: base64url JSON of the sort keys of the last product of a page (`k`), the number of the page it
 * leads to (`p`) and a fingerprint of the query (`f`). The next page starts strictly after those keys, so products
 * added or removed meanwhile neither shift it nor make it repeat one.
 */
export function encodeCursor(scope: CursorScope, after: SortKey, page: number): string {
  return Buffer.from(JSON.stringify({ v: 1, f: fingerprint(scope), p: page, k: after })).toString('base64url');
}

/** The position a cursor of this query points after; `VALIDATION` if it is malformed or was made by another query. */
export function decodeCursor(cursor: string, scope: CursorScope): { after: SortKey; page: number } {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const parsed = cursorSchema.safeParse(decoded);
  const keys = SORT_KEYS[scope.sort];
  if (!parsed.success || parsed.data.k.length !== keys.length || keys.some((key, i) => typeof parsed.data.k[i] !== key.type)) {
    throw new AppError('VALIDATION', 'cursor: not a cursor of this listing', { details: { issues: [{ path: 'cursor', message: 'not a cursor' }] } });
  }
  if (parsed.data.f !== fingerprint(scope)) {
    throw new AppError('VALIDATION', 'cursor: it belongs to another query (other words, filters or sort); start again without it', {
      details: { issues: [{ path: 'cursor', message: 'belongs to another query' }] },
    });
  }
  return { after: parsed.data.k, page: parsed.data.p };
}
