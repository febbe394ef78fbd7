// The recommendations module's flow: a projection of paid orders into the Person–Product graph.
import { concatMap } from 'rxjs';
import { defineFlow, type FlowDefinition } from '../../kernel/outbox/flows.ts';
import type { RecommendationsService } from './recommendations.service.ts';

export interface RecommendationsFlowDeps {
  readonly recommendations: Pick<RecommendationsService, 'recordPaid'>;
}

/** Order paid: its lines are counted (once per order: the service records by order id). Best effort: a projection. */
export function recordPaidOrders({ recommendations }: RecommendationsFlowDeps): FlowDefinition {
  return defineFlow({
    name: 'recommendations',
    delivery: 'best-effort',
    on: ['order.paid'],
    run: (events$) => events$.pipe(concatMap((event) => recommendations.recordPaid(event))),
  });
}
