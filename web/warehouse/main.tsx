// The warehouse board at /warehouse: staff sign in, then follow and move shipments, stock, offers and the catalog live.
import { render } from 'preact';
import { App } from './app.tsx';

render(<App />, document.getElementById('app')!);
