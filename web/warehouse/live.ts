// The board's live data: the shipments and offers topics folded into maps (each entity kept at its newest
// version), categories and product look-ups over REST, and the announcer that tells screen readers what moved.
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { CategoryView, OfferRemaining, OfferView, ProductView, ShipmentView, WarehouseConnection } from '../../src/client/index.ts';
import { api } from '../shared/session.ts';
import { describeError, OFFER_STATE_LABELS, STATE_LABELS, shortId } from './format.ts';

/** Says something to screen readers (the page's one polite live region). */
export type Announce = (message: string) => void;
export const AnnounceContext = createContext<Announce>(() => undefined);
export const useAnnounce = () => useContext(AnnounceContext);

/** The live region's message; the same sentence twice is still read twice. */
export function useAnnouncer(): [string, Announce] {
  const [message, setMessage] = useState('');
  const announce = useCallback((next: string) => setMessage((current) => (current === next ? `${next}\u00a0` : next)), []);
  return [message, announce];
}

/** A map of entities by id that only ever takes newer versions, and re-renders on change. */
function useVersionedMap<V extends { id: string; version: number }>() {
  const ref = useRef(new Map<string, V>());
  const [, setTick] = useState(0);
  /** Puts each view that is newer than the one held; returns the views it replaced (undefined: new). */
  const put = useCallback((views: readonly V[]) => {
    const changes: Array<{ before: V | undefined; after: V }> = [];
    for (const view of views) {
      const held = ref.current.get(view.id);
      if (held && held.version >= view.version) continue;
      ref.current.set(view.id, view);
      changes.push({ before: held, after: view });
    }
    if (changes.length > 0) setTick((n) => n + 1);
    return changes;
  }, []);
  return { map: ref.current, put };
}

export interface LiveShipments {
  readonly shipments: ReadonlyMap<string, ShipmentView>;
  /** Takes a view from a command's answer (pushes may have brought it already). */
  readonly put: (shipment: ShipmentView) => void;
  /** The shipment that moved last, and when: its card flashes. */
  readonly lastMoved: string | null;
  readonly error: string | null;
}

/** Follows the `shipments` topic: the 200 newest on every (re)subscribe, then every shipment as it moves, on any node. */
export function useShipments(conn: WarehouseConnection, announce: Announce): LiveShipments {
  const { map, put } = useVersionedMap<ShipmentView>();
  const [lastMoved, setLastMoved] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop: (() => Promise<void>) | undefined;
    let gone = false;
    conn
      .subscribe<{ shipments: ShipmentView[] } | ShipmentView>('shipments', (view) => {
        if ('shipments' in view) {
          put(view.shipments);
          return;
        }
        for (const { before, after } of put([view])) {
          setLastMoved(after.id);
          if (!before) announce(`New shipment for order ${shortId(after.orderId)}: ${STATE_LABELS[after.state]}.`);
          else if (before.state !== after.state)
            announce(`Order ${shortId(after.orderId)} moved from ${STATE_LABELS[before.state]} to ${STATE_LABELS[after.state]}.`);
        }
      })
      .then((unsubscribe) => {
        if (gone) void unsubscribe();
        else stop = unsubscribe;
        setError(null);
      })
      .catch((failure: unknown) => setError(`The shipments could not be loaded: ${describeError(failure)}`));
    return () => {
      gone = true;
      void stop?.().catch(() => undefined);
    };
  }, [conn, put, announce]);
  return { shipments: map, put: useCallback((shipment: ShipmentView) => void put([shipment]), [put]), lastMoved, error };
}

export interface LiveOffers {
  readonly offers: ReadonlyMap<string, OfferView>;
  readonly put: (offer: OfferView) => void;
  readonly error: string | null;
}

/**
 * Follows the `offers` topic (live and upcoming, pushed as they change, with each drop's remaining units), and
 * reads `offers:list` once for the recent ended and cancelled ones.
 */
