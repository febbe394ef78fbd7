// Reviews and back in stock on the storefront's product page, in a real chromium against the real app (no mocks): a
// customer whose order was delivered writes a review with the keyboard (stars as a radio group), edits and deletes
// it, while a guest's page of the same product follows the average and the listing live; another customer votes it
// helpful once; a guest is told to sign in, and a customer without a delivered order is told why they cannot review;
// "tell me when it is back in stock" is remembered across a reload. axe-core with the review form open, and
// screenshots (test-artifacts/screenshots/storefront-review*.png).
import type { ExecutionContext } from 'ava';
import type { Browser, Locator, Page } from 'playwright-core';
import { connectStore, connectWarehouse, type ReviewView } from '../../src/client/index.ts';
import { createProduct, getJson, registerCustomer, staffToken, TEST_CARD, type TestApp } from '../helpers/app.ts';
import { accessible, appWithPages, browserFor, pageIn, screenshot, test, until } from '../helpers/browser.ts';

/** Generous but bounded: two shared cores run chromium and the app side by side. */
const WAIT = 30_000;
const ADDRESS = { name: 'Ada Lovelace', line1: '12 Analytical Way', city: 'Berlin', postalCode: '10115', country: 'DE' } as const;

let unique = 0;
const next = () => `${process.pid}-${++unique}`;

/** Waits (briefly) until `locator` has the focus: the pages move it after they render. */
async function focusOn(locator: Locator, what: string): Promise<void> {
  await until(what, () => locator.evaluate((element) => element === document.activeElement), 5_000);
}

async function expectText(locator: Locator, pattern: RegExp): Promise<void> {
  await locator.filter({ hasText: pattern }).first().waitFor();
}

/**
 * A storefront page in a fresh context (another shopper) at `hash`, connected. With `token`, the page starts with
 * that session, as a reload of a signed-in page does (the storefront keeps its token in localStorage).
 */
async function openStore(t: ExecutionContext, browser: Browser, app: TestApp, hash: string, token?: string): Promise<Page> {
  const { page } = await pageIn(t, browser);
  page.setDefaultTimeout(WAIT);
  if (token) await page.addInitScript((kept) => localStorage.setItem('emporium:storefront:token', kept), token);
  await page.goto(`${app.url}/${hash}`);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  return page;
}

const markDocument = (page: Page) => page.evaluate(() => Object.assign(window, { reviewsNeverReloaded: true }));
const stillSameDocument = (page: Page) => page.evaluate(() => (window as unknown as { reviewsNeverReloaded?: boolean }).reviewsNeverReloaded === true);

/** A customer's order of the product, paid and moved by staff through picking, packed, shipped and delivered (SDK). */
async function deliveredOrder(t: ExecutionContext, app: TestApp, token: string, productId: string): Promise<string> {
  const store = await connectStore(app.url, { token });
  t.teardown(() => store.close());
  const { cart } = await store.call('cart:create', {});
  await store.call('cart:addItem', { cartId: cart.id, productId, quantity: 1 });
  const { order } = await store.call('cart:checkout', { cartId: cart.id, requestId: `checkout-${next()}`, shippingAddress: ADDRESS });
  await store.call('order:pay', { orderId: order.id, requestId: `pay-${next()}`, payment: TEST_CARD });
  let shipmentId: string | null = null;
  await until('the shipment of the paid order', async () => {
    shipmentId = (await store.call('order:get', { orderId: order.id })).order.shipmentId;
    return shipmentId !== null;
  });
  const warehouse = await connectWarehouse(app.url, { token: await staffToken(app.app) });
  t.teardown(() => warehouse.close());
  await warehouse.call('shipment:advance', { shipmentId: shipmentId!, to: 'picking' });
  await warehouse.call('shipment:advance', { shipmentId: shipmentId!, to: 'packed' });
  await warehouse.call('shipment:advance', { shipmentId: shipmentId!, to: 'shipped', carrier: 'Parcelmate', trackingNumber: 'PM-2048-QX' });
  await warehouse.call('shipment:advance', { shipmentId: shipmentId!, to: 'delivered' });
  await until('the order delivered', async () => (await store.call('order:get', { orderId: order.id })).order.state === 'delivered');
  return order.id;
}

const reviewItem = (page: Page, title: string) => page.getByTestId('review').filter({ has: page.getByRole('heading', { name: title, exact: true }) });
const listedReviews = async (app: TestApp, productId: string) =>
  (await getJson<{ items: ReviewView[] }>(`${app.url}/api/products/${productId}/reviews?limit=50`)).body.items;

