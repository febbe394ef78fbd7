// The `stock_notifications` table: who asked to be told when a sold-out product is back, and the claim that tells
// each of them once.
import type { Knex } from 'knex';

/** A product as a subscription sees it: whether it is sold (not archived) and how many can be bought. */
export interface ProductStock {
  readonly id: string;
  readonly name: string;
  readonly available: number;
  readonly archived: boolean;
}

interface ProductRow {
  id: string;
  name: string;
  on_hand: number | string;
  reserved: number | string;
  archived_at: number | string | null;
}

const T = 'stock_notifications';

export class StockAlertsRepo {
  constructor(private readonly knex: Knex) {}

  async product(q: Knex | Knex.Transaction, productId: string): Promise<ProductStock | undefined> {
    const row = (await q('products').where({ id: productId }).first('id', 'name', 'on_hand', 'reserved', 'archived_at')) as ProductRow | undefined;
    if (!row) return undefined;
    return { id: row.id, name: row.name, available: Number(row.on_hand) - Number(row.reserved), archived: row.archived_at !== null };
  }

  /**
   * Arms the caller's subscription: a new row, or the caller's row again after it was notified. A pending row
   * stays as it is (asking twice keeps one subscription).
   */
  async arm(trx: Knex.Transaction, productId: string, customerId: string, now: number): Promise<void> {
    const inserted = await trx(T)
      .insert({ product_id: productId, customer_id: customerId, created_at: now, notified_at: null })
      .onConflict(['product_id', 'customer_id'])
      .ignore()
      .returning('product_id');
    if (inserted.length > 0) return;
    await trx(T).where({ product_id: productId, customer_id: customerId }).whereNotNull('notified_at').update({ notified_at: null, created_at: now });
  }

  /** Withdraws the caller's subscription (pending or notified); true when there was one. */
  async disarm(productId: string, customerId: string): Promise<boolean> {
    return (await this.knex(T).where({ product_id: productId, customer_id: customerId }).delete()) > 0;
  }

  /** The products `customerId` still waits for (asked, not notified yet), newest subscription first. */
  async pendingOf(customerId: string): Promise<string[]> {
    const rows = (await this.knex(T)
      .where({ customer_id: customerId })
      .whereNull('notified_at')
      .orderBy('created_at', 'desc')
      .orderBy('product_id')
      .select('product_id')) as Array<{ product_id: string }>;
    return rows.map((row) => row.product_id);
  }

  /** Whether anyone waits for `productId` (a read: the common answer, no, costs no write transaction). */
  async hasPending(productId: string): Promise<boolean> {
    return (await this.knex(T).where({ product_id: productId }).whereNull('notified_at').first('product_id')) !== undefined;
  }

  /** Up to `limit` subscribers still waiting for `productId`, oldest first. */
  async pendingSubscribers(trx: Knex.Transaction, productId: string, limit: number): Promise<string[]> {
    const rows = (await trx(T)
      .where({ product_id: productId })
      .whereNull('notified_at')
      .orderBy('created_at')
      .orderBy('customer_id')
      .limit(limit)
      .select('customer_id')) as Array<{
      customer_id: string;
    }>;
    return rows.map((row) => row.customer_id);
  }

  /**
   * Marks these subscriptions notified, if they still wait: only the rows this statement changed are returned,
   * so of two claimers (nodes, a sweep and a stock change) each subscription goes to exactly one.
   */
  async claim(trx: Knex.Transaction, productId: string, customerIds: readonly string[], now: number): Promise<string[]> {
    if (customerIds.length === 0) return [];
    const rows = (await trx(T)
      .where({ product_id: productId })
      .whereIn('customer_id', [...customerIds])
      .whereNull('notified_at')
      .update({ notified_at: now })
      .returning('customer_id')) as Array<{ customer_id: string }>;
    return rows.map((row) => row.customer_id);
  }

  /** Products someone is still waiting for that can be bought now (missed notifications, for the sweep). */
  async pendingAvailableProducts(limit: number): Promise<string[]> {
    const rows = (await this.knex(`${T} as n`)
      .join('products as p', 'p.id', 'n.product_id')
      .whereNull('n.notified_at')
      .whereNull('p.archived_at')
      .andWhereRaw('p.on_hand - p.reserved > 0')
      .distinct('n.product_id')
      .orderBy('n.product_id')
      .limit(limit)) as Array<{ product_id: string }>;
    return rows.map((row) => row.product_id);
  }

  /** Account deletion: the customer's subscriptions go. */
  async eraseCustomer(customerId: string): Promise<void> {
    await this.knex(T).where({ customer_id: customerId }).delete();
  }
}
