// One actor: what it is now, its machine drawn with the current state marked, its journal as a timeline, time travel
// to any version (rebuilt by replaying the journal), the replay's check against the stored snapshot, and its outbox
// rows with each flow's delivery. It follows the actor live: a change of this id reloads it.
import type { RefObject } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { EmporiumError, type WarehouseConnection, type WarehouseResults } from '../../src/client/index.ts';
import type { Account } from '../shared/session.ts';
import { ErrorNote, formatTime, LiveRegion } from '../shared/ui.tsx';
import { Deliveries } from './deliveries.tsx';
import { describeError, pretty } from './format.ts';
import { useLive } from './live.ts';
import { Changes, MachineView } from './machine.tsx';

type Inspected = WarehouseResults['inspect:actor'];
type Replayed = WarehouseResults['inspect:replay'];
type Outbox = WarehouseResults['inspect:deliveries'];

export function ActorPage({
  id,
  conn,
  role,
  heading,
}: {
  id: string;
  conn: WarehouseConnection;
  role: Account['role'];
  heading: RefObject<HTMLHeadingElement>;
}) {
  const { onChange } = useLive();
  const [data, setData] = useState<Inspected | null>(null);
  const [outbox, setOutbox] = useState<Outbox | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [round, setRound] = useState(0);
  const [message, setMessage] = useState('');
  const reload = useCallback(() => setRound((n) => n + 1), []);

  useEffect(() => {
    let gone = false;
    Promise.all([conn.read('inspect:actor', { id }), conn.read('inspect:deliveries', { id })])
      .then(([next, rows]) => {
        if (gone) return;
        setData((before) => {
          if (before && before.actor.version !== next.actor.version) setMessage(`Now version ${next.actor.version}: ${next.actor.state}.`);
          return next;
        });
        setOutbox(rows);
        setError(null);
      })
      .catch((failure: unknown) => {
        if (gone) return;
        if (failure instanceof EmporiumError && failure.code === 'NOT_FOUND') setMissing(true);
        else setError(`This actor could not be loaded: ${describeError(failure)}`);
      });
    return () => {
      gone = true;
    };
  }, [conn, id, round]);

  // Follows the actor: each committed change of this id reads it again (a burst is read once).
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = onChange((change) => {
      if (change.id !== id) return;
      clearTimeout(timer);
      timer = setTimeout(reload, 150);
    });
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [id, onChange, reload]);

  return (
    <div class="in-actor" data-testid="actor-page" data-version={data?.actor.version ?? ''}>
      <p class="in-crumbs">
        <a href="#/">← All actors</a>
      </p>
      <h1 ref={heading} tabIndex={-1} class="in-title in-mono">
        {data ? `${data.actor.kind} ${id}` : id}
      </h1>
      <LiveRegion message={message} />
      <ErrorNote error={error} />
      {missing && (
        <p class="error" role="alert" data-testid="not-found">
          There is no actor with the id {id}.
        </p>
      )}
      {!data && !missing && !error && <p role="status">Loading…</p>}
      {data && (
        <>
          <Facts data={data} />
          <Check check={data.check} />
          <div class="in-split">
            <section aria-labelledby="context-title" class="in-section">
              <h2 id="context-title">Current context</h2>
              <pre data-testid="context" class="in-pre">
                {pretty(data.actor.context)}
              </pre>
            </section>
            <MachineView machine={data.machine} />
          </div>
          <TimeTravel key={id} conn={conn} id={id} data={data} />
          <Timeline data={data} />
          {outbox && <Deliveries conn={conn} outbox={outbox} role={role} onRetried={reload} />}
        </>
      )}
    </div>
  );
}

