// The recommendation graph's tables: counting a paid order once, and the ranked reads over the graph. Reads join the
// catalog's `products` table (read only) so that archived and out-of-stock products are left out in SQL, before the
// limit, instead of after it.
import type { Knex } from 'knex';
import type { Db } from '../../kernel/db/db.ts';

/** What a paid order adds to the graph. */
export interface PaidOrder {
  readonly orderId: string;
  /** The signed-in customer whose history it joins; null for a guest (counted in co-purchases and sales only). */
  readonly customerId: string | null;
  readonly lines: readonly { readonly productId: string; readonly quantity: number }[];
  readonly at: number;
}

/** A product found through the graph, with its summed co-purchase count over the products it was reached from. */
export interface Scored {
  readonly productId: string;
  readonly score: number;
}

/** Rows per INSERT: well under SQLite's and PostgreSQL's limits on bound parameters. */
const CHUNK = 400;

export class RecommendationsRepo {
  constructor(private readonly db: Db) {}

  private get knex(): Knex {
    return this.db.knex;
  }

  /**
   * Adds a paid order to the graph, once: the order's marker is inserted first, in the same transaction as its
   * counts, so a redelivery (or the same event on another node) finds the marker and adds nothing. True when
   * this call counted it. Rows are written in key order, so concurrent orders lock shared rows in one order.
   */
  async recordOrder(order: PaidOrder): Promise<boolean> {
    const units = new Map<string, number>();
    for (const line of order.lines) units.set(line.productId, (units.get(line.productId) ?? 0) + line.quantity);
    const products = [...units.keys()].sort();
    return this.db.transaction(async (trx) => {
      const claimed = await trx('reco_orders').insert({ order_id: order.orderId, counted_at: order.at }).onConflict('order_id').ignore().returning('order_id');
      if (claimed.length === 0) return false;
      const add = (table: string, column: string) => trx.raw('?? + ??', [`${table}.${column}`, `excluded.${column}`]);
      await upsert(
        products.map((productId) => ({ product_id: productId, units: units.get(productId)!, orders: 1, last_at: order.at })),
        (rows) =>
          trx('reco_product_sales')
            .insert(rows)
            .onConflict('product_id')
            .merge({ units: add('reco_product_sales', 'units'), orders: add('reco_product_sales', 'orders'), last_at: trx.raw('??', ['excluded.last_at']) }),
      );
      if (order.customerId !== null) {
        const customerId = order.customerId;
        await upsert(
          products.map((productId) => ({ customer_id: customerId, product_id: productId, units: units.get(productId)!, orders: 1, last_at: order.at })),
          (rows) =>
            trx('reco_customer_products')
              .insert(rows)
              .onConflict(['customer_id', 'product_id'])
              .merge({
                units: add('reco_customer_products', 'units'),
                orders: add('reco_customer_products', 'orders'),
                last_at: trx.raw('??', ['excluded.last_at']),
              }),
        );
      }
      const pairs = products.flatMap((productId) =>
        products.filter((other) => other !== productId).map((other) => ({ product_id: productId, other_id: other, orders: 1, last_at: order.at })),
      );
      await upsert(pairs, (rows) =>
        trx('reco_co_purchases')
          .insert(rows)
          .onConflict(['product_id', 'other_id'])
          .merge({ orders: add('reco_co_purchases', 'orders'), last_at: trx.raw('??', ['excluded.last_at']) }),
      );
      return true;
    });
  }

  /**
   * The products most often bought in one order with any of `from`, each scored by the sum of its co-purchase
   * counts with them, best first (ties: the most recent, then by id); on sale and in stock only, none of `exclude`.
   */
  async coPurchased(from: readonly string[], exclude: readonly string[], limit: number): Promise<Scored[]> {
    if (from.length === 0 || limit <= 0) return [];
    const rows = (await this.knex('reco_co_purchases as cp')
      .join('products as p', 'p.id', 'cp.other_id')
      .whereIn('cp.product_id', [...from])
      .whereNotIn('cp.other_id', [...exclude])
      .modify(onSale)
      .groupBy('cp.other_id')
      .select({ candidate_id: 'cp.other_id' })
      .sum({ score: 'cp.orders' })
      .max({ recent: 'cp.last_at' })
      .orderBy([
        { column: 'score', order: 'desc' },
        { column: 'recent', order: 'desc' },
        { column: 'candidate_id', order: 'asc' },
      ])
      .limit(limit)) as Array<{ candidate_id: string; score: number | string }>;
    // PostgreSQL sums integers into numeric, which pg hands over as a string.
    return rows.map((row) => ({ productId: row.candidate_id, score: Number(row.score) }));
  }

  /** The products a customer bought, most recently bought first. */
  async history(customerId: string, limit: number): Promise<string[]> {
    const rows = (await this.knex('reco_customer_products')
      .where({ customer_id: customerId })
      .orderBy([
        { column: 'last_at', order: 'desc' },
        { column: 'product_id', order: 'asc' },
      ])
      .limit(limit)
      .select('product_id')) as Array<{ product_id: string }>;
    return rows.map((row) => row.product_id);
  }

  /** The most sold products (units) in `categoryIds` (every category when null), on sale and in stock, none of `exclude`. */
  async bestSellers(categoryIds: readonly string[] | null, exclude: readonly string[], limit: number): Promise<string[]> {
    if (limit <= 0 || categoryIds?.length === 0) return [];
    const rows = (await this.knex('reco_product_sales as s')
      .join('products as p', 'p.id', 's.product_id')
      .modify((query) => {
        if (categoryIds) query.whereIn('p.category_id', [...categoryIds]);
      })
      .whereNotIn('p.id', [...exclude])
      .where('s.units', '>', 0)
      .modify(onSale)
      .orderBy([
        { column: 's.units', order: 'desc' },
        { column: 'p.id', order: 'asc' },
      ])
      .limit(limit)
      .select('p.id')) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  /** Other products of `categoryIds`, on sale and in stock, none of `exclude`: the most rated first, then the newest. */
  async inCategories(categoryIds: readonly string[], exclude: readonly string[], limit: number): Promise<string[]> {
    if (limit <= 0 || categoryIds.length === 0) return [];
    const rows = (await this.knex('products as p')
      .whereIn('p.category_id', [...categoryIds])
      .whereNotIn('p.id', [...exclude])
      .modify(onSale)
      .orderBy([
        { column: 'p.rating_count', order: 'desc' },
        { column: 'p.created_at', order: 'desc' },
        { column: 'p.id', order: 'asc' },
      ])
      .limit(limit)
      .select('p.id')) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  /** A deleted account's purchase history goes; the anonymous counts (co-purchases, sales) stay. */
  async eraseCustomer(customerId: string): Promise<void> {
    await this.knex('reco_customer_products').where({ customer_id: customerId }).delete();
  }
}

/** Only products on sale (not archived) with stock available (on_hand - reserved > 0). */
function onSale(query: Knex.QueryBuilder): void {
  query.whereNull('p.archived_at').whereRaw('?? > ??', ['p.on_hand', 'p.reserved']);
}

async function upsert<R>(rows: readonly R[], write: (rows: R[]) => PromiseLike<unknown>): Promise<void> {
  for (let at = 0; at < rows.length; at += CHUNK) await write(rows.slice(at, at + CHUNK));
}
