// The actor inspector at /inspector: staff and admins follow every actor live, and open one to see its life replayed.
import { render } from 'preact';
import { App } from './app.tsx';

render(<App />, document.getElementById('app')!);
