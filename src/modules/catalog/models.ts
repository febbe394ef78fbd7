// objection models of the catalog: categories and products (stock columns are written by the inventory repository).
import { Model } from 'objection';

export class CategoryModel extends Model {
  static override tableName = 'categories';
  declare id: string;
  declare slug: string;
  declare name: string;
  declare description: string;
  declare position: number;
  declare parent_id: string | null;
  declare updated_at: number;
}

export class ProductModel extends Model {
  static override tableName = 'products';
  declare id: string;
  declare sku: string;
  declare name: string;
  declare description: string;
  declare category_id: string;
  declare price: number;
  declare currency: string;
  declare on_hand: number;
  declare reserved: number;
  declare stock_version: number;
  declare image_url: string | null;
  declare images: string;
  declare attributes: string;
  declare archived_at: number | null;
  declare created_at: number;
  declare updated_at: number;
  declare rating_count: number;
  declare rating_sum: number;
  declare rating_histogram: string;

  static override relationMappings = () => ({
    category: {
      relation: Model.BelongsToOneRelation,
      modelClass: CategoryModel,
      join: { from: 'products.category_id', to: 'categories.id' },
    },
  });

  // PostgreSQL returns bigint columns as strings; the domain wants numbers.
  override $parseDatabaseJson(json: Record<string, unknown>) {
    const parsed = super.$parseDatabaseJson(json);
    for (const key of ['price', 'stock_version', 'created_at', 'updated_at', 'on_hand', 'reserved', 'archived_at', 'rating_count', 'rating_sum']) {
      if (parsed[key] !== undefined && parsed[key] !== null) parsed[key] = Number(parsed[key]);
    }
    return parsed;
  }
}
