// The overview: every kind with its counts per state (live), the stream of changes as they commit, and a search of
// actors by id prefix or owner id with kind and state filters, a page at a time.
import type { RefObject } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ActorSummary, WarehouseConnection } from '../../src/client/index.ts';
import { ErrorNote, formatTime } from '../shared/ui.tsx';
import { actorHref, clock, describeError, shortId } from './format.ts';
import { useLive } from './live.ts';

const PAGE_SIZE = 20;

interface Filters {
  readonly q: string;
  readonly kind: string;
  readonly state: string;
}

export function Overview({ conn, heading }: { conn: WarehouseConnection; heading: RefObject<HTMLHeadingElement> }) {
  const [filters, setFilters] = useState<Filters>({ q: '', kind: '', state: '' });
  // Set by a count's button: the search form takes those filters and runs.
  const [preset, setPreset] = useState<Filters | null>(null);
  return (
    <div class="in-overview">
      <h1 ref={heading} tabIndex={-1} class="in-title">
        Actors
      </h1>
      <Counts
        onPick={(kind, state) => {
          const next = { q: '', kind, state };
          setFilters(next);
          setPreset(next);
        }}
      />
      <div class="in-split">
        <Search conn={conn} filters={filters} setFilters={setFilters} preset={preset} />
        <Stream />
      </div>
    </div>
  );
}

