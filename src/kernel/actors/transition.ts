// A pure transition function per machine that reuses one inert actor scope instead of building one per event.
import { createActor, type AnyStateMachine, type EventFrom, type SnapshotFrom } from 'xstate';

interface ExecutableAction {
  readonly type: string;
  readonly params?: unknown;
}

export type Transition<M extends AnyStateMachine> = (snapshot: SnapshotFrom<M>, event: EventFrom<M>) => [SnapshotFrom<M>, ExecutableAction[]];

/**
 * What XState's `transition(machine, snapshot, event)` does — compute the next
 * snapshot and collect the actions (emitted domain events among them) without
 * executing anything — but with the inert scope built once. XState's own
 * function creates a throwaway actor, and with it the machine's initial
 * snapshot, on every call; for our machines that was most of the cost of an
 * event. Safe because the machines spawn and invoke nothing, and a transition
 * is synchronous, so the one scope is never shared by two calls at once.
 *
 * @example
 * const next = createTransition(cartMachine);
 * const [snapshot, actions] = next(current, { type: 'REMOVE_ITEM', productId, at });
 */
export function createTransition<M extends AnyStateMachine>(machine: M): Transition<M> {
  const self = createActor(machine);
  let collected: ExecutableAction[] = [];
  const scope = {
    self,
    defer: () => {},
    id: '',
    logger: () => {},
    sessionId: '',
    stopChild: () => {},
    system: self.system,
    emit: () => {},
    actionExecutor: (action: ExecutableAction) => {
      collected.push(action);
    },
  };
  return (snapshot, event) => {
    collected = [];
    const next = machine.transition(snapshot as never, event as never, scope as never) as SnapshotFrom<M>;
    return [next, collected];
  };
}
