// `stock:changed` under load: when many buyers hit one product, its watchers get the latest level a few times a
// second instead of every single change. Only the push stream is coalesced; `InventoryService.stockChanged$`
// still carries every change to the in-process subscribers that need each one.
import { asyncScheduler, debounceTime, filter, groupBy, identity, mergeMap, throttleTime, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';

export interface CoalesceOptions {
  /** The window: `0` (or less) passes every level through unchanged. */
  readonly windowMs: number;
  /** A product's group ends after this long without a change (its state goes). @default max(1 s, 20 × window) */
  readonly idleMs?: number;
  /** For tests on virtual time. @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

/**
 * Coalesces levels per product: the first change of a product goes out at once; changes within `windowMs` after
 * it are folded, and at the window's end only the latest (highest `version`) goes out, which opens the next
 * window. So the last level of a burst always arrives, at most `windowMs` late, and a steady stream of changes
 * makes one push per window per product.
 *
 * A level whose version is not above the newest one seen for its product (two commits announced out of order) is
 * dropped, so versions only rise within a product's group; clients apply the same rule (PROTOCOL.md §10), which
 * also covers a straggler that arrives after the group ended.
 *
 * Why `throttleTime` with leading and trailing, not `auditTime` (no leading edge: every first change would wait a
 * window) or `debounceTime` (a steady stream would never let a push out): it is the one that sends at once when
 * calm and at a bounded rate under load. `groupBy` with an idle `duration` keeps state only for products that
 * changed in the last `idleMs`.
 *
 * @example
 * stockChanged$.pipe(coalescePerProduct({ windowMs: 100 }), map(toPush))
 */
export function coalescePerProduct<L extends { readonly productId: string; readonly version: number }>(options: CoalesceOptions): MonoTypeOperatorFunction<L> {
  const { windowMs } = options;
  if (!(windowMs > 0)) return identity;
  const scheduler = options.scheduler ?? asyncScheduler;
  const idleMs = Math.max(options.idleMs ?? Math.max(1_000, windowMs * 20), windowMs * 2);
  return (levels$) =>
    levels$.pipe(
      groupBy((level) => level.productId, { duration: (group) => group.pipe(debounceTime(idleMs, scheduler)) }),
      mergeMap((group) => {
        let newest = Number.NEGATIVE_INFINITY;
        return group.pipe(
          filter((level) => {
            if (level.version <= newest) return false;
            newest = level.version;
            return true;
          }),
          throttleTime(windowMs, scheduler, { leading: true, trailing: true }),
        );
      }),
    );
}
