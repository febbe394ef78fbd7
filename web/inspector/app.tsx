// The actor inspector: staff or admin sign-in, then the overview (#/) or one actor (#/actor/<id>), over one
// /warehouse connection whose `inspector` subscription lasts the whole visit.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { WarehouseConnection } from '../../src/client/index.ts';
import { ApiError, logout, me, tokens } from '../shared/session.ts';
import { ErrorNote, PageHeader } from '../shared/ui.tsx';
import { ActorPage } from './actor.tsx';
import { openSession, type Session } from './connection.ts';
import { type Route, routeFromHash } from './format.ts';
import { LiveContext, useInspectorStream } from './live.ts';
import { Overview } from './overview.tsx';
import { SignIn } from './signin.tsx';

const PAGE = 'inspector';
const TITLE = 'Emporium inspector';

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [resuming, setResuming] = useState(() => tokens.get(PAGE) !== null);
  const [notice, setNotice] = useState<string | null>(null);

  // A token kept from an earlier visit: who is it, and does the inspector still take it?
  useEffect(() => {
    const token = tokens.get(PAGE);
    if (!token) return;
    me(token)
      .then(({ identity, customer }) => openSession(token, { name: customer?.name ?? '', role: identity.role, email: customer?.email ?? '' }))
      .then(setSession)
      .catch((error: unknown) => {
        const refused =
          (error instanceof ApiError && error.status === 401) || (error instanceof Error && /staff and admins only|session has ended/.test(error.message));
        if (refused) tokens.set(PAGE, null);
        setNotice(
          error instanceof ApiError && error.status === 401
            ? 'Your session has ended. Sign in again.'
            : refused
              ? (error as Error).message
              : `The inspector could not be reached (${error instanceof Error ? error.message : String(error)}). Reload to try again.`,
        );
      })
      .finally(() => setResuming(false));
  }, []);

  const signedIn = useCallback((next: Session) => {
    tokens.set(PAGE, next.token);
    setNotice(null);
    setSession(next);
  }, []);

  const signOut = useCallback(
    async (reason?: string) => {
      if (!session) return;
      session.conn.close();
      tokens.set(PAGE, null);
      setSession(null);
      setNotice(reason ?? 'You have signed out.');
      if (!reason) await logout(session.token).catch(() => undefined);
    },
    [session],
  );

  if (resuming) {
    return (
      <>
        <PageHeader title={TITLE} />
        <main id="main" class="in-main">
          <h1>Actor inspector</h1>
          <p role="status">Connecting…</p>
        </main>
      </>
    );
  }
  if (!session) {
    return (
      <>
        <PageHeader title={TITLE} />
        <main id="main" class="in-main in-narrow">
          <SignIn onSignedIn={signedIn} notice={notice} />
        </main>
      </>
    );
  }
  return <Inspector key={session.token} session={session} onSignOut={signOut} />;
}

/** The connection's health, shown in the header: live, reconnecting, or the session ended. */
function useConnectionState(conn: WarehouseConnection, onEnded: (reason: string) => void): 'live' | 'reconnecting' {
  const [state, setState] = useState<'live' | 'reconnecting'>(conn.socket.connected ? 'live' : 'reconnecting');
  useEffect(() => {
    const up = () => setState('live');
    const down = () => setState('reconnecting');
    const refused = (error: Error & { data?: { code?: string; message?: string } }) => {
      setState('reconnecting');
      if (error.data?.code === 'UNAUTHORIZED' || error.data?.code === 'FORBIDDEN')
        onEnded(`Your session has ended (${error.data.message ?? error.data.code}). Sign in again.`);
    };
    conn.socket.on('connect', up);
    conn.socket.on('disconnect', down);
    conn.socket.on('connect_error', refused);
    return () => {
      conn.socket.off('connect', up);
      conn.socket.off('disconnect', down);
      conn.socket.off('connect_error', refused);
    };
  }, [conn, onEnded]);
  return state;
}

function Inspector({ session, onSignOut }: { session: Session; onSignOut: (reason?: string) => Promise<void> }) {
  const { conn, account } = session;
  const [route, setRoute] = useState<Route>(() => routeFromHash());
  const ended = useCallback((reason: string) => void onSignOut(reason), [onSignOut]);
  const connection = useConnectionState(conn, ended);
  const live = useInspectorStream(conn);
  const heading = useRef<HTMLHeadingElement>(null);
  const moved = useRef(false);

  useEffect(() => {
    const onHash = () => setRoute(routeFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const routeKey = route.page === 'actor' ? `actor:${route.id}` : 'overview';
  // After a page change (not the first render), focus goes to its heading so a screen reader reads where it is.
  useEffect(() => {
    if (moved.current) heading.current?.focus();
    moved.current = true;
    document.title = `${route.page === 'actor' ? route.id : 'Overview'} · ${TITLE}`;
    if (moved.current) window.scrollTo(0, 0);
  }, [routeKey]);

  return (
    <LiveContext.Provider value={live}>
      <PageHeader title={TITLE}>
        <a href="#/" class="in-tab" aria-current={route.page === 'overview' ? 'page' : undefined}>
          Overview
        </a>
        <span class={`in-connection in-${connection}`} data-testid="connection">
          {connection === 'live' ? 'Live' : 'Reconnecting…'}
        </span>
        <span class="in-who" data-testid="who">
          {account.name || account.email} <span class="in-role">({account.role})</span>
        </span>
        <button type="button" class="in-signout" onClick={() => void onSignOut()}>
          Sign out
        </button>
      </PageHeader>
      <main id="main" class="in-main">
        <ErrorNote error={live.error} />
        {route.page === 'actor' ? (
          <ActorPage key={route.id} id={route.id} conn={conn} role={account.role} heading={heading} />
        ) : (
          <Overview conn={conn} heading={heading} />
        )}
      </main>
    </LiveContext.Provider>
  );
}
