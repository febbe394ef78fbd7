// The reviews module: customers review what they received, vote reviews helpful; staff hide abusive ones; the
// product's rating aggregate follows every change and is pushed as `rating:changed` on `product:<id>`.
import { map } from 'rxjs';
import { command } from '../../kernel/gateway/commands.ts';
import { once, type Push } from '../../kernel/gateway/pushes.ts';
import { defineModule, type StoreCommandTable, type WarehouseCommandTable } from '../../kernel/module.ts';
import { idSchema, pushTopics, reviewQuerySchema, storeCommands as s, warehouseCommands as w } from '../../protocol/index.ts';
import * as reviewsMigration from './migrations/009_reviews.ts';
import { ReviewsRepo } from './reviews.repo.ts';
import { ReviewsService } from './reviews.service.ts';

export { ReviewsService, reviewView } from './reviews.service.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly reviews: ReviewsService;
  }
}

export const reviewsModule = defineModule({
  name: 'reviews',
  migrations: [reviewsMigration],
  create: ({ db, clock, actors, services }) => {
    const reviews = new ReviewsService({ repo: new ReviewsRepo(db.knex), actors, clock, services });
    return {
      services: { reviews },
      commands: {
        store: {
          'review:create': command(s['review:create'], async ({ identity }, p) => ({ review: await reviews.create(identity, p) })),
          'review:update': command(s['review:update'], async ({ identity }, p) => ({ review: await reviews.update(identity, p) })),
          'review:delete': command(s['review:delete'], async ({ identity }, p) => {
            await reviews.delete(identity, p.reviewId);
            return { reviewId: p.reviewId };
          }),
          'review:vote': command(s['review:vote'], async ({ identity }, p) => ({ review: await reviews.vote(identity, p.reviewId) })),
        } satisfies Partial<StoreCommandTable>,
        warehouse: {
          'review:hide': command(w['review:hide'], async (_ctx, p) => ({ review: await reviews.hide(p.reviewId, p.reason) })),
        } satisfies Partial<WarehouseCommandTable>,
      },
      pushes: reviews.ratingChanged$.pipe(
        map(
          (rating): Push => ({
            topics: pushTopics['rating:changed'](rating),
            event: 'rating:changed',
            payload: once(() => [rating]),
          }),
        ),
      ),
      routes: (routes, { parse }) => {
        routes.get('/api/products/:id/reviews', async (request) => {
          const productId = parse(idSchema, (request.params as { id: string }).id);
          await services.catalog.getProduct(productId);
          return reviews.list(productId, parse(reviewQuerySchema, request.query));
        });
      },
      erasure: { erase: (customerId) => reviews.erase(customerId) },
    };
  },
});
