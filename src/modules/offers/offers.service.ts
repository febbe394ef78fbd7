// Offers: staff create, re-term and cancel sales and drops; carts and recommendations ask for prices; checkouts
// claim drop units (as a participant in the inventory's reservation) and give them back on release.
import type { Knex } from 'knex';
import type { z } from 'zod';
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock, Identity } from '../../domain/identity.ts';
import { refusedBecause } from '../../kernel/actors/kinds.ts';
import type { ActorRepo } from '../../kernel/db/actor.repo.ts';
import type { AppRuntime } from '../../kernel/registry.ts';
import type { OfferView, ProductView, offerInputSchema, offerUpdateSchema, warehouseCommands } from '../../protocol/index.ts';
import type { CatalogService } from '../catalog/index.ts';
import type { ParticipantRefusal, ReservationParticipant, ReservationRequest } from '../inventory/index.ts';
import { offerRefusalError, type OfferActor } from './offer.kind.ts';
import { offerRefusal, type OfferState, type OfferTerms } from './offer.machine.ts';
import type { OffersRepo } from './offers.repo.ts';
import { ancestry, bestPrices, covers, type OfferPrice, type PricedProduct, type PricingOffer } from './pricing.ts';

export type OfferInput = z.output<typeof offerInputSchema>;
export type OfferUpdate = z.output<typeof offerUpdateSchema>;
type ListQuery = z.output<(typeof warehouseCommands)['offers:list']>;

/** A drop's start may lie this far in the past (a client's clock a little behind ours). */
const START_GRACE_MS = 1_000;
const OPEN_STATES: readonly OfferState[] = ['scheduled', 'live', 'soldOut'];

export interface OfferServiceOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly repo: OffersRepo;
  readonly catalog: CatalogService;
  readonly clock: Clock;
  readonly logger: { warn(object: object, message: string): void };
}

export class OfferService {
  constructor(private readonly o: OfferServiceOptions) {}

  // ------------------------------------------------------------------ staff

  async create(identity: Identity, input: OfferInput): Promise<OfferActor> {
    const now = this.o.clock();
    const { terms, startsAt, endsAt } = await this.judged(input, now);
    if (terms.sort === 'drop' && startsAt < now - START_GRACE_MS) {
      throw new AppError('VALIDATION', 'a new drop cannot start in the past', { details: { startsAt, now } });
    }
    const id = newId('offer');
    if (terms.sort === 'drop') await this.o.repo.saveQuota(id, terms, startsAt, endsAt, now);
    const { actor } = await this.o.runtime.create('offer', id, { id, name: input.name, terms, startsAt, endsAt, createdBy: identity.sub, at: now });
    return actor;
  }

  /** New terms for an offer that has not started; refused with `INVALID_TRANSITION` (`OFFER_STARTED`) once it has. */
  async update(input: OfferUpdate): Promise<OfferActor> {
    const now = this.o.clock();
    const { terms, startsAt, endsAt } = await this.judged(input, now);
    const actor = await this.o.runtime.send('offer', input.offerId, (current) => {
      const event = { type: 'UPDATE' as const, name: input.name, terms, startsAt, endsAt };
      const refusal = offerRefusal(current.state, current.snapshot.context, { ...event, at: now });
      if (refusal) throw refusedBecause(offerRefusalError(input.offerId, refusal));
      return event;
    });
    if (terms.sort === 'drop') await this.o.repo.saveQuota(actor.id, terms, startsAt, endsAt, now);
    return actor;
  }

  async cancel(offerId: string, reason: string | undefined): Promise<OfferActor> {
    const actor = await this.o.runtime.send('offer', offerId, { type: 'CANCEL', reason: reason ?? 'cancelled by staff' });
    await this.o.repo.closeQuota(offerId, this.o.clock());
    return actor;
  }

  async get(offerId: string): Promise<OfferActor> {
    const actor = await this.o.runtime.get('offer', offerId);
    if (!actor) throw new AppError('NOT_FOUND', `offer ${offerId} does not exist`);
    return actor;
  }

  /** Offers newest first, of one state or all. */
  async list(query: ListQuery): Promise<OfferActor[]> {
    const rows = await this.o.actors.listByKind('offer', { state: query.state, limit: query.limit ?? 100 });
    return rows.map((row) => this.o.runtime.fromRow('offer', row));
  }

  /** Live and upcoming offers (sold-out drops included), soonest first: the storefront's list. */
  async current(): Promise<OfferActor[]> {
    const open = await this.open(OPEN_STATES);
    return open.sort((a, b) => a.snapshot.context.startsAt - b.snapshot.context.startsAt || (a.id < b.id ? -1 : 1));
  }

