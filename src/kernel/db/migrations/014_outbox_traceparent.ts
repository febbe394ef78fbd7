// Tracing across the relay: each outbox row keeps the W3C trace context of the span that wrote it, so the flows
// that consume it (on any node) continue the same trace. Null when tracing was off.
import type { Knex } from 'knex';

export const name = '014_outbox_traceparent';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    // `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`: 55 characters.
    t.string('traceparent', 64).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropColumn('traceparent');
  });
}
