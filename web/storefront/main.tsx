// Placeholder, replaced by the page itself.
import { render } from 'preact';
import { PageHeader } from '../shared/ui.tsx';

render(
  <>
    <PageHeader title="Emporium" />
    <main id="main">
      <h1>storefront</h1>
    </main>
  </>,
  document.getElementById('app')!,
);
