// The mail log: one row per e-mail owed for a domain event, keyed by the event and the template, so a mail is
// queued once however often its event is delivered, and sent at most once (the row is claimed before the send).
import type { Knex } from 'knex';

export const name = '008_mail';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mail_log', (t) => {
    // The outbox row the mail was written for.
    t.bigInteger('event_seq').notNullable();
    t.string('template', 32).notNullable();
    t.string('customer_id', 64).nullable();
    // The message as rendered when its event was handled; the bodies are dropped once it was sent (or given up).
    t.string('recipient', 320).nullable();
    t.string('subject', 300).notNullable();
    t.text('text_body').nullable();
    t.text('html_body').nullable();
    // Derived from the key: the same in the message, the logs and here.
    t.string('message_id', 200).notNullable();
    // queued → sending (claimed) → sent; failed: given up with nothing sent; unknown: its send may or may not have
    // reached the server (cut off, or its node died mid-send) and it is never sent again; cancelled: erased first.
    t.string('state', 10).notNullable().defaultTo('queued');
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at').notNullable();
    t.string('claimed_by', 64).nullable();
    t.bigInteger('claimed_at').nullable();
    t.text('last_error').nullable();
    t.text('response').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.bigInteger('sent_at').nullable();
    t.primary(['event_seq', 'template']);
    t.index(['state', 'next_attempt_at'], 'mail_log_due');
    t.index(['customer_id'], 'mail_log_customer');
    t.check("?? in ('queued', 'sending', 'sent', 'failed', 'unknown', 'cancelled')", ['state'], 'mail_log_state');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('mail_log');
}
