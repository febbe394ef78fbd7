// The catalog: categories and products with live availability, listing with filters and pagination.
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock } from '../../domain/identity.ts';
import type { Knex } from 'knex';
import type { CategoryView, PRODUCT_SORTS, ProductView } from '../../protocol/index.ts';
import { CategoryModel, ProductModel } from './models.ts';

export type { ProductView } from '../../protocol/index.ts';

export type { CategoryView } from '../../protocol/index.ts';

export type ProductSort = (typeof PRODUCT_SORTS)[number];

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

/** The columns a product view is made of (an objection model instance or a plain knex row). */
type ProductRow = Pick<
  ProductModel,
  'id' | 'sku' | 'name' | 'description' | 'category_id' | 'price' | 'currency' | 'on_hand' | 'reserved' | 'stock_version' | 'image_url'
>;

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

const categoryView = (row: CategoryModel): CategoryView => ({ id: row.id, slug: row.slug, name: row.name, description: row.description });

/** Escapes LIKE wildcards so a search for "50%" finds "50%", not everything. */
const likePattern = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export class CatalogService {
  /** Models are bound per query to this app's `knex`: objection's global binding would be shared by every app in the process. */
  constructor(
    private readonly clock: Clock,
    private readonly knex: Knex,
  ) {}

  async listProducts(query: ProductQuery): Promise<Page<ProductView>> {
    const base = ProductModel.query(this.knex);
    if (query.category) {
      const category = await CategoryModel.query(this.knex).where('id', query.category).orWhere('slug', query.category).first();
      if (!category) return { items: [], page: query.page, pageSize: query.pageSize, total: 0 };
      base.where('category_id', category.id);
    }
    if (query.q) {
      const pattern = likePattern(query.q);
      // Name, description, SKU, or the category's name: "coffee" finds the beans in Coffee & Tea too.
      const categories = this.knex('categories').select('id').whereRaw("lower(name) like ? escape '\\'", [pattern]);
      base.where((w) =>
        w
          .whereRaw("lower(name) like ? escape '\\'", [pattern])
          .orWhereRaw("lower(description) like ? escape '\\'", [pattern])
          .orWhereRaw("lower(sku) like ? escape '\\'", [pattern])
          .orWhereIn('category_id', categories),
      );
    }
    if (query.minPrice !== undefined) base.where('price', '>=', query.minPrice);
    if (query.maxPrice !== undefined) base.where('price', '<=', query.maxPrice);
    if (query.inStock === true) base.whereRaw('on_hand - reserved > 0');
    if (query.inStock === false) base.whereRaw('on_hand - reserved <= 0');
    const total = await base.clone().resultSize();
    const ordered =
      query.sort === 'price'
        ? base.orderBy('price').orderBy('id')
        : query.sort === '-price'
          ? base.orderBy('price', 'desc').orderBy('id')
          : query.sort === 'newest'
            ? base.orderBy('created_at', 'desc').orderBy('id')
            : base.orderBy('name').orderBy('id');
    const rows = await ordered.offset((query.page - 1) * query.pageSize).limit(query.pageSize);
    return { items: rows.map(productView), page: query.page, pageSize: query.pageSize, total };
  }

  // Hot path (every cart change reads its product): a plain knex read, no model instances.
  async getProduct(id: string): Promise<ProductView> {
    const row = (await this.knex('products').where({ id }).first()) as ProductRow | undefined;
    if (!row) throw new AppError('NOT_FOUND', `product ${id} does not exist`);
    return productView(row);
  }

  async getProducts(ids: readonly string[]): Promise<Map<string, ProductView>> {
    const rows = ids.length === 0 ? [] : ((await this.knex('products').whereIn('id', [...ids])) as ProductRow[]);
    return new Map(rows.map((row) => [row.id, productView(row)]));
  }

  async listCategories(): Promise<CategoryView[]> {
    return (await CategoryModel.query(this.knex).orderBy('position').orderBy('name')).map(categoryView);
  }

  async createCategory(input: { slug: string; name: string; description?: string; position?: number }): Promise<CategoryView> {
    const row = await CategoryModel.query(this.knex).insert({
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
    const row = await ProductModel.query(this.knex).insert({
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
    return ProductModel.query(this.knex).resultSize();
  }
}
