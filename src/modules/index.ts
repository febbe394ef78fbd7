// The application's modules, in creation order (a module may use the services of those before it at creation).
// Adding a domain: one folder under src/modules/ and one line here.
import { migrationsOf, type CoversProtocol, type Migration } from '../kernel/module.ts';
import { cartModule } from './cart/index.ts';
import { catalogModule } from './catalog/index.ts';
import { identityModule } from './identity/index.ts';
import { inspectorModule } from './inspector/index.ts';
import { inventoryModule } from './inventory/index.ts';
import { mailModule, type MailModuleOptions } from './mail/index.ts';
import { offersModule } from './offers/index.ts';
import { orderModule, type OrderModuleOptions } from './order/index.ts';
import { recommendationsModule } from './recommendations/index.ts';
import { reviewsModule } from './reviews/index.ts';
import { shipmentModule } from './shipment/index.ts';
import { webModule } from './web/index.ts';
import { stockAlertsModule } from './stock-alerts/index.ts';

export type DefaultModuleOptions = OrderModuleOptions & { readonly mail?: MailModuleOptions };

export function defaultModules(options: DefaultModuleOptions = {}) {
  return [
    catalogModule,
    inventoryModule,
    identityModule,
    offersModule,
    cartModule,
    orderModule(options),
    shipmentModule,
    reviewsModule,
    recommendationsModule,
    stockAlertsModule,
    mailModule(options.mail),
    inspectorModule,
    webModule,
  ] as const;
}

/** The compiler holds the wire: if a protocol command had no handler in these modules, this line would not compile and would name it. */
export const protocolCovered: CoversProtocol<ReturnType<typeof defaultModules>> = true;

/** Every migration of the default modules, for the command-line tools (`npm run migrate`, knexfile.ts) and tests. */
export function appMigrations(): Migration[] {
  return migrationsOf(defaultModules());
}
