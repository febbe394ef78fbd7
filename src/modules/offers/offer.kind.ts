// The offer kind: its machine, its start and end as durable deadlines, and its refusals as protocol answers.
import { defineActorKind, type ProtocolRefusal } from '../../kernel/actors/kinds.ts';
import type { LiveActor } from '../../kernel/actors/runtime.ts';
import { OFFER_MACHINE_VERSION, offerMachine, offerRefusal, type OfferEmitted, type OfferMachine, type OfferRefusal } from './offer.machine.ts';

declare module '../../kernel/registry.ts' {
  interface ActorKinds {
    readonly offer: OfferMachine;
  }
  interface DomainEvents {
    readonly offer: OfferEmitted;
  }
}

export type OfferActor = LiveActor<OfferMachine>;

export function offerRefusalError(offerId: string, refusal: OfferRefusal): ProtocolRefusal {
  switch (refusal.reason) {
    case 'OFFER_STARTED':
      return {
        code: 'INVALID_TRANSITION',
        reason: refusal.reason,
        message: `offer ${offerId} has started (${refusal.state}): its terms can no longer change; cancel it instead`,
        details: { state: refusal.state },
      };
    case 'OFFER_CLOSED':
      return { code: 'INVALID_TRANSITION', reason: refusal.reason, message: `offer ${offerId} is ${refusal.state}`, details: { state: refusal.state } };
    case 'NOT_DUE':
      return { code: 'INVALID_TRANSITION', reason: refusal.reason, message: `offer ${offerId} is not due yet`, details: { at: refusal.at } };
    case 'SORT_CHANGED':
      return { code: 'VALIDATION', reason: refusal.reason, message: 'a sale cannot become a drop, nor a drop a sale; create a new offer' };
  }
}

export const offerKind = defineActorKind({
  kind: 'offer',
  machine: offerMachine,
  machineVersion: OFFER_MACHINE_VERSION,
  // Staff own the store's offers, not a customer.
  ownerOf: () => null,
  deadlineOf: (snapshot) => {
    if (snapshot.value === 'scheduled') return { at: snapshot.context.startsAt, event: { type: 'START' as const } };
    if ((snapshot.value === 'live' || snapshot.value === 'soldOut') && snapshot.context.endsAt !== null) {
      return { at: snapshot.context.endsAt, event: { type: 'END' as const } };
    }
    return null;
  },
  refusal: (snapshot, event) => {
    const refusal = offerRefusal(String(snapshot.value), snapshot.context, event);
    return refusal && offerRefusalError(snapshot.context.id, refusal);
  },
});
