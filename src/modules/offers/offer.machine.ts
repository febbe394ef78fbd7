// An offer: a festival sale (a discount on products or whole categories for a time) or a limited drop (a quota of
// one product at a drop price, a per-customer limit). Its start and end are deadlines the kernel drives durably.
import { assign, emit, setup } from 'xstate';
import type { Timestamp } from '../../domain/types.ts';

export const OFFER_MACHINE_VERSION = 1;

export const OFFER_STATES = ['scheduled', 'live', 'soldOut', 'ended', 'cancelled'] as const;
export type OfferState = (typeof OFFER_STATES)[number];

export type Discount = { readonly type: 'percent'; readonly percent: number } | { readonly type: 'amount'; readonly amount: number };

/** What a sale takes off, and on what: listed products and whole categories (with their sub-categories). */
export interface SaleTerms {
  readonly sort: 'sale';
  readonly discount: Discount;
  readonly productIds: readonly string[];
  readonly categoryIds: readonly string[];
}

/** A drop: `quota` units of one product at `dropPrice`, at most `perCustomerLimit` units per customer. */
export interface DropTerms {
  readonly sort: 'drop';
  readonly productId: string;
  readonly dropPrice: number;
  readonly quota: number;
  readonly perCustomerLimit: number;
}

export type OfferTerms = SaleTerms | DropTerms;

export interface OfferContext {
  readonly id: string;
  readonly name: string;
  readonly terms: OfferTerms;
  readonly startsAt: Timestamp;
  /** Null: open-ended (a drop that runs until it sells out or is cancelled). */
  readonly endsAt: Timestamp | null;
  /** A drop's units not yet claimed by a checkout (a mirror of the quota the checkouts claim from); null for a sale. */
  readonly remaining: number | null;
  readonly createdBy: string;
  readonly createdAt: Timestamp;
  readonly updatedAt: Timestamp;
  readonly cancelReason: string | null;
}

export interface OfferInput {
  readonly id: string;
  readonly name: string;
  readonly terms: OfferTerms;
  readonly startsAt: Timestamp;
  readonly endsAt: Timestamp | null;
  readonly createdBy: string;
  readonly at: Timestamp;
}

export type OfferEvent =
  /** New terms, name or times: only while scheduled, and only before it starts. */
  | { type: 'UPDATE'; name: string; terms: OfferTerms; startsAt: Timestamp; endsAt: Timestamp | null; at: Timestamp }
  | { type: 'START'; at: Timestamp }
  | { type: 'END'; at: Timestamp }
  | { type: 'CANCEL'; reason: string; at: Timestamp }
  /** The drop's quota as the checkouts left it: at 0 a live drop is sold out, above 0 a sold-out one is live again. */
  | { type: 'QUOTA'; remaining: number; at: Timestamp };

export type OfferEmitted =
  | { type: 'offer.started'; offerId: string }
  | { type: 'offer.ended'; offerId: string; reason: 'ended' | 'cancelled' }
  | { type: 'offer.soldOut'; offerId: string }
  | { type: 'offer.restocked'; offerId: string };

/** Why an offer refuses a change, stated once for the machine's guards and the protocol's answers. */
export type OfferRefusal =
  | { readonly reason: 'OFFER_STARTED'; readonly state: string }
  | { readonly reason: 'OFFER_CLOSED'; readonly state: string }
  | { readonly reason: 'NOT_DUE'; readonly at: Timestamp | null }
  | { readonly reason: 'SORT_CHANGED' };

export function offerRefusal(state: string, context: OfferContext, event: OfferEvent): OfferRefusal | null {
  const closed = state === 'ended' || state === 'cancelled';
  switch (event.type) {
    case 'UPDATE':
      if (closed) return { reason: 'OFFER_CLOSED', state };
      if (state !== 'scheduled' || event.at >= context.startsAt) return { reason: 'OFFER_STARTED', state };
      if (event.terms.sort !== context.terms.sort) return { reason: 'SORT_CHANGED' };
      return null;
    case 'START':
      if (state !== 'scheduled') return { reason: 'OFFER_STARTED', state };
      return event.at >= context.startsAt ? null : { reason: 'NOT_DUE', at: context.startsAt };
    case 'END':
      if (state !== 'live' && state !== 'soldOut') return { reason: 'OFFER_CLOSED', state };
      return context.endsAt !== null && event.at >= context.endsAt ? null : { reason: 'NOT_DUE', at: context.endsAt };
    case 'CANCEL':
      return closed ? { reason: 'OFFER_CLOSED', state } : null;
    case 'QUOTA':
      return closed || context.terms.sort !== 'drop' ? { reason: 'OFFER_CLOSED', state } : null;
  }
}

