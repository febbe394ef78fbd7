// Stock and reservations: conditional updates that keep reserved == sum(active reservations) <= on_hand.
import type { Knex } from 'knex';

export interface StockLevel {
  readonly productId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
}

/** Why a reservation was refused: stock short, or a participant's rule (a drop's quota, a customer's limit). */
export type RefusalReason = 'OUT_OF_STOCK' | 'SOLD_OUT' | 'LIMIT_REACHED';

export type ReserveResult =
  | { readonly ok: true; readonly changed: readonly StockLevel[] }
  | { readonly ok: false; readonly reason: RefusalReason; readonly productId: string; readonly requested: number; readonly available: number }
  | { readonly ok: false; readonly reason: 'RELEASED' };

/** A line to reserve: the product, how many, and the offer its price came from (a drop claims its quota). */
export interface ReservedLine {
  readonly productId: string;
  readonly quantity: number;
  readonly offerId?: string | null | undefined;
}

/** What a checkout asks the inventory to reserve. */
export interface ReservationRequest {
  readonly orderId: string;
  readonly cartId: string | null;
  readonly customerId: string;
  readonly lines: readonly ReservedLine[];
  /** When the checkout started: the prices it locked were judged at this instant. */
  readonly startedAt: number;
}

/** A participant's refusal of a reservation: all of it is undone, stock included. */
export interface ParticipantRefusal {
  readonly reason: Exclude<RefusalReason, 'OUT_OF_STOCK'>;
  readonly productId: string;
  readonly requested: number;
  readonly available: number;
}

/**
 * Another module's stake in a reservation (the offers module's drop quotas): it claims in the reservation's own
 * transaction, after the stock was taken, so stock and claims are taken together or not at all, and gives back
 * in the release's transaction.
 */
export interface ReservationParticipant {
  claim(trx: Knex.Transaction, request: ReservationRequest, now: number): Promise<ParticipantRefusal | undefined>;
  /** The order's reservations went back to stock (expired, cancelled, abandoned): give back what it claimed. */
  release(trx: Knex.Transaction, orderId: string, now: number): Promise<void>;
  /** The order's reservations became a sale (it shipped): what it claimed is sold for good, never given back. */
  commit(trx: Knex.Transaction, orderId: string, now: number): Promise<void>;
}

const RELEASED = { ok: false, reason: 'RELEASED' } as const;

interface DecisionRow {
  order_id: string;
  cart_id: string | null;
  outcome: 'reserved' | 'out_of_stock';
  /** Set when a participant refused (SOLD_OUT, LIMIT_REACHED); null for stock. */
  refusal?: string | null;
  product_id: string | null;
  requested: number | null;
  available: number | null;
}

class Refused extends Error {
  constructor(readonly refusal: { reason: RefusalReason; productId: string; requested: number; available?: number }) {
    super(`${refusal.reason}: ${refusal.productId}`);
  }
}

