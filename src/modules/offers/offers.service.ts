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
import { offerRefusal, type DropTerms, type OfferState, type OfferTerms } from './offer.machine.ts';
import type { DropQuota, OffersRepo } from './offers.repo.ts';
import { ancestry, applies, bestPrices, covers, type DropCheck, type OfferPrice, type PricedProduct, type PricingOffer } from './pricing.ts';

export type OfferInput = z.output<typeof offerInputSchema>;
export type OfferUpdate = z.output<typeof offerUpdateSchema>;
type ListQuery = z.output<(typeof warehouseCommands)['offers:list']>;

/** A drop's start may lie this far in the past (a client's clock a little behind ours). */
const START_GRACE_MS = 1_000;
const OPEN_STATES: readonly OfferState[] = ['scheduled', 'live', 'soldOut'];
/**
 * How long a node prices with the offers (and the category tree) it read last. Its own offer changes drop them at
 * once; another node's, and a category moved, reach it within this (well inside the sweep's own second of lag at a
 * start or an end). A checkout reads both afresh.
 */
const PRICING_CACHE_MS = 250;
/** A drop quota row with no offer actor this old (its creation failed half-way) is closed by the sweep. */
const ORPHAN_QUOTA_MS = 60_000;

/** Who a price is for and how many: a drop prices a line only if it has units for all of it, within the customer's limit. */
export interface PricingFor {
  readonly customerId?: string | undefined;
  /** Units wanted per product (1 when absent). */
  readonly quantities?: ReadonlyMap<string, number> | undefined;
  readonly at?: number | undefined;
  /** Read the open offers afresh rather than from this node's quarter-second cache (a checkout locking its prices). */
  readonly fresh?: boolean | undefined;
}

export interface OfferServiceOptions {
  readonly runtime: AppRuntime;
  readonly actors: ActorRepo;
  readonly repo: OffersRepo;
  readonly catalog: CatalogService;
  readonly clock: Clock;
  readonly logger: { warn(object: object, message: string): void };
}

export class OfferService {
  private pricing: { readonly readAt: number; readonly offers: Promise<PricingOffer[]> } | undefined;
  /** The category tree a sale by category prices with, read at most once per `PRICING_CACHE_MS` (not per cart change). */
  private tree: { readonly readAt: number; readonly chain: Promise<(categoryId: string) => string[]> } | undefined;

  constructor(private readonly o: OfferServiceOptions) {}

  /** Forgets the offers read for pricing (an offer changed on this node). */
  invalidate(): void {
    this.pricing = undefined;
    this.tree = undefined;
  }

  // ------------------------------------------------------------------ staff

