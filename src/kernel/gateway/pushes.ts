// Pushes: what a committed change tells the clients watching it — which topics, which event, which payload (the
// namespaces follow from the event). Modules build them from their actors' changes; the socket gateway routes them to topic rooms.
import { filter, map, type Observable } from 'rxjs';
import type { ActorChange } from '../actors/runtime.ts';
import type { ServerToClient } from '../../protocol/index.ts';
import type { ActorOf, AppKind } from '../registry.ts';

/** The push events and the payload each carries, as the protocol's `ServerToClient` map types them. */
export type PushEvent = Exclude<keyof ServerToClient, 'resync'>;
/** The arguments of a push event: its payload, as a one-element tuple. */
export type PushArgs<E extends PushEvent> = Parameters<ServerToClient[E]>;

/** One message for the clients subscribed to any of `topics`, in the namespaces the protocol's `pushAudiences` names for its event. */
export interface PushOf<E extends PushEvent> {
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
export function once<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}

/** A committed change of one kind, its actor typed by that kind's machine. */
export interface ChangeOf<K extends AppKind> extends ActorChange {
  readonly actor: ActorOf<K>;
}

/**
 * The pushes one actor kind's changes make: `toPush` returns the push of a change, or undefined for none.
 *
 * @example
 * changePushes(runtime.changes$, 'order', (change) =>
 *   ({ topics: [`order:${change.id}`], event: 'order:updated', payload: once(() => [orderView(change.actor)]) }));
 */
export function changePushes<K extends AppKind>(
  changes$: Observable<ActorChange>,
  kind: K,
  toPush: (change: ChangeOf<K>) => Push | undefined,
): Observable<Push> {
  return changes$.pipe(
    filter((change): change is ChangeOf<K> => change.kind === kind),
    map(toPush),
    filter((push): push is Push => push !== undefined),
  );
}
