// E-mail for domain events. The mail flow only queues: it renders the mail and inserts it into `mail_log`, once
// per (event, template) however often the event is delivered. A dispatcher of its own sends what is queued —
// claim, send, record — so a slow or failing SMTP server holds up neither the relay nor any saga. A mail is sent
// at most once: the claim is committed before the send, and a send that may have reached the server is never
// tried again.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../../domain/identity.ts';
import { BreakerOpenError, BreakerTimeoutError, type Breaker } from '../../kernel/breaker.ts';
import type { DomainEvent } from '../../kernel/outbox/flows.ts';
import type { AppRuntime, DomainEventPayload, Services } from '../../kernel/registry.ts';
import { MAIL_STATES, type MailKey, type MailLogRepo, type MailRecord } from './mail-log.repo.ts';
import { type MailData, type MailOrder, type MailTemplate, renderMail } from './templates.ts';
import { composeMail, MailNotSent, type MailTransport } from './transport.ts';
import { Pump } from '../../kernel/pump.ts';

/** The events that owe a mail. */
export const MAIL_EVENTS = [
  'customer.registered',
  'order.placed',
  'order.paid',
  'order.shipped',
  'order.delivered',
  'order.cancelled',
  'order.expired',
  'stock.backInStock',
] as const;
export type MailEventType = (typeof MAIL_EVENTS)[number];
export type MailEvent = DomainEvent<Extract<DomainEventPayload, { type: MailEventType }>>;

export interface MailServiceOptions {
  readonly repo: MailLogRepo;
  readonly transport: MailTransport;
  /** Guards the transport: while it is open nothing is tried and queued mails wait. */
  readonly breaker: Breaker;
  readonly runtime: AppRuntime;
  /** Read when an event is handled, not at creation (identity's `auth` for the recipient). */
  readonly services: Services;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** The sender, `Name <address>`; its domain names the Message-IDs. */
  readonly from: string;
  readonly storeUrl: string | undefined;
  /** A mail whose send failed with nothing sent is given up after this many attempts. @default 10 */
  readonly maxAttempts?: number;
  /** A mail still `sending` this long after its claim is written off as `unknown` (its node died mid-send). @default 300_000 */
  readonly unknownAfterMs?: number;
}

const FIRST_RETRY_MS = 10_000;
const MAX_RETRY_MS = 30 * 60_000;
const BATCH = 20;

type Outcome = 'sent' | 'retry' | 'failed' | 'unknown';

export class MailService {
  /** Sends the queue's due mail, one pass at a time. */
  private readonly dispatcher: Pump;
  private readonly outcomes: Counter<'template' | 'outcome'>;
  private readonly domain: string;

  constructor(private readonly o: MailServiceOptions) {
    // A pass that fails (the database is away) leaves the queue for the next nudge or sweep.
    this.dispatcher = new Pump(
      () => this.pass(),
      (error) => o.logger.warn({ err: error }, 'mail dispatch pass failed; will retry'),
    );
    this.domain = /@([^>\s]+)>?\s*$/.exec(o.from)?.[1] ?? 'emporium.local';
    this.outcomes = new Counter({
      name: 'emporium_mail_sent_total',
      help: 'E-mails by template and outcome: sent; retry (nothing sent, queued again); failed (given up, nothing sent); unknown (may have been sent, never retried)',
      labelNames: ['template', 'outcome'],
      registers: [o.metrics],
    });
    const repo = o.repo;
    new Gauge({
      name: 'emporium_mail_messages',
      help: 'E-mails in the mail log by state (queued, sending, sent, failed, unknown, cancelled); unknown ones need an operator',
      labelNames: ['state'],
      registers: [o.metrics],
      async collect() {
        const counts = new Map((await repo.countsByState()).map(({ state, count }) => [state, count]));
        for (const state of MAIL_STATES) this.set({ state }, counts.get(state) ?? 0);
      },
    });
    // Queued mail waits while the breaker is open; its trial call (and then the rest) goes out as soon as it half-opens.
    o.breaker.onChange((state) => {
      if (state !== 'open') this.nudge();
    });
  }

  /** The breaker in front of the transport (its state is also `emporium_breaker_state{breaker="smtp"}`). */
  get breaker(): Breaker {
    return this.o.breaker;
  }

  /** The Message-ID of the mail of `template` for the event `seq`: the same in the log, the message and the server's logs. */
  messageId(key: MailKey): string {
    return `<${key.template}.${key.eventSeq}@${this.domain}>`;
  }

