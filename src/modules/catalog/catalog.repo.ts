// The catalog's tables: product and category reads and writes (search and listings are search.repo.ts's).
import type { Knex } from 'knex';
import { CategoryModel, ProductModel } from './models.ts';

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
  /** How many ratings, their sum of stars, and (JSON) how many gave 1, 2, 3, 4 and 5 stars. */
  readonly rating_count: number;
  readonly rating_sum: number;
  readonly rating_histogram: string;
}

type OptionalColumns = 'images' | 'attributes' | 'archived_at' | 'rating_count' | 'rating_sum' | 'rating_histogram';
/** A new `products` row: every column (stock columns are the inventory's to change afterwards, the rating the reviews'). */
export type NewProductRow = Omit<ProductRow, OptionalColumns> & Partial<Pick<ProductRow, OptionalColumns>>;

/** A product's rating aggregate: how many ratings, their sum of stars and how many gave 1, 2, 3, 4 and 5 stars. */
export interface RatingAggregate {
  readonly count: number;
  readonly sum: number;
  readonly histogram: readonly [number, number, number, number, number];
}

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

  /** Writes a product's rating aggregate and raises its version; undefined if there is no such product. */
  async setRating(id: string, rating: RatingAggregate): Promise<ProductRow | undefined> {
    const updated = await this.knex('products')
      .where({ id })
      .update({
        rating_count: rating.count,
        rating_sum: rating.sum,
        rating_histogram: JSON.stringify(rating.histogram),
        stock_version: this.knex.raw('stock_version + 1'),
      });
    return updated === 1 ? this.getProduct(id) : undefined;
  }

  /**
   * Takes the product's row lock for the rest of the transaction (a write that changes nothing): PostgreSQL makes
   * a second transaction wait here; SQLite's transactions hold the database's write lock from their start anyway.
   * False when there is no such product.
   */
  async lockProduct(id: string): Promise<boolean> {
    return (
      (await this.knex('products')
        .where({ id })
        .update({ stock_version: this.knex.raw('stock_version') })) === 1
    );
  }

  /** Runs `read` on this repository's connection (inside its transaction, when it is bound to one). */
  within<T>(read: (db: Knex) => Promise<T>): Promise<T> {
    return read(this.knex);
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
