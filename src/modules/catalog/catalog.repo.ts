// The catalog's tables: product listing with filters, sort and pagination, product and category reads, and inserts.
import type { Knex } from 'knex';
import type { PRODUCT_SORTS } from '../../protocol/index.ts';
import { CategoryModel, ProductModel } from './models.ts';

export type ProductSort = (typeof PRODUCT_SORTS)[number];

/** A `categories` row. */
export interface CategoryRow {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly description: string;
  readonly position: number;
  readonly parent_id: string | null;
}

/**
 * The `products` columns a product view is made of. Rows read with plain knex
 * keep PostgreSQL's bigint strings in the numeric columns: convert with `Number`.
 */
export interface ProductRow {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly description: string;
  readonly category_id: string;
  readonly price: number;
  readonly currency: string;
  readonly on_hand: number;
  readonly reserved: number;
  readonly stock_version: number;
  readonly image_url: string | null;
  /** JSON: an array of image URLs. */
  readonly images: string;
  /** JSON: an object of attribute values. */
  readonly attributes: string;
  readonly archived_at: number | null;
  readonly created_at: number;
  readonly updated_at: number;
}

/** A new `products` row: every column (stock columns are the inventory's to change afterwards). */
export type NewProductRow = Omit<ProductRow, 'images' | 'attributes' | 'archived_at'> & Partial<Pick<ProductRow, 'images' | 'attributes' | 'archived_at'>>;

/** The catalog entry of a product: what staff change (never its stock). */
export interface ProductFields {
  readonly name: string;
  readonly description: string;
  readonly category_id: string;
  readonly price: number;
  readonly currency: string;
  readonly image_url: string | null;
  readonly images: string;
  readonly attributes: string;
}

/** What `listProducts` filters on; every filter given must hold. */
export interface ProductFilter {
  /** The id of the category the products are in. */
  readonly categoryId?: string | undefined;
  /** Text in the name, description, SKU or category name, case-insensitive; LIKE wildcards match themselves. */
  readonly text?: string | undefined;
  readonly minPrice?: number | undefined;
  readonly maxPrice?: number | undefined;
  /** true: something is available (on hand minus reserved); false: nothing is. */
  readonly inStock?: boolean | undefined;
  /** By name when not given; ties are broken by id so pages do not overlap. */
  readonly sort?: ProductSort | undefined;
  readonly offset: number;
  readonly limit: number;
}

/** Escapes LIKE wildcards so a search for "50%" finds "50%", not everything. */
const likePattern = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export class CatalogRepo {
  /** Models are bound per query to this app's `knex`: objection's global binding would be shared by every app in the process. */
  constructor(
    private readonly knex: Knex,
    private readonly transact: <T>(work: (trx: Knex.Transaction) => Promise<T>) => Promise<T>,
  ) {}

  /** Runs `work` in one transaction, with a repository bound to it (on SQLite it holds the write lock from the start). */
  transaction<T>(work: (repo: CatalogRepo) => Promise<T>): Promise<T> {
    return this.transact((trx) => work(new CatalogRepo(trx, (inner) => inner(trx))));
  }

  /** One page of the products that match `filter`, and how many match in all. */
  async listProducts(filter: ProductFilter): Promise<{ rows: ProductRow[]; total: number }> {
    // Archived products are no longer sold: never listed.
    const base = ProductModel.query(this.knex).whereNull('archived_at');
    if (filter.categoryId !== undefined) base.where('category_id', filter.categoryId);
    if (filter.text) {
      const pattern = likePattern(filter.text);
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
    if (filter.minPrice !== undefined) base.where('price', '>=', filter.minPrice);
    if (filter.maxPrice !== undefined) base.where('price', '<=', filter.maxPrice);
    if (filter.inStock === true) base.whereRaw('on_hand - reserved > 0');
    if (filter.inStock === false) base.whereRaw('on_hand - reserved <= 0');
    const total = await base.clone().resultSize();
    const ordered =
      filter.sort === 'price'
        ? base.orderBy('price').orderBy('id')
        : filter.sort === '-price'
          ? base.orderBy('price', 'desc').orderBy('id')
          : filter.sort === 'newest'
            ? base.orderBy('created_at', 'desc').orderBy('id')
            : base.orderBy('name').orderBy('id');
    const rows = await ordered.offset(filter.offset).limit(filter.limit);
    return { rows, total };
  }

  // Hot path (every cart change reads its product): a plain knex read, no model instances.
  async getProduct(id: string): Promise<ProductRow | undefined> {
    return (await this.knex('products').where({ id }).first()) as ProductRow | undefined;
  }

  /** The products of `ids` that exist, in no particular order (a plain knex read, like `getProduct`). */
  async getProducts(ids: readonly string[]): Promise<ProductRow[]> {
    return ids.length === 0 ? [] : ((await this.knex('products').whereIn('id', [...ids])) as ProductRow[]);
  }

  async productCount(): Promise<number> {
    return ProductModel.query(this.knex).resultSize();
  }

  async insertProduct(row: NewProductRow): Promise<ProductRow> {
    return ProductModel.query(this.knex).insert(row);
  }

  /** The category whose id or slug is `idOrSlug`. */
  async findCategory(idOrSlug: string): Promise<CategoryRow | undefined> {
    return CategoryModel.query(this.knex).where('id', idOrSlug).orWhere('slug', idOrSlug).first();
  }

  /** Every category, by position then name. */
  async listCategories(): Promise<CategoryRow[]> {
    return CategoryModel.query(this.knex).orderBy('position').orderBy('name');
  }

  async insertCategory(row: CategoryRow & { readonly updated_at?: number }): Promise<CategoryRow> {
    return CategoryModel.query(this.knex).insert(row);
  }

  async categoryBySlug(slug: string): Promise<CategoryRow | undefined> {
    return CategoryModel.query(this.knex).where('slug', slug).first();
  }

  async updateCategory(
    id: string,
    fields: Pick<CategoryRow, 'name' | 'description' | 'parent_id' | 'position'> & { readonly updated_at: number },
  ): Promise<CategoryRow> {
    await CategoryModel.query(this.knex).where('id', id).patch(fields);
    return (await CategoryModel.query(this.knex).findById(id))!;
  }

  /** The product with this SKU, archived or not (a plain knex read). */
  async productBySku(sku: string): Promise<ProductRow | undefined> {
    return (await this.knex('products').where({ sku }).first()) as ProductRow | undefined;
  }

  /**
   * Changes a product's catalog entry and raises its version (the same counter stock changes raise, so one
   * version orders every push of the product's topic). `archived_at` null brings an archived product back.
   */
  async updateProduct(id: string, fields: ProductFields & { readonly archived_at: number | null; readonly updated_at: number }): Promise<ProductRow> {
    await this.knex('products')
      .where({ id })
      .update({ ...fields, stock_version: this.knex.raw('stock_version + 1') });
    return (await this.getProduct(id))!;
  }

  /** Archives a product (if it is not already) and raises its version. */
  async archiveProduct(id: string, at: number): Promise<ProductRow | undefined> {
    await this.knex('products')
      .where({ id })
      .whereNull('archived_at')
      .update({ archived_at: at, updated_at: at, stock_version: this.knex.raw('stock_version + 1') });
    return this.getProduct(id);
  }
}
