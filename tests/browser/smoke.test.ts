// The three pages are served by the node with their bundles under a strict Content-Security-Policy, and render.
import { accessible, appWithPages, browserFor, pageIn, test } from '../helpers/browser.ts';

test('the storefront, the warehouse board and the inspector are served and render, with a Content-Security-Policy and nothing from elsewhere', async (t) => {
  const app = await appWithPages(t);
  const browser = await browserFor(t);
  const { page } = await pageIn(t, browser);
  const foreign: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(app.url) && !request.url().startsWith('data:')) foreign.push(request.url());
  });
  for (const path of ['/', '/warehouse', '/inspector']) {
    const response = await page.goto(app.url + path);
    t.is(response?.status(), 200, path);
    t.regex(response?.headers()['content-security-policy'] ?? '', /default-src 'self'/);
    await page.waitForSelector('main');
    await accessible(t, page, path);
  }
  t.deepEqual(foreign, [], 'nothing is fetched from another origin');
});
