// Domain events as the flows see them: an outbox row, typed by its `type`.
import { concatMap, filter, merge, of, type Observable, type OperatorFunction } from 'rxjs';
import type { DomainEventPayload, DomainEventType } from '../registry.ts';

export type { DomainEventPayload, DomainEventType } from '../registry.ts';

export interface DomainEvent<P extends DomainEventPayload = DomainEventPayload> {
  /** The outbox sequence number: unique, rising, the idempotency key of the delivery. */
  readonly seq: number;
  readonly actorId: string;
  readonly type: P['type'];
  readonly payload: P;
  readonly createdAt: number;
}

/** The RxJS part of a flow: turns domain events into effects; it completes when its input does. */
export type Flow = (events$: Observable<DomainEvent>) => Observable<unknown>;

/**
 * How much a flow's effects matter. `critical`: money and stock (sagas) —
 * retried for long before a delivery is parked. `best-effort`: projections
 * and notifications — parked sooner. Either way a flow fails alone: its
 * retries never hold back another flow.
 */
export type Delivery = 'critical' | 'best-effort';

/** A flow as the relay runs it: a stable name (it keys the delivery records), its delivery class, the events it consumes. */
export interface FlowDefinition {
  /** Stable and unique: renaming a flow leaves its pending deliveries behind. */
  readonly name: string;
  readonly delivery: Delivery;
  /** The event types it consumes; it gets a delivery record for each of these and no other. */
  readonly on: readonly DomainEventType[];
  readonly run: Flow;
}

/**
 * Declares a flow over the event types in `on`; `run` sees only those, typed.
 *
 * @example
 * export const orderExpiredReleasesStock = (deps: SagaDeps) =>
 *   defineFlow({ name: 'order-expired-releases-stock', delivery: 'critical', on: ['order.expired'],
 *     run: (events$) => events$.pipe(concatMap(({ payload }) => deps.inventory.release(payload.orderId))) });
 */
export function defineFlow<T extends DomainEventType>(definition: {
  readonly name: string;
  readonly delivery: Delivery;
  readonly on: readonly T[];
  readonly run: (events$: Observable<DomainEvent<Extract<DomainEventPayload, { type: T }>>>) => Observable<unknown>;
}): FlowDefinition {
  const types = new Set<DomainEventType>(definition.on);
  return {
    name: definition.name,
    delivery: definition.delivery,
    on: definition.on,
    run: (events$) => definition.run(events$.pipe(filter((event): event is DomainEvent<Extract<DomainEventPayload, { type: T }>> => types.has(event.type)))),
  };
}

/** Narrows a stream of domain events to one type. */
export function ofType<T extends DomainEventType>(type: T): OperatorFunction<DomainEvent, DomainEvent<Extract<DomainEventPayload, { type: T }>>> {
  return filter((event): event is DomainEvent<Extract<DomainEventPayload, { type: T }>> => event.type === type);
}

/**
 * A critical flow made of steps over one actor kind's events. Events go through the steps one at a time, in the
 * order they come (the relay hands over each actor's events in commit order): a step for `shipment.delivered`
 * never starts before the one for an earlier `shipment.shipped` has finished, however the events are batched.
 */
export function sagaOf(name: string, on: readonly DomainEventType[], steps: readonly Flow[]): FlowDefinition {
  return { name, delivery: 'critical', on, run: (events$) => events$.pipe(concatMap((event) => merge(...steps.map((step) => step(of(event)))))) };
}