const takes = (state: string, context: OfferContext, event: OfferEvent, type: OfferEvent['type']) =>
  event.type === type && offerRefusal(state, context, event) === null;

/**
 * `scheduled` until its start, `live` until its end; a drop is `soldOut` while its quota is all claimed (and live
 * again if an order gives units back); `ended` and `cancelled` are final. No timers: START and END are deadlines
 * (`deadlineOf` in the kind), delivered by the kernel's sweep on whichever node finds them due, once.
 */
export const offerMachine = setup({
  types: {
    context: {} as OfferContext,
    events: {} as OfferEvent,
    input: {} as OfferInput,
    emitted: {} as OfferEmitted,
  },
  guards: {
    canUpdate: ({ context, event }) => takes('scheduled', context, event, 'UPDATE'),
    canStart: ({ context, event }) => takes('scheduled', context, event, 'START'),
    // A drop whose units were all claimed in the instant between its start time and the sweep's START.
    startsSoldOut: ({ context, event }) => takes('scheduled', context, event, 'START') && context.terms.sort === 'drop' && (context.remaining ?? 0) <= 0,
    canEnd: ({ context, event }) => takes('live', context, event, 'END'),
    soldOutNow: ({ event }) => event.type === 'QUOTA' && event.remaining <= 0,
    backInStock: ({ context, event }) => event.type === 'QUOTA' && event.remaining > 0 && (context.endsAt === null || event.at < context.endsAt),
  },
  actions: {
    update: assign(({ event }) =>
      event.type === 'UPDATE'
        ? {
            name: event.name,
            terms: event.terms,
            startsAt: event.startsAt,
            endsAt: event.endsAt,
            remaining: event.terms.sort === 'drop' ? event.terms.quota : null,
            updatedAt: event.at,
          }
        : {},
    ),
    touch: assign(({ event }) => ({ updatedAt: event.at })),
    setRemaining: assign(({ event }) => (event.type === 'QUOTA' ? { remaining: Math.max(0, event.remaining), updatedAt: event.at } : {})),
    cancel: assign(({ event }) => (event.type === 'CANCEL' ? { cancelReason: event.reason, updatedAt: event.at } : {})),
    emitStarted: emit(({ context }) => ({ type: 'offer.started' as const, offerId: context.id })),
    emitEnded: emit(({ context }) => ({ type: 'offer.ended' as const, offerId: context.id, reason: 'ended' as const })),
    emitCancelled: emit(({ context }) => ({ type: 'offer.ended' as const, offerId: context.id, reason: 'cancelled' as const })),
    emitSoldOut: emit(({ context }) => ({ type: 'offer.soldOut' as const, offerId: context.id })),
    emitRestocked: emit(({ context }) => ({ type: 'offer.restocked' as const, offerId: context.id })),
  },
}).createMachine({
  id: 'offer',
  context: ({ input }) => ({
    id: input.id,
    name: input.name,
    terms: input.terms,
    startsAt: input.startsAt,
    endsAt: input.endsAt,
    remaining: input.terms.sort === 'drop' ? input.terms.quota : null,
    createdBy: input.createdBy,
    createdAt: input.at,
    updatedAt: input.at,
    cancelReason: null,
  }),
  initial: 'scheduled',
  states: {
    scheduled: {
      on: {
        UPDATE: { guard: 'canUpdate', actions: 'update' },
        START: [
          { guard: 'startsSoldOut', target: 'soldOut', actions: ['touch', 'emitStarted', 'emitSoldOut'] },
          { guard: 'canStart', target: 'live', actions: ['touch', 'emitStarted'] },
        ],
        CANCEL: { target: 'cancelled', actions: ['cancel', 'emitCancelled'] },
        // A checkout that claimed in the instant between the start time and the sweep's START.
        QUOTA: { actions: 'setRemaining' },
      },
    },
    live: {
      on: {
        END: { guard: 'canEnd', target: 'ended', actions: ['touch', 'emitEnded'] },
        CANCEL: { target: 'cancelled', actions: ['cancel', 'emitCancelled'] },
        QUOTA: [{ guard: 'soldOutNow', target: 'soldOut', actions: ['setRemaining', 'emitSoldOut'] }, { actions: 'setRemaining' }],
      },
    },
    soldOut: {
      on: {
        END: { guard: 'canEnd', target: 'ended', actions: ['touch', 'emitEnded'] },
        CANCEL: { target: 'cancelled', actions: ['cancel', 'emitCancelled'] },
        QUOTA: [{ guard: 'backInStock', target: 'live', actions: ['setRemaining', 'emitRestocked'] }, { actions: 'setRemaining' }],
      },
    },
    ended: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

export type OfferMachine = typeof offerMachine;