test.serial(
  'a customer who received the product writes a review with the keyboard, edits and deletes it while a guest’s page follows the average live; another customer votes it helpful once; a guest is told to sign in and a customer without a delivered order is told why',
  async (t) => {
    t.timeout(240_000);
    const app = await appWithPages(t);
    const product = await createProduct(app.app, { onHand: 10, price: 3_900, name: `Review Radio ${next()}` });
    const ada = await registerCustomer(app.url, 'Ada Lovelace');
    await deliveredOrder(t, app, ada.token, product.id);
    const browser = await browserFor(t);
    const hash = `#/product/${product.id}`;

    // A guest watches the product; told to sign in to review, and offered no "Helpful" buttons.
    const watcher = await openStore(t, browser, app, hash);
    const watcherSummary = watcher.getByTestId('rating-summary');
    await expectText(watcherSummary, /No ratings yet/);
    await watcher.getByTestId('review-action').getByRole('link', { name: 'Sign in to write a review' }).waitFor();
    t.is(await watcher.getByRole('button', { name: 'Write a review' }).count(), 0);
    await markDocument(watcher);

    // The customer: "Write a review" opens the form, its heading focused.
    const page = await openStore(t, browser, app, hash, ada.token);
    await page.getByRole('button', { name: 'Write a review' }).click();
    const form = page.getByRole('form', { name: 'Write a review' });
    await form.waitFor();
    await focusOn(form.getByRole('heading', { name: 'Write a review' }), 'the form’s heading has the focus');

    // Sent empty: the form says what is missing, as a sentence.
    await form.getByRole('button', { name: 'Post review' }).click();
    await expectText(form.getByRole('alert'), /Choose a rating from 1 to 5 stars/);
    await focusOn(form.getByRole('radio', { name: '1 star' }), 'the first star has the focus');

    // Stars with the arrow keys (a radio group), then Tab to the title and the text, Enter to send.
    const group = form.getByRole('group', { name: 'Your rating' });
    t.is(await group.getByRole('radio').count(), 5);
    for (let presses = 0; presses < 3; presses++) await page.keyboard.press('ArrowRight');
    t.true(await form.getByRole('radio', { name: '4 stars' }).isChecked());
    await form.getByRole('alert').waitFor({ state: 'detached' });
    await page.keyboard.press('Tab');
    await focusOn(form.getByLabel('Title'), 'Tab leaves the radio group for the title');
    await page.keyboard.type('Clear sound, warm wood');
    await page.keyboard.press('Tab');
    await page.keyboard.type('It sits on the kitchen shelf and plays all day.');
    await accessible(t, page, 'the product page with the review form open');
    await screenshot(page, 'storefront-review');
    await form.getByLabel('Title').press('Enter');

    // Posted: the customer's own review with Edit and Delete, listed, the average moved.
    const mine = page.getByTestId('my-review');
    await expectText(mine, /Clear sound, warm wood/);
    await expectText(page.getByTestId('review-note'), /your review is posted/);
    await focusOn(mine.getByRole('heading', { name: 'Your review' }), 'the focus moved to the review');
    await reviewItem(page, 'Clear sound, warm wood').waitFor();
    await expectText(page.getByTestId('rating-summary'), /4\.0.*\(1 rating\)/);
    t.is(
      await reviewItem(page, 'Clear sound, warm wood')
        .getByRole('button', { name: /Helpful/ })
        .count(),
      0,
      'no vote on one’s own review',
    );

    // The guest's page of the same product: the new average and the review, live, without a reload.
    await expectText(watcherSummary, /4\.0.*\(1 rating\)/);
    await reviewItem(watcher, 'Clear sound, warm wood').waitFor();
    await expectText(reviewItem(watcher, 'Clear sound, warm wood'), /by Ada L\./);
    t.true(await stillSameDocument(watcher), 'the guest’s page never reloaded');

    // Edited: fewer stars and a new title; both pages follow.
    await mine.getByRole('button', { name: 'Edit review' }).click();
    const edit = page.getByRole('form', { name: 'Edit your review' });
    t.is(await edit.getByLabel('Title').inputValue(), 'Clear sound, warm wood', 'the form holds the review');
    t.true(await edit.getByRole('radio', { name: '4 stars' }).isChecked());
    await edit.getByRole('radio', { name: '2 stars' }).check();
    await edit.getByLabel('Title').fill('Clear sound, but it hums');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await expectText(page.getByTestId('review-note'), /Your review is saved/);
    await expectText(mine, /Clear sound, but it hums/);
    await expectText(page.getByTestId('rating-summary'), /2\.0.*\(1 rating\)/);
    await expectText(watcherSummary, /2\.0.*\(1 rating\)/);
    await reviewItem(watcher, 'Clear sound, but it hums').waitFor();
    t.true(await stillSameDocument(watcher));

    // Another customer (no order of it) is told why they cannot review, and votes the review helpful: once.
    const bob = await registerCustomer(app.url, 'Bob Builder');
    const voter = await openStore(t, browser, app, hash, bob.token);
    await expectText(voter.getByTestId('review-refusal'), /^Only customers who received this product can review it/);
    t.is(await voter.getByRole('button', { name: 'Write a review' }).count(), 0);
    const voted = reviewItem(voter, 'Clear sound, but it hums');
    const helpful = voted.getByRole('button', { name: /Helpful/ });
    await helpful.click();
    await expectText(voted.getByTestId('helpful-count'), /^1 person found this helpful$/);
    await expectText(voted.getByTestId('vote-note'), /Thank you for your vote/);
    await screenshot(voter, 'storefront-review-voted');
    t.is(await voted.getByRole('button', { name: /You voted: helpful/ }).getAttribute('aria-disabled'), 'true', 'the button is off once used');
    // Pressed again: nothing is sent (the button is off), the count stays.
    await voted.getByRole('button', { name: /You voted: helpful/ }).click({ force: true });
    await expectText(voted.getByTestId('helpful-count'), /^1 person found this helpful$/);
    // After a reload the page does not know; the store refuses the second vote and the count stays.
    await voter.reload();
    await voter.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
    await expectText(reviewItem(voter, 'Clear sound, but it hums').getByTestId('helpful-count'), /^1 person found this helpful$/);
    await reviewItem(voter, 'Clear sound, but it hums')
      .getByRole('button', { name: /Helpful/ })
      .click();
    await expectText(reviewItem(voter, 'Clear sound, but it hums').getByTestId('vote-note'), /You have already voted for this review/);
    t.is((await listedReviews(app, product.id))[0]?.helpful, 1, 'one vote counted');

    // Deleted, after a confirmation: gone from both pages, and the customer may write one again.
    await mine.getByRole('button', { name: 'Delete review' }).click();
    await focusOn(mine.getByRole('button', { name: 'Keep it' }), 'the safe answer has the focus');
    await mine.getByRole('button', { name: 'Keep it' }).click();
    await mine.getByRole('button', { name: 'Delete review' }).click();
    await mine.getByRole('group', { name: /Delete your review\?/ }).waitFor();
    await mine.getByRole('button', { name: 'Yes, delete it' }).click();
    await expectText(page.getByTestId('review-note'), /Your review is deleted/);
    await page.getByRole('button', { name: 'Write a review' }).waitFor();
    await expectText(page.getByTestId('rating-summary'), /No ratings yet/);
    await expectText(watcherSummary, /No ratings yet/);
    await reviewItem(watcher, 'Clear sound, but it hums').waitFor({ state: 'detached' });
    t.deepEqual(await listedReviews(app, product.id), []);
    t.true(await stillSameDocument(watcher));

    // The guest follows "Sign in to write a review", creates an account, comes back to the product, and is told why
    // (no delivered order yet).
    await watcher.getByRole('link', { name: 'Sign in to write a review' }).click();
    const register = watcher.getByRole('form', { name: 'Create an account' });
    await register.getByLabel('Name').fill('Grace Hopper');
    await register.getByLabel('E-mail').fill(`grace-${next()}@example.com`);
    await register.getByLabel('Password').fill('correct horse battery');
    await register.getByRole('button', { name: 'Create account' }).click();
    await watcher.getByRole('heading', { level: 1, name: product.name }).waitFor();
    await expectText(watcher.getByTestId('review-refusal'), /only customers who received this product can review it/i);
  },
);