  /** The products an offer prices now: a drop's product, a sale's listed products and those of its categories. */
  async affectedProducts(offer: OfferActor): Promise<string[]> {
    const { terms } = offer.snapshot.context;
    if (terms.sort === 'drop') return [terms.productId];
    const categories = await this.o.catalog.listCategories();
    const chain = ancestry(new Map(categories.map((category) => [category.id, category.parentId])));
    const inCategories =
      terms.categoryIds.length === 0 ? [] : categories.filter((c) => chain(c.id).some((id) => terms.categoryIds.includes(id))).map((c) => c.id);
    return [...new Set([...terms.productIds, ...(await this.o.repo.productsInCategories(inCategories))])];
  }

  async view(offer: OfferActor): Promise<OfferView> {
    return offerView(offer, await this.affectedProducts(offer));
  }

  // ------------------------------------------------------------------ pricing

  /** The best price of each product at `at` (now by default), among the offers that apply then. */
  async pricesFor(products: readonly PricedProduct[], at = this.o.clock()): Promise<Map<string, OfferPrice>> {
    const offers = (await this.open(['scheduled', 'live'])).map((actor): PricingOffer => ({ state: actor.state, context: actor.snapshot.context }));
    const needsTree = offers.some((offer) => offer.context.terms.sort === 'sale' && offer.context.terms.categoryIds.length > 0);
    const chain = needsTree
      ? ancestry(new Map((await this.o.catalog.listCategories()).map((category) => [category.id, category.parentId])))
      : (id: string) => [id];
    return bestPrices(products, offers, at, chain);
  }

  /** Prices by product id (products unknown to the catalog are left out): for recommendations and listings. */
  async priceOf(productIds: readonly string[]): Promise<Map<string, OfferPrice>> {
    const products = await this.o.catalog.getProducts(productIds);
    return this.pricesFor([...products.values()]);
  }

  /**
   * Refuses, before anything is written, a line that a drop prices beyond what the customer may still claim
   * (`LIMIT_REACHED`); checkout claims for real, under the quota's lock.
   */
  async checkDropLimit(customerId: string, price: OfferPrice, quantity: number): Promise<void> {
    if (!price.offerId) return;
    const quota = await this.o.repo.quota(price.offerId);
    if (!quota) return;
    const held = await this.o.repo.heldBy(price.offerId, customerId);
    if (held + quantity > quota.perCustomerLimit) throw limitReached(price.productId, quantity, Math.max(0, quota.perCustomerLimit - held));
  }

  // ------------------------------------------------------------------ drops

  /** Takes part in every checkout's reservation: the drop units its lines were priced with are claimed with the stock. */
  readonly participant: ReservationParticipant = {
    claim: (trx, request, now) => this.claim(trx, request, now),
    release: async (trx, orderId, now) => {
      await this.o.repo.release(trx, orderId, now);
    },
  };

  /** Brings each open drop of these products in line with its quota (after stock moved: a claim, a release). */
  async syncDropsOf(productIds: readonly string[]): Promise<void> {
    for (const quota of await this.o.repo.openQuotasOf(productIds)) await this.syncDrop(quota.offerId);
  }

  /** Every open drop in line with its quota (the sweep: a node may have died between a claim and its sync). */
  async syncAllDrops(): Promise<number> {
    let synced = 0;
    for (const quota of await this.o.repo.openQuotas()) if (await this.syncDrop(quota.offerId)) synced++;
    return synced;
  }

  /** Sends the drop its remaining units as the quota has them, when they differ. True when it changed. */
  async syncDrop(offerId: string): Promise<boolean> {
    let changed = false;
    await this.o.runtime.send('offer', offerId, async (actor) => {
      if (actor.state === 'ended' || actor.state === 'cancelled') return null;
      const quota = await this.o.repo.quota(offerId);
      if (!quota) return null;
      const remaining = Math.max(0, quota.quota - quota.claimed);
      if (remaining === actor.snapshot.context.remaining) return null;
      changed = true;
      return { type: 'QUOTA' as const, remaining };
    });
    return changed;
  }

  /** An offer that ended or was cancelled takes no more claims (idempotent; its flow calls it after a crash too). */
  closeDrop(offerId: string): Promise<void> {
    return this.o.repo.closeQuota(offerId, this.o.clock());
  }

  private async claim(trx: Knex.Transaction, request: ReservationRequest, now: number): Promise<ParticipantRefusal | undefined> {
    const offerIds = [...new Set(request.lines.flatMap((line) => (line.offerId ? [line.offerId] : [])))];
    if (offerIds.length === 0) return undefined;
    const drops = new Set(
      ((await trx('drop_quotas').whereIn('offer_id', offerIds).select('offer_id')) as Array<{ offer_id: string }>).map((row) => row.offer_id),
    );
    for (const offerId of [...drops].sort()) {
      const quantity = request.lines.filter((line) => line.offerId === offerId).reduce((sum, line) => sum + line.quantity, 0);
      const refusal = await this.o.repo.claim(trx, { offerId, orderId: request.orderId, customerId: request.customerId, quantity, at: request.startedAt, now });
      if (refusal) return { reason: refusal.reason, productId: refusal.productId, requested: refusal.requested, available: refusal.available };
    }
    return undefined;
  }