function Counts({ onPick }: { onPick: (kind: string, state: string) => void }) {
  const { summary } = useLive();
  return (
    <section aria-labelledby="counts-title" class="in-section">
      <h2 id="counts-title">
        By kind and state{' '}
        {summary && (
          <span class="muted in-small" data-testid="total">
            ({summary.total} actors)
          </span>
        )}
      </h2>
      {!summary ? (
        <p role="status">Loading the counts…</p>
      ) : (
        <div class="in-kinds">
          {summary.kinds.map((kind) => (
            <table key={kind.kind} class="card in-kind" data-testid="kind-counts" data-kind={kind.kind}>
              <caption>
                {kind.kind} <span class="muted">({kind.total})</span>
              </caption>
              <thead>
                <tr>
                  <th scope="col">State</th>
                  <th scope="col" class="in-num">
                    Count
                  </th>
                </tr>
              </thead>
              <tbody>
                {kind.states.map((s) => (
                  <tr key={s.state} data-state={s.state}>
                    <th scope="row">
                      <button type="button" class="in-link" onClick={() => onPick(kind.kind, s.state)} aria-label={`List ${kind.kind} actors in ${s.state}`}>
                        {s.state}
                      </button>
                    </th>
                    <td class="in-num" data-testid="count">
                      {s.count}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
        </div>
      )}
    </section>
  );
}

function Stream() {
  const { stream } = useLive();
  const [paused, setPaused] = useState<readonly (typeof stream)[number][] | null>(null);
  const shown = paused ?? stream;
  return (
    <section aria-labelledby="stream-title" class="in-section in-stream">
      <div class="row in-toolbar">
        <h2 id="stream-title">Live changes</h2>
        <button type="button" class="secondary in-small-button" aria-pressed={paused !== null} onClick={() => setPaused(paused ? null : stream)}>
          {paused ? 'Resume stream' : 'Pause stream'}
        </button>
      </div>
      <p class="muted in-small">The latest changes (up to 100) as they commit on any node, newest first.</p>
      {shown.length === 0 ? (
        <p class="muted" data-testid="stream-empty">
          Waiting for changes…
        </p>
      ) : (
        <ol class="in-stream-list" data-testid="stream">
          {shown.map((change) => (
            <li key={`${change.id}@${change.version}`} data-testid="stream-item" data-id={change.id} data-version={change.version} data-state={change.state}>
              <time dateTime={new Date(change.at).toISOString()} class="in-mono in-small">
                {clock(change.at)}
              </time>{' '}
              <span class="badge">{change.kind}</span> <a href={actorHref(change.id)}>{shortId(change.id)}</a> <span class="in-mono">{change.event}</span> →{' '}
              <strong>{change.state}</strong> <span class="muted">v{change.version}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function Search({
  conn,
  filters,
  setFilters,
  preset,
}: {
  conn: WarehouseConnection;
  filters: Filters;
  setFilters: (filters: Filters) => void;
  preset: Filters | null;
}) {
  const { summary } = useLive();
  // The search that ran (the form may have been edited since), and the cursors of the pages before this one.
  const [query, setQuery] = useState<Filters>(filters);
  const [cursors, setCursors] = useState<ReadonlyArray<string | undefined>>([undefined]);
  const [result, setResult] = useState<{ actors: readonly ActorSummary[]; nextCursor: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [round, setRound] = useState(0);

  useEffect(() => {
    if (!preset) return;
    setQuery(preset);
    setCursors([undefined]);
    setRound((n) => n + 1);
  }, [preset]);

  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    let gone = false;
    setBusy(true);
    conn
      .read('inspect:actors', {
        limit: PAGE_SIZE,
        ...(query.q.trim() ? { q: query.q.trim() } : {}),
        ...(query.kind ? { kind: query.kind } : {}),
        ...(query.state ? { state: query.state } : {}),
        ...(cursor ? { before: cursor } : {}),
      })
      .then((next) => {
        if (gone) return;
        setResult(next);
        setError(null);
      })
      .catch((failure: unknown) => gone || setError(`The search failed: ${describeError(failure)}`))
      .finally(() => gone || setBusy(false));
    return () => {
      gone = true;
    };
  }, [conn, query, cursor, round]);

  const submit = (event: Event) => {
    event.preventDefault();
    setQuery(filters);
    setCursors([undefined]);
    setRound((n) => n + 1);
  };

  const kinds = summary?.kinds ?? [];
  const states = filters.kind
    ? (kinds.find((k) => k.kind === filters.kind)?.states ?? [])
    : [...new Map(kinds.flatMap((k) => k.states.map((s) => [s.state, s]))).values()];
  const page = cursors.length;
  return (
    <section aria-labelledby="search-title" class="in-section in-search">
      <h2 id="search-title">Find actors</h2>
      <search aria-label="Actors">
        <form onSubmit={submit} class="in-search-form">
          <div class="in-field in-grow">
            <label for="search-q">Id prefix or owner id</label>
            <input
              id="search-q"
              type="search"
              value={filters.q}
              placeholder="order_… or cus_…"
              onInput={(e) => setFilters({ ...filters, q: e.currentTarget.value })}
              autocomplete="off"
              spellcheck={false}
            />
          </div>
          <div class="in-field">
            <label for="search-kind">Kind</label>
            <select id="search-kind" value={filters.kind} onChange={(e) => setFilters({ ...filters, kind: e.currentTarget.value, state: '' })}>
              <option value="">Any kind</option>
              {kinds.map((k) => (
                <option key={k.kind} value={k.kind}>
                  {k.kind}
                </option>
              ))}
            </select>
          </div>
          <div class="in-field">
            <label for="search-state">State</label>
            <select id="search-state" value={filters.state} onChange={(e) => setFilters({ ...filters, state: e.currentTarget.value })}>
              <option value="">Any state</option>
              {states.map((s) => (
                <option key={s.state} value={s.state}>
                  {s.state}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" class="in-search-button">
            Search
          </button>
        </form>
      </search>
      <ErrorNote error={error} />
      <p class="muted in-small" role="status" data-testid="search-status">
        {busy
          ? 'Searching…'
          : result
            ? `${result.actors.length === 0 ? 'No actors found' : `${result.actors.length} actor${result.actors.length === 1 ? '' : 's'}`} on page ${page}, newest first.`
            : ''}
      </p>
      {result && result.actors.length > 0 && (
        <div class="in-scroll">
          <table class="in-table" data-testid="results">
            <caption class="visually-hidden">Actors found, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Actor</th>
                <th scope="col">Kind</th>
                <th scope="col">State</th>
                <th scope="col" class="in-num">
                  Version
                </th>
                <th scope="col">Owner</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {result.actors.map((actor) => (
                <tr key={actor.id} data-testid="result-row" data-id={actor.id}>
                  <td>
                    <a href={actorHref(actor.id)} class="in-mono" aria-label={`Open ${actor.kind} ${actor.id}`}>
                      {actor.id}
                    </a>
                  </td>
                  <td>{actor.kind}</td>
                  <td>
                    {actor.state}
                    {actor.status === 'done' && <span class="muted"> (final)</span>}
                  </td>
                  <td class="in-num">{actor.version}</td>
                  <td class="in-mono in-small">{actor.ownerId ?? '—'}</td>
                  <td class="in-small">{formatTime(actor.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div class="row in-pager">
        <button type="button" class="secondary" disabled={page === 1 || busy} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button
          type="button"
          class="secondary"
          disabled={!result?.nextCursor || busy}
          onClick={() => result?.nextCursor && setCursors([...cursors, result.nextCursor])}
        >
          Next page
        </button>
      </div>
    </section>
  );
}