function Facts({ data }: { data: Inspected }) {
  const { actor } = data;
  const rows: Array<[string, string, string]> = [
    ['Kind', actor.kind, 'kind'],
    ['State', `${actor.state}${actor.status === 'done' ? ' (final)' : ''}`, 'state'],
    ['Version', String(actor.version), 'version'],
    ['Owner', actor.ownerId ?? '—', 'owner'],
    ['Machine version', String(actor.machineVersion), 'machine-version'],
    ['Created', formatTime(actor.createdAt), 'created'],
    ['Updated', formatTime(actor.updatedAt), 'updated'],
  ];
  return (
    <section aria-labelledby="facts-title" class="in-section">
      <h2 id="facts-title" class="visually-hidden">
        Summary
      </h2>
      <dl class="in-facts card">
        {rows.map(([label, value, testid]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd data-testid={`fact-${testid}`}>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

/**
 * The replay against the stored snapshot: quiet when it matches, loud (role=alert) when it does not, and plain when
 * retention compacted the journal (nothing to replay; not a fault).
 */
function Check({ check }: { check: Inspected['check'] }) {
  return (
    <section aria-labelledby="check-title" class="in-section">
      <h2 id="check-title">Snapshot check</h2>
      {check.compacted ? (
        <p data-testid="check" data-matches="false" data-compacted="true">
          <strong>Journal compacted: nothing to replay.</strong> Versions 1 to {check.compacted.throughVersion} were deleted by retention; the stored snapshot
          (version {check.storedVersion}) is intact.
        </p>
      ) : check.matches ? (
        <p class="in-check-ok" data-testid="check" data-matches="true">
          ✓ The replay matches the stored snapshot (version {check.storedVersion}, replayed through version {check.replayedVersion}).
        </p>
      ) : (
        <div class="in-check-bad" role="alert" data-testid="check" data-matches="false">
          <p>
            <strong>✗ The replay does not match the stored snapshot.</strong> {check.mismatch?.message}
          </p>
          <p>
            Stored version {check.storedVersion}, replayed through version {check.replayedVersion}.
          </p>
          {check.mismatch && check.mismatch.differences.length > 0 && (
            <div class="in-scroll">
              <table class="in-table">
                <caption>Differences</caption>
                <thead>
                  <tr>
                    <th scope="col">Path</th>
                    <th scope="col">Replayed</th>
                    <th scope="col">Stored</th>
                  </tr>
                </thead>
                <tbody>
                  {check.mismatch.differences.map((d) => (
                    <tr key={d.path}>
                      <th scope="row" class="in-mono">
                        {d.path}
                      </th>
                      <td class="in-mono">{pretty(d.replayed)}</td>
                      <td class="in-mono">{pretty(d.stored)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
      {check.notes.length > 0 && (
        <ul class="in-notes" data-testid="check-notes">
          {check.notes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Time travel: a version chosen with the slider (or a timeline row's button), rebuilt by `inspect:replay`. */
function TimeTravel({ conn, id, data }: { conn: WarehouseConnection; id: string; data: Inspected }) {
  const latest = data.actor.version;
  const [version, setVersion] = useState<number>(latest);
  const [replayed, setReplayed] = useState<Replayed | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Follows the newest version while the person has not chosen another one.
  const chosen = useRef(false);
  useEffect(() => {
    if (!chosen.current) setVersion(latest);
  }, [latest]);
  // A timeline row's button asks for a version through this event.
  useEffect(() => {
    const onPick = (event: Event) => {
      chosen.current = true;
      setVersion((event as CustomEvent<number>).detail);
      document.getElementById('travel-title')?.scrollIntoView({ block: 'start' });
      document.getElementById('travel-version')?.focus();
    };
    addEventListener('inspector:travel', onPick);
    return () => removeEventListener('inspector:travel', onPick);
  }, []);

  useEffect(() => {
    let gone = false;
    setBusy(true);
    const timer = setTimeout(() => {
      conn
        .read('inspect:replay', { id, version })
        .then((next) => {
          if (gone) return;
          setReplayed(next);
          setError(null);
        })
        .catch((failure: unknown) => gone || setError(`Version ${version} could not be rebuilt: ${describeError(failure)}`))
        .finally(() => gone || setBusy(false));
    }, 120);
    return () => {
      gone = true;
      clearTimeout(timer);
    };
  }, [conn, id, version, latest]);

  const shown = replayed && replayed.replayed.version === version ? replayed.replayed : null;
  return (
    <section aria-labelledby="travel-title" class="in-section card" data-testid="time-travel">
      <h2 id="travel-title">Time travel</h2>
      <p class="muted in-small">Pick a version: its state and context are rebuilt by replaying the journal through the machine.</p>
      <div class="row in-travel-controls">
        <label for="travel-version">Version</label>
        <input
          id="travel-version"
          type="range"
          min={1}
          max={latest}
          step={1}
          value={version}
          aria-valuetext={`version ${version} of ${latest}`}
          onInput={(e) => {
            chosen.current = true;
            setVersion(Number(e.currentTarget.value));
          }}
          disabled={latest <= 1}
        />
        <output for="travel-version" data-testid="travel-version" class="in-mono">
          v{version} of {latest}
        </output>
        <button
          type="button"
          class="secondary in-small-button"
          disabled={version <= 1}
          onClick={() => {
            chosen.current = true;
            setVersion(version - 1);
          }}
        >
          Earlier
        </button>
        <button
          type="button"
          class="secondary in-small-button"
          disabled={version >= latest}
          onClick={() => {
            chosen.current = true;
            setVersion(version + 1);
          }}
        >
          Later
        </button>
        <button
          type="button"
          class="secondary in-small-button"
          disabled={version === latest}
          onClick={() => {
            chosen.current = false;
            setVersion(latest);
          }}
        >
          Latest
        </button>
      </div>
      <ErrorNote error={error} />
      <div aria-live="polite" aria-busy={busy} data-testid="travel-result" data-version={shown?.version ?? ''} data-state={shown?.state ?? ''}>
        {shown ? (
          <>
            <p>
              At version <strong>{shown.version}</strong> ({formatTime(shown.at)}), after <span class="in-mono">{shown.event.type}</span>, the {replayed?.kind}{' '}
              was in <strong data-testid="travel-state">{shown.state}</strong>.
              {shown.redacted && <span class="warn"> Personal data was erased at this version.</span>}
            </p>
            <h3 class="in-h3">Context at version {shown.version}</h3>
            <pre data-testid="travel-context" class="in-pre">
              {pretty(shown.context)}
            </pre>
            {shown.changed.length > 0 && (
              <>
                <h3 class="in-h3">What version {shown.version} changed</h3>
                <Changes changes={shown.changed} />
              </>
            )}
          </>
        ) : (
          !error && <p class="muted">Rebuilding version {version}…</p>
        )}
      </div>
    </section>
  );
}

function Timeline({ data }: { data: Inspected }) {
  const { timeline, journalLength } = data;
  const rows = [...timeline].reverse();
  return (
    <section aria-labelledby="timeline-title" class="in-section">
      <h2 id="timeline-title">
        Journal <span class="muted in-small">({journalLength} entries, newest first)</span>
      </h2>
      {timeline.length < journalLength && (
        <p class="muted" data-testid="timeline-partial">
          Showing the newest {timeline.length} of {journalLength} entries.
        </p>
      )}
      <div class="in-scroll">
        <table class="in-table in-timeline" data-testid="timeline" data-length={journalLength}>
          <caption class="visually-hidden">The journal, each entry replayed through the machine</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">State after</th>
              <th scope="col">What changed</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((entry) => (
              <tr key={entry.version} data-testid="timeline-row" data-version={entry.version} class={entry.state === null ? 'in-broken' : undefined}>
                <th scope="row">
                  <button type="button" class="in-link" onClick={() => dispatchEvent(new CustomEvent('inspector:travel', { detail: entry.version }))}>
                    v{entry.version}
                    <span class="visually-hidden">: travel to version {entry.version}</span>
                  </button>
                </th>
                <td class="in-small">{formatTime(entry.at)}</td>
                <td class="in-mono">
                  {entry.event.type}
                  {entry.redacted && <span class="badge in-badge-warn">redacted</span>}
                </td>
                <td>{entry.state ?? <span class="error">not rebuilt</span>}</td>
                <td>
                  <Changes changes={entry.changed} limit={6} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
