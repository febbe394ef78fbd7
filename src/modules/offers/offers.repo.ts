// Drop quotas and claims (taken in the checkout's stock transaction), and the lookups the offers module needs:
// the products a sale covers.
import type { Knex } from 'knex';
import type { DropTerms } from './offer.machine.ts';

export interface DropQuota {
  readonly offerId: string;
  readonly productId: string;
  readonly quota: number;
  readonly claimed: number;
  readonly perCustomerLimit: number;
  readonly startsAt: number;
  readonly endsAt: number | null;
  readonly closed: boolean;
  readonly updatedAt: number;
}

interface QuotaRow {
  offer_id: string;
  product_id: string;
  quota: number | string;
  claimed: number | string;
  per_customer_limit: number | string;
  starts_at: number | string;
  ends_at: number | string | null;
  closed: boolean | number;
  updated_at: number | string;
}

const toQuota = (row: QuotaRow): DropQuota => ({
  offerId: row.offer_id,
  productId: row.product_id,
  quota: Number(row.quota),
  claimed: Number(row.claimed),
  perCustomerLimit: Number(row.per_customer_limit),
  startsAt: Number(row.starts_at),
  endsAt: row.ends_at === null ? null : Number(row.ends_at),
  closed: Boolean(row.closed),
  updatedAt: Number(row.updated_at),
});

/** Why a claim was refused, with what was asked and what was left. */
export type ClaimRefusal =
  | { readonly reason: 'SOLD_OUT'; readonly offerId: string; readonly productId: string; readonly requested: number; readonly available: number }
  | { readonly reason: 'LIMIT_REACHED'; readonly offerId: string; readonly productId: string; readonly requested: number; readonly available: number };

export class OffersRepo {
  constructor(private readonly knex: Knex) {}

  /** Creates or re-terms a drop's quota (before it starts: nothing is claimed yet, so the whole quota is free). */
  async saveQuota(offerId: string, terms: DropTerms, startsAt: number, endsAt: number | null, now: number): Promise<void> {
    const row = {
      offer_id: offerId,
      product_id: terms.productId,
      quota: terms.quota,
      per_customer_limit: terms.perCustomerLimit,
      starts_at: startsAt,
      ends_at: endsAt,
      updated_at: now,
    };
    await this.knex('drop_quotas')
      .insert({ ...row, claimed: 0, closed: false })
      .onConflict('offer_id')
      .merge(['product_id', 'quota', 'per_customer_limit', 'starts_at', 'ends_at', 'updated_at']);
  }

  /** No more claims on this drop (cancelled or ended); what is held stays held. */
  async closeQuota(offerId: string, now: number): Promise<void> {
    await this.knex('drop_quotas').where({ offer_id: offerId, closed: false }).update({ closed: true, updated_at: now });
  }

  async quota(offerId: string): Promise<DropQuota | undefined> {
    const row = (await this.knex('drop_quotas').where({ offer_id: offerId }).first()) as QuotaRow | undefined;
    return row && toQuota(row);
  }

  /** Open drops of these products (for syncing their remaining units after stock moved). */
  async openQuotasOf(productIds: readonly string[]): Promise<DropQuota[]> {
    if (productIds.length === 0) return [];
    const rows = (await this.knex('drop_quotas').whereIn('product_id', productIds).andWhere({ closed: false })) as QuotaRow[];
    return rows.map(toQuota);
  }

  /** Every open drop (for the sweep that brings each drop actor's remaining units in line with its quota). */
  async openQuotas(limit = 500): Promise<DropQuota[]> {
    const rows = (await this.knex('drop_quotas').where({ closed: false }).limit(limit)) as QuotaRow[];
    return rows.map(toQuota);
  }

  /** Units of a drop a customer holds or bought through orders not given back. */
  async heldBy(offerId: string, customerId: string, q: Knex | Knex.Transaction = this.knex): Promise<number> {
    const row = (await q('drop_claims')
      .where({ offer_id: offerId, customer_id: customerId })
      .whereIn('status', ['held', 'sold'])
      .sum({ n: 'quantity' })
      .first()) as { n: number | string | null } | undefined;
    return Number(row?.n ?? 0);
  }

  /** Which of `offerIds` are drops (have a quota), inside the caller's transaction. */
  async dropsAmong(trx: Knex.Transaction, offerIds: readonly string[]): Promise<Set<string>> {
    const rows = (await trx('drop_quotas').whereIn('offer_id', offerIds).select('offer_id')) as Array<{ offer_id: string }>;
    return new Set(rows.map((row) => row.offer_id));
  }

