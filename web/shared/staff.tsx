// The staff pages' shell, shared by the warehouse board and the actor inspector: the sign-in form (POST
// /api/auth/login, then the /warehouse handshake, which refuses anyone but staff and admins), a token kept from an
// earlier visit tried again, the header with the connection's health, who is signed in and Sign out, and the
// session ended by the server (logout elsewhere, an expired token) said in words.
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { EmporiumError, type WarehouseConnection } from '../../src/client/index.ts';
import { type Account, ApiError, login, logout, me, tokens, warehouse } from './session.ts';
import { ErrorNote, PageHeader } from './ui.tsx';

/** What differs between the staff pages. */
export interface StaffPlace {
  /** The key of its token in localStorage, and its path (`warehouse`, `inspector`). */
  readonly page: 'warehouse' | 'inspector';
  /** The document's title (`Emporium warehouse`). */
  readonly title: string;
  /** The page's name in sentences (`the warehouse`) and its heading while connecting (`Warehouse`). */
  readonly name: string;
  readonly heading: string;
  readonly signInTitle: string;
  readonly blurb: string;
  /** The sentence a refused customer or guest reads. */
  readonly staffOnly: string;
  /** The page's CSS prefix (`wh`, `in`). */
  readonly css: string;
  readonly describeError: (error: unknown) => string;
}

export interface StaffSession {
  readonly token: string;
  readonly account: Pick<Account, 'name' | 'role'> & { readonly email?: string };
  readonly conn: WarehouseConnection;
}

/** A token this page cannot use (a customer's, or one whose session has ended): dropped, never retried. */
class RefusedToken extends Error {}

/** Opens the /warehouse connection for `token`; its errors are sentences for the sign-in form. */
export async function openStaffSession(place: StaffPlace, token: string, account: StaffSession['account']): Promise<StaffSession> {
  try {
    return { token, account, conn: await warehouse(token) };
  } catch (error) {
    if (error instanceof EmporiumError && error.code === 'FORBIDDEN') {
      throw new RefusedToken(`${place.staffOnly} ${account.name || 'This account'} is a ${account.role} account: sign in with a staff or admin account.`);
    }
    if (error instanceof EmporiumError && error.code === 'UNAUTHORIZED') throw new RefusedToken(`Your session has ended (${error.message}). Sign in again.`);
    throw new Error(`Could not connect to ${place.name}: ${place.describeError(error)}`);
  }
}

/**
 * The whole staff page: "Connecting…" while a kept token is tried, the sign-in form without a session, and
 * `children(session, signOut)` with one. `signOut(reason)` closes the connection and shows the form with the reason.
 */
export function StaffApp({
  place,
  children,
}: {
  place: StaffPlace;
  children: (session: StaffSession, signOut: (reason?: string) => Promise<void>) => JSX.Element;
}) {
  const [session, setSession] = useState<StaffSession | null>(null);
  const [resuming, setResuming] = useState(() => tokens.get(place.page) !== null);
  const [notice, setNotice] = useState<string | null>(null);

  // A token kept from an earlier visit: who is it, and does this page still take it?
  useEffect(() => {
    const token = tokens.get(place.page);
    if (!token) return;
    me(token)
      .then(({ identity, customer }) => openStaffSession(place, token, { name: customer?.name ?? '', role: identity.role, email: customer?.email ?? '' }))
      .then(setSession)
      .catch((error: unknown) => {
        // A token the server refuses is dropped; a server that cannot be reached keeps it for the next try.
        const expired = error instanceof ApiError && error.status === 401;
        if (expired || error instanceof RefusedToken) tokens.set(place.page, null);
        setNotice(
          expired
            ? 'Your session has ended. Sign in again.'
            : error instanceof RefusedToken
              ? error.message
              : `${capitalised(place.name)} could not be reached (${error instanceof Error ? error.message : String(error)}). Reload to try again.`,
        );
      })
      .finally(() => setResuming(false));
  }, [place]);

  const signedIn = useCallback(
    (next: StaffSession) => {
      tokens.set(place.page, next.token);
      setNotice(null);
      setSession(next);
    },
    [place],
  );

  const signOut = useCallback(
    async (reason?: string) => {
      if (!session) return;
      session.conn.close();
      tokens.set(place.page, null);
      setSession(null);
      setNotice(reason ?? 'You have signed out.');
      if (!reason) await logout(session.token).catch(() => undefined);
    },
    [session, place],
  );

  if (resuming) {
    return (
      <>
        <PageHeader title={place.title} />
        <main id="main" class={`${place.css}-main`}>
          <h1>{place.heading}</h1>
          <p role="status">Connecting…</p>
        </main>
      </>
    );
  }
  if (!session) {
    return (
      <>
        <PageHeader title={place.title} />
        <main id="main" class={`${place.css}-main ${place.css}-narrow`}>
          <SignIn place={place} onSignedIn={signedIn} notice={notice} />
        </main>
      </>
    );
  }
  return children(session, signOut);
}

const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

function SignIn({ place, onSignedIn, notice }: { place: StaffPlace; onSignedIn: (session: StaffSession) => void; notice: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { token, customer } = await login(email.trim(), password);
      try {
        onSignedIn(await openStaffSession(place, token, customer));
      } catch (refused) {
        // The token is of no use here: end that session rather than leave it lying around.
        void logout(token).catch(() => undefined);
        throw refused;
      }
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === 'UNAUTHORIZED') setError('The email or the password is wrong.');
      else setError(failure instanceof ApiError ? place.describeError(failure) : failure instanceof Error ? failure.message : String(failure));
      setBusy(false);
    }
  };

  const css = place.css;
  return (
    <section aria-labelledby="signin-title" class={`card ${css}-signin`}>
      <h1 id="signin-title">{place.signInTitle}</h1>
      <p class="muted">{place.blurb}</p>
      {notice && (
        <p class="banner" role="alert" data-testid="signin-notice">
          {notice}
        </p>
      )}
      <form onSubmit={submit} class={`${css}-form`} aria-describedby={error ? 'signin-error' : undefined}>
        <label for="signin-email">Email</label>
        <input id="signin-email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        <label for="signin-password">Password</label>
        <input
          id="signin-password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <div class={`row ${css}-buttons`}>
          <button type="submit" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </div>
      </form>
      <div id="signin-error" data-testid="signin-error">
        <ErrorNote error={error} />
      </div>
    </section>
  );
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

/** The signed-in header: the page's own links (`children`), the connection's health, who, and Sign out. */
export function StaffHeader({
  place,
  session,
  onSignOut,
  children,
}: {
  place: StaffPlace;
  session: StaffSession;
  onSignOut: (reason?: string) => Promise<void>;
  children: ComponentChildren;
}) {
  const ended = useCallback((reason: string) => void onSignOut(reason), [onSignOut]);
  const connection = useConnectionState(session.conn, ended);
  const { account } = session;
  const css = place.css;
  return (
    <PageHeader title={place.title}>
      {children}
      <span class={`${css}-connection ${css}-${connection}`} data-testid="connection">
        {connection === 'live' ? 'Live' : 'Reconnecting…'}
      </span>
      <span class={`${css}-who`} data-testid="who">
        {account.name || account.email} <span class={`${css}-role`}>({account.role})</span>
      </span>
      <button type="button" class={`${css}-signout`} onClick={() => void onSignOut()}>
        Sign out
      </button>
    </PageHeader>
  );
}
