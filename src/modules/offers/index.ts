// The offers module: festival sales and limited drops as actors (kind `offer`), their /warehouse commands, the
// `offers` and `offer:<id>` topics, their pushes (also on the page of every product they price), GET /api/offers,
// pricing for carts and recommendations, and drop quotas claimed with the stock at checkout.
import { auditTime, concatMap, debounceTime, filter, from, groupBy, mergeMap, type Observable } from 'rxjs';
import { command } from '../../kernel/gateway/commands.ts';
import { once, type Push } from '../../kernel/gateway/pushes.ts';
import type { ChangeOf } from '../../kernel/gateway/pushes.ts';
import { defineModule, type WarehouseCommandTable } from '../../kernel/module.ts';
import type { ActorChange } from '../../kernel/actors/runtime.ts';
import { pushTopics, warehouseCommands as w } from '../../protocol/index.ts';
import { offersCloseDrops } from './flows.ts';
import * as offersMigration from './migrations/010_offers.ts';
import { offerKind, type OfferActor } from './offer.kind.ts';
import type { OfferEmitted } from './offer.machine.ts';
import { OffersRepo } from './offers.repo.ts';
import { OfferService, offerView } from './offers.service.ts';

export { OfferService, limitReached, offerView } from './offers.service.ts';
export type { OfferActor } from './offer.kind.ts';
export type { OfferPrice, PricedProduct } from './pricing.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly offers: OfferService;
  }
}

/** The push a committed offer change makes: started, ended (or cancelled), remaining units, or any other change. */
function offerPush(change: ChangeOf<'offer'>, affected: readonly string[]): Push {
  const emitted = change.emitted.map((record) => record.type as OfferEmitted['type']);
  const view = once(() => offerView(change.actor, affected));
  if (emitted.includes('offer.started')) return { topics: pushTopics['offer:started'](view()), event: 'offer:started', payload: () => [view()] };
  if (emitted.includes('offer.ended')) return { topics: pushTopics['offer:ended'](view()), event: 'offer:ended', payload: () => [view()] };
  const { context } = change.actor.snapshot;
  if ((change.event as { type?: string }).type === 'QUOTA' && context.terms.sort === 'drop') {
    const remaining = {
      offerId: change.id,
      productId: context.terms.productId,
      remaining: context.remaining ?? 0,
      quota: context.terms.quota,
      state: change.actor.state as ReturnType<typeof offerView>['state'],
      version: change.version,
    };
    return { topics: pushTopics['offer:remaining'](remaining), event: 'offer:remaining', payload: () => [remaining] };
  }
  return { topics: pushTopics['offer:updated'](view()), event: 'offer:updated', payload: () => [view()] };
}

/** How often, at most, a product's drops are synced with their quotas during a rush of stock changes. */
const DROP_SYNC_MS = 50;

