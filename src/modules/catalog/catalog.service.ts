// The catalog: categories (a tree) and products with live availability; staff create, change and archive them, and
// every change is announced (`productChanged$`) for the `product:updated` push.
import type { Knex } from 'knex';
import { Subject } from 'rxjs';
import type { z } from 'zod';
import { ProductCache } from './product-cache.ts';
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock } from '../../domain/identity.ts';
import { isUniqueViolation } from '../../kernel/db/db.ts';
import type {
  CategoryView,
  categoryInputSchema,
  ProductFacets,
  ProductPage,
  ProductRating,
  ProductView,
  productInputSchema,
  SearchSuggestions,
} from '../../protocol/index.ts';
import type { CatalogRepo, CategoryRow, ProductFields, ProductRow, RatingAggregate } from './catalog.repo.ts';
import { type CursorScope, decodeCursor, encodeCursor, PRICE_BUCKETS, RATING_THRESHOLDS, type SearchSort, searchTerms } from './search.ts';
import type { SearchFilter, SearchRepo } from './search.repo.ts';

export type CategoryInput = z.output<typeof categoryInputSchema>;
export type ProductInput = z.output<typeof productInputSchema>;

export type { ProductView } from '../../protocol/index.ts';

export type { CategoryView } from '../../protocol/index.ts';

export type { SearchSort as ProductSort } from './search.ts';
export type { RatingAggregate } from './catalog.repo.ts';

export interface ProductQuery {
  readonly category?: string | undefined;
  readonly q?: string | undefined;
  readonly minPrice?: number | undefined;
  readonly maxPrice?: number | undefined;
  readonly minRating?: number | undefined;
  readonly inStock?: boolean | undefined;
  readonly sort?: SearchSort | undefined;
  readonly page: number;
  readonly pageSize: number;
  /** A previous page's `nextCursor`: the page after it (`page` is then ignored). */
  readonly cursor?: string | undefined;
}

/** How many suggestions a search box gets. */
export const SUGGESTIONS = 8;

/** A product's view from its row (a model instance or a plain knex row, whose bigints may be strings). */
export function productView(row: ProductRow): ProductView {
  const version = Number(row.stock_version);
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    categoryId: row.category_id,
    price: Number(row.price),
    currency: row.currency,
    available: Number(row.on_hand) - Number(row.reserved),
    version,
    stockVersion: version,
    imageUrl: row.image_url,
    images: parseJson<string[]>(row.images, []),
    attributes: parseJson<Record<string, string | number | boolean>>(row.attributes, {}),
    archived: row.archived_at !== null && row.archived_at !== undefined,
    rating: ratingView(row),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function ratingView(row: ProductRow): ProductRating {
  const count = Number(row.rating_count ?? 0);
  const sum = Number(row.rating_sum ?? 0);
  const stored = parseJson<unknown>(row.rating_histogram, null);
  const histogram =
    Array.isArray(stored) && stored.length === 5 && stored.every((n) => Number.isInteger(n))
      ? (stored as [number, number, number, number, number])
      : ([0, 0, 0, 0, 0] as [number, number, number, number, number]);
  return { average: count > 0 ? Math.round((sum / count) * 100) / 100 : null, count, histogram };
}

/** The aggregate's numbers must agree: the histogram has five counts that add up to `count`, and `sum` is their stars. */
function checkRating(aggregate: RatingAggregate): void {
  const { count, sum, histogram } = aggregate;
  const whole = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  const agrees =
    histogram.length === 5 &&
    histogram.every(whole) &&
    whole(count) &&
    whole(sum) &&
    histogram.reduce((total, n) => total + n, 0) === count &&
    histogram.reduce((total, n, i) => total + n * (i + 1), 0) === sum;
  if (!agrees) {
    throw new AppError('VALIDATION', 'rating: count must be the sum of the histogram and sum its stars (1 to 5 each)', { details: { count, sum, histogram } });
  }
}

/** The ids of a category and of every category below it. */
function withDescendants(categories: readonly CategoryRow[], rootId: string): string[] {
  const children = new Map<string, string[]>();
  for (const category of categories) {
    if (!category.parent_id) continue;
    children.set(category.parent_id, [...(children.get(category.parent_id) ?? []), category.id]);
  }
  const ids = new Set([rootId]);
  for (const id of ids) for (const child of children.get(id) ?? []) ids.add(child);
  return [...ids];
}

/** The facets of no product at all: every bucket there, every count zero. */
const noFacets = (): ProductFacets => ({
  categories: [],
  price: PRICE_BUCKETS.map((bucket) => ({ min: bucket.min, max: bucket.max, count: 0 })),
  rating: RATING_THRESHOLDS.map((stars) => ({ min: stars, count: 0 })),
});

/**
 * Runs `work` again once if it lost a race to create the same slug or SKU on another connection (PostgreSQL reads
 * committed: both saw none and both inserted); the second run finds the row and changes it instead.
 */
async function onceMoreIfRaced<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return work();
  }
}

