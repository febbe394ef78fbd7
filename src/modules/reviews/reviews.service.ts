// Reviews and ratings: a customer who received a product reviews it once, edits or deletes the review; others vote
// it helpful once; staff hide abusive ones. Every change that moves the product's aggregate is announced.
import { Subject } from 'rxjs';
import { AppError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import type { Clock, Identity } from '../../domain/identity.ts';
import type { ActorRepo } from '../../kernel/db/actor.repo.ts';
import { ownedActors } from '../../kernel/privacy.ts';
import type { Services } from '../../kernel/registry.ts';
import type { RatingChanged, ReviewView } from '../../protocol/index.ts';
import { ReviewsRepo, type ReviewRow, type ReviewSort } from './reviews.repo.ts';

export interface ReviewsServiceOptions {
  readonly repo: ReviewsRepo;
  readonly actors: ActorRepo;
  readonly clock: Clock;
  /** The catalog (the product and its rating columns) and accounts (the author's name), read when used. */
  readonly services: Pick<Services, 'catalog' | 'auth'>;
}

export function reviewView(row: ReviewRow): ReviewView {
  return {
    id: row.id,
    productId: row.product_id,
    authorName: row.author_name,
    rating: Number(row.rating),
    title: row.title,
    body: row.body,
    helpful: Number(row.helpful),
    hidden: row.hidden_at !== null && row.hidden_at !== undefined,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** "Ada Lovelace" -> "Ada L.": enough to tell reviewers apart, not enough to find them. */
export function authorName(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return 'Customer';
  const last = words.length > 1 ? ` ${words.at(-1)!.charAt(0).toUpperCase()}.` : '';
  return `${words[0]}${last}`;
}

const customerOnly = (identity: Identity) => {
  if (identity.role === 'guest') throw new AppError('FORBIDDEN', 'sign in to review or vote', { details: { reason: 'SIGN_IN' } });
  return identity.sub;
};

/** A page cursor: the id of the last review of a page, opaque to clients. */
const cursorOf = (row: ReviewRow) => Buffer.from(row.id).toString('base64url');

export class ReviewsService {
  /** Every committed change of a product's rating aggregate, for the `rating:changed` push. */
  readonly ratingChanged$ = new Subject<RatingChanged>();

  constructor(private readonly o: ReviewsServiceOptions) {}

  /** Reviews `productId`: only once, and only by a customer one of whose orders with it was delivered. */
  async create(identity: Identity, input: { productId: string; rating: number; title: string; body: string }): Promise<ReviewView> {
    const customerId = customerOnly(identity);
    await this.o.services.catalog.getProduct(input.productId); // NOT_FOUND for an unknown product
    const existing = await this.o.repo.byAuthor(input.productId, customerId);
    if (existing) throw alreadyReviewed(existing.id);
    if (!(await this.received(customerId, input.productId))) {
      throw new AppError('FORBIDDEN', 'you can review a product once an order with it has been delivered to you', {
        details: { reason: 'NOT_DELIVERED', productId: input.productId },
      });
    }
    const account = await this.o.services.auth.getCustomer(customerId);
    const now = this.o.clock();
    const row = await this.o.repo.insert({
      id: newId('rev'),
      product_id: input.productId,
      customer_id: customerId,
      author_name: authorName(account?.name ?? ''),
      rating: input.rating,
      title: input.title,
      body: input.body,
      helpful: 0,
      hidden_at: null,
      hidden_reason: null,
      created_at: now,
      updated_at: now,
    });
    // Two reviews raced past the check above; the unique key kept one.
    if (!row) throw alreadyReviewed((await this.o.repo.byAuthor(input.productId, customerId))?.id ?? null);
    await this.refresh(input.productId);
    return reviewView(row);
  }

  async update(identity: Identity, input: { reviewId: string; rating?: number | undefined; title?: string | undefined; body?: string | undefined }) {
    const row = await this.own(identity, input.reviewId);
    const updated = await this.o.repo.update(row.id, {
      ...(input.rating === undefined ? {} : { rating: input.rating }),
      ...(input.title === undefined ? {} : { title: input.title }),
      ...(input.body === undefined ? {} : { body: input.body }),
      updated_at: this.o.clock(),
    });
    if (input.rating !== undefined && input.rating !== Number(row.rating)) await this.refresh(row.product_id);
    return reviewView(updated);
  }

  async delete(identity: Identity, reviewId: string): Promise<void> {
    const row = await this.own(identity, reviewId);
    await this.o.repo.delete(row.id);
    await this.refresh(row.product_id);
  }

  /** "Helpful", once per customer, never on one's own review or a hidden one. */
  async vote(identity: Identity, reviewId: string): Promise<ReviewView> {
    const voterId = customerOnly(identity);
    const row = await this.o.repo.get(reviewId);
    if (!row || row.hidden_at != null) throw new AppError('NOT_FOUND', `review ${reviewId} does not exist`);
    if (row.customer_id === voterId) throw new AppError('FORBIDDEN', 'you cannot vote for your own review', { details: { reason: 'OWN_REVIEW' } });
    if (!(await this.o.repo.vote(reviewId, voterId, this.o.clock()))) {
      throw new AppError('CONFLICT', 'you have voted for this review already', { details: { reason: 'ALREADY_VOTED', reviewId } });
    }
    return reviewView((await this.o.repo.get(reviewId))!);
  }

  /** Staff hide an abusive review: it leaves the listing and the product's aggregate. Hiding it again changes nothing. */
  async hide(reviewId: string, reason: string): Promise<ReviewView> {
    const row = await this.o.repo.get(reviewId);
    if (!row) throw new AppError('NOT_FOUND', `review ${reviewId} does not exist`);
    if (row.hidden_at != null) return reviewView(row);
    const hidden = await this.o.repo.update(reviewId, { hidden_at: this.o.clock(), hidden_reason: reason, updated_at: this.o.clock() });
    await this.refresh(row.product_id);
    return reviewView(hidden);
  }

  /** A page of a product's visible reviews; `cursor` is the previous page's `nextCursor`. */
  async list(productId: string, query: { sort: ReviewSort; limit: number; cursor?: string | undefined }) {
    let after: ReviewRow | undefined;
    if (query.cursor !== undefined) {
      // Decoded, it may be any bytes: only an id's characters reach the database (PostgreSQL refuses NUL in text).
      const id = Buffer.from(query.cursor, 'base64url').toString('utf8');
      after = /^[A-Za-z0-9_.:-]{1,100}$/.test(id) ? await this.o.repo.get(id) : undefined;
      if (!after || after.product_id !== productId) throw new AppError('VALIDATION', 'cursor: not a cursor of this listing');
    }
    const rows = await this.o.repo.list(productId, query.sort, query.limit + 1, after);
    const page = rows.slice(0, query.limit);
    return { items: page.map(reviewView), nextCursor: rows.length > query.limit ? cursorOf(page.at(-1)!) : null };
  }

  /** A deleted account's reviews go (their text may name the person), and the aggregates follow. */
  async erase(customerId: string): Promise<void> {
    for (const row of await this.o.repo.byCustomer(customerId)) {
      await this.o.repo.delete(row.id);
      await this.refresh(row.product_id);
    }
  }

  private async own(identity: Identity, reviewId: string): Promise<ReviewRow> {
    const row = await this.o.repo.get(reviewId);
    if (!row) throw new AppError('NOT_FOUND', `review ${reviewId} does not exist`);
    if (row.customer_id !== identity.sub) throw new AppError('FORBIDDEN', `review ${reviewId} is someone else's`);
    return row;
  }

  /** Whether one of the customer's delivered orders holds the product. */
  private async received(customerId: string, productId: string): Promise<boolean> {
    const orders = await ownedActors(this.o.actors, customerId, 'order');
    return orders.some(
      (row) =>
        row.state === 'delivered' &&
        ((row.persisted as { context?: { items?: Array<{ productId: string }> } }).context?.items ?? []).some((line) => line.productId === productId),
    );
  }

  /**
   * Writes the product's aggregate, computed from its visible reviews inside the catalog's write of it (the
   * product row is locked first, so concurrent refreshes of one product each see every review committed before
   * them, and the last one written is complete), and announces it with the product's new version.
   */
  private async refresh(productId: string): Promise<void> {
    const product = await this.o.services.catalog.refreshRating(productId, (db) => ReviewsRepo.aggregate(db, productId));
    this.ratingChanged$.next({
      productId,
      average: product.rating.average,
      count: product.rating.count,
      histogram: [...product.rating.histogram],
      version: product.version,
    });
  }
}

function alreadyReviewed(reviewId: string | null): AppError {
  return new AppError('CONFLICT', 'you have reviewed this product already; edit your review instead', { details: { reason: 'ALREADY_REVIEWED', reviewId } });
}
