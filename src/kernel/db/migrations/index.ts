// The ordered list of migrations, applied by knex at start-up and by `npm run migrate`.
import * as initial from './001_initial.ts';
import * as outboxActorOrder from './002_outbox_actor_order.ts';
import * as reservationDecisions from './003_reservation_decisions.ts';
import * as outboxDeliveries from './004_outbox_deliveries.ts';

export const migrations = [initial, outboxActorOrder, reservationDecisions, outboxDeliveries] as const;
