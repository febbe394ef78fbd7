// The reviews' tables: reviews, helpful votes, listings by product, and the rating aggregate of a product.
import type { Knex } from 'knex';
import { isUniqueViolation } from '../../kernel/db/db.ts';

/** A `reviews` row. */
export interface ReviewRow {
  readonly id: string;
  readonly product_id: string;
  readonly customer_id: string;
  readonly author_name: string;
  readonly rating: number;
  readonly title: string;
  readonly body: string;
  readonly helpful: number;
  readonly hidden_at: number | null;
  readonly hidden_reason: string | null;
  readonly created_at: number;
  readonly updated_at: number;
}

/** A product's rating aggregate over its visible reviews. */
export interface RatingAggregate {
  readonly count: number;
  readonly sum: number;
  readonly histogram: readonly [number, number, number, number, number];
}

export type ReviewSort = 'newest' | 'helpful';

export class ReviewsRepo {
  constructor(private readonly knex: Knex) {}

  async get(id: string): Promise<ReviewRow | undefined> {
    return (await this.knex('reviews').where({ id }).first()) as ReviewRow | undefined;
  }

  async byAuthor(productId: string, customerId: string): Promise<ReviewRow | undefined> {
    return (await this.knex('reviews').where({ product_id: productId, customer_id: customerId }).first()) as ReviewRow | undefined;
  }

  /** Inserts the review; undefined when the customer has one for this product already (the unique key decides a race). */
  async insert(row: ReviewRow): Promise<ReviewRow | undefined> {
    try {
      await this.knex('reviews').insert(row);
      return row;
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  async update(
    id: string,
    fields: Partial<Pick<ReviewRow, 'rating' | 'title' | 'body' | 'hidden_at' | 'hidden_reason' | 'author_name'>> & { updated_at: number },
  ) {
    await this.knex('reviews').where({ id }).update(fields);
    return (await this.get(id))!;
  }

  async delete(id: string): Promise<void> {
    await this.knex('reviews').where({ id }).delete();
  }

  /** Records one helpful vote; false when this voter voted for this review before. */
  async vote(reviewId: string, voterId: string, at: number): Promise<boolean> {
    try {
      await this.knex.transaction(async (trx) => {
        await trx('review_votes').insert({ review_id: reviewId, voter_id: voterId, created_at: at });
        await trx('reviews').where({ id: reviewId }).increment('helpful', 1);
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /**
   * A page of a product's visible reviews: newest first, or most helpful first (ties newest first, then by id).
   * `after` is the last row of the previous page.
   */
  async list(productId: string, sort: ReviewSort, limit: number, after: ReviewRow | undefined): Promise<ReviewRow[]> {
    const query = this.knex('reviews').where({ product_id: productId }).whereNull('hidden_at');
    if (after) {
      if (sort === 'helpful') {
        query.andWhere((w) =>
          w
            .where('helpful', '<', after.helpful)
            .orWhere((x) => x.where('helpful', after.helpful).andWhere('created_at', '<', after.created_at))
            .orWhere((x) => x.where('helpful', after.helpful).andWhere('created_at', after.created_at).andWhere('id', '<', after.id)),
        );
      } else {
        query.andWhere((w) =>
          w.where('created_at', '<', after.created_at).orWhere((x) => x.where('created_at', after.created_at).andWhere('id', '<', after.id)),
        );
      }
    }
    if (sort === 'helpful') query.orderBy('helpful', 'desc');
    return (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit)) as ReviewRow[];
  }

  /** The aggregate of a product's visible reviews, read through `db` (the transaction that writes it on the product). */
  static async aggregate(db: Knex, productId: string): Promise<RatingAggregate> {
    const rows = (await db('reviews').where({ product_id: productId }).whereNull('hidden_at').select('rating').count({ n: '*' }).groupBy('rating')) as Array<{
      rating: number;
      n: number | string;
    }>;
    const histogram: [number, number, number, number, number] = [0, 0, 0, 0, 0];
    for (const row of rows) histogram[Number(row.rating) - 1] = Number(row.n);
    return { count: histogram.reduce((a, b) => a + b, 0), sum: histogram.reduce((total, n, i) => total + n * (i + 1), 0), histogram };
  }

  /** Every review a customer wrote, for erasure. */
  async byCustomer(customerId: string): Promise<ReviewRow[]> {
    return (await this.knex('reviews').where({ customer_id: customerId })) as ReviewRow[];
  }
}