export function useOffers(conn: WarehouseConnection, announce: Announce): LiveOffers {
  const { map, put } = useVersionedMap<OfferView>();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop: (() => Promise<void>) | undefined;
    let gone = false;
    const onView = (view: { offers: OfferView[] } | OfferView | OfferRemaining) => {
      if ('offers' in view) {
        put(view.offers);
        // After a reconnect: an offer held as open but no longer listed ended meanwhile; read how it ended.
        const listed = new Set(view.offers.map((offer) => offer.id));
        const gone = [...map.values()].some((o) => !listed.has(o.id) && (o.state === 'scheduled' || o.state === 'live' || o.state === 'soldOut'));
        if (gone)
          void conn
            .read('offers:list', { limit: 100 })
            .then(({ offers }) => put(offers))
            .catch(() => undefined);
        return;
      }
      if ('offerId' in view) {
        // A drop's remaining units: the offer's own version, so it orders with the offer's views.
        const held = map.get(view.offerId);
        if (!held?.drop || held.version >= view.version) return;
        put([{ ...held, version: view.version, state: view.state, drop: { ...held.drop, remaining: view.remaining, quota: view.quota } }]);
        if (view.state === 'soldOut' && held.state !== 'soldOut') announce(`${held.name} sold out.`);
        return;
      }
      for (const { before, after } of put([view])) {
        if (!before) announce(`Offer ${after.name}: ${OFFER_STATE_LABELS[after.state]}.`);
        else if (before.state !== after.state) announce(`${after.name} is now ${OFFER_STATE_LABELS[after.state].toLowerCase()}.`);
      }
    };
    conn
      .subscribe<{ offers: OfferView[] } | OfferView | OfferRemaining>('offers', onView)
      .then(async (unsubscribe) => {
        if (gone) return void unsubscribe();
        stop = unsubscribe;
        put((await conn.read('offers:list', { limit: 100 })).offers);
        setError(null);
      })
      .catch((failure: unknown) => setError(`The offers could not be loaded: ${describeError(failure)}`));
    return () => {
      gone = true;
      void stop?.().catch(() => undefined);
    };
  }, [conn, put, map, announce]);
  return { offers: map, put: useCallback((offer: OfferView) => void put([offer]), [put]), error };
}

/** The category tree as a list (GET /api/categories), with a way to read it again after a change. */
export function useCategories(): { categories: readonly CategoryView[]; reload: () => void; error: string | null } {
  const [categories, setCategories] = useState<readonly CategoryView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let gone = false;
    api<{ items: CategoryView[] }>('/api/categories')
      .then(({ items }) => {
        if (gone) return;
        setCategories(items);
        setError(null);
      })
      .catch((failure: unknown) => gone || setError(`The categories could not be loaded: ${describeError(failure)}`));
    return () => {
      gone = true;
    };
  }, [round]);
  return { categories, reload: useCallback(() => setRound((n) => n + 1), []), error };
}

const productCache = new Map<string, Promise<ProductView | null>>();

/** A product by id over REST, read once per page (for names on offer cards); null while loading or if it is gone. */
export function useProduct(id: string | null | undefined): ProductView | null {
  const [product, setProduct] = useState<ProductView | null>(null);
  useEffect(() => {
    if (!id) return setProduct(null);
    let gone = false;
    let pending = productCache.get(id);
    if (!pending) productCache.set(id, (pending = api<ProductView>(`/api/products/${encodeURIComponent(id)}`).catch(() => null)));
    void pending.then((found) => gone || setProduct(found));
    return () => {
      gone = true;
    };
  }, [id]);
  return product;
}

/** Products matching what was typed (GET /api/products?q=…), read as the staff member types (and again when `refresh` changes). */
export function useProductSearch(query: string, pageSize = 10, refresh = 0): { results: readonly ProductView[]; loading: boolean; error: string | null } {
  const [results, setResults] = useState<readonly ProductView[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let gone = false;
    setLoading(true);
    const timer = setTimeout(() => {
      const params = new URLSearchParams({ pageSize: String(pageSize) });
      if (query.trim()) params.set('q', query.trim());
      else params.set('sort', 'name');
      api<{ items: ProductView[] }>(`/api/products?${params}`)
        .then(({ items }) => {
          if (gone) return;
          setResults(items);
          setError(null);
        })
        .catch((failure: unknown) => gone || setError(describeError(failure)))
        .finally(() => gone || setLoading(false));
    }, 200);
    return () => {
      gone = true;
      clearTimeout(timer);
    };
  }, [query, pageSize, refresh]);
  return { results, loading, error };
}
