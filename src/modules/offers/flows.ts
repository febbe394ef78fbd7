// The offers module's flow: an offer that ended (or was cancelled) closes its drop quota, so it takes no more
// claims even if the node that ended it died before doing so.
import { concatMap } from 'rxjs';
import { defineFlow, type FlowDefinition } from '../../kernel/outbox/flows.ts';
import type { OfferService } from './offers.service.ts';

export interface OfferFlowDeps {
  readonly offers: Pick<OfferService, 'closeDrop'>;
}

/** Offer ended or cancelled: its drop quota (if it has one) is closed. Critical: a drop must not outlive its offer. */
export function offersCloseDrops({ offers }: OfferFlowDeps): FlowDefinition {
  return defineFlow({
    name: 'offers-close-drops',
    delivery: 'critical',
    on: ['offer.ended'],
    run: (events$) => events$.pipe(concatMap(({ payload }) => offers.closeDrop(payload.offerId))),
  });
}
