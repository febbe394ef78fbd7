// The actor inspector: staff or admin sign-in, then the overview (#/) or one actor (#/actor/<id>), over one
// /warehouse connection whose `inspector` subscription lasts the whole visit.
import { useEffect, useRef, useState } from 'preact/hooks';
import { type StaffPlace, StaffApp, StaffHeader, type StaffSession } from '../shared/staff.tsx';
import { ErrorNote } from '../shared/ui.tsx';
import { ActorPage } from './actor.tsx';
import { describeError, type Route, routeFromHash } from './format.ts';
import { LiveContext, useInspectorStream } from './live.ts';
import { Overview } from './overview.tsx';

const PLACE: StaffPlace = {
  page: 'inspector',
  title: 'Emporium inspector',
  name: 'the inspector',
  heading: 'Actor inspector',
  signInTitle: 'Actor inspector sign-in',
  blurb: 'For staff and admins: every cart, order, shipment and offer, its journal replayed, live.',
  staffOnly: 'The actor inspector is for staff and admins only.',
  css: 'in',
  describeError,
};

export function App() {
  return <StaffApp place={PLACE}>{(session, signOut) => <Inspector key={session.token} session={session} onSignOut={signOut} />}</StaffApp>;
}

function Inspector({ session, onSignOut }: { session: StaffSession; onSignOut: (reason?: string) => Promise<void> }) {
  const { conn, account } = session;
  const [route, setRoute] = useState<Route>(() => routeFromHash());
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
    document.title = `${route.page === 'actor' ? route.id : 'Overview'} · ${PLACE.title}`;
    if (moved.current) window.scrollTo(0, 0);
  }, [routeKey]);

  return (
    <LiveContext.Provider value={live}>
      <StaffHeader place={PLACE} session={session} onSignOut={onSignOut}>
        <a href="#/" class="in-tab" aria-current={route.page === 'overview' ? 'page' : undefined}>
          Overview
        </a>
      </StaffHeader>
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
