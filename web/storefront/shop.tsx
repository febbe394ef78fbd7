// The shopper's session, shared by every view: the token (a guest's until someone signs in), the `/store`
// connection, the cart and its recommendations (followed live), the live offers, the categories, and the notices
// (back in stock, a session that ended). Everything goes through the documented protocol: REST for tokens and the
// catalog, the typed SDK for the rest.
import { type ComponentChildren, createContext } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  type CartView,
  type CategoryView,
  EmporiumError,
  type OfferView,
  type ProductView,
  type RecommendationsUpdated,
  type RecommendationView,
  type StoreConnection,
} from '../../src/client/index.ts';
import { type Account, ApiError, api, guestToken, login, logout, me, register, store, tokens } from '../shared/session.ts';
import { applyOfferPush } from './pricing.ts';
import { href } from './router.ts';

const PAGE = 'storefront';

export interface Notice {
  readonly id: number;
  readonly text: string;
  readonly kind: 'info' | 'ok' | 'error';
  readonly link?: { readonly href: string; readonly label: string } | undefined;
}

export interface Shop {
  /** The token this page holds (a guest's until someone signs in); null while it is being fetched. */
  readonly token: string | null;
  /** The signed-in account; null for a guest. */
  readonly account: Account | null;
  readonly conn: StoreConnection | null;
  readonly online: boolean;
  /** The cart this page shops with (null: none yet; one is made at the first "Add to cart"). */
  readonly cart: CartView | null;
  /** False until the connection has looked for an open cart. */
  readonly cartKnown: boolean;
  readonly recommendations: readonly RecommendationView[];
  readonly offers: readonly OfferView[];
  readonly categories: readonly CategoryView[];
  readonly notices: readonly Notice[];
  /** The latest sentence for screen readers (a push moved something). */
  readonly announcement: string;
  /** Why the page cannot reach the store (shown in place of the views that need it). */
  readonly problem: string | null;
  announce(text: string): void;
  notify(text: string, kind?: Notice['kind'], link?: Notice['link']): void;
  dismiss(id: number): void;
  ensureCart(): Promise<CartView>;
  addToCart(productId: string, quantity: number): Promise<CartView>;
  /** Takes a cart view from an answer (kept only if newer than the one held). */
  acceptCart(cart: CartView): void;
  /** Signs in (or up) with the guest's token as the bearer; `broughtCart`: the guest's cart moved into the account. */
  signIn(email: string, password: string): Promise<SignedIn>;
  register(name: string, email: string, password: string): Promise<SignedIn>;
  signOut(): Promise<void>;
}

export interface SignedIn {
  readonly account: Account;
  readonly broughtCart: boolean;
}

const ShopContext = createContext<Shop | null>(null);

export function useShop(): Shop {
  const shop = useContext(ShopContext);
  if (!shop) throw new Error('useShop outside <ShopProvider>');
  return shop;
}

const ignore = () => undefined;

/** A fresh key for a `requestId` (also where `crypto.randomUUID` is missing: plain http on a LAN address). */
export function newRequestId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}-${Date.now().toString(36)}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Follows a topic while the component is mounted (and the connection is up): `onView` gets the current view, then
 * every newer one. The SDK subscribes again after reconnects and `resync`s.
 */
export function useTopic<V>(conn: StoreConnection | null, topic: string | null, onView: (view: V) => void, onError?: (error: unknown) => void): void {
  const handler = useRef(onView);
  handler.current = onView;
  const failed = useRef(onError);
  failed.current = onError;
  useEffect(() => {
    if (!conn || !topic) return;
    let stop: (() => Promise<void>) | null = null;
    let gone = false;
    conn
      .subscribe<V>(topic, (view) => {
        if (!gone) handler.current(view);
      })
      .then((unsubscribe) => {
        if (gone) unsubscribe().catch(ignore);
        else stop = unsubscribe;
      })
      .catch((error: unknown) => {
        if (!gone) failed.current?.(error);
      });
    return () => {
      gone = true;
      stop?.().catch(ignore);
    };
  }, [conn, topic]);
}

// Products by id, read once per page load (cart lines carry only a product id).
const products = new Map<string, Promise<ProductView>>();
export function fetchProduct(id: string, fresh = false): Promise<ProductView> {
  let product = fresh ? undefined : products.get(id);
  if (!product) {
    product = api<ProductView>(`/api/products/${encodeURIComponent(id)}`);
    product.catch(() => products.delete(id));
    products.set(id, product);
  }
  return product;
}

