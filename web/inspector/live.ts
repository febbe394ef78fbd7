// The inspector's live data, over one subscription to the `inspector` topic for the whole visit: the counts per kind
// and state (the subscribe answer, moved by each `actor:changed`, and read again shortly after a burst to stay
// exact), the stream of the latest changes, and listeners for pages that follow one actor.
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { ActorChanged, InspectorSummary, WarehouseConnection } from '../../src/client/index.ts';
import { describeError } from './format.ts';

/** How many changes the stream keeps. */
export const STREAM_SIZE = 100;

export interface Live {
  readonly summary: InspectorSummary | null;
  /** The latest changes, newest first. */
  readonly stream: readonly ActorChanged[];
  readonly error: string | null;
  /** Calls `listener` for every change that arrives from now on; returns a function that stops. */
  readonly onChange: (listener: (change: ActorChanged) => void) => () => void;
}

export const LiveContext = createContext<Live>({ summary: null, stream: [], error: null, onChange: () => () => undefined });
export const useLive = () => useContext(LiveContext);

type Kinds = InspectorSummary['kinds'];

/** The counts with one actor moved from `from` (null: a new actor) to `to`. */
function moveCount(kinds: Kinds, kind: string, from: string | null, to: string): Kinds {
  const found = kinds.some((k) => k.kind === kind);
  const all = found ? kinds : [...kinds, { kind, total: 0, states: [] }];
  return all.map((k) => {
    if (k.kind !== kind) return k;
    let states = k.states.some((s) => s.state === to) ? k.states : [...k.states, { state: to, count: 0 }];
    states = states.map((s) => (s.state === to ? { ...s, count: s.count + 1 } : s.state === from ? { ...s, count: Math.max(0, s.count - 1) } : s));
    return { ...k, total: from === null ? k.total + 1 : k.total, states };
  });
}

export function useInspectorStream(conn: WarehouseConnection): Live {
  const [summary, setSummary] = useState<InspectorSummary | null>(null);
  const [stream, setStream] = useState<readonly ActorChanged[]>([]);
  const [error, setError] = useState<string | null>(null);
  const listeners = useRef(new Set<(change: ActorChanged) => void>());
  /** The state each actor seen in the stream was last in, to move its count at once. */
  const known = useRef(new Map<string, string>());

  useEffect(() => {
    let stop: (() => Promise<void>) | undefined;
    let gone = false;
    let refresh: ReturnType<typeof setTimeout> | undefined;
    // A change whose earlier state is unknown cannot be counted exactly here: read the counts again after the burst.
    const reread = () => {
      clearTimeout(refresh);
      refresh = setTimeout(() => {
        conn
          .read('inspect:summary', {})
          .then(({ summary: next }) => gone || setSummary(next))
          .catch(() => undefined);
      }, 800);
    };
    const onView = (view: InspectorSummary | ActorChanged) => {
      if ('kinds' in view) {
        setSummary(view);
        return;
      }
      const from = view.version === 1 ? null : (known.current.get(view.id) ?? undefined);
      known.current.set(view.id, view.state);
      if (from !== undefined)
        setSummary(
          (current) => current && { ...current, total: current.total + (from === null ? 1 : 0), kinds: moveCount(current.kinds, view.kind, from, view.state) },
        );
      reread();
      setStream((current) => [view, ...current].slice(0, STREAM_SIZE));
      for (const listener of listeners.current) listener(view);
    };
    conn
      .subscribe<InspectorSummary | ActorChanged>('inspector', onView)
      .then((unsubscribe) => {
        if (gone) void unsubscribe();
        else stop = unsubscribe;
        setError(null);
      })
      .catch((failure: unknown) => gone || setError(`The live stream could not be started: ${describeError(failure)}`));
    return () => {
      gone = true;
      clearTimeout(refresh);
      void stop?.().catch(() => undefined);
    };
  }, [conn]);

  const onChange = useCallback((listener: (change: ActorChanged) => void) => {
    listeners.current.add(listener);
    return () => void listeners.current.delete(listener);
  }, []);
  return { summary, stream, error, onChange };
}
