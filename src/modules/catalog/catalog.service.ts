// The catalog: categories and products with live availability, listing with filters and pagination.
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock } from '../../domain/identity.ts';
import type { CategoryView, ProductView } from '../../protocol/index.ts';
import type { CatalogRepo, CategoryRow, ProductRow, ProductSort } from './catalog.repo.ts';

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
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    categoryId: row.category_id,
    price: Number(row.price),
    currency: row.currency,
    available: Number(row.on_hand) - Number(row.reserved),
    stockVersion: Number(row.stock_version),
    imageUrl: row.image_url,
  };
}

const categoryView = (row: CategoryRow): CategoryView => ({ id: row.id, slug: row.slug, name: row.name, description: row.description });

export class CatalogService {
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
    });
    return categoryView(row);
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
      created_at: now,
      updated_at: now,
    });
    return productView(row);
  }

  async productCount(): Promise<number> {
    return this.repo.productCount();
  }
}
