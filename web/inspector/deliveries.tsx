// The actor's outbox rows (its domain events) with each flow's delivery: pending, done or parked, attempts and the
// last error. Admins can put a parked delivery back in line; staff see the button disabled, and why.
import { useState } from 'preact/hooks';
import { EmporiumError, type WarehouseConnection, type WarehouseResults } from '../../src/client/index.ts';
import type { Account } from '../shared/session.ts';
import { ErrorNote, formatTime } from '../shared/ui.tsx';
import { describeError, pretty } from './format.ts';

type Outbox = WarehouseResults['inspect:deliveries'];

export function Deliveries({ conn, outbox, role, onRetried }: { conn: WarehouseConnection; outbox: Outbox; role: Account['role']; onRetried: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const admin = role === 'admin';

  const retry = async (seq: number, flow: string) => {
    setBusy(`${seq}:${flow}`);
    setError(null);
    setDone(null);
    try {
      await conn.call('inspect:retry', { seq, flow });
      setDone(`Delivery of event ${seq} to ${flow} is back in line.`);
      onRetried();
    } catch (failure) {
      setError(
        failure instanceof EmporiumError && failure.code === 'FORBIDDEN'
          ? 'Only admins can retry a parked delivery (FORBIDDEN).'
          : `The retry failed: ${describeError(failure)}`,
      );
    } finally {
      setBusy(null);
    }
  };

  const parked = outbox.rows.reduce((n, row) => n + row.deliveries.filter((d) => d.state === 'parked').length, 0);
  return (
    <section aria-labelledby="outbox-title" class="in-section">
      <h2 id="outbox-title">
        Outbox and deliveries{' '}
        <span class="muted in-small">
          ({outbox.rows.length} event{outbox.rows.length === 1 ? '' : 's'}
          {parked > 0 ? `, ${parked} parked` : ''})
        </span>
      </h2>
      {!admin && parked > 0 && (
        <p class="muted" id="retry-admins-only">
          Only admins can retry a parked delivery.
        </p>
      )}
      <ErrorNote error={error} />
      {done && (
        <p class="ok" role="status">
          {done}
        </p>
      )}
      {outbox.rows.length === 0 ? (
        <p class="muted" data-testid="outbox-empty">
          This actor has written no events to the outbox.
        </p>
      ) : (
        <div class="in-scroll">
          <table class="in-table" data-testid="outbox">
            <caption class="visually-hidden">Outbox rows, oldest first, with each flow's delivery</caption>
            <thead>
              <tr>
                <th scope="col">Seq</th>
                <th scope="col">Event</th>
                <th scope="col">Written</th>
                <th scope="col">Deliveries</th>
              </tr>
            </thead>
            <tbody>
              {outbox.rows.map((row) => (
                <tr key={row.seq} data-testid="outbox-row" data-seq={row.seq}>
                  <th scope="row">{row.seq}</th>
                  <td>
                    <span class="in-mono">{row.type}</span>
                    <details class="in-small">
                      <summary>Payload</summary>
                      <pre class="in-pre">{pretty(row.payload)}</pre>
                    </details>
                  </td>
                  <td class="in-small">
                    {formatTime(row.createdAt)}
                    <br />
                    <span class="muted">
                      {row.dispatchedAt ? `settled ${formatTime(row.dispatchedAt)}` : row.fannedOutAt ? 'in flight' : 'not fanned out yet'}
                    </span>
                  </td>
                  <td>
                    {row.deliveries.length === 0 ? (
                      <span class="muted">no flow consumes it</span>
                    ) : (
                      <ul class="in-deliveries">
                        {row.deliveries.map((d) => (
                          <li key={d.flow} data-testid="delivery" data-flow={d.flow} data-state={d.state}>
                            <span class="in-mono">{d.flow}</span> <span class={`badge in-delivery-${d.state}`}>{d.state}</span>
                            {d.attempts > 0 && (
                              <span class="in-small">
                                {' '}
                                {d.attempts} failed attempt{d.attempts === 1 ? '' : 's'}
                              </span>
                            )}
                            {d.claimed && <span class="in-small muted"> (being delivered)</span>}
                            {d.lastError && <div class="in-small error in-mono">{d.lastError}</div>}
                            {d.state === 'parked' && (
                              <button
                                type="button"
                                class="in-small-button"
                                disabled={!admin || busy !== null}
                                aria-describedby={admin ? undefined : 'retry-admins-only'}
                                onClick={() => void retry(row.seq, d.flow)}
                              >
                                {busy === `${row.seq}:${d.flow}` ? 'Retrying…' : `Retry ${d.flow}`}
                              </button>
                            )}
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