/** The products of these ids, as they arrive. */
export function useProducts(ids: readonly string[]): Readonly<Record<string, ProductView>> {
  const [known, setKnown] = useState<Record<string, ProductView>>({});
  const key = [...new Set(ids)].sort().join(',');
  useEffect(() => {
    let gone = false;
    for (const id of key ? key.split(',') : []) {
      fetchProduct(id)
        .then((product) => {
          if (!gone) setKnown((held) => (held[id] === product ? held : { ...held, [id]: product }));
        })
        .catch(ignore);
    }
    return () => {
      gone = true;
    };
  }, [key]);
  return known;
}

interface Session {
  readonly token: string;
  readonly account: Account | null;
}

export function ShopProvider({ children }: { children: ComponentChildren }) {
  const [session, setSession] = useState<Session | null>(null);
  const [conn, setConn] = useState<StoreConnection | null>(null);
  const [online, setOnline] = useState(false);
  const [cartId, setCartId] = useState<string | null>(null);
  const [cart, setCart] = useState<CartView | null>(null);
  const [cartKnown, setCartKnown] = useState(false);
  const [recommendations, setRecommendations] = useState<readonly RecommendationView[]>([]);
  const [offers, setOffers] = useState<readonly OfferView[]>([]);
  const [categories, setCategories] = useState<readonly CategoryView[]>([]);
  const [notices, setNotices] = useState<readonly Notice[]>([]);
  const [announcement, setAnnouncement] = useState('');
  const [problem, setProblem] = useState<string | null>(null);

  const refs = useRef({ conn, cart, session });
  refs.current = { conn, cart, session };
  const noticeIds = useRef(0);

  const notify = useCallback((text: string, kind: Notice['kind'] = 'info', link?: Notice['link']) => {
    const id = ++noticeIds.current;
    setNotices((held) => [...held.filter((n) => n.text !== text), { id, text, kind, link }].slice(-4));
  }, []);
  const dismiss = useCallback((id: number) => setNotices((held) => held.filter((n) => n.id !== id)), []);
  const announce = useCallback((text: string) => setAnnouncement(text), []);

  const becomeGuest = useCallback(async () => {
    const token = await guestToken();
    tokens.set(PAGE, token);
    setCart(null);
    setCartId(null);
    setSession({ token, account: null });
  }, []);

  // The token: the one kept from an earlier visit if it still works, or a new guest's. Tried again while the
  // store cannot be reached.
  useEffect(() => {
    let gone = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const start = async (failures: number): Promise<void> => {
      try {
        const kept = tokens.get(PAGE);
        if (kept) {
          try {
            const who = await me(kept);
            if (!gone) setSession({ token: kept, account: who.customer });
            return;
          } catch (error) {
            if (!(error instanceof ApiError && error.status === 401)) throw error;
          }
        }
        if (!gone) await becomeGuest();
        setProblem(null);
      } catch (error) {
        if (gone) return;
        setProblem(`The store cannot be reached (${error instanceof Error ? error.message : String(error)}); trying again…`);
        timer = setTimeout(() => void start(failures + 1), Math.min(10_000, 1000 * 2 ** failures));
      }
    };
    void start(0);
    api<{ items: CategoryView[] }>('/api/categories')
      .then(({ items }) => !gone && setCategories(items))
      .catch(ignore);
    return () => {
      gone = true;
      clearTimeout(timer);
    };
  }, [becomeGuest]);

  // The connection, one per token: a sign-in, sign-up or sign-out opens a new one (and every view follows it).
  const token = session?.token ?? null;
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (!token) return;
    let gone = false;
    let opened: StoreConnection | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    setCartKnown(false);
    const ended = (why: string) => {
      if (gone) return;
      notify(why, 'info');
      becomeGuest().catch(ignore);
    };
    store(token)
      .then((connection) => {
        if (gone) return connection.close();
        opened = connection;
        setProblem(null);
        setOnline(true);
        connection.socket.on('connect', () => !gone && setOnline(true));
        connection.socket.on('disconnect', () => !gone && setOnline(false));
        connection.socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
          // The session ended elsewhere (signed out on another tab, password changed, token expired).
          if (error.data?.code === 'UNAUTHORIZED') ended('Your session ended, so you are shopping as a guest now.');
        });
        connection.on('stock:backInStock', (notice) =>
          notify(`${notice.name} is back in stock: ${notice.available} available.`, 'ok', {
            href: href.product(notice.productId),
            label: `See ${notice.name}`,
          }),
        );
        setConn(connection);
      })
      .catch((error: unknown) => {
        if (error instanceof EmporiumError && error.code === 'UNAUTHORIZED') ended('Your session ended, so you are shopping as a guest now.');
        else if (!gone) {
          // The node is down or restarting: try again in a moment.
          setProblem(`The store cannot be reached (${error instanceof Error ? error.message : String(error)}); trying again…`);
          retry = setTimeout(() => setAttempt((n) => n + 1), 2000);
        }
      });
    return () => {
      gone = true;
      clearTimeout(retry);
      opened?.close();
      setConn(null);
      setOnline(false);
    };
  }, [token, attempt, notify, becomeGuest]);

  // The open cart: the newest active one of this caller (after a sign-in, the cart the guest brought along).
  useEffect(() => {
    if (!conn) return;
    let gone = false;
    conn
      .read('carts:list', {})
      .then(({ carts }) => {
        if (gone) return;
        const open = carts.find((c) => c.state === 'active');
        if (open) {
          setCart(open);
          setCartId(open.id);
        }
        setCartKnown(true);
      })
      .catch(() => {
        if (!gone) setCartKnown(true);
      });
    return () => {
      gone = true;
    };
  }, [conn]);

  const acceptCart = useCallback((view: CartView) => {
    setCart((held) => (held && held.id === view.id && held.version >= view.version ? held : view));
  }, []);

  useTopic<CartView>(conn, cartId ? `cart:${cartId}` : null, acceptCart, () => {
    // Refused (no longer ours, or gone): start a new cart at the next "Add to cart".
    setCartId(null);
    setCart(null);
  });
  useEffect(() => setRecommendations([]), [cartId]);
  useTopic<RecommendationsUpdated>(conn, cartId ? `recommendations:${cartId}` : null, (update) => setRecommendations(update.recommendations));
  useTopic<unknown>(conn, 'offers', (push) => setOffers((held) => applyOfferPush(held, push)));

  // An offer whose end has come disappears from the banners even before its `offer:ended` push.
  useEffect(() => {
    const timer = setInterval(() => {
      const now = Date.now();
      setOffers((held) => (held.some((o) => o.endsAt !== null && o.endsAt <= now) ? held.filter((o) => o.endsAt === null || o.endsAt > now) : held));
    }, 1000);
    return () => clearInterval(timer);
  }, []);

  const creating = useRef<Promise<CartView> | null>(null);
  const ensureCart = useCallback(async (): Promise<CartView> => {
    const { conn: connection, cart: held } = refs.current;
    if (!connection) throw new Error('not connected to the store yet');
    if (held && held.state === 'active') return held;
    creating.current ??= connection
      .call('cart:create', { requestId: newRequestId('cart') })
      .then(({ cart: created }) => {
        acceptCart(created);
        setCartId(created.id);
        refs.current = { ...refs.current, cart: created };
        return created;
      })
      .finally(() => {
        creating.current = null;
      });
    return creating.current;
  }, [acceptCart]);

  const addToCart = useCallback(
    async (productId: string, quantity: number): Promise<CartView> => {
      const add = async () => {
        const target = await ensureCart();
        const { cart: changed } = await refs.current.conn!.call('cart:addItem', { cartId: target.id, productId, quantity });
        acceptCart(changed);
        return changed;
      };
      try {
        return await add();
      } catch (error) {
        // The cart was checked out or expired meanwhile (another tab): start a new one and add there.
        if (error instanceof EmporiumError && error.code === 'INVALID_TRANSITION') {
          setCart(null);
          refs.current = { ...refs.current, cart: null };
          return add();
        }
        throw error;
      }
    },
    [ensureCart, acceptCart],
  );

  const signedIn = useCallback((answer: { token: string; customer: Account; adoptedCarts?: readonly string[] }): SignedIn => {
    tokens.set(PAGE, answer.token);
    setCart(null);
    setCartId(null);
    setSession({ token: answer.token, account: answer.customer });
    return { account: answer.customer, broughtCart: (answer.adoptedCarts ?? []).length > 0 };
  }, []);

  const guestBearer = () => (refs.current.session && !refs.current.session.account ? refs.current.session.token : null);
  const signIn = useCallback(async (email: string, password: string) => signedIn(await login(email, password, guestBearer())), [signedIn]);
  const signUp = useCallback(
    async (name: string, email: string, password: string) => signedIn(await register(name, email, password, guestBearer())),
    [signedIn],
  );
  const signOut = useCallback(async () => {
    const held = refs.current.session?.token;
    // Closed first: the logout disconnects its sockets, and a reconnect refused meanwhile is not "your session ended".
    refs.current.conn?.close();
    if (held) await logout(held).catch(ignore);
    await becomeGuest();
  }, [becomeGuest]);

  const shop = useMemo<Shop>(
    () => ({
      token,
      account: session?.account ?? null,
      conn,
      online,
      cart,
      cartKnown,
      recommendations,
      offers,
      categories,
      notices,
      announcement,
      problem,
      announce,
      notify,
      dismiss,
      ensureCart,
      addToCart,
      acceptCart,
      signIn,
      register: signUp,
      signOut,
    }),
    [
      token,
      session,
      conn,
      online,
      cart,
      cartKnown,
      recommendations,
      offers,
      categories,
      notices,
      announcement,
      problem,
      announce,
      notify,
      dismiss,
      ensureCart,
      addToCart,
      acceptCart,
      signIn,
      signUp,
      signOut,
    ],
  );
  return <ShopContext.Provider value={shop}>{children}</ShopContext.Provider>;
}

