// The mail module's flow: each domain event that owes an e-mail is queued (a database insert); the module's own
// dispatcher sends it. The flow never waits on the mail server.
import { concatMap } from 'rxjs';
import { defineFlow, type FlowDefinition } from '../../kernel/outbox/flows.ts';
import { MAIL_EVENTS, type MailService } from './mail.service.ts';

export interface MailFlowDeps {
  readonly mail: Pick<MailService, 'enqueue'>;
}

/** The events of `MAIL_EVENTS`, one at a time, in order, each queued (or not, if it owes no mail) by the service. */
export function mailFlow({ mail }: MailFlowDeps): FlowDefinition {
  return defineFlow({
    name: 'mail',
    delivery: 'best-effort',
    on: MAIL_EVENTS,
    run: (events$) => events$.pipe(concatMap((event) => mail.enqueue(event))),
  });
}