  /**
   * Claims `quantity` units of a drop for an order, inside the checkout's stock transaction. The quota row is
   * updated first, conditionally: that takes its lock, so every claim on one drop — on any node — queues behind
   * the one before, and the customer's units are counted after it committed (the per-customer limit holds across
   * carts, devices and nodes). Judged at `at` (when the checkout started: the price it locked).
   */
  async claim(
    trx: Knex.Transaction,
    claim: { offerId: string; orderId: string; customerId: string; quantity: number; at: number; now: number },
  ): Promise<ClaimRefusal | undefined> {
    const { offerId, orderId, customerId, quantity, at, now } = claim;
    const taken = await trx('drop_quotas')
      .where({ offer_id: offerId, closed: false })
      .andWhere('starts_at', '<=', at)
      .andWhere((w) => w.whereNull('ends_at').orWhere('ends_at', '>', at))
      .andWhereRaw('claimed + ? <= quota', [quantity])
      .update({ claimed: trx.raw('claimed + ?', [quantity]), updated_at: now });
    const row = (await trx('drop_quotas').where({ offer_id: offerId }).first()) as QuotaRow | undefined;
    const quota = row && toQuota(row);
    const productId = quota?.productId ?? '';
    if (taken !== 1 || !quota) {
      return { reason: 'SOLD_OUT', offerId, productId, requested: quantity, available: quota && !quota.closed ? Math.max(0, quota.quota - quota.claimed) : 0 };
    }
    const held = await this.heldBy(offerId, customerId, trx);
    if (held + quantity > quota.perCustomerLimit) {
      // The caller undoes the whole savepoint, the quota update above included.
      return { reason: 'LIMIT_REACHED', offerId, productId, requested: quantity, available: Math.max(0, quota.perCustomerLimit - held) };
    }
    await trx('drop_claims').insert({
      offer_id: offerId,
      order_id: orderId,
      customer_id: customerId,
      quantity,
      status: 'held',
      created_at: now,
      updated_at: now,
    });
    return undefined;
  }

  /** Gives an order's held drop units back to their drops (its order expired or was cancelled). Returns the drops touched. */
  async release(trx: Knex.Transaction, orderId: string, now: number): Promise<string[]> {
    const held = (await trx('drop_claims').where({ order_id: orderId, status: 'held' })) as Array<{ id: number; offer_id: string; quantity: number }>;
    const touched: string[] = [];
    for (const claim of held) {
      const returned = await trx('drop_claims').where({ id: claim.id, status: 'held' }).update({ status: 'returned', updated_at: now });
      if (returned !== 1) continue;
      await trx('drop_quotas')
        .where({ offer_id: claim.offer_id })
        .update({ claimed: trx.raw('claimed - ?', [Number(claim.quantity)]), updated_at: now });
      touched.push(claim.offer_id);
    }
    return touched;
  }

  /** An order's claims are a sale (it shipped): they count against the limit for good and never go back. */
  async commit(trx: Knex.Transaction, orderId: string, now: number): Promise<void> {
    await trx('drop_claims').where({ order_id: orderId, status: 'held' }).update({ status: 'sold', updated_at: now });
  }

  /** What is left of each of these drops: units not claimed, and whether it still takes claims. */
  async remainingOf(offerIds: readonly string[]): Promise<Map<string, { remaining: number; closed: boolean; perCustomerLimit: number }>> {
    if (offerIds.length === 0) return new Map();
    const rows = (await this.knex('drop_quotas').whereIn('offer_id', offerIds)) as QuotaRow[];
    return new Map(
      rows.map((row) => {
        const quota = toQuota(row);
        return [quota.offerId, { remaining: Math.max(0, quota.quota - quota.claimed), closed: quota.closed, perCustomerLimit: quota.perCustomerLimit }];
      }),
    );
  }

  /** Units of each of these drops one customer holds or bought. */
  async heldByCustomer(offerIds: readonly string[], customerId: string): Promise<Map<string, number>> {
    if (offerIds.length === 0) return new Map();
    const rows = (await this.knex('drop_claims')
      .whereIn('offer_id', offerIds)
      .andWhere({ customer_id: customerId })
      .whereIn('status', ['held', 'sold'])
      .groupBy('offer_id')
      .select('offer_id')
      .sum({ n: 'quantity' })) as Array<{ offer_id: string; n: number | string }>;
    return new Map(rows.map((row) => [row.offer_id, Number(row.n)]));
  }

  /** A guest's claims become the account's when the guest signs in (the per-customer limit follows the person). */
  async adopt(guestId: string, customerId: string, now: number): Promise<number> {
    return this.knex('drop_claims').where({ customer_id: guestId }).update({ customer_id: customerId, updated_at: now });
  }

  /** Ids of the products in these categories. */
  async productsInCategories(categoryIds: readonly string[]): Promise<string[]> {
    if (categoryIds.length === 0) return [];
    const rows = (await this.knex('products').whereIn('category_id', categoryIds).whereNull('archived_at').select('id').orderBy('id')) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }
}
