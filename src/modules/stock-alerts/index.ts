// The stock-alerts module: "tell me when it is back". `/store` callers (customers and guests) subscribe to a
// sold-out product with `stock:notify`; when it can be bought again each subscription is notified once — a
// personal `stock:backInStock` push to the subscriber's own sockets, and for customers an e-mail (the mail
// module's `back-in-stock` template) — from a `stock.backInStock` domain event written with the claim.
import { Subject } from 'rxjs';
import { command } from '../../kernel/gateway/commands.ts';
import type { Push } from '../../kernel/gateway/pushes.ts';
import { defineModule, type StoreCommandTable } from '../../kernel/module.ts';
import { storeCommands as c } from '../../protocol/index.ts';
import { backInStockPush } from './flows.ts';
import * as stockNotifications from './migrations/012_stock_notifications.ts';
import { StockAlertsRepo } from './stock-alerts.repo.ts';
import { StockAlertsService } from './stock-alerts.service.ts';

export { StockAlertsService, type StockAlertsEmitted, type StockNotification } from './stock-alerts.service.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly stockAlerts: StockAlertsService;
  }
}

export const stockAlertsModule = defineModule({
  name: 'stock-alerts',
  migrations: [stockNotifications],
  create: ({ db, clock, logger, metrics, domainEvents, services }) => {
    const log = logger.child({ part: 'stock-alerts' });
    const alerts = new StockAlertsService({ repo: new StockAlertsRepo(db.knex), transaction: db.transaction, domainEvents, clock, logger: log, metrics });
    // Every committed stock change, uncoalesced (the inventory module created before this one coalesces only its pushes).
    const changes = services.inventory.stockChanged$.subscribe((level) => alerts.stockChanged(level));
    const personal$ = new Subject<Push>();
    return {
      services: { stockAlerts: alerts },
      commands: {
        store: {
          'stock:notify': command(c['stock:notify'], ({ identity }, p) => alerts.subscribe(identity, p.productId)),
          'stock:unnotify': command(c['stock:unnotify'], ({ identity }, p) => alerts.unsubscribe(identity, p.productId)),
          'stock:notifications': command(c['stock:notifications'], ({ identity }) => alerts.waiting(identity)),
        } satisfies Partial<StoreCommandTable>,
      },
      // The subscriber's own room on /store, on whichever node its sockets are (the adapter carries it).
      pushes: personal$.asObservable(),
      flows: [backInStockPush({ pushes: personal$ })],
      // Waiting subscriptions of products that can be bought: a notice a crash cut off between the stock change and its claim.
      sweeps: { 'back in stock': () => alerts.sweep() },
      erasure: { erase: (customerId) => alerts.eraseCustomer(customerId) },
      stop: async () => {
        changes.unsubscribe();
        await alerts.stop();
        personal$.complete();
      },
    };
  },
});
