// The catalog module: categories and products (read over REST), the `product:<id>` topic, and the demo catalog.
import { defineModule } from '../../kernel/module.ts';
import { productQuerySchema } from '../../protocol/index.ts';
import { CatalogRepo } from './catalog.repo.ts';
import { CatalogService } from './catalog.service.ts';
import { seedDemoCatalog } from './demo-catalog.ts';

export { CatalogService, productView } from './catalog.service.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly catalog: CatalogService;
  }
}

export const catalogModule = defineModule({
  name: 'catalog',
  create: ({ clock, db, config, logger }) => {
    const catalog = new CatalogService(clock, new CatalogRepo(db.knex));
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
      routes: (routes, { parse }) => {
        routes.get('/api/categories', async () => ({ items: await catalog.listCategories() }));
        routes.get('/api/products', async (request) => catalog.listProducts(parse(productQuerySchema, request.query)));
        routes.get('/api/products/:id', async (request) => catalog.getProduct(String((request.params as { id: string }).id)));
      },
      start: async () => {
        if (!config.seedDemoData) return;
        const seeded = await seedDemoCatalog(catalog);
        if (seeded > 0) logger.info({ products: seeded }, 'demo catalog seeded');
      },
    };
  },
});
