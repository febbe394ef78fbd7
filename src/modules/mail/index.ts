// The mail module: e-mail for domain events (welcome, order confirmation, payment receipt, shipped, delivered,
// cancelled and refunded, expired, back in stock), queued by a best-effort flow and sent at most once per event and template by
// a dispatcher of its own, through a circuit breaker, to SMTP_URL or into .eml files under DATA_DIR/mail/.
import path from 'node:path';
import { createBreaker, type BreakerOptions } from '../../kernel/breaker.ts';
import { defineModule } from '../../kernel/module.ts';
import { mailFlow } from './flows.ts';
import { MailLogRepo } from './mail-log.repo.ts';
import { MailService } from './mail.service.ts';
import * as mailLog from './migrations/008_mail.ts';
import { DEFAULT_SMTP_TIMEOUTS, FileTransport, MailNotSent, SmtpTransport, type MailTransport, type SmtpTimeouts } from './transport.ts';

export { MailService } from './mail.service.ts';
export { escapeHtml, renderMail, MAIL_TEMPLATES, type MailTemplate } from './templates.ts';
export { MailNotSent, type ComposedMail, type MailTransport } from './transport.ts';

declare module '../../kernel/registry.ts' {
  interface Services {
    readonly mail: MailService;
  }
}

/** The SMTP breaker: a call over 30 s is a failure; 3 calls of which more than half failed in 10 s open it for 30 s. */
const SMTP_BREAKER: BreakerOptions = { timeoutMs: 30_000, errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeoutMs: 30_000 };

export interface MailModuleOptions {
  /** Wraps the transport chosen from the configuration (tests watch or interrupt sends). */
  readonly transport?: ((transport: MailTransport) => MailTransport) | undefined;
  /** Breaker settings over `SMTP_BREAKER`'s. */
  readonly breaker?: Partial<BreakerOptions> | undefined;
  readonly smtpTimeouts?: Partial<SmtpTimeouts> | undefined;
  /** How long a send may stay unrecorded before it is written off as `unknown`. @default 300_000 */
  readonly unknownAfterMs?: number | undefined;
}

export const mailModule = (options: MailModuleOptions = {}) =>
  defineModule({
    name: 'mail',
    migrations: [mailLog],
    create: ({ config, clock, db, runtime, logger, metrics, services }) => {
      const log = logger.child({ part: 'mail' });
      const base: MailTransport = config.smtpUrl
        ? new SmtpTransport(config.smtpUrl, { ...DEFAULT_SMTP_TIMEOUTS, ...options.smtpTimeouts })
        : new FileTransport(path.join(config.dataDir, 'mail'));
      const transport = options.transport ? options.transport(base) : base;
      const breaker = createBreaker(
        'smtp',
        {
          ...SMTP_BREAKER,
          ...options.breaker,
          // A message the server refused for good says nothing about the server's health.
          isFailure: (error) => !(error instanceof MailNotSent && error.permanent),
        },
        { metrics, logger: log },
      );
      const mail = new MailService({
        repo: new MailLogRepo(db.knex),
        transport,
        breaker,
        runtime,
        services,
        clock,
        logger: log,
        metrics,
        from: config.mailFrom,
        storeUrl: config.storeUrl,
        unknownAfterMs: options.unknownAfterMs,
      });
      return {
        services: { mail },
        // Queues only (a database insert): never waits on the mail server.
        flows: [mailFlow({ mail })],
        sweeps: {
          'interrupted sends': () => mail.writeOffInterrupted(),
          // Mail due for a retry (and, on many nodes, mail another node queued); the sweep does not wait for it.
          dispatch: async () => mail.nudge(),
        },
        erasure: { erase: (customerId) => mail.eraseCustomer(customerId) },
        start: async () => {
          if (!config.smtpUrl) log.info({ folder: path.join(config.dataDir, 'mail') }, 'no SMTP_URL: e-mails are written as .eml files');
        },
        stop: async () => {
          const stopping = mail.stop();
          // A pass under way stops at its next mail (the breaker now refuses); a send in flight is waited for.
          breaker.shutdown();
          await stopping;
        },
      };
    },
  });