  // ------------------------------------------------------------------ helpers

  private async open(states: readonly OfferState[]): Promise<OfferActor[]> {
    const rows = (await Promise.all(states.map((state) => this.o.actors.listByKind('offer', { state, limit: 1000 })))).flat();
    return rows.map((row) => this.o.runtime.fromRow('offer', row));
  }

  /** The terms of an input, checked against the catalog: what exists, what is sold, what a discount can take off. */
  private async judged(input: OfferInput, now: number): Promise<{ terms: OfferTerms; startsAt: number; endsAt: number | null }> {
    const endsAt = input.endsAt ?? null;
    if (endsAt !== null && endsAt <= now) throw new AppError('VALIDATION', 'endsAt has already passed', { details: { endsAt, now } });
    if (input.sort === 'drop') {
      const product = await this.sold(input.productId);
      if (input.dropPrice >= product.price) {
        throw new AppError('VALIDATION', `a drop price must be below the product's price (${product.price})`, {
          details: { dropPrice: input.dropPrice, price: product.price },
        });
      }
      return {
        terms: { sort: 'drop', productId: product.id, dropPrice: input.dropPrice, quota: input.quota, perCustomerLimit: input.perCustomerLimit },
        startsAt: input.startsAt,
        endsAt,
      };
    }
    const categories = await this.o.catalog.listCategories();
    const categoryIds = input.categoryIds.map((key) => {
      const category = categories.find((c) => c.id === key || c.slug === key);
      if (!category) throw new AppError('NOT_FOUND', `category ${key} does not exist`, { details: { category: key } });
      return category.id;
    });
    for (const productId of input.productIds) await this.sold(productId);
    const terms: OfferTerms = { sort: 'sale', discount: input.discount, productIds: [...new Set(input.productIds)], categoryIds: [...new Set(categoryIds)] };
    if (input.discount.type === 'amount') {
      // A fixed amount may not take a product below nothing: it must be at most the price of every product it covers.
      const chain = ancestry(new Map(categories.map((category) => [category.id, category.parentId])));
      const inCategories = categories.filter((c) => chain(c.id).some((id) => terms.categoryIds.includes(id))).map((c) => c.id);
      const covered = await this.o.catalog.getProducts([...terms.productIds, ...(await this.o.repo.productsInCategories(inCategories))]);
      const cheapest = [...covered.values()].filter((p) => covers(terms, p, chain)).sort((a, b) => a.price - b.price)[0];
      if (cheapest && input.discount.amount > cheapest.price) {
        throw new AppError('VALIDATION', `a fixed amount of ${input.discount.amount} is above the price of ${cheapest.name} (${cheapest.price})`, {
          details: { amount: input.discount.amount, productId: cheapest.id, price: cheapest.price },
        });
      }
    }
    return { terms, startsAt: input.startsAt, endsAt };
  }

  private async sold(productId: string): Promise<ProductView> {
    const product = (await this.o.catalog.getProducts([productId])).get(productId);
    if (!product || product.archived) throw new AppError('NOT_FOUND', `product ${productId} does not exist or is no longer sold`, { details: { productId } });
    return product;
  }
}

export function limitReached(productId: string, requested: number, available: number): AppError {
  return new AppError('LIMIT_REACHED', `this drop allows ${available === 0 ? 'no more' : `only ${available} more`} of this product per customer`, {
    details: { productId, requested, available },
  });
}

export function offerView(actor: OfferActor, affectedProductIds: readonly string[]): OfferView {
  const c = actor.snapshot.context;
  const { terms } = c;
  return {
    id: actor.id,
    version: actor.version,
    state: actor.state as OfferView['state'],
    name: c.name,
    sort: terms.sort,
    discount: terms.sort === 'sale' ? terms.discount : null,
    productIds: terms.sort === 'sale' ? terms.productIds : [terms.productId],
    categoryIds: terms.sort === 'sale' ? terms.categoryIds : [],
    affectedProductIds,
    drop:
      terms.sort === 'drop'
        ? {
            productId: terms.productId,
            dropPrice: terms.dropPrice,
            quota: terms.quota,
            perCustomerLimit: terms.perCustomerLimit,
            remaining: c.remaining ?? terms.quota,
          }
        : null,
    startsAt: c.startsAt,
    endsAt: c.endsAt,
    cancelReason: c.cancelReason,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}