function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

const categoryView = (row: CategoryRow): CategoryView => ({
  id: row.id,
  slug: row.slug,
  name: row.name,
  description: row.description,
  parentId: row.parent_id ?? null,
  position: Number(row.position),
});

export class CatalogService {
  /**
   * Every committed change to a product's catalog entry, for the `product:updated` push. (The search index does not
   * listen: the database's triggers keep it in step with every write, in the writer's transaction.)
   */
  readonly productChanged$ = new Subject<ProductView>();
  /** Every committed category creation or change (pricing by category caches the tree and drops it on this). */
  readonly categoryChanged$ = new Subject<CategoryView>();

  /** Products for the hot path (adding to a cart), see `productForCart`. */
  private readonly cache: ProductCache;

  constructor(
    private readonly clock: Clock,
    private readonly repo: CatalogRepo,
    private readonly search: SearchRepo,
    options: { readonly cacheMs?: number } = {},
  ) {
    this.cache = new ProductCache({ load: (id) => this.getProduct(id), ttlMs: options.cacheMs ?? 0, clock });
    // Every catalog change made here leaves the cache first (the push goes out after it).
    this.productChanged$.subscribe((product) => this.cache.invalidate(product.id));
  }

  /**
   * The product as a cart sees it when a line is added or changed: from this node's cache, at most `CATALOG_CACHE_MS`
   * old for changes made elsewhere (this node's own catalog and stock changes are in it at once). Good for the
   * price a line is added at and the first stock check; checkout re-prices and reserves against the database.
   */
  productForCart(id: string): Promise<ProductView> {
    return this.cache.get(id);
  }

  /** A stock change this node committed (the inventory tells): the cache's level follows it. */
  stockChanged(level: { readonly productId: string; readonly available: number; readonly version: number }): void {
    this.cache.stockChanged(level);
  }

