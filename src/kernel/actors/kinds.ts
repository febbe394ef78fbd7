// How the runtime knows a machine: a kind definition, registered by the composition root.
import type { AnyStateMachine, EventFrom, SnapshotFrom } from 'xstate';
import type { PersistedState } from '../db/actor.repo.ts';
import { AppError } from '../../domain/errors.ts';
import type { ErrorCode, RefusalReason } from '../../protocol/index.ts';
import type { Services } from '../registry.ts';
import type { LiveActor } from './runtime.ts';

/** An event as callers send it; the runtime stamps `at` from its clock. */
export type CommandEvent<M extends AnyStateMachine> = EventFrom<M> extends infer E ? (E extends { at: number } ? Omit<E, 'at'> : E) : never;

export interface ActorKindDefinition<M extends AnyStateMachine = AnyStateMachine> {
  readonly kind: string;
  readonly machine: M;
  /** Stored with every snapshot; bump it when context or states change shape. */
  readonly machineVersion: number;
  /** Brings a snapshot written by an older machine version up to this one. */
  readonly migrate?: (persisted: PersistedState, fromVersion: number) => PersistedState;
  /** The customer who owns the actor, for access checks and listings. */
  readonly ownerOf: (snapshot: SnapshotFrom<M>) => string | null;
  /** The next instant the machine expects a timeout event, and that event. */
  readonly deadlineOf: (snapshot: SnapshotFrom<M>) => { readonly at: number; readonly event: CommandEvent<M> } | null;
  /** The effects its states run outside the actor (a reservation, a charge), each resumed by the kernel when it stalls. */
  readonly effects?: readonly EffectDefinition<M>[];
  /**
   * Why the machine refuses `event` in `snapshot` — its business rule, as an error for the protocol — or null
   * when it has no more to say than `INVALID_TRANSITION`. Asked only after a refusal.
   */
  readonly refusal?: (snapshot: SnapshotFrom<M>, event: EventFrom<M>) => Refusal | null;
}

/** A machine's reason for refusing an event, mapped to the protocol's error code and message. */
export interface Refusal {
  readonly code: ErrorCode;
  /** The machine's own name for the rule (`LINE_LIMIT`, `CART_NOT_ACTIVE`), sent as `details.reason`. */
  readonly reason: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A refusal naming one of the reasons the protocol declares (`REFUSAL_REASONS`): what the application's kinds answer. */
export type ProtocolRefusal = Refusal & { readonly reason: RefusalReason };

/** The error a refusal answers with; `details.reason` names the machine's rule. */
export function refusedBecause(refusal: Refusal): AppError {
  return new AppError(refusal.code, refusal.message, { details: { ...refusal.details, reason: refusal.reason } });
}

/**
 * An effect a state runs outside the actor: the actor enters `state`, the effect runs (a reservation, a
 * charge), and an event records its outcome and leaves the state. A crash or a stalled dependency can leave the
 * actor in `state`; after `stallMs` the kernel's effect runner hands it to `resume`, on whichever node sweeps.
 *
 * @example
 * { name: 'order.charge', state: 'authorizing', stallMs: 30_000, step: 'charge the card through the provider',
 *   resume: (order, services) => services.orders.settleStalledPayment(order),
 *   compensation: 'the provider key is closed; the attempt is recorded as declined (payment_interrupted)' }
 */
export interface EffectDefinition<M extends AnyStateMachine> {
  /** Names the effect in logs and metrics (`emporium_effects_resumed_total{effect}`). */
  readonly name: string;
  /** The state the effect runs in. */
  readonly state: string;
  /** What the effect does, for operators and the docs. */
  readonly step: string;
  /** How long an actor may stay in `state` before its effect is presumed interrupted. */
  readonly stallMs: number;
  /**
   * Finishes the effect, or undoes it, for an actor found in `state` past `stallMs`: idempotent and safe on any
   * node (another may be finishing it right now). An `AppError` means the effect ended in a refusal, which
   * `resume` has recorded; any other error is logged and retried on the next sweep.
   */
  readonly resume: (actor: LiveActor<M>, services: Services) => Promise<unknown>;
  /** How an effect that cannot complete is undone, for operators and the docs. */
  readonly compensation: string;
}

/** Defines a kind with full type inference on the machine. */
export function defineActorKind<M extends AnyStateMachine>(definition: ActorKindDefinition<M>): ActorKindDefinition<M> {
  return definition;
}

/** A state value as one string: `checkingOut`, or `parent.child` for nested states. */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [key, child] = Object.entries(value as Record<string, unknown>)[0] ?? ['unknown', undefined];
    return child === undefined ? key : `${key}.${stateName(child)}`;
  }
  return 'unknown';
}