  /**
   * Queues the mail `event` owes, if any (guests and deleted accounts get none). Idempotent: a redelivered event
   * finds its mail queued, sent or given up, and queues nothing.
   */
  async enqueue(event: MailEvent): Promise<void> {
    const owed = await this.owed(event);
    if (!owed) return;
    const key: MailKey = { eventSeq: event.seq, template: owed.data.template };
    const rendered = renderMail(owed.data, { customerName: owed.customer.name, storeUrl: this.o.storeUrl });
    const queued = await this.o.repo.enqueue(
      { ...key, customerId: owed.customer.id, recipient: owed.customer.email, ...rendered, messageId: this.messageId(key) },
      this.o.clock(),
    );
    if (queued) this.nudge();
  }

  private async owed(event: MailEvent): Promise<{ data: MailData; customer: { id: string; name: string; email: string } } | undefined> {
    const payload = event.payload;
    if (payload.type === 'customer.registered') {
      const customer = await this.recipient(payload.customerId);
      return customer && { data: { template: 'welcome' }, customer };
    }
    if (payload.type === 'stock.backInStock') {
      // Guests have no address: their notice is the push alone.
      const customer = await this.recipient(payload.customerId);
      return customer && { data: { template: 'back-in-stock', product: { id: payload.productId, name: payload.name } }, customer };
    }
    const order = await this.o.runtime.get('order', payload.orderId);
    if (!order) {
      this.o.logger.warn({ seq: event.seq, type: event.type, orderId: payload.orderId }, 'mail: the order of this event does not exist; no mail');
      return undefined;
    }
    const customer = await this.recipient(order.snapshot.context.customerId);
    if (!customer) return undefined;
    const context = order.snapshot.context;
    const mailOrder: MailOrder = {
      id: context.id,
      items: context.items,
      total: context.total,
      currency: context.currency,
      shippingAddress: context.shippingAddress,
      carrier: context.carrier,
      trackingNumber: context.trackingNumber,
      chargeId: context.payment?.chargeId ?? null,
    };
    const template: Record<
      Exclude<MailEventType, 'customer.registered' | 'order.cancelled' | 'stock.backInStock'>,
      Exclude<MailTemplate, 'welcome' | 'order-cancelled' | 'back-in-stock'>
    > = {
      'order.placed': 'order-confirmation',
      'order.paid': 'payment-receipt',
      'order.shipped': 'order-shipped',
      'order.delivered': 'order-delivered',
      'order.expired': 'order-expired',
    };
    const data: MailData =
      payload.type === 'order.cancelled'
        ? { template: 'order-cancelled', order: mailOrder, refundDue: payload.refundDue }
        : { template: template[payload.type], order: mailOrder };
    return { data, customer };
  }

  /** The account to write to; none for guests (no account), staff and erased accounts. */
  private async recipient(customerId: string): Promise<{ id: string; name: string; email: string } | undefined> {
    const customer = await this.o.services.auth.getCustomer(customerId);
    // An erased account's address is `deleted+<id>@invalid` (RFC 2606's reserved `.invalid`): nobody reads it.
    if (customer?.role !== 'customer' || customer.email.endsWith('@invalid')) return undefined;
    return customer;
  }

  /** Asks the dispatcher to send what is due, soon; calls while it runs fold into one more pass. */
  nudge(): void {
    this.dispatcher.nudge();
  }

  /** Sends everything due now (while the breaker lets it) and resolves when done. */
  drain(): Promise<void> {
    return this.dispatcher.drain();
  }

  /** No new pass starts; resolves when the one under way has finished its current mail. */
  stop(): Promise<void> {
    return this.dispatcher.stop();
  }

  private get stopped(): boolean {
    return this.dispatcher.isStopped;
  }

  private async pass(): Promise<void> {
    for (;;) {
      if (this.stopped || this.o.breaker.state === 'open') return;
      const due = await this.o.repo.due(this.o.clock(), BATCH);
      if (due.length === 0) return;
      for (const mail of due) {
        if (this.stopped) return;
        if ((await this.sendOne(mail)) === 'breaker open') return;
      }
    }
  }

