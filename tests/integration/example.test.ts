// The README's client example really runs: examples/buy.ts against a live app completes a purchase.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { createProduct, startApp } from '../helpers/app.ts';

const run = promisify(execFile);

test('examples/buy.ts buys the cheapest product and sees its order reach fulfilling', async (t) => {
  const server = await startApp();
  t.teardown(() => server.stop());
  const product = await createProduct(server.app, { onHand: 5, price: 150, name: 'Example Widget' });

  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/buy.ts', server.url], { timeout: 60_000 });

  t.regex(stdout, /order v\d+: fulfilling/);
  t.regex(stdout, /bought 2 x Example Widget for €3\.00; shipment ship_/);
  const after = await server.app.services.catalog.getProduct(product.id);
  t.is(after.available, 3);
});
