// The shipment: a paid order's parcel, advanced by warehouse staff from picking to delivery.
import { assign, emit, setup } from 'xstate';
import { SHIPMENT_STATES, type OrderLine, type ShippingAddress, type Timestamp } from '../../domain/types.ts';

export const SHIPMENT_MACHINE_VERSION = 1;

export { SHIPMENT_STATES };
export type ShipmentState = (typeof SHIPMENT_STATES)[number];
type MovingState = 'picking' | 'packed' | 'shipped' | 'inTransit';

export interface ShipmentContext {
  readonly id: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  readonly shippingAddress: ShippingAddress | null;
  readonly carrier: string | null;
  readonly trackingNumber: string | null;
  readonly exception: { readonly reason: string; readonly from: MovingState } | null;
  readonly history: readonly { readonly state: ShipmentState; readonly at: Timestamp; readonly note?: string }[];
  readonly createdAt: Timestamp;
  readonly updatedAt: Timestamp;
}

export interface ShipmentInput {
  readonly id: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  readonly shippingAddress: ShippingAddress | null;
  readonly at: Timestamp;
}

export type ShipmentEvent =
  | { type: 'PICK'; at: Timestamp }
  | { type: 'PACK'; at: Timestamp }
  | { type: 'SHIP'; carrier: string; trackingNumber: string; at: Timestamp }
  | { type: 'MARK_IN_TRANSIT'; at: Timestamp }
  | { type: 'DELIVER'; at: Timestamp }
  | { type: 'REPORT_EXCEPTION'; reason: string; at: Timestamp }
  | { type: 'RESUME'; at: Timestamp }
  /** `reason` says who cancelled (the customer, or by default the warehouse); the order is cancelled with it. */
  | { type: 'CANCEL'; reason?: string; at: Timestamp };

export type ShipmentEmitted =
  | { type: 'shipment.created'; shipmentId: string; orderId: string }
  | { type: 'shipment.shipped'; shipmentId: string; orderId: string; carrier: string; trackingNumber: string }
  | { type: 'shipment.delivered'; shipmentId: string; orderId: string }
  | { type: 'shipment.exception'; shipmentId: string; orderId: string; reason: string }
  | { type: 'shipment.cancelled'; shipmentId: string; orderId: string; reason?: string };

/** Why a shipment refused a move, by rule, for the protocol's answer (the chart itself holds the rules; asked only after a refusal). */
export type ShipmentRefusal =
  | { readonly reason: 'SHIPMENT_CLOSED'; readonly state: string }
  | { readonly reason: 'ALREADY_SHIPPED'; readonly state: string }
  | { readonly reason: 'NOT_SHIPPED'; readonly state: string }
  | { readonly reason: 'NOT_NEXT_STEP'; readonly state: string };

const WITH_CARRIER: readonly string[] = ['shipped', 'inTransit'];

export function shipmentRefusal(state: string, context: ShipmentContext, event: ShipmentEvent): ShipmentRefusal {
  if (state === 'delivered' || state === 'cancelled') return { reason: 'SHIPMENT_CLOSED', state };
  // Where the parcel is: an exception interrupted it where it was.
  const where = state === 'exception' ? (context.exception?.from ?? state) : state;
  if (event.type === 'CANCEL' && WITH_CARRIER.includes(where)) return { reason: 'ALREADY_SHIPPED', state };
  if (event.type === 'DELIVER' && !WITH_CARRIER.includes(where)) return { reason: 'NOT_SHIPPED', state };
  return { reason: 'NOT_NEXT_STEP', state };
}

/**
 * Shipment lifecycle. Every move is a staff command; `exception` remembers the
 * state it interrupted so `RESUME` returns there.
 *
 * @example
 * const [shipment] = initialTransition(shipmentMachine, { id, orderId, customerId, items, shippingAddress: null, at: now });
 */