export const offersModule = defineModule({
  name: 'offers',
  kinds: { offer: offerKind },
  migrations: [offersMigration],
  create: ({ config, db, clock, runtime, actors, logger, services }) => {
    const offers = new OfferService({ runtime, actors, repo: new OffersRepo(db.knex), catalog: services.catalog, clock, logger });
    // Drop units are claimed in the checkout's stock transaction, and given back in the release's.
    services.inventory.addParticipant(offers.participant);
    // After stock moved (a checkout claimed, an order gave back), each open drop of the product follows its quota.
    // Per product, a rush of changes folds into one sync per DROP_SYNC_MS (the sync reads the quota as it is then),
    // and one product's syncs never wait for another's.
    const syncing = services.inventory.stockChanged$
      .pipe(
        groupBy((level) => level.productId, { duration: (group) => group.pipe(debounceTime(10_000)) }),
        mergeMap((group) =>
          group.pipe(
            auditTime(DROP_SYNC_MS),
            concatMap((level) =>
              from(
                offers
                  .syncDropsOf([level.productId])
                  .catch((error: unknown) => logger.warn({ err: error, productId: level.productId }, 'drop sync failed; the sweep will retry')),
              ),
            ),
          ),
        ),
      )
      .subscribe();
    // This node's own offer changes price at once; another node's within the pricing cache's quarter second.
    const invalidating = runtime.changes$.pipe(filter((change) => change.kind === 'offer')).subscribe(() => offers.invalidate());
    // A category moved or added on this node prices by category at once; another node's change within the cache's quarter second.
    invalidating.add(services.catalog.categoryChanged$.subscribe(() => offers.invalidate()));
    const view = async (actor: OfferActor) => offers.view(actor);
    const pushes: Observable<Push> = runtime.changes$.pipe(
      filter((change: ActorChange): change is ChangeOf<'offer'> => change.kind === 'offer'),
      // In commit order per node: the products a sale prices are looked up before its push goes out.
      concatMap((change) =>
        from(
          offers
            .affectedProducts(change.actor)
            .catch(() => [] as string[])
            .then((affected) => offerPush(change, affected)),
        ),
      ),
    );
    return {
      services: { offers },
      commands: {
        warehouse: {
          'offer:create': command(w['offer:create'], async ({ identity }, p) => ({ offer: await view(await offers.create(identity, p)) })),
          'offer:update': command(w['offer:update'], async (_ctx, p) => ({ offer: await view(await offers.update(p)) })),
          'offer:cancel': command(w['offer:cancel'], async (_ctx, p) => ({ offer: await view(await offers.cancel(p.offerId, p.reason)) })),
          'offers:list': command(w['offers:list'], async (_ctx, p) => ({ offers: await Promise.all((await offers.list(p)).map(view)) })),
        } satisfies Partial<WarehouseCommandTable>,
      },
      topics: {
        store: {
          offers: { exact: true, view: async () => ({ offers: await Promise.all((await offers.current()).map(view)) }) },
          offer: { view: async (_identity, id) => view(await offers.get(id)) },
        },
        warehouse: {
          offers: { exact: true, view: async () => ({ offers: await Promise.all((await offers.current()).map(view)) }) },
          offer: { view: async (_identity, id) => view(await offers.get(id)) },
        },
      },
      pushes,
      // An offer that ended or was cancelled takes no more drop claims, even if the node that ended it died first.
      flows: [offersCloseDrops({ offers })],
      sweeps: {
        'drop quotas': () => offers.syncAllDrops(),
      },
      routes: (routes) => {
        routes.get('/api/offers', async () => ({ offers: await Promise.all((await offers.current()).map(view)) }));
      },
      // Demo data: a festival sale on the coffee shelf and a limited drop a minute after start, so a new store shows both.
      start: async () => {
        if (!config.seedDemoData || (await actors.listByKind('offer', { limit: 1 })).length > 0) return;
        const categories = await services.catalog.listCategories();
        const coffee = categories.find((category) => category.slug === 'coffee');
        const speaker = (await services.catalog.listProducts({ q: 'Portable Speaker', page: 1, pageSize: 1 })).items[0];
        const system = { sub: 'system', role: 'admin' as const };
        const now = clock();
        if (coffee) {
          await offers.create(system, {
            sort: 'sale',
            name: 'Coffee festival: 15 % off',
            discount: { type: 'percent', percent: 15 },
            productIds: [],
            categoryIds: [coffee.id],
            startsAt: now,
            endsAt: now + 7 * 86_400_000,
          });
        }
        if (speaker) {
          await offers.create(system, {
            sort: 'drop',
            name: 'Speaker drop: 10 at half price',
            productId: speaker.id,
            dropPrice: Math.floor(speaker.price / 2),
            quota: 10,
            perCustomerLimit: 1,
            startsAt: now + 60_000,
            endsAt: now + 2 * 86_400_000,
          });
        }
        logger.info('demo offers scheduled');
      },
      stop: async () => {
        syncing.unsubscribe();
        invalidating.unsubscribe();
      },
    };
  },
});
