// How the runtime knows a machine: a kind definition, registered by the composition root.
import type { AnyStateMachine, EventFrom, SnapshotFrom } from 'xstate';
import type { PersistedState } from '../db/actor.repo.ts';

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
