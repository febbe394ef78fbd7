// Stock and reservations: conditional updates that keep reserved == sum(active reservations) <= on_hand.
import type { Knex } from 'knex';
import { isUniqueViolation } from './db.ts';

export interface StockLevel {
  readonly productId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
}

export type ReserveResult =
  | { readonly ok: true; readonly changed: readonly StockLevel[] }
  | { readonly ok: false; readonly reason: 'OUT_OF_STOCK'; readonly productId: string; readonly requested: number; readonly available: number }
  | { readonly ok: false; readonly reason: 'RELEASED' };

class ReservationReleased extends Error {
  constructor() {
    super('the reservation of this order was released');
  }
}

class OutOfStock extends Error {
  constructor(readonly productId: string, readonly requested: number) {
    super(`out of stock: ${productId}`);
  }
}

/** Sums quantities per product, so two lines of one product are checked together; sorted for a stable lock order. */
export function aggregateLines(lines: readonly { productId: string; quantity: number }[]): Array<[string, number]> {
  const totals = new Map<string, number>();
  for (const line of lines) totals.set(line.productId, (totals.get(line.productId) ?? 0) + line.quantity);
  return [...totals.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export class InventoryRepo {
  constructor(private readonly knex: Knex, private readonly transaction: <T>(work: (trx: Knex.Transaction) => Promise<T>) => Promise<T>) {}

  /**
   * Reserves every line for `orderId` in one transaction, or none. A second
   * call for the same order changes nothing and succeeds (retries are safe).
   */
  async reserve(orderId: string, lines: readonly { productId: string; quantity: number }[], expiresAt: number, now: number): Promise<ReserveResult> {
    try {
      return await this.transaction(async (trx) => {
        const earlier = (await trx('reservations').where({ order_id: orderId }).select('status')) as Array<{ status: string }>;
        if (earlier.some((row) => row.status === 'active')) return { ok: true as const, changed: [] };
        // Reserved once, then released (an orphan sweep after a long outage): that order id holds nothing
        // and must not go on as if it did. The checkout fails; a new attempt gets a new order id.
        if (earlier.length > 0) throw new ReservationReleased();
        const perProduct = aggregateLines(lines);
        for (const [productId, quantity] of perProduct) {
          const updated = await trx('products')
            .where({ id: productId })
            .andWhereRaw('on_hand - reserved >= ?', [quantity])
            .update({ reserved: trx.raw('reserved + ?', [quantity]), stock_version: trx.raw('stock_version + 1'), updated_at: now });
          if (updated !== 1) throw new OutOfStock(productId, quantity);
        }
        await trx('reservations').insert(
          perProduct.map(([productId, quantity]) => ({
            order_id: orderId,
            product_id: productId,
            quantity,
            status: 'active',
            expires_at: expiresAt,
            created_at: now,
            updated_at: now,
          })),
        );
        return { ok: true as const, changed: await this.levels(trx, perProduct.map(([id]) => id)) };
      });
    } catch (error) {
      // The same order reserved concurrently elsewhere (a retried checkout on another node): theirs stands.
      if (isUniqueViolation(error)) return { ok: true, changed: [] };
      if (error instanceof ReservationReleased) return { ok: false, reason: 'RELEASED' };
      if (!(error instanceof OutOfStock)) throw error;
      const level = (await this.levels(this.knex, [error.productId]))[0];
      return { ok: false, reason: 'OUT_OF_STOCK', productId: error.productId, requested: error.requested, available: level?.available ?? 0 };
    }
  }

  /** Returns an order's active reservations to stock. Idempotent: each reservation is released once. */
  release(orderId: string, now: number): Promise<StockLevel[]> {
    return this.settle(orderId, 'released', now);
  }

  /** Turns an order's reservations into a sale when it ships: on_hand and reserved both drop. */
  commit(orderId: string, now: number): Promise<StockLevel[]> {
    return this.settle(orderId, 'committed', now);
  }

  /** Keeps an order's reservations until it ships or is cancelled (payment received). */
  async hold(orderId: string, now: number): Promise<void> {
    await this.knex('reservations').where({ order_id: orderId, status: 'active' }).update({ expires_at: null, updated_at: now });
  }

  async restock(productId: string, quantity: number, now: number): Promise<StockLevel | undefined> {
    return this.transaction(async (trx) => {
      const updated = await trx('products')
        .where({ id: productId })
        .update({ on_hand: trx.raw('on_hand + ?', [quantity]), stock_version: trx.raw('stock_version + 1'), updated_at: now });
      if (updated !== 1) return undefined;
      return (await this.levels(trx, [productId]))[0];
    });
  }

  /** Orders holding reservations past their expiry: orphans of a checkout that never finished. */
  async expiredOrders(now: number, limit: number): Promise<string[]> {
    const rows = await this.knex('reservations')
      .distinct('order_id')
      .where({ status: 'active' })
      .whereNotNull('expires_at')
      .andWhere('expires_at', '<=', now)
      .limit(limit);
    return rows.map((row: { order_id: string }) => row.order_id);
  }

  async level(productId: string): Promise<StockLevel | undefined> {
    return (await this.levels(this.knex, [productId]))[0];
  }

  async levels(q: Knex | Knex.Transaction, productIds: readonly string[]): Promise<StockLevel[]> {
    if (productIds.length === 0) return [];
    const rows = await q('products').select('id', 'on_hand', 'reserved', 'stock_version').whereIn('id', productIds);
    return rows.map((row: { id: string; on_hand: number; reserved: number; stock_version: number | string }) => ({
      productId: row.id,
      onHand: Number(row.on_hand),
      reserved: Number(row.reserved),
      available: Number(row.on_hand) - Number(row.reserved),
      version: Number(row.stock_version),
    }));
  }

  /** Sum of active reservations per product, for invariant checks. */
  async activeReservedByProduct(): Promise<Map<string, number>> {
    const rows = (await this.knex('reservations')
      .select('product_id')
      .sum({ total: 'quantity' })
      .where({ status: 'active' })
      .groupBy('product_id')) as unknown as Array<{ product_id: string; total: number | string }>;
    return new Map(rows.map((row) => [row.product_id, Number(row.total)]));
  }

  private async settle(orderId: string, to: 'released' | 'committed', now: number): Promise<StockLevel[]> {
    return this.transaction(async (trx) => {
      const active = (await trx('reservations').where({ order_id: orderId, status: 'active' }).orderBy('product_id')) as Array<{
        id: number;
        product_id: string;
        quantity: number;
      }>;
      const touched: string[] = [];
      for (const reservation of active) {
        const claimed = await trx('reservations').where({ id: reservation.id, status: 'active' }).update({ status: to, updated_at: now });
        if (claimed !== 1) continue;
        const stock =
          to === 'released'
            ? { reserved: trx.raw('reserved - ?', [reservation.quantity]) }
            : { reserved: trx.raw('reserved - ?', [reservation.quantity]), on_hand: trx.raw('on_hand - ?', [reservation.quantity]) };
        await trx('products')
          .where({ id: reservation.product_id })
          .update({ ...stock, stock_version: trx.raw('stock_version + 1'), updated_at: now });
        touched.push(reservation.product_id);
      }
      return this.levels(trx, touched);
    });
  }
}
