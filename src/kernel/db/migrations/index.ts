// The kernel's migrations: actors, journal, outbox and its deliveries (and their trace context), retention's indexes and
// journal compactions. `001_initial` predates the modules and also
// creates the first domains' tables (catalog, customers, inventory, payments); it stays here, as applied
// databases record it by name. Modules bring their later migrations themselves (`ModuleDefinition.migrations`).
import * as initial from './001_initial.ts';
import * as outboxActorOrder from './002_outbox_actor_order.ts';
import * as outboxDeliveries from './004_outbox_deliveries.ts';
import * as outboxTraceparent from './014_outbox_traceparent.ts';
import * as retention from './015_retention.ts';

export const kernelMigrations = [initial, outboxActorOrder, outboxDeliveries, outboxTraceparent, retention] as const;
