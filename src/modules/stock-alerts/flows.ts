// The stock-alerts module's flow: a `stock.backInStock` event (written with the claim of one subscription) becomes
// a personal `stock:backInStock` push to the subscriber's own room.
import { concatMap } from 'rxjs';
import { principalRoom } from '../../domain/identity.ts';
import type { Push } from '../../kernel/gateway/pushes.ts';
import { defineFlow, type FlowDefinition } from '../../kernel/outbox/flows.ts';

export interface BackInStockFlowDeps {
  /** Where the module's pushes go (its `pushes` stream). */
  readonly pushes: { next(push: Push): void };
}

/** Back in stock: the subscriber (customer or guest) is told, on its own room only, what it may now buy. */
export function backInStockPush({ pushes }: BackInStockFlowDeps): FlowDefinition {
  return defineFlow({
    name: 'back-in-stock-push',
    delivery: 'best-effort',
    on: ['stock.backInStock'],
    run: (events$) =>
      events$.pipe(
        concatMap(async ({ payload }) => {
          const notice = { productId: payload.productId, name: payload.name, available: payload.available };
          pushes.next({ topics: [principalRoom(payload.customerId)], event: 'stock:backInStock', payload: () => [notice] });
        }),
      ),
  });
}
