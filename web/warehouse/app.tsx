// The warehouse board: staff sign in, then Shipments, Stock, Offers and Catalog as sections behind the URL's hash
// (#shipments, #stock, #offers, #catalog), over one /warehouse connection that follows the store live.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { WarehouseConnection } from '../../src/client/index.ts';
import { ApiError, logout, me, tokens } from '../shared/session.ts';
import { LiveRegion, PageHeader } from '../shared/ui.tsx';
import { CatalogSection } from './catalog.tsx';
import { openSession, type Session } from './connection.ts';
import { AnnounceContext, useAnnouncer, useOffers, useShipments } from './live.ts';
import { OffersSection } from './offers.tsx';
import { ShipmentsSection } from './shipments.tsx';
import { SignIn } from './signin.tsx';
import { StockSection } from './stock.tsx';

const PAGE = 'warehouse';
const TITLE = 'Emporium warehouse';

export const SECTIONS = [
  { id: 'shipments', label: 'Shipments' },
  { id: 'stock', label: 'Stock' },
  { id: 'offers', label: 'Offers' },
  { id: 'catalog', label: 'Catalog' },
] as const;
export type SectionId = (typeof SECTIONS)[number]['id'];

function sectionFromHash(): SectionId {
  const id = location.hash.replace(/^#\/?/, '');
  return SECTIONS.find((section) => section.id === id)?.id ?? 'shipments';
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [resuming, setResuming] = useState(() => tokens.get(PAGE) !== null);
  const [notice, setNotice] = useState<string | null>(null);

  // A token kept from an earlier visit: who is it, and does the warehouse still take it?
  useEffect(() => {
    const token = tokens.get(PAGE);
    if (!token) return;
    me(token)
      .then(({ identity, customer }) => openSession(token, { name: customer?.name ?? '', role: identity.role, email: customer?.email ?? '' }))
      .then(setSession)
      .catch((error: unknown) => {
        // A token the server refuses is dropped; a server that cannot be reached keeps it for the next try.
        const refused = (error instanceof ApiError && error.status === 401) || (error instanceof Error && /staff only|session has ended/.test(error.message));
        if (refused) tokens.set(PAGE, null);
        setNotice(
          error instanceof ApiError && error.status === 401
            ? 'Your session has ended. Sign in again.'
            : refused
              ? (error as Error).message
              : `The warehouse could not be reached (${error instanceof Error ? error.message : String(error)}). Reload to try again.`,
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
        <main id="main" class="wh-main">
          <h1>Warehouse</h1>
          <p role="status">Connecting…</p>
        </main>
      </>
    );
  }
  if (!session) {
    return (
      <>
        <PageHeader title={TITLE} />
        <main id="main" class="wh-main wh-narrow">
          <SignIn onSignedIn={signedIn} notice={notice} />
        </main>
      </>
    );
  }
  return <Board key={session.token} session={session} onSignOut={signOut} />;
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

function Board({ session, onSignOut }: { session: Session; onSignOut: (reason?: string) => Promise<void> }) {
  const { conn, account } = session;
  const [message, announce] = useAnnouncer();
  const [section, setSection] = useState<SectionId>(sectionFromHash);
  const heading = useRef<HTMLHeadingElement>(null);
  const moved = useRef(false);
  const ended = useCallback((reason: string) => void onSignOut(reason), [onSignOut]);
  const connection = useConnectionState(conn, ended);
  // Shipments and offers are followed for the whole visit, so a section shows them at once and counts stay right.
  const shipments = useShipments(conn, announce);
  const offers = useOffers(conn, announce);

  useEffect(() => {
    const onHash = () => setSection(sectionFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  // After a section change (not the first render), focus goes to its heading so a screen reader reads where it is.
  useEffect(() => {
    if (moved.current) heading.current?.focus();
    moved.current = true;
    const label = SECTIONS.find((s) => s.id === section)?.label ?? '';
    document.title = `${label} · ${TITLE}`;
  }, [section]);

  const open = SECTIONS.find((s) => s.id === section)!;
  return (
    <AnnounceContext.Provider value={announce}>
      <PageHeader title={TITLE}>
        {SECTIONS.map((s) => (
          <a key={s.id} href={`#${s.id}`} class="wh-tab" aria-current={s.id === section ? 'page' : undefined} data-testid={`tab-${s.id}`}>
            {s.label}
          </a>
        ))}
        <span class={`wh-connection wh-${connection}`} data-testid="connection">
          {connection === 'live' ? 'Live' : 'Reconnecting…'}
        </span>
        <span class="wh-who">
          {account.name || account.email} <span class="wh-role">({account.role})</span>
        </span>
        <button type="button" class="wh-signout" onClick={() => void onSignOut()}>
          Sign out
        </button>
      </PageHeader>
      <main id="main" class="wh-main">
        <LiveRegion message={message} />
        <h1 class="wh-title" ref={heading} tabIndex={-1}>
          {open.label}
        </h1>
        {section === 'shipments' && <ShipmentsSection conn={conn} live={shipments} />}
        {section === 'stock' && <StockSection conn={conn} />}
        {section === 'offers' && <OffersSection conn={conn} live={offers} />}
        {section === 'catalog' && <CatalogSection conn={conn} />}
      </main>
    </AnnounceContext.Provider>
  );
}