export const shipmentMachine = setup({
  types: {
    context: {} as ShipmentContext,
    events: {} as ShipmentEvent,
    input: {} as ShipmentInput,
    emitted: {} as ShipmentEmitted,
  },
  guards: {
    resumesTo: ({ context }, params: { state: MovingState }) => context.exception?.from === params.state,
    interrupted: ({ context }, params: { states: readonly MovingState[] }) => context.exception !== null && params.states.includes(context.exception.from),
  },
  actions: {
    /** Appends the state entered to the history, for the tracking timeline. */
    stamp: assign(({ context, event }, params: { state: ShipmentState }) => ({
      history: [...context.history, { state: params.state, at: event.at }],
      updatedAt: event.at,
    })),
    recordCarrier: assign(({ event }) => (event.type === 'SHIP' ? { carrier: event.carrier, trackingNumber: event.trackingNumber } : {})),
    recordException: assign(({ context, event }, params: { from: MovingState }) =>
      event.type === 'REPORT_EXCEPTION'
        ? {
            exception: { reason: event.reason, from: params.from },
            history: [...context.history, { state: 'exception' as const, at: event.at, note: event.reason }],
            updatedAt: event.at,
          }
        : {},
    ),
    clearException: assign({ exception: null }),
    emitShipped: emit(({ context }) => ({
      type: 'shipment.shipped' as const,
      shipmentId: context.id,
      orderId: context.orderId,
      carrier: context.carrier ?? '',
      trackingNumber: context.trackingNumber ?? '',
    })),
    emitDelivered: emit(({ context }) => ({ type: 'shipment.delivered' as const, shipmentId: context.id, orderId: context.orderId })),
    emitException: emit(({ context }) => ({
      type: 'shipment.exception' as const,
      shipmentId: context.id,
      orderId: context.orderId,
      reason: context.exception?.reason ?? '',
    })),
    emitCancelled: emit(({ context, event }) => ({
      type: 'shipment.cancelled' as const,
      shipmentId: context.id,
      orderId: context.orderId,
      ...(event.type === 'CANCEL' && event.reason ? { reason: event.reason } : {}),
    })),
    emitCreated: emit(({ context }) => ({ type: 'shipment.created' as const, shipmentId: context.id, orderId: context.orderId })),
  },
}).createMachine({
  id: 'shipment',
  context: ({ input }) => ({
    id: input.id,
    orderId: input.orderId,
    customerId: input.customerId,
    items: input.items,
    shippingAddress: input.shippingAddress,
    carrier: null,
    trackingNumber: null,
    exception: null,
    history: [{ state: 'pending', at: input.at }],
    createdAt: input.at,
    updatedAt: input.at,
  }),
  entry: 'emitCreated',
  initial: 'pending',
  states: {
    pending: {
      on: {
        PICK: { target: 'picking', actions: { type: 'stamp', params: { state: 'picking' } } },
        CANCEL: { target: 'cancelled', actions: [{ type: 'stamp', params: { state: 'cancelled' } }, 'emitCancelled'] },
      },
    },
    picking: {
      on: {
        PACK: { target: 'packed', actions: { type: 'stamp', params: { state: 'packed' } } },
        REPORT_EXCEPTION: { target: 'exception', actions: [{ type: 'recordException', params: { from: 'picking' } }, 'emitException'] },
        CANCEL: { target: 'cancelled', actions: [{ type: 'stamp', params: { state: 'cancelled' } }, 'emitCancelled'] },
      },
    },
    packed: {
      on: {
        SHIP: { target: 'shipped', actions: ['recordCarrier', { type: 'stamp', params: { state: 'shipped' } }, 'emitShipped'] },
        REPORT_EXCEPTION: { target: 'exception', actions: [{ type: 'recordException', params: { from: 'packed' } }, 'emitException'] },
        CANCEL: { target: 'cancelled', actions: [{ type: 'stamp', params: { state: 'cancelled' } }, 'emitCancelled'] },
      },
    },
    shipped: {
      on: {
        MARK_IN_TRANSIT: { target: 'inTransit', actions: { type: 'stamp', params: { state: 'inTransit' } } },
        DELIVER: { target: 'delivered', actions: [{ type: 'stamp', params: { state: 'delivered' } }, 'emitDelivered'] },
        REPORT_EXCEPTION: { target: 'exception', actions: [{ type: 'recordException', params: { from: 'shipped' } }, 'emitException'] },
      },
    },
    inTransit: {
      on: {
        DELIVER: { target: 'delivered', actions: [{ type: 'stamp', params: { state: 'delivered' } }, 'emitDelivered'] },
        REPORT_EXCEPTION: { target: 'exception', actions: [{ type: 'recordException', params: { from: 'inTransit' } }, 'emitException'] },
      },
    },
    exception: {
      on: {
        RESUME: [
          {
            guard: { type: 'resumesTo', params: { state: 'picking' } },
            target: 'picking',
            actions: ['clearException', { type: 'stamp', params: { state: 'picking' } }],
          },
          {
            guard: { type: 'resumesTo', params: { state: 'packed' } },
            target: 'packed',
            actions: ['clearException', { type: 'stamp', params: { state: 'packed' } }],
          },
          {
            guard: { type: 'resumesTo', params: { state: 'shipped' } },
            target: 'shipped',
            actions: ['clearException', { type: 'stamp', params: { state: 'shipped' } }],
          },
          {
            guard: { type: 'resumesTo', params: { state: 'inTransit' } },
            target: 'inTransit',
            actions: ['clearException', { type: 'stamp', params: { state: 'inTransit' } }],
          },
        ],
        // Only a parcel already handed to the carrier can turn up delivered.
        DELIVER: {
          guard: { type: 'interrupted', params: { states: ['shipped', 'inTransit'] } },
          target: 'delivered',
          actions: ['clearException', { type: 'stamp', params: { state: 'delivered' } }, 'emitDelivered'],
        },
        // A parcel still in the warehouse can be cancelled.
        CANCEL: {
          guard: { type: 'interrupted', params: { states: ['picking', 'packed'] } },
          target: 'cancelled',
          actions: ['clearException', { type: 'stamp', params: { state: 'cancelled' } }, 'emitCancelled'],
        },
      },
    },
    delivered: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

export type ShipmentMachine = typeof shipmentMachine;