/** Sums quantities per product, so two lines of one product are checked together; sorted for a stable lock order. */
export function aggregateLines(lines: readonly { productId: string; quantity: number }[]): Array<[string, number]> {
  const totals = new Map<string, number>();
  for (const line of lines) totals.set(line.productId, (totals.get(line.productId) ?? 0) + line.quantity);
  return [...totals.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export class InventoryRepo {
  private readonly participants: ReservationParticipant[] = [];

  constructor(
    private readonly knex: Knex,
    private readonly transaction: <T>(work: (trx: Knex.Transaction) => Promise<T>) => Promise<T>,
  ) {}

  /** Adds a participant to every later reservation and release. */
  addParticipant(participant: ReservationParticipant): void {
    this.participants.push(participant);
  }

  /**
   * Reserves every line for `orderId` in one transaction, or none, and records
   * the outcome once for that order id. The decision's key is taken before any
   * stock is looked at, so a duplicate of the same checkout (a retry, or the
   * same request on another node) waits for the first to commit and then
   * answers with its outcome: the same reservation, or the same `OUT_OF_STOCK`.
   */
  async reserve(request: ReservationRequest, expiresAt: number, now: number): Promise<ReserveResult> {
    const { orderId, cartId, lines } = request;
    return this.transaction(async (trx) => {
      const claimed = await trx('reservation_decisions')
        .insert({ order_id: orderId, cart_id: cartId, outcome: 'reserved', created_at: now })
        .onConflict('order_id')
        .ignore()
        .returning('order_id');
      if (claimed.length === 0) return this.decided(trx, orderId);
      // Reserved before decisions were recorded (an older version): judge by its reservations.
      const earlier = (await trx('reservations').where({ order_id: orderId }).select('status')) as Array<{ status: string }>;
      if (earlier.length > 0) return earlier.some((row) => row.status === 'active') ? { ok: true as const, changed: [] } : RELEASED;
      const perProduct = aggregateLines(lines);
      const shortage = await this.takeStock(trx, request, perProduct, now);
      if (shortage) {
        const available = shortage.available ?? (await this.levels(trx, [shortage.productId]))[0]?.available ?? 0;
        await trx('reservation_decisions')
          .where({ order_id: orderId })
          .update({
            outcome: 'out_of_stock',
            refusal: shortage.reason === 'OUT_OF_STOCK' ? null : shortage.reason,
            product_id: shortage.productId,
            requested: shortage.requested,
            available,
          });
        return { ok: false as const, reason: shortage.reason, productId: shortage.productId, requested: shortage.requested, available };
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
      return {
        ok: true as const,
        changed: await this.levels(
          trx,
          perProduct.map(([id]) => id),
        ),
      };
    });
  }

  /** The outcome recorded for `orderId`, if a `reserve` for it ever ran (read-only). */
  async decision(orderId: string): Promise<ReserveResult | undefined> {
    const recorded = await this.knex('reservation_decisions').where({ order_id: orderId }).first('order_id');
    if (!recorded) return undefined;
    return this.transaction((trx) => this.decided(trx, orderId));
  }

  /** The outcome recorded for `orderId` by an earlier (or concurrent, now committed) `reserve`. */
  private async decided(trx: Knex.Transaction, orderId: string): Promise<ReserveResult> {
    const decision = (await trx('reservation_decisions').where({ order_id: orderId }).first()) as DecisionRow | undefined;
    if (!decision) throw new Error(`the reservation decision of ${orderId} vanished`);
    if (decision.outcome === 'out_of_stock') {
      return {
        ok: false,
        reason: decision.refusal === 'SOLD_OUT' || decision.refusal === 'LIMIT_REACHED' ? decision.refusal : 'OUT_OF_STOCK',
        productId: decision.product_id ?? '',
        requested: Number(decision.requested ?? 0),
        available: Number(decision.available ?? 0),
      };
    }
    // Reserved once, then released (its checkout was abandoned after a long outage): that order id holds
    // nothing and must not go on as if it did. The checkout fails; a new attempt gets a new order id.
    const active = await trx('reservations').where({ order_id: orderId, status: 'active' }).first('id');
    return active ? { ok: true, changed: [] } : RELEASED;
  }

  /**
   * Conditional updates in a savepoint, then every participant's claims in it, all or none: the first refusal
   * (a product short of stock, a participant's rule), or undefined when everything was taken.
   */
  private async takeStock(
    trx: Knex.Transaction,
    request: ReservationRequest,
    perProduct: ReadonlyArray<readonly [string, number]>,
    now: number,
  ): Promise<{ reason: RefusalReason; productId: string; requested: number; available?: number } | undefined> {
    try {
      await trx.transaction(async (savepoint) => {
        for (const [productId, quantity] of perProduct) {
          const updated = await savepoint('products')
            .where({ id: productId })
            .andWhereRaw('on_hand - reserved >= ?', [quantity])
            .update({ reserved: savepoint.raw('reserved + ?', [quantity]), stock_version: savepoint.raw('stock_version + 1'), updated_at: now });
          if (updated !== 1) throw new Refused({ reason: 'OUT_OF_STOCK', productId, requested: quantity });
        }
        for (const participant of this.participants) {
          const refusal = await participant.claim(savepoint, request, now);
          if (refusal) throw new Refused(refusal);
        }
      });
      return undefined;
    } catch (error) {
      if (error instanceof Refused) return error.refusal;
      throw error;
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

  /** Orders holding reservations past their expiry (orphans of a checkout that never finished), with the cart that made each. */
  async expiredOrders(now: number, limit: number): Promise<Array<{ orderId: string; cartId: string | null }>> {
    const rows = (await this.knex('reservations as r')
      .leftJoin('reservation_decisions as d', 'd.order_id', 'r.order_id')
      .select('r.order_id', 'd.cart_id')
      .where('r.status', 'active')
      .whereNotNull('r.expires_at')
      .andWhere('r.expires_at', '<=', now)
      .groupBy('r.order_id', 'd.cart_id')
      .orderByRaw('min(r.expires_at)')
      .limit(limit)) as Array<{ order_id: string; cart_id: string | null }>;
    return rows.map((row) => ({ orderId: row.order_id, cartId: row.cart_id }));
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
      // Only what this call moved: a release after the order's stock was sold (or released already) gives nothing back.
      if (touched.length > 0) {
        for (const participant of this.participants) {
          if (to === 'released') await participant.release(trx, orderId, now);
          else await participant.commit(trx, orderId, now);
        }
      }
      return this.levels(trx, touched);
    });
  }
}
