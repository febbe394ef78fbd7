// The catalog: categories (a tree) and products with live availability; staff create, change and archive them, and
// every change is announced (`productChanged$`) for the `product:updated` push.
import { Subject } from 'rxjs';
import type { z } from 'zod';
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock } from '../../domain/identity.ts';
import { isUniqueViolation } from '../../kernel/db/db.ts';
import type { CategoryView, categoryInputSchema, ProductView, productInputSchema } from '../../protocol/index.ts';
import type { CatalogRepo, CategoryRow, ProductFields, ProductRow, ProductSort } from './catalog.repo.ts';

export type CategoryInput = z.output<typeof categoryInputSchema>;
export type ProductInput = z.output<typeof productInputSchema>;

export type { ProductView } from '../../protocol/index.ts';

export type { CategoryView } from '../../protocol/index.ts';

export type { ProductSort } from './catalog.repo.ts';

export interface ProductQuery {
  readonly category?: string | undefined;
  readonly q?: string | undefined;
  readonly minPrice?: number | undefined;
  readonly maxPrice?: number | undefined;
  readonly inStock?: boolean | undefined;
  readonly sort?: ProductSort | undefined;
  readonly page: number;
  readonly pageSize: number;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly page: number;
  readonly pageSize: number;
  readonly total: number;
}

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
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

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
  /** Every committed change to a product's catalog entry, for the `product:updated` push (and the search index). */
  readonly productChanged$ = new Subject<ProductView>();

  constructor(
    private readonly clock: Clock,
    private readonly repo: CatalogRepo,
  ) {}

  /** A page of products; `category` is a category's id or slug, and an unknown one finds nothing. */
  async listProducts(query: ProductQuery): Promise<Page<ProductView>> {
    let categoryId: string | undefined;
    if (query.category) {
      const category = await this.repo.findCategory(query.category);
      if (!category) return { items: [], page: query.page, pageSize: query.pageSize, total: 0 };
      categoryId = category.id;
    }
    const { rows, total } = await this.repo.listProducts({
      categoryId,
      text: query.q,
      minPrice: query.minPrice,
      maxPrice: query.maxPrice,
      inStock: query.inStock,
      sort: query.sort,
      offset: (query.page - 1) * query.pageSize,
      limit: query.pageSize,
    });
    return { items: rows.map(productView), page: query.page, pageSize: query.pageSize, total };
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
    return categoryView(row);
  }

  /**
   * Creates the category with this slug, or changes it. `parent` (a slug) must exist and must not be the
   * category itself or one of its descendants: the categories stay a tree.
   */
  upsertCategory(input: CategoryInput): Promise<{ category: CategoryView; created: boolean }> {
    const now = this.clock();
    return onceMoreIfRaced(() =>
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
