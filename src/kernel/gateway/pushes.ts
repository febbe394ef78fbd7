// Projections from committed changes to the pushes clients receive: which topic, which event, which view.
import { filter, map, merge, type Observable } from 'rxjs';
import type { ActorChange } from '../actors/runtime.ts';
import type { CartActor, OrderActor, ShipmentActor } from '../../modules/kinds.ts';
import type { StockLevel } from '../../modules/inventory/inventory.service.ts';
import { cartView, orderView, shipmentView } from '../../modules/views.ts';
import type { ServerToClient } from '../../protocol/index.ts';

export type Audience = 'store' | 'warehouse';

/** The push events and the payload each carries, as the protocol's `ServerToClient` map types them. */
export type PushEvent = 'cart:updated' | 'order:updated' | 'shipment:updated' | 'stock:changed';
/** The arguments of a push event: its payload, as a one-element tuple. */
export type PushArgs<E extends PushEvent> = Parameters<ServerToClient[E]>;

/** One message for the clients subscribed to any of `topics` in the `audiences` namespaces. */
export interface PushOf<E extends PushEvent> {
  readonly audiences: readonly Audience[];
  readonly topics: readonly string[];
  readonly event: E;
  /** Built only if someone is subscribed (most changes have no watcher), and then once for every audience. */
  readonly payload: () => PushArgs<E>;
  /** The topic changed hands: subscribers other than this owner must be dropped from it. */
  readonly onlyOwner?: string | undefined;
}

/** A push of any event, its payload typed by its event. */
export type Push = { readonly [E in PushEvent]: PushOf<E> }[PushEvent];

/** Builds `build()` at most once, on first use. */
function once<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
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
            payload: once(() => [cartView(change.actor as CartActor)]),
            // A guest's cart adopted by an account: the guest's sockets stop following it.
            onlyOwner: (change.event as { type?: string }).type === 'ASSIGN_CUSTOMER' ? (change.ownerId ?? undefined) : undefined,
          };
        case 'order':
          return { audiences: ['store'], topics: [`order:${change.id}`], event: 'order:updated', payload: once(() => [orderView(change.actor as OrderActor)]) };
        case 'shipment':
          return {
            audiences: ['store', 'warehouse'],
            topics: [`shipment:${change.id}`, 'shipments'],
            event: 'shipment:updated',
            payload: once(() => [shipmentView(change.actor as ShipmentActor)]),
          };
      }
    }),
    filter((push): push is Push => push !== undefined),
  );
}

export function stockPushes(stock$: Observable<StockLevel>): Observable<Push> {
  return stock$.pipe(
    map(
      (level): Push => ({
        audiences: ['store', 'warehouse'],
        topics: [`product:${level.productId}`],
        event: 'stock:changed',
        payload: once(() => [{ productId: level.productId, available: level.available, onHand: level.onHand, version: level.version }]),
      }),
    ),
  );
}

export function allPushes(changes$: Observable<ActorChange>, stock$: Observable<StockLevel>): Observable<Push> {
  return merge(actorPushes(changes$), stockPushes(stock$));
}
