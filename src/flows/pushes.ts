// Projections from committed changes to the pushes clients receive: which topic, which event, which view.
import { filter, map, merge, type Observable } from 'rxjs';
import type { ActorChange } from '../actors/runtime.ts';
import type { CartActor, OrderActor, ShipmentActor } from '../services/kinds.ts';
import type { StockLevel } from '../services/inventory.service.ts';
import { cartView, orderView, shipmentView } from '../services/views.ts';

export type Audience = 'store' | 'warehouse';

/** One message for the clients subscribed to any of `topics` in the `audiences` namespaces. */
export interface Push {
  readonly audiences: readonly Audience[];
  readonly topics: readonly string[];
  readonly event: 'cart:updated' | 'order:updated' | 'shipment:updated' | 'stock:changed';
  /** Built only if someone is subscribed: most changes have no watcher. */
  readonly payload: () => unknown;
  /** The topic changed hands: subscribers other than this owner must be dropped from it. */
  readonly onlyOwner?: string | undefined;
}

export function actorPushes(changes$: Observable<ActorChange>): Observable<Push> {
  return changes$.pipe(
    map((change): Push | undefined => {
      switch (change.kind) {
        case 'cart':
          return {
            audiences: ['store'],
            topics: [`cart:${change.id}`],
            event: 'cart:updated',
            payload: () => cartView(change.actor as CartActor),
            // A guest's cart adopted by an account: the guest's sockets stop following it.
            onlyOwner: (change.event as { type?: string }).type === 'ASSIGN_CUSTOMER' ? (change.ownerId ?? undefined) : undefined,
          };
        case 'order':
          return { audiences: ['store'], topics: [`order:${change.id}`], event: 'order:updated', payload: () => orderView(change.actor as OrderActor) };
        case 'shipment':
          return {
            audiences: ['store', 'warehouse'],
            topics: [`shipment:${change.id}`, 'shipments'],
            event: 'shipment:updated',
            payload: () => shipmentView(change.actor as ShipmentActor),
          };
      }
    }),
    filter((push): push is Push => push !== undefined),
  );
}

export function stockPushes(stock$: Observable<StockLevel>): Observable<Push> {
  return stock$.pipe(
    map((level) => ({
      audiences: ['store', 'warehouse'] as const,
      topics: [`product:${level.productId}`],
      event: 'stock:changed' as const,
      payload: () => ({ productId: level.productId, available: level.available, onHand: level.onHand, version: level.version }),
    })),
  );
}

export function allPushes(changes$: Observable<ActorChange>, stock$: Observable<StockLevel>): Observable<Push> {
  return merge(actorPushes(changes$), stockPushes(stock$));
}
