// The storefront at `/`: a live shop over the documented protocol (REST for the catalog and sign-in, the typed
// SDK over Socket.IO `/store` for carts, orders, shipments and pushes). Hash routes; see app.tsx.
import { render } from 'preact';
import { App } from './app.tsx';

render(<App />, document.getElementById('app')!);
