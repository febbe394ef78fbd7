// Hash routing: the server serves one HTML page and every view lives after the `#`: `#/`, `#/product/<id>`,
// `#/cart`, `#/checkout`, `#/orders`, `#/order/<id>`, `#/account`. A hash that is not a route (the skip link's
// `#main`) is not a navigation: it moves focus to that element and the route stays.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** `product`, `cart`, … ('' for the home page). */
  readonly name: string;
  /** The id of `product/<id>` and `order/<id>`. */
  readonly id: string | null;
  readonly query: URLSearchParams;
  /** The hash as it was navigated to. */
  readonly raw: string;
  /** Counts the navigations: a new one is a new view, even to the same hash (the "Shop" link on a search). */
  readonly visit: number;
}

const isRoute = (hash: string) => hash === '' || hash === '#' || hash.startsWith('#/');

let visits = 0;

export function parseRoute(hash: string): Route {
  const raw = isRoute(hash) ? hash.replace(/^#?\/?/, '') : '';
  const [path = '', search = ''] = raw.split('?', 2);
  const [name = '', id = null] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name, id, query: new URLSearchParams(search), raw: `#/${raw}`, visit: ++visits };
}

let lastRoute = parseRoute(location.hash);

/** The current route, following `hashchange`. */
export function useRoute(): Route {
  const [route, setRoute] = useState(lastRoute);
  useEffect(() => {
    const onHash = () => {
      if (!isRoute(location.hash)) {
        // An in-page anchor (the skip link): focus its target, and put the route back in the address bar.
        const target = document.getElementById(location.hash.slice(1));
        history.replaceState(null, '', lastRoute.raw);
        if (target) {
          if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
          target.focus();
        }
        return;
      }
      lastRoute = parseRoute(location.hash);
      setRoute(lastRoute);
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

export function navigate(to: string): void {
  if (location.hash === to) return;
  location.hash = to;
}

/** Keeps the address bar in step with the page's own state (filters, a search) without a navigation. */
export function replaceQuery(name: string, query: URLSearchParams): void {
  const search = query.toString();
  const raw = `#/${name}${search ? `?${search}` : ''}`;
  // The same visit: the view stays as it is.
  lastRoute = { ...parseRoute(raw), visit: lastRoute.visit };
  history.replaceState(null, '', raw);
}

export const href = {
  home: (query?: Record<string, string>) => `#/${query ? `?${new URLSearchParams(query)}` : ''}`,
  product: (id: string) => `#/product/${encodeURIComponent(id)}`,
  cart: () => '#/cart',
  checkout: () => '#/checkout',
  orders: () => '#/orders',
  order: (id: string) => `#/order/${encodeURIComponent(id)}`,
  account: () => '#/account',
};
