// The storefront's frame: the header (shop, orders, account, the cart with its live count, the connection), the
// notices, and the view of the route. On a change of view the focus moves to the new view's heading.
import { useEffect, useRef } from 'preact/hooks';
import { LiveRegion, PageHeader } from '../shared/ui.tsx';
import { AccountPage } from './account.tsx';
import { CartPage } from './cart.tsx';
import { Home } from './catalog.tsx';
import { CheckoutPage } from './checkout.tsx';
import { OrderPage, OrdersPage } from './orders.tsx';
import { ProductPage } from './product.tsx';
import { href, type Route, useRoute } from './router.ts';
import { ShopProvider, useShop } from './shop.tsx';
import { Notices } from './widgets.tsx';

export function App() {
  return (
    <ShopProvider>
      <Frame />
    </ShopProvider>
  );
}

const TITLES: Record<string, string> = {
  '': 'Shop',
  product: 'Product',
  cart: 'Your cart',
  checkout: 'Checkout',
  orders: 'Your orders',
  order: 'Order',
  account: 'Your account',
};

function Frame() {
  const route = useRoute();
  const shop = useShop();
  const arrived = useRef(false);
  useEffect(() => {
    document.title = `${TITLES[route.name] ?? 'Not found'} · Emporium`;
    // Not on the first load (the page starts at its top, the skip link first); on every change of view after.
    if (!arrived.current) {
      arrived.current = true;
      return;
    }
    const heading = document.querySelector<HTMLElement>('main h1');
    (heading ?? document.getElementById('main'))?.focus();
    scrollTo(0, 0);
  }, [route.visit]);
  const count = shop.cart && shop.cart.state === 'active' ? shop.cart.itemCount : 0;
  const current = (name: string) => (route.name === name ? 'page' : undefined);
  return (
    <div class="storefront">
      <PageHeader title="Emporium">
        <a href={href.home()} aria-current={current('')}>
          Shop
        </a>
        <a href={href.orders()} aria-current={current('orders')}>
          Orders
        </a>
        <a href={href.account()} aria-current={current('account')} data-testid="account-link">
          {shop.account ? shop.account.name : 'Sign in'}
        </a>
        <a href={href.cart()} aria-current={current('cart')} class="cart-link" data-testid="cart-link">
          Cart{' '}
          <span class="badge cart-count" data-testid="cart-count">
            {count}
          </span>
          <span class="visually-hidden">{count === 1 ? ' item' : ' items'}</span>
        </a>
        <span class={shop.online ? 'connection online' : 'connection offline'} data-testid="connection">
          {shop.online ? 'Live' : shop.problem ? 'Offline' : 'Connecting…'}
        </span>
      </PageHeader>
      <main id="main" tabIndex={-1}>
        <Notices />
        {shop.problem && (
          <p class="error" role="alert">
            {shop.problem}
          </p>
        )}
        <LiveRegion message={shop.announcement} />
        <View route={route} />
      </main>
      <footer class="site-footer">
        <p class="muted small">Emporium demo store: prices, stock, offers and orders update live. Payments use a test provider (card 4242 4242 4242 4242).</p>
      </footer>
    </div>
  );
}

function View({ route }: { route: Route }) {
  switch (route.name) {
    case '':
      return <Home key={route.visit} route={route} />;
    case 'product':
      return route.id ? <ProductPage key={route.id} id={route.id} /> : <NotFound />;
    case 'cart':
      return <CartPage />;
    case 'checkout':
      return <CheckoutPage />;
    case 'orders':
      return <OrdersPage />;
    case 'order':
      return route.id ? <OrderPage key={route.id} id={route.id} /> : <NotFound />;
    case 'account':
      return <AccountPage route={route} />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is nothing here. <a href={href.home()}>Go to the shop</a>.
      </p>
    </>
  );
}