  async create(identity: Identity, input: OfferInput): Promise<OfferActor> {
    const now = this.o.clock();
    const { terms, startsAt, endsAt } = await this.judged(input, now);
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
    // The terms the actor committed (another editor's may have landed since ours; the sweep's sync corrects a row written out of order).
    const committed = actor.snapshot.context;
    if (committed.terms.sort === 'drop') await this.o.repo.saveQuota(actor.id, committed.terms, committed.startsAt, committed.endsAt, now);
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

  /**
   * The best price of each product now (or `at`), among the offers that apply then. A drop prices a line only if
   * its quota (what checkouts claim from, not the actor's mirror) has units for all of it and, for a known
   * customer, the customer may still claim them: otherwise the line is at its list price.
   */
  async pricesFor(products: readonly PricedProduct[], pricing: PricingFor = {}): Promise<Map<string, OfferPrice>> {
    const at = pricing.at ?? this.o.clock();
    const offers = (await this.pricingOffers(pricing.fresh)).filter((offer) => applies(offer, at));
    const needsTree = offers.some((offer) => offer.context.terms.sort === 'sale' && offer.context.terms.categoryIds.length > 0);
    const chain = needsTree ? await this.categoryTree(pricing.fresh) : (id: string) => [id];
    const dropIds = offers.flatMap(({ context: { id, terms } }) => (terms.sort === 'drop' && products.some((p) => p.id === terms.productId) ? [id] : []));
    const quotas = await this.o.repo.remainingOf(dropIds);
    const held = pricing.customerId ? await this.o.repo.heldByCustomer(dropIds, pricing.customerId) : new Map<string, number>();
    const dropCheck: DropCheck = (offer, productId) => {
      const quota = quotas.get(offer.id);
      const quantity = pricing.quantities?.get(productId) ?? 1;
      if (!quota || quota.closed || quota.remaining < quantity) return false;
      return !pricing.customerId || (held.get(offer.id) ?? 0) + quantity <= quota.perCustomerLimit;
    };
    return bestPrices(products, offers, at, chain, dropCheck);
  }

  /** Each category's chain up to its root, for pricing: from this node's quarter-second cache unless `fresh`. */
  private categoryTree(fresh = false): Promise<(categoryId: string) => string[]> {
    const now = Date.now();
    if (fresh || !this.tree || now - this.tree.readAt > PRICING_CACHE_MS) {
      const chain = this.o.catalog.listCategories().then((categories) => ancestry(new Map(categories.map((category) => [category.id, category.parentId]))));
      this.tree = { readAt: now, chain };
      // A failed read is not kept.
      chain.catch(() => {
        if (this.tree?.chain === chain) this.tree = undefined;
      });
    }
    return this.tree.chain;
  }

  private pricingOffers(fresh = false): Promise<PricingOffer[]> {
    const now = Date.now();
    if (fresh || !this.pricing || now - this.pricing.readAt > PRICING_CACHE_MS) {
      const offers = this.open(['scheduled', 'live']).then((actors) =>
        actors.map((actor): PricingOffer => ({ state: actor.state, context: actor.snapshot.context })),
      );
      this.pricing = { readAt: now, offers };
      // A failed read is not kept.
      offers.catch(() => {
        if (this.pricing?.offers === offers) this.pricing = undefined;
      });
    }
    return this.pricing.offers;
  }

  /** Prices by product id (products unknown to the catalog are left out): for recommendations and listings. */
  async priceOf(productIds: readonly string[]): Promise<Map<string, OfferPrice>> {
    const products = await this.o.catalog.getProducts(productIds);
    return this.pricesFor([...products.values()]);
  }

  /** A guest who signs in brings the drop units claimed as a guest: the per-customer limit follows the person. */
  adoptGuestClaims(guestId: string, customerId: string): Promise<number> {
    return this.o.repo.adopt(guestId, customerId, this.o.clock());
  }

  // ------------------------------------------------------------------ drops

  /** Takes part in every checkout's reservation: the drop units its lines were priced with are claimed with the stock. */
  readonly participant: ReservationParticipant = {
    claim: (trx, request, now) => this.claim(trx, request, now),
    release: async (trx, orderId, now) => {
      await this.o.repo.release(trx, orderId, now);
    },
    commit: (trx, orderId, now) => this.o.repo.commit(trx, orderId, now),
  };

  /** Brings each open drop of these products in line with its quota (after stock moved: a claim, a release). */
  async syncDropsOf(productIds: readonly string[]): Promise<void> {
    await this.syncEach(await this.o.repo.openQuotasOf(productIds));
  }

  /** Every open drop in line with its quota (the sweep: a node may have died between a claim and its sync). */
  async syncAllDrops(): Promise<number> {
    return this.syncEach(await this.o.repo.openQuotas());
  }

  /** One drop failing to sync (changed elsewhere, the database away) holds up none of the others. */
  private async syncEach(quotas: readonly DropQuota[]): Promise<number> {
    let synced = 0;
    for (const quota of quotas) {
      try {
        if (await this.syncDrop(quota)) synced++;
      } catch (error) {
        this.o.logger.warn({ err: error, offerId: quota.offerId }, 'drop sync failed; the next sweep retries');
      }
    }
    return synced;
  }

  /**
   * Brings one drop's actor and quota row in line: the actor learns its remaining units as the quota has them;
   * a scheduled drop's row takes the actor's terms (an update whose row write was lost or overtaken). True when
   * something changed.
   */
  async syncDrop(row: DropQuota): Promise<boolean> {
    const { offerId } = row;
    const offer = await this.o.runtime.get('offer', offerId);
    if (!offer) {
      // A creation that failed between its quota row and its actor: nothing can be priced by it; close it once old.
      if (row.updatedAt < this.o.clock() - ORPHAN_QUOTA_MS) await this.o.repo.closeQuota(offerId, this.o.clock());
      return false;
    }
    const { terms, startsAt, endsAt } = offer.snapshot.context;
    if (offer.state === 'scheduled' && terms.sort === 'drop' && !sameTerms(row, terms, startsAt, endsAt)) {
      await this.o.repo.saveQuota(offerId, terms, startsAt, endsAt, this.o.clock());
    }
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
    const drops = await this.o.repo.dropsAmong(trx, offerIds);
    for (const offerId of [...drops].sort()) {
      const quantity = request.lines.filter((line) => line.offerId === offerId).reduce((sum, line) => sum + line.quantity, 0);
      const refusal = await this.o.repo.claim(trx, { offerId, orderId: request.orderId, customerId: request.customerId, quantity, at: request.startedAt, now });
      if (refusal) return { reason: refusal.reason, productId: refusal.productId, requested: refusal.requested, available: refusal.available };
    }
    return undefined;
  }

  // ------------------------------------------------------------------ helpers

  private async open(states: readonly OfferState[]): Promise<OfferActor[]> {
    const rows = await this.o.actors.listByKind('offer', { state: states, limit: 1000 * states.length });
    return rows.map((row) => this.o.runtime.fromRow('offer', row));
  }

  /** The terms of an input, checked against the catalog: what exists, what is sold, what a discount can take off. */
  private async judged(input: OfferInput, now: number): Promise<{ terms: OfferTerms; startsAt: number; endsAt: number | null }> {
    const endsAt = input.endsAt ?? null;
    if (input.sort === 'drop' && input.startsAt < now - START_GRACE_MS) {
      throw new AppError('VALIDATION', 'a drop cannot start in the past', { details: { startsAt: input.startsAt, now } });
    }
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

function sameTerms(row: DropQuota, terms: DropTerms, startsAt: number, endsAt: number | null): boolean {
  return (
    row.productId === terms.productId &&
    row.quota === terms.quota &&
    row.perCustomerLimit === terms.perCustomerLimit &&
    row.startsAt === startsAt &&
    row.endsAt === endsAt
  );
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