  /** Claims, sends and records one mail. */
  private async sendOne(mail: MailRecord): Promise<'done' | 'breaker open'> {
    const token = randomUUID();
    if (!(await this.o.repo.claim(mail, token, this.o.clock()))) return 'done'; // another node (or pass) has it
    let sending: Promise<string> | undefined;
    try {
      if (mail.recipient === null || mail.text === null || mail.html === null) throw new MailNotSent('the mail has no recipient or body left', true);
      const composed = await composeMail({
        messageId: mail.messageId,
        from: this.o.from,
        to: mail.recipient,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        date: new Date(this.o.clock()),
        fileName: `${new Date(this.o.clock()).toISOString().replace(/[:.]/g, '-')}-${mail.template}-${mail.eventSeq}`,
        headers: { 'X-Emporium-Mail': `${mail.template}/${mail.eventSeq}` },
      }).catch((error: unknown) => {
        // Nothing left the process: a mail that cannot be composed is given up, never written off as maybe sent.
        throw new MailNotSent(`the mail could not be composed: ${error instanceof Error ? error.message : String(error)}`, true);
      });
      const response = await this.o.breaker.run(() => (sending = this.o.transport.send(composed)));
      await this.recordSent(mail, token, response);
      return 'done';
    } catch (error) {
      if (error instanceof BreakerOpenError) {
        // Never tried: back in line as it was, for when the breaker lets calls through again.
        await this.o.repo.release(mail, token, this.o.clock(), { at: this.o.clock(), error: error.message, countAttempt: false });
        return 'breaker open';
      }
      if (error instanceof BreakerTimeoutError && sending) {
        // Too slow: counted against the server, and the queue moves on; this send's outcome is recorded when it comes.
        this.o.logger.warn(
          { messageId: mail.messageId, template: mail.template, seq: mail.eventSeq },
          'mail: the SMTP server is slow; recording the outcome later',
        );
        sending.then(
          (response) => this.recordSent(mail, token, response),
          (late: unknown) => this.recordFailure(mail, token, late),
        );
        return 'done';
      }
      await this.recordFailure(mail, token, error);
      return 'done';
    }
  }

  private async recordSent(mail: MailRecord, token: string, response: string): Promise<void> {
    try {
      await this.o.repo.markSent(mail, token, this.o.clock(), response);
      this.count(mail, 'sent');
      const via = this.o.transport.kind === 'file' ? 'e-mail written to a file (no SMTP_URL)' : 'e-mail sent';
      this.o.logger.info({ messageId: mail.messageId, template: mail.template, seq: mail.eventSeq, subject: mail.subject, response }, via);
    } catch (error) {
      // Sent, but not recorded (the database is away): the claim stays `sending` and is written off as `unknown`.
      this.o.logger.error({ err: error, messageId: mail.messageId }, 'mail: sent but could not record it; it will be reported as unknown');
    }
  }

  private async recordFailure(mail: MailRecord, token: string, error: unknown): Promise<void> {
    const now = this.o.clock();
    const message = error instanceof Error ? error.message : String(error);
    const details = { err: error, messageId: mail.messageId, template: mail.template, seq: mail.eventSeq, attempts: mail.attempts + 1 };
    try {
      if (!(error instanceof MailNotSent)) {
        await this.o.repo.markUnknown(mail, token, now, message);
        this.count(mail, 'unknown');
        this.o.logger.error(details, 'mail: the send failed after the message was handed over; it may have arrived and is not sent again');
        return;
      }
      const attempts = mail.attempts + 1;
      if (error.permanent || attempts >= (this.o.maxAttempts ?? 10)) {
        await this.o.repo.markFailed(mail, token, now, message);
        this.count(mail, 'failed');
        this.o.logger.error(details, 'mail: given up; nothing was sent');
        return;
      }
      const retryAt = now + Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempts - 1));
      await this.o.repo.release(mail, token, now, { at: retryAt, error: message, countAttempt: true });
      this.count(mail, 'retry');
      this.o.logger.warn({ ...details, retryAt }, 'mail: not sent; will retry');
    } catch (recordError) {
      this.o.logger.error({ err: recordError, messageId: mail.messageId }, 'mail: could not record the outcome of a send');
    }
  }

  /**
   * Writes off mails whose claim is older than `unknownAfterMs` and still `sending`: their node died (or hung)
   * between the send and its record, so the message may have gone out. They are never sent again; each is
   * logged and counted for an operator. Returns how many.
   */
  async writeOffInterrupted(): Promise<number> {
    const before = this.o.clock() - (this.o.unknownAfterMs ?? 300_000);
    let written = 0;
    for (const mail of await this.o.repo.stuckSending(before, 100)) {
      if (!(await this.o.repo.markUnknown(mail, mail.claimedBy, this.o.clock(), 'interrupted mid-send (its node stopped)'))) continue;
      written++;
      this.count(mail, 'unknown');
      this.o.logger.error(
        { messageId: mail.messageId, template: mail.template, seq: mail.eventSeq, claimedAt: mail.claimedAt },
        'mail: a send was interrupted; it may have arrived and is not sent again (check the SMTP server log for its Message-ID)',
      );
    }
    return written;
  }

  /** Account deletion: the customer's address and mail contents go; mail still queued for them is cancelled. */
  async eraseCustomer(customerId: string): Promise<void> {
    await this.o.repo.eraseCustomer(customerId, this.o.clock());
  }

  private count(mail: MailKey, outcome: Outcome): void {
    this.outcomes.inc({ template: mail.template, outcome });
  }
}
