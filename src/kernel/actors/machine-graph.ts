// A machine's states and transitions as a plain graph (for drawing it), read from the machine's own state nodes.
import type { AnyStateMachine } from 'xstate';

/** One state node: `name` is its path from the root joined with dots (`checkingOut`, `parent.child`). */
export interface GraphState {
  readonly name: string;
  /** The enclosing state's name; null for a top-level state. */
  readonly parent: string | null;
  readonly type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** A compound state's initial child; null otherwise. */
  readonly initial: string | null;
}

/** One transition: on `event` in `source`, to `targets` (empty: it stays in `source` and changes context only). */
export interface GraphTransition {
  readonly source: string;
  /** The event type; `(always)` for an eventless transition. */
  readonly event: string;
  readonly targets: readonly string[];
  /** The guard's name when the transition is guarded. */
  readonly guard: string | null;
}

export interface MachineGraph {
  readonly id: string;
  /** The state a new actor starts in. */
  readonly initial: string | null;
  /** Every state, parents before their children, in document order. */
  readonly states: readonly GraphState[];
  readonly transitions: readonly GraphTransition[];
}

interface NodeLike {
  readonly path: readonly string[];
  readonly type: GraphState['type'];
  readonly states: Readonly<Record<string, NodeLike>>;
  readonly initial?: { readonly target?: readonly NodeLike[] } | undefined;
  readonly transitions: ReadonlyMap<string, ReadonlyArray<TransitionLike>>;
  readonly always?: ReadonlyArray<TransitionLike> | undefined;
}

interface TransitionLike {
  readonly target?: readonly NodeLike[] | undefined;
  readonly guard?: unknown;
}

const graphs = new WeakMap<AnyStateMachine, MachineGraph>();

/**
 * The states and transitions of `machine` (`machine.root` walked), computed once per machine.
 *
 * @example
 * machineGraph(orderMachine).transitions.find((t) => t.source === 'awaitingPayment' && t.event === 'PAY_REQUESTED');
 * // { source: 'awaitingPayment', event: 'PAY_REQUESTED', targets: ['authorizing'], guard: 'isBeforeDeadline' }
 */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const known = graphs.get(machine);
  if (known) return known;
  const states: GraphState[] = [];
  const transitions: GraphTransition[] = [];
  const name = (node: NodeLike) => node.path.join('.');
  const initialOf = (node: NodeLike) => {
    const target = node.type === 'compound' ? node.initial?.target?.[0] : undefined;
    return target ? name(target) : null;
  };
  const walk = (node: NodeLike, parent: string | null) => {
    const source = name(node);
    states.push({ name: source, parent, type: node.type, initial: initialOf(node) });
    const add = (event: string, transition: TransitionLike) =>
      transitions.push({ source, event, targets: (transition.target ?? []).map(name), guard: guardName(transition.guard) });
    for (const [event, list] of node.transitions) for (const transition of list) add(event, transition);
    for (const transition of node.always ?? []) add('(always)', transition);
    for (const child of Object.values(node.states)) walk(child, source);
  };
  const root = machine.root as unknown as NodeLike;
  // The root itself is the machine, not a state: its transitions (events taken in every state) are listed from `(machine)`.
  for (const [event, list] of root.transitions)
    for (const transition of list)
      transitions.push({ source: '(machine)', event, targets: (transition.target ?? []).map(name), guard: guardName(transition.guard) });
  for (const child of Object.values(root.states)) walk(child, null);
  const graph: MachineGraph = { id: machine.id, initial: initialOf(root), states, transitions };
  graphs.set(machine, graph);
  return graph;
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || '(inline)';
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') return (guard as { type: string }).type;
  return '(guard)';
}

/** The states an actor can rest in (atomic and final ones): those its stored `state` column names. */
export function leafStates(graph: MachineGraph): string[] {
  return graph.states.filter((state) => state.type === 'atomic' || state.type === 'final').map((state) => state.name);
}
