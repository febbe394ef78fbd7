// Domain events as the flows see them: an outbox row, typed by its `type`.
import { filter, type Observable, type OperatorFunction } from 'rxjs';
import type { CartEmitted } from '../machines/cart.machine.ts';
import type { OrderEmitted } from '../machines/order.machine.ts';
import type { ShipmentEmitted } from '../machines/shipment.machine.ts';

export type DomainEventPayload = CartEmitted | OrderEmitted | ShipmentEmitted;
export type DomainEventType = DomainEventPayload['type'];

export interface DomainEvent<P extends DomainEventPayload = DomainEventPayload> {
  /** The outbox sequence number: unique, rising, the idempotency key of the delivery. */
  readonly seq: number;
  readonly actorId: string;
  readonly type: P['type'];
  readonly payload: P;
  readonly createdAt: number;
}

/** A flow turns domain events into effects; it completes when its input does. */
export type Flow = (events$: Observable<DomainEvent>) => Observable<unknown>;

/** Narrows a stream of domain events to one type. */
export function ofType<T extends DomainEventType>(type: T): OperatorFunction<DomainEvent, DomainEvent<Extract<DomainEventPayload, { type: T }>>> {
  return filter((event): event is DomainEvent<Extract<DomainEventPayload, { type: T }>> => event.type === type);
}
