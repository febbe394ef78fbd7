// The machine drawn as state boxes (nested states indented under their parent), the current one marked with
// aria-current and each state's outgoing transitions listed; and a context change list.
import type { MachineGraphView, TimelineEntry } from '../../src/client/index.ts';
import { compact } from './format.ts';

export function MachineView({ machine }: { machine: MachineGraphView }) {
  const depth = (name: string) => name.split('.').length - 1;
  const isCurrent = (name: string) => name === machine.current;
  const isAncestor = (name: string) => machine.current.startsWith(`${name}.`);
  const outgoing = (name: string) => machine.transitions.filter((t) => t.source === name);
  return (
    <section aria-labelledby="machine-title" class="in-section">
      <h2 id="machine-title">
        Machine <span class="in-mono muted in-small">{machine.id}</span>
      </h2>
      <p class="muted in-small">
        Current state: <strong data-testid="machine-current">{machine.current}</strong>
        {machine.initial && <> · starts in {machine.initial}</>}
      </p>
      <ul class="in-states" data-testid="machine">
        {machine.states.map((state) => {
          const current = isCurrent(state.name);
          const moves = outgoing(state.name);
          return (
            <li
              key={state.name}
              class={`in-state in-depth-${Math.min(depth(state.name), 3)}${current ? ' in-current' : ''}${isAncestor(state.name) ? ' in-ancestor' : ''}${state.type === 'final' ? ' in-final' : ''}`}
              aria-current={current ? 'true' : undefined}
              data-testid="machine-state"
              data-state={state.name}
            >
              <div class="in-state-name">
                <span class="in-mono">{state.name}</span>
                {current && <span class="badge in-badge-current">current</span>}
                {state.name === machine.initial && <span class="badge">initial</span>}
                {state.type !== 'atomic' && <span class="badge">{state.type}</span>}
              </div>
              {moves.length > 0 && (
                <ul class="in-moves" aria-label={`Transitions from ${state.name}`}>
                  {moves.map((t) => (
                    <li key={`${t.event}→${t.targets.join(',')}→${t.guard ?? ''}`} class="in-small">
                      <span class="in-mono">{t.event}</span> → {t.targets.length > 0 ? t.targets.join(', ') : <span class="muted">(stays)</span>}
                      {t.guard && <span class="muted"> if {t.guard}</span>}
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** What an entry changed in the context: path, before → after (added or removed says so). */
export function Changes({ changes, limit }: { changes: TimelineEntry['changed']; limit?: number }) {
  if (changes.length === 0) return <span class="muted">nothing</span>;
  const shown = limit ? changes.slice(0, limit) : changes;
  return (
    <ul class="in-changes">
      {shown.map((change) => (
        <li key={change.path} class="in-small">
          <span class="in-mono in-path">{change.path}</span>:{' '}
          {!('before' in change) ? (
            <>
              <span class="muted">added</span> <span class="in-mono">{compact(change.after)}</span>
            </>
          ) : !('after' in change) ? (
            <>
              <span class="muted">removed</span> <span class="in-mono">{compact(change.before)}</span>
            </>
          ) : (
            <>
              <span class="in-mono">{compact(change.before, 40)}</span> → <span class="in-mono">{compact(change.after, 60)}</span>
            </>
          )}
        </li>
      ))}
      {shown.length < changes.length && <li class="muted in-small">and {changes.length - shown.length} more</li>}
    </ul>
  );
}