test.serial('"tell me when it is back in stock" is remembered across a reload, and so is "stop telling me"', async (t) => {
  t.timeout(180_000);
  const app = await appWithPages(t);
  const product = await createProduct(app.app, { onHand: 0, price: 4_500, name: `Sold Out Sitar ${next()}` });
  const other = await createProduct(app.app, { onHand: 0, price: 4_500, name: `Sold Out Santoor ${next()}` });
  const browser = await browserFor(t);
  const page = await openStore(t, browser, app, `#/product/${product.id}`);
  await expectText(page.getByTestId('stock'), /Sold out/);

  await page.getByRole('button', { name: 'Tell me when it is back in stock' }).click();
  await expectText(page.getByTestId('notify-status'), /We will tell you/);
  await page.getByRole('button', { name: 'Stop telling me' }).waitFor();

  // After a reload the page asks the store, which remembers this shopper asked.
  await page.reload();
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  await page.getByRole('button', { name: 'Stop telling me' }).waitFor();
  await expectText(page.getByTestId('notify-status'), /You asked to be told when it is back/);
  // The same read through the SDK, with the page's own (guest) token.
  const token = await page.evaluate(() => localStorage.getItem('emporium:storefront:token'));
  const store = await connectStore(app.url, { token: token! });
  t.teardown(() => store.close());
  t.deepEqual((await store.read('stock:notifications', {})).productIds, [product.id]);

  // Another sold-out product this shopper did not ask about.
  await page.goto(`${app.url}/#/product/${other.id}`);
  await page.getByRole('heading', { level: 1, name: other.name }).waitFor();
  await page.getByRole('button', { name: 'Tell me when it is back in stock' }).waitFor();
  t.is(await page.getByTestId('notify-status').count(), 0);

  // Withdrawn, and still withdrawn after a reload.
  await page.goto(`${app.url}/#/product/${product.id}`);
  await page.getByRole('button', { name: 'Stop telling me' }).click();
  await expectText(page.getByTestId('notify-status'), /You will not be told/);
  await page.reload();
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  await page.getByRole('button', { name: 'Tell me when it is back in stock' }).waitFor();
  t.deepEqual((await store.read('stock:notifications', {})).productIds, []);
  await accessible(t, page, 'a sold-out product after a reload');
});
