// The recommendations module: a Person–Product graph (customer→product edges, product↔product co-purchase counts,
// units sold) grown by a best-effort flow as orders are paid; "bought together" over REST; and, for a cart, the
// `recommendations:<cartId>` topic, pushed `recommendations:updated` when the cart changes (debounced per cart).
import { defineModule } from '../../kernel/module.ts';
import { idSchema, recommendationQuerySchema } from '../../protocol/index.ts';
import { recordPaidOrders } from './flows.ts';
import * as recommendationsMigration from './migrations/011_recommendations.ts';
import { recommendationPushes } from './pushes.ts';
import { RecommendationsRepo } from './recommendations.repo.ts';
import { RecommendationsService, type PriceOf } from './recommendations.service.ts';

export { HISTORY_WEIGHT, RecommendationsService, type PriceOf, type Prices } from './recommendations.service.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly recommendations: RecommendationsService;
  }
}

export const recommendationsModule = defineModule({
  name: 'recommendations',
  migrations: [recommendationsMigration],
  create: ({ config, db, runtime, logger, services, clients }) => {
    const log = logger.child({ part: 'recommendations' });
    // Live offers: what the customer would pay now, beside the list price.
    const priceOf: PriceOf = (ids) => services.offers.priceOf(ids);
    const recommendations = new RecommendationsService({ repo: new RecommendationsRepo(db), runtime, services, logger: log, priceOf });
    return {
      services: { recommendations },
      // A projection: a failure is retried, then parked, and never holds back the sagas.
      flows: [recordPaidOrders({ recommendations })],
      // Only the cart's owner may follow its recommendations (the cart's own check: FORBIDDEN, NOT_FOUND).
      topics: { store: { recommendations: { view: async (identity, cartId) => recommendations.forCart(await services.carts.get(identity, cartId)) } } },
      pushes: recommendationPushes(runtime.changes$, {
        debounceMs: config.recommendationsDebounceMs,
        compute: (cart) => recommendations.forCart(cart),
        logger: log,
        mayBeWatching: (topic) => clients.mayBeWatching('store', topic),
      }),
      routes: (routes, { parse }) => {
        routes.get('/api/products/:id/recommendations', async (request) => {
          const productId = parse(idSchema, (request.params as { id: string }).id);
          const { limit } = parse(recommendationQuerySchema, request.query);
          return { recommendations: await recommendations.forProduct(productId, limit) };
        });
      },
      // Purchase history is personal; co-purchase counts and sales are anonymous and stay.
      erasure: { erase: (customerId) => recommendations.eraseCustomer(customerId) },
    };
  },
});