  /**
   * A page of the products on sale that match, with how many match in all and the facets of all of them.
   * `category` is a category's id or slug and takes in its sub-categories; an unknown one, or `q` without a single
   * word in it, finds nothing. With `cursor` the page is the one after that cursor's, wherever products were added
   * or removed meanwhile; `nextCursor` leads on from this page.
   */
  async listProducts(query: ProductQuery): Promise<ProductPage> {
    const terms = query.q === undefined ? undefined : searchTerms(query.q);
    // Relevance needs words to be relevant to; without them the listing is by name.
    const sort: SearchSort = query.sort === undefined || query.sort === 'relevance' ? (terms ? 'relevance' : 'name') : query.sort;
    const category = query.category ? await this.repo.findCategory(query.category) : undefined;
    const scope: CursorScope = {
      terms,
      categoryId: category?.id ?? query.category,
      minPrice: query.minPrice,
      maxPrice: query.maxPrice,
      minRating: query.minRating,
      inStock: query.inStock,
      sort,
    };
    const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor, scope);
    const page = position?.page ?? query.page;
    if ((query.category && !category) || terms?.length === 0) {
      return { items: [], page, pageSize: query.pageSize, total: 0, nextCursor: null, facets: noFacets() };
    }
    const filter: SearchFilter = {
      terms,
      categoryIds: category ? withDescendants(await this.repo.listCategories(), category.id) : undefined,
      minPrice: query.minPrice,
      maxPrice: query.maxPrice,
      minRating: query.minRating,
      inStock: query.inStock,
    };
    const [hits, counted] = await Promise.all([
      this.search.page({ ...filter, sort, limit: query.pageSize, offset: (page - 1) * query.pageSize, after: position?.after }),
      this.search.facets(filter),
    ]);
    return {
      items: hits.rows.map(productView),
      page,
      pageSize: query.pageSize,
      total: counted.total,
      nextCursor: hits.next ? encodeCursor(scope, hits.next, page + 1) : null,
      facets: counted.facets,
    };
  }

  /** A handful of products on sale for a search box: the words typed so far, the last one perhaps unfinished. */
  async suggest(q: string): Promise<SearchSuggestions> {
    const terms = searchTerms(q);
    return { items: terms.length === 0 ? [] : await this.search.suggest(terms, SUGGESTIONS) };
  }

  /**
   * Writes a product's rating aggregate (a reviews module computes it) and raises the product's version, as any
   * change to the product does; search sees it at once (filters, sort and facets read it from the product). It pushes
   * nothing: the caller announces the change. `VALIDATION` if the numbers disagree, `NOT_FOUND` without the product.
   */
  async setRating(productId: string, aggregate: RatingAggregate): Promise<ProductView> {
    checkRating(aggregate);
    const row = await this.repo.transaction((repo) => repo.setRating(productId, aggregate));
    if (!row) throw new AppError('NOT_FOUND', `product ${productId} does not exist`);
    return productView(row);
  }

  /**
   * Recomputes and writes a product's rating aggregate in one transaction: the product's row is locked first,
   * then `compute` reads the reviews through that same transaction. So refreshes of one product are serialized
   * and the last one written saw every review committed before it, on either database. `NOT_FOUND` without the product.
   */
  async refreshRating(productId: string, compute: (db: Knex) => Promise<RatingAggregate>): Promise<ProductView> {
    const row = await this.repo.transaction(async (repo) => {
      if (!(await repo.lockProduct(productId))) return undefined;
      const aggregate = await repo.within(compute);
      checkRating(aggregate);
      return repo.setRating(productId, aggregate);
    });
    if (!row) throw new AppError('NOT_FOUND', `product ${productId} does not exist`);
    return productView(row);
  }

  async getProduct(id: string): Promise<ProductView> {
    const row = await this.repo.getProduct(id);
    if (!row) throw new AppError('NOT_FOUND', `product ${id} does not exist`);
    return productView(row);
  }

  async getProducts(ids: readonly string[]): Promise<Map<string, ProductView>> {
    const rows = await this.repo.getProducts(ids);
    return new Map(rows.map((row) => [row.id, productView(row)]));
  }

  async listCategories(): Promise<CategoryView[]> {
    return (await this.repo.listCategories()).map(categoryView);
  }

  async createCategory(input: { slug: string; name: string; description?: string; position?: number }): Promise<CategoryView> {
    const row = await this.repo.insertCategory({
      id: `cat_${input.slug}`,
      slug: input.slug,
      name: input.name,
      description: input.description ?? '',
      position: input.position ?? 0,
      parent_id: null,
    });
    const view = categoryView(row);
    this.categoryChanged$.next(view);
    return view;
  }

  /**
   * Creates the category with this slug, or changes it. `parent` (a slug) must exist and must not be the
   * category itself or one of its descendants: the categories stay a tree.
   */
  async upsertCategory(input: CategoryInput): Promise<{ category: CategoryView; created: boolean }> {
    const now = this.clock();
    const outcome = await onceMoreIfRaced(() =>
      this.repo.transaction(async (repo) => {
        const existing = await repo.categoryBySlug(input.slug);
        let parentId: string | null = null;
        if (input.parent) {
          const parent = await repo.categoryBySlug(input.parent);
          if (!parent) throw new AppError('NOT_FOUND', `category ${input.parent} does not exist`, { details: { parent: input.parent } });
          if (existing) {
            const byId = new Map((await repo.listCategories()).map((row) => [row.id, row]));
            for (let at: CategoryRow | undefined = parent; at; at = at.parent_id ? byId.get(at.parent_id) : undefined) {
              if (at.id === existing.id) {
                throw new AppError('VALIDATION', `category ${input.slug} cannot be placed under ${input.parent}: that is inside it`, {
                  details: { slug: input.slug, parent: input.parent },
                });
              }
            }
          }
          parentId = parent.id;
        }
        if (existing) {
          const row = await repo.updateCategory(existing.id, {
            name: input.name,
            description: input.description ?? existing.description,
            parent_id: input.parent === undefined ? existing.parent_id : parentId,
            position: input.position ?? existing.position,
            updated_at: now,
          });
          return { category: categoryView(row), created: false };
        }
        const row = await repo.insertCategory({
          id: `cat_${input.slug}`,
          slug: input.slug,
          name: input.name,
          description: input.description ?? '',
          position: input.position ?? 0,
          parent_id: parentId,
          updated_at: now,
        });
        return { category: categoryView(row), created: true };
      }),
    );
    this.categoryChanged$.next(outcome.category);
    return outcome;
  }

  /**
   * Creates the product with this SKU, or changes its catalog entry (never its stock: that is the warehouse's).
   * A change raises the product's version and is pushed as `product:updated`; an archived product that is
   * upserted again is sold again. `expectedVersion` guards an editor against overwriting a change it has not seen.
   */
  async upsertProduct(input: ProductInput): Promise<{ product: ProductView; created: boolean; changed: boolean }> {
    const now = this.clock();
    const outcome = await onceMoreIfRaced(() =>
      this.repo.transaction(async (repo) => {
        const category = await repo.findCategory(input.category);
        if (!category) throw new AppError('NOT_FOUND', `category ${input.category} does not exist`, { details: { category: input.category } });
        const existing = await repo.productBySku(input.sku);
        if (input.expectedVersion !== undefined && Number(existing?.stock_version ?? 0) !== input.expectedVersion) {
          throw new AppError('CONFLICT', `product ${input.sku} has changed since version ${input.expectedVersion}; read it again`, {
            details: { sku: input.sku, expectedVersion: input.expectedVersion, version: existing ? Number(existing.stock_version) : null },
          });
        }
        const images = input.images ?? (existing ? parseJson<string[]>(existing.images, []) : []);
        const fields: ProductFields = {
          name: input.name,
          description: input.description ?? existing?.description ?? '',
          category_id: category.id,
          price: input.price,
          currency: input.currency,
          image_url: images[0] ?? null,
          images: JSON.stringify(images),
          attributes: JSON.stringify(input.attributes ?? (existing ? parseJson(existing.attributes, {}) : {})),
        };
        if (existing) {
          // The same entry again (a re-run import, a double submit): nothing to write, no new version, no push.
          const same =
            existing.archived_at == null && (Object.keys(fields) as (keyof ProductFields)[]).every((key) => String(existing[key]) === String(fields[key]));
          if (same) return { row: existing, created: false, changed: false };
          return { row: await repo.updateProduct(existing.id, { ...fields, archived_at: null, updated_at: now }), created: false, changed: true };
        }
        const row = await repo.insertProduct({
          id: newId('prod'),
          sku: input.sku,
          ...fields,
          on_hand: 0,
          reserved: 0,
          stock_version: 1,
          created_at: now,
          updated_at: now,
        });
        return { row, created: true, changed: true };
      }),
    );
    const product = productView(outcome.row);
    if (outcome.changed) this.productChanged$.next(product);
    return { product, created: outcome.created, changed: outcome.changed };
  }

  /** Stops selling a product: it leaves listings and search; carts cannot take it; orders keep their lines. Idempotent. */
  async archiveProduct(id: string): Promise<ProductView> {
    const now = this.clock();
    const before = await this.repo.getProduct(id);
    if (!before) throw new AppError('NOT_FOUND', `product ${id} does not exist`);
    if (before.archived_at !== null && before.archived_at !== undefined) return productView(before);
    const row = await this.repo.transaction((repo) => repo.archiveProduct(id, now));
    const product = productView(row!);
    this.productChanged$.next(product);
    return product;
  }

  async createProduct(input: {
    sku: string;
    name: string;
    description?: string;
    categoryId: string;
    price: number;
    currency?: string;
    onHand: number;
    imageUrl?: string | null;
  }): Promise<ProductView> {
    const now = this.clock();
    const row = await this.repo.insertProduct({
      id: newId('prod'),
      sku: input.sku,
      name: input.name,
      description: input.description ?? '',
      category_id: input.categoryId,
      price: input.price,
      currency: input.currency ?? 'EUR',
      on_hand: input.onHand,
      reserved: 0,
      stock_version: 0,
      image_url: input.imageUrl ?? null,
      images: JSON.stringify(input.imageUrl ? [input.imageUrl] : []),
      created_at: now,
      updated_at: now,
    });
    return productView(row);
  }

  async productCount(): Promise<number> {
    return this.repo.productCount();
  }
}
