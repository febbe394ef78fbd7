// Small helpers for unit-testing pure XState machines with `initialTransition` / `transition`.
import type { AnyStateMachine } from 'xstate';

interface ActionLike {
  readonly type: string;
  readonly params?: unknown;
}

/** The domain events a transition emitted (the `xstate.emit` actions, in order). */
export function emitted<E = { type: string }>(actions: readonly ActionLike[]): E[] {
  return actions.filter((action) => action.type === 'xstate.emit').map((action) => (action.params as { event: E }).event);
}

/** The types of the emitted events, in order. */
export function emittedTypes(actions: readonly ActionLike[]): string[] {
  return emitted(actions).map((event) => (event as { type: string }).type);
}

/**
 * What the runtime stores: `{ value, context }` serialised to JSON and read back,
 * resolved into a live snapshot of `machine` again.
 */
export function roundTrip<M extends AnyStateMachine>(
  machine: M,
  snapshot: { readonly value: unknown; readonly context: unknown },
): ReturnType<M['resolveState']> {
  const stored: unknown = JSON.parse(JSON.stringify({ value: snapshot.value, context: snapshot.context }));
  return machine.resolveState(stored as Parameters<M['resolveState']>[0]) as ReturnType<M['resolveState']>;
}
