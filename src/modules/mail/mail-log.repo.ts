// The `mail_log` table: mails owed for domain events, claimed one at a time before they are sent.
import type { Knex } from 'knex';
import type { MailTemplate } from './templates.ts';

export type MailState = 'queued' | 'sending' | 'sent' | 'failed' | 'unknown' | 'cancelled';
export const MAIL_STATES: readonly MailState[] = ['queued', 'sending', 'sent', 'failed', 'unknown', 'cancelled'];

/** One mail is owed per event and template. */
export interface MailKey {
  readonly eventSeq: number;
  readonly template: MailTemplate;
}

export interface QueuedMail extends MailKey {
  readonly customerId: string | null;
  readonly recipient: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly messageId: string;
}

export interface MailRecord extends MailKey {
  readonly customerId: string | null;
  readonly recipient: string | null;
  readonly subject: string;
  readonly text: string | null;
  readonly html: string | null;
  readonly messageId: string;
  readonly state: MailState;
  readonly attempts: number;
  readonly claimedBy: string | null;
  readonly claimedAt: number | null;
  readonly createdAt: number;
}

interface MailRow {
  event_seq: number | string;
  template: string;
  customer_id: string | null;
  recipient: string | null;
  subject: string;
  text_body: string | null;
  html_body: string | null;
  message_id: string;
  state: string;
  attempts: number | string;
  claimed_by: string | null;
  claimed_at: number | string | null;
  created_at: number | string;
}

function fromRow(row: MailRow): MailRecord {
  return {
    eventSeq: Number(row.event_seq),
    template: row.template as MailTemplate,
    customerId: row.customer_id,
    recipient: row.recipient,
    subject: row.subject,
    text: row.text_body,
    html: row.html_body,
    messageId: row.message_id,
    state: row.state as MailState,
    attempts: Number(row.attempts),
    claimedBy: row.claimed_by,
    claimedAt: row.claimed_at === null ? null : Number(row.claimed_at),
    createdAt: Number(row.created_at),
  };
}

const keyOf = (mail: MailKey) => ({ event_seq: mail.eventSeq, template: mail.template });

export class MailLogRepo {
  constructor(private readonly knex: Knex) {}

  /** Queues the mail unless its event already has it (whatever became of it). True when this call queued it. */
  async enqueue(mail: QueuedMail, now: number): Promise<boolean> {
    const inserted = await this.knex('mail_log')
      .insert({
        ...keyOf(mail),
        customer_id: mail.customerId,
        recipient: mail.recipient,
        subject: mail.subject,
        text_body: mail.text,
        html_body: mail.html,
        message_id: mail.messageId,
        state: 'queued',
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
      })
      .onConflict(['event_seq', 'template'])
      .ignore()
      .returning('event_seq');
    return inserted.length > 0;
  }

  async get(key: MailKey): Promise<MailRecord | undefined> {
    const row = (await this.knex('mail_log').where(keyOf(key)).first()) as MailRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Queued mails whose next attempt is due, oldest first. */
  async due(now: number, limit: number): Promise<MailRecord[]> {
    const rows = (await this.knex('mail_log')
      .where('state', 'queued')
      .andWhere('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .orderBy('event_seq')
      .limit(limit)) as MailRow[];
    return rows.map(fromRow);
  }

  /**
   * Takes the mail for sending, committed before anything is sent: of the nodes (or redeliveries) that try at
   * once, exactly one gets `true`.
   */
  async claim(key: MailKey, token: string, now: number): Promise<boolean> {
    const claimed = await this.knex('mail_log')
      .where({ ...keyOf(key), state: 'queued' })
      .update({ state: 'sending', claimed_by: token, claimed_at: now, updated_at: now });
    return claimed === 1;
  }

  /** Sent: the bodies go (the Message-ID and the server's answer stay). A send first written off as `unknown` is corrected. */
  async markSent(key: MailKey, token: string, now: number, response: string): Promise<boolean> {
    const updated = await this.knex('mail_log')
      .where({ ...keyOf(key), claimed_by: token })
      .whereIn('state', ['sending', 'unknown'])
      .update({ state: 'sent', sent_at: now, updated_at: now, response: response.slice(0, 1000), text_body: null, html_body: null, last_error: null });
    return updated === 1;
  }

  /** Nothing was sent: back in the queue for `retryAt`; `countAttempt` false when the send was never tried (breaker open). */
  async release(
    key: MailKey,
    token: string,
    now: number,
    retry: { readonly at: number; readonly error: string; readonly countAttempt: boolean },
  ): Promise<void> {
    await this.knex('mail_log')
      .where({ ...keyOf(key), claimed_by: token, state: 'sending' })
      .update({
        state: 'queued',
        claimed_by: null,
        claimed_at: null,
        next_attempt_at: retry.at,
        last_error: retry.error.slice(0, 2000),
        updated_at: now,
        ...(retry.countAttempt ? { attempts: this.knex.raw('attempts + 1') } : {}),
      });
  }

  /** Given up with nothing sent (refused for good by the server, or too many attempts). */
  async markFailed(key: MailKey, token: string, now: number, error: string): Promise<void> {
    await this.knex('mail_log')
      .where({ ...keyOf(key), claimed_by: token, state: 'sending' })
      .update({
        state: 'failed',
        attempts: this.knex.raw('attempts + 1'),
        last_error: error.slice(0, 2000),
        text_body: null,
        html_body: null,
        updated_at: now,
      });
  }

  /** The send may have reached the server: it is never tried again. */
  async markUnknown(key: MailKey, token: string | null, now: number, error: string): Promise<boolean> {
    const query = this.knex('mail_log').where({ ...keyOf(key), state: 'sending' });
    if (token !== null) query.andWhere('claimed_by', token);
    const updated = await query.update({ state: 'unknown', last_error: error.slice(0, 2000), updated_at: now });
    return updated === 1;
  }

  /** Mails claimed before `claimedBefore` and still `sending`: their node died or hung mid-send. */
  async stuckSending(claimedBefore: number, limit: number): Promise<MailRecord[]> {
    const rows = (await this.knex('mail_log')
      .where('state', 'sending')
      .andWhere('claimed_at', '<', claimedBefore)
      .orderBy('claimed_at')
      .limit(limit)) as MailRow[];
    return rows.map(fromRow);
  }

  async countsByState(): Promise<Array<{ state: MailState; count: number }>> {
    const rows = (await this.knex('mail_log').select('state').count({ n: '*' }).groupBy('state')) as Array<{ state: MailState; n: number | string }>;
    return rows.map((row) => ({ state: row.state, count: Number(row.n) }));
  }

  /** Forgets a customer's address and mail contents; mails still queued are cancelled. */
  async eraseCustomer(customerId: string, now: number): Promise<void> {
    await this.knex.transaction(async (trx) => {
      await trx('mail_log').where({ customer_id: customerId, state: 'queued' }).update({ state: 'cancelled', updated_at: now });
      await trx('mail_log').where({ customer_id: customerId }).update({ recipient: null, text_body: null, html_body: null, updated_at: now });
    });
  }
}
