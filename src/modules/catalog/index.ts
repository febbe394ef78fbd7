// The catalog module: categories and products (read and searched over REST), the `product:<id>` topic, and the demo catalog.
import { map } from 'rxjs';
import type { Clock } from '../../domain/identity.ts';
import type { Db } from '../../kernel/db/db.ts';
import { command } from '../../kernel/gateway/commands.ts';
import { once, type Push } from '../../kernel/gateway/pushes.ts';
import { defineModule, type WarehouseCommandTable } from '../../kernel/module.ts';
import { idSchema, productQuerySchema, pushTopics, searchSuggestQuerySchema, warehouseCommands as w } from '../../protocol/index.ts';
import { CatalogRepo } from './catalog.repo.ts';
import { CatalogService } from './catalog.service.ts';
import { seedDemoCatalog } from './demo-catalog.ts';
import * as catalogManagement from './migrations/005_catalog_management.ts';
import * as search from './migrations/006_search.ts';
import { searchRepoFor } from './search.repo.ts';

export { CatalogService, productView, type RatingAggregate } from './catalog.service.ts';

/** The catalog service on its own, for scripts that run without the app (`npm run catalog:import`). */
export function standaloneCatalog(db: Db, clock: Clock): CatalogService {
  return new CatalogService(clock, new CatalogRepo(db.knex, db.transaction), searchRepoFor(db));
}

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly catalog: CatalogService;
  }
}

export const catalogModule = defineModule({
  name: 'catalog',
  migrations: [catalogManagement, search],
  create: ({ clock, db, config, logger }) => {
    const catalog = new CatalogService(clock, new CatalogRepo(db.knex, db.transaction), searchRepoFor(db), { cacheMs: config.catalogCacheMs });
    /** A product topic's view: the product with `version` set to its stock version, as `stock:changed` carries it. */
    const productTopic = {
      view: async (_identity: unknown, id: string) => {
        const product = await catalog.getProduct(id);
        return { ...product, version: product.stockVersion };
      },
    };
    return {
      services: { catalog },
      topics: { store: { product: productTopic }, warehouse: { product: productTopic } },
      // Staff only (the /warehouse namespace): a customer has no catalog command at all.
      commands: {
        warehouse: {
          'catalog:upsertCategory': command(w['catalog:upsertCategory'], (_ctx, p) => catalog.upsertCategory(p)),
          'catalog:upsertProduct': command(w['catalog:upsertProduct'], (_ctx, p) => catalog.upsertProduct(p)),
          'catalog:archiveProduct': command(w['catalog:archiveProduct'], async (_ctx, p) => ({ product: await catalog.archiveProduct(p.productId) })),
        } satisfies Partial<WarehouseCommandTable>,
      },
      pushes: catalog.productChanged$.pipe(
        map(
          (product): Push => ({
            topics: pushTopics['product:updated'](product),
            event: 'product:updated',
            payload: once(() => [product]),
          }),
        ),
      ),
      routes: (routes, { parse }) => {
        routes.get('/api/categories', async () => ({ items: await catalog.listCategories() }));
        routes.get('/api/products', async (request) => catalog.listProducts(parse(productQuerySchema, request.query)));
        routes.get('/api/search/suggest', async (request) => catalog.suggest(parse(searchSuggestQuerySchema, request.query).q));
        routes.get('/api/products/:id', async (request) => catalog.getProduct(parse(idSchema, (request.params as { id: string }).id)));
      },
      start: async () => {
        if (!config.seedDemoData) return;
        const seeded = await seedDemoCatalog(catalog);
        if (seeded > 0) logger.info({ products: seeded }, 'demo catalog seeded');
      },
    };
  },
});
