// The `recommendations:updated` pushes: a cart's changes, grouped per cart, wait for a pause (debounce), and only
// then are its recommendations computed — once per burst of changes. A cart's group ends when it has been idle for
// a while, so memory holds only the carts changing now. A failed computation is logged and the stream goes on.
import {
  buffer,
  catchError,
  concatMap,
  debounceTime,
  defer,
  EMPTY,
  filter,
  groupBy,
  map,
  mergeMap,
  type Observable,
  type ObservableInput,
  type SchedulerLike,
} from 'rxjs';
import type { ActorChange } from '../../kernel/actors/runtime.ts';
import type { ChangeOf, Push } from '../../kernel/gateway/pushes.ts';
import { pushTopics, type RecommendationsUpdated } from '../../protocol/index.ts';
import type { CartActor } from '../cart/index.ts';

export interface RecommendationPushOptions {
  /** How long a cart's changes must pause before its recommendations are computed. */
  readonly debounceMs: number;
  /** A cart's group ends after this long without a change (at least `debounceMs`). @default debounceMs + 1000 */
  readonly idleMs?: number | undefined;
  /** The cart's recommendations, for the version of the cart it is given. */
  readonly compute: (cart: CartActor) => ObservableInput<RecommendationsUpdated>;
  readonly logger: { error(object: object, message: string): void };
  /** Virtual time in tests. */
  readonly scheduler?: SchedulerLike | undefined;
  /** Whether anyone may follow the topic: changes of a cart nobody follows are not grouped, timed or computed. @default always */
  readonly mayBeWatching?: ((topic: string) => boolean) | undefined;
}

/**
 * A change of a cart after its creation. A cart's creation (version 1) alone needs no push: nobody can have
 * subscribed before it existed, and a subscribe answer is computed afresh.
 */
const isCartChange = (change: ActorChange): change is ChangeOf<'cart'> => change.kind === 'cart' && change.version > 1;

/**
 * One `recommendations:updated` push per burst of changes of an active cart, computed after the burst, for the
 * cart as the burst left it. A burst in which the cart changed hands (a guest's cart adopted by an account) drops
 * the topic's other subscribers, as the cart's own push does.
 */
export function recommendationPushes(changes$: Observable<ActorChange>, o: RecommendationPushOptions): Observable<Push> {
  const idleMs = Math.max(o.idleMs ?? o.debounceMs + 1000, o.debounceMs);
  const watched = o.mayBeWatching ?? (() => true);
  return changes$.pipe(
    filter(isCartChange),
    // A subscribe joins the topic before computing its answer: a change skipped here is in that answer.
    filter((change) => watched(pushTopics['recommendations:updated']({ cartId: change.id } as RecommendationsUpdated)[0]!)),
    groupBy((change) => change.id, { duration: (group) => group.pipe(debounceTime(idleMs, o.scheduler)) }),
    mergeMap((group) =>
      group.pipe(
        // Closes a burst when the cart has been quiet for debounceMs (and, at the latest, when the group ends).
        buffer(group.pipe(debounceTime(o.debounceMs, o.scheduler))),
        filter((burst) => burst.length > 0),
        concatMap((burst) => {
          const last = burst.at(-1)!;
          // A cart checking out, checked out or expired takes no more products: nothing to recommend.
          if (last.state !== 'active') return EMPTY;
          const reassigned = burst.some((change) => (change.event as { type?: string } | null)?.type === 'ASSIGN_CUSTOMER');
          return defer(() => o.compute(last.actor)).pipe(
            map(
              (update): Push => ({
                topics: pushTopics['recommendations:updated'](update),
                event: 'recommendations:updated',
                payload: () => [update],
                onlyOwner: reassigned ? (last.ownerId ?? undefined) : undefined,
              }),
            ),
            catchError((error: unknown) => {
              o.logger.error({ err: error, cartId: last.id, version: last.version }, 'recommendations: could not compute the recommendations of a cart');
              return EMPTY;
            }),
          );
        }),
      ),
    ),
  );
}