/** A sentence for a shopper from any failure of the API or the SDK. */
export function describeError(error: unknown): string {
  if (error instanceof EmporiumError || error instanceof ApiError) {
    switch (error.code) {
      case 'RATE_LIMITED':
        return 'Too many requests at once; please try again in a moment.';
      case 'UNAVAILABLE':
        return 'The store is restarting; please try again in a moment.';
      case 'INTERNAL':
        return 'Something went wrong on our side; please try again.';
      default:
        return error.message.charAt(0).toUpperCase() + error.message.slice(1);
    }
  }
  if (error instanceof Error && /timed? ?out|operation has timed out/i.test(error.message)) return 'The store did not answer in time; please try again.';
  return error instanceof Error ? error.message : String(error);
}

/**
 * Applies one push of a `product:<id>` topic to the product held: its full view (the subscribe answer,
 * `product:updated`), a `stock:changed` (stock only) or a `rating:changed` (rating only). Offer pushes on the
 * topic are left to the `offers` topic. The version rule orders them all (docs/PROTOCOL.md §10).
 */
export function applyProductPush(held: ProductView | null, push: unknown): ProductView | null {
  if (!push || typeof push !== 'object' || 'sort' in push || 'offerId' in push) return held;
  if ('sku' in push) {
    const view = push as ProductView;
    if (!held || view.version >= held.version) return view;
    // A newer stock or rating push got here first: keep its numbers, take the rest from the view.
    return { ...view, available: held.available, rating: held.rating, version: held.version, stockVersion: held.stockVersion };
  }
  if (!held) return held;
  const change = push as { version: number; available?: number; histogram?: number[]; average?: number | null; count?: number };
  if (change.version <= held.version) return held;
  if ('onHand' in push && change.available !== undefined)
    return { ...held, available: change.available, version: change.version, stockVersion: change.version };
  if ('histogram' in push && change.histogram && change.count !== undefined) {
    const histogram = change.histogram as unknown as ProductView['rating']['histogram'];
    return { ...held, rating: { average: change.average ?? null, count: change.count, histogram }, version: change.version, stockVersion: change.version };
  }
  return held;
}

/** A product kept live: its view from REST (or a listing), moved by every push of its topic. */
export function useLiveProduct(initial: ProductView | null, id: string | null): ProductView | null {
  const { conn } = useShop();
  const [product, setProduct] = useState<ProductView | null>(initial);
  useEffect(() => {
    setProduct((held) => (held && initial && held.id === initial.id && held.version > initial.version ? held : initial));
  }, [initial]);
  useTopic<unknown>(conn, id ? `product:${id}` : null, (push) => setProduct((held) => applyProductPush(held, push)));
  return product && product.id === id ? product : null;
}
