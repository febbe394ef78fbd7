// The warehouse board: staff sign in, then Shipments, Stock, Offers and Catalog as sections behind the URL's hash
// (#shipments, #stock, #offers, #catalog), over one /warehouse connection that follows the store live.
import { useEffect, useRef, useState } from 'preact/hooks';
import { type StaffPlace, StaffApp, StaffHeader, type StaffSession } from '../shared/staff.tsx';
import { LiveRegion } from '../shared/ui.tsx';
import { CatalogSection } from './catalog.tsx';
import { describeError } from './format.ts';
import { AnnounceContext, useAnnouncer, useOffers, useShipments } from './live.ts';
import { OffersSection } from './offers.tsx';
import { ShipmentsSection } from './shipments.tsx';
import { StockSection } from './stock.tsx';

const PLACE: StaffPlace = {
  page: 'warehouse',
  title: 'Emporium warehouse',
  name: 'the warehouse',
  heading: 'Warehouse',
  signInTitle: 'Warehouse sign-in',
  blurb: 'The board is for staff: shipments, stock, offers and the catalog, live.',
  staffOnly: 'The warehouse is for staff only.',
  css: 'wh',
  describeError,
};

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
  return <StaffApp place={PLACE}>{(session, signOut) => <Board key={session.token} session={session} onSignOut={signOut} />}</StaffApp>;
}

function Board({ session, onSignOut }: { session: StaffSession; onSignOut: (reason?: string) => Promise<void> }) {
  const { conn } = session;
  const [message, announce] = useAnnouncer();
  const [section, setSection] = useState<SectionId>(sectionFromHash);
  const heading = useRef<HTMLHeadingElement>(null);
  const moved = useRef(false);
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
    document.title = `${label} · ${PLACE.title}`;
  }, [section]);

  const open = SECTIONS.find((s) => s.id === section)!;
  return (
    <AnnounceContext.Provider value={announce}>
      <StaffHeader place={PLACE} session={session} onSignOut={onSignOut}>
        {SECTIONS.map((s) => (
          <a key={s.id} href={`#${s.id}`} class="wh-tab" aria-current={s.id === section ? 'page' : undefined} data-testid={`tab-${s.id}`}>
            {s.label}
          </a>
        ))}
      </StaffHeader>
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
