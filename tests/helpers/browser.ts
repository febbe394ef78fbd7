// Browser tests: Debian's chromium driven by playwright-core against the real app on port 0, with the pages built
// once per test process. Without chromium the tests skip (saying why), unless REQUIRE_BROWSER is set (.ci/run).
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.ts';
import { eventually, startApp, type TestApp } from './app.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? null : `chromium at ${CHROMIUM} (apt-get install chromium)`;
if (missing && process.env.REQUIRE_BROWSER) throw new Error(`the browser tests need ${missing}`);

/** `test` for browser tests: skips without chromium (unless REQUIRE_BROWSER is set). */
export const test: TestFn = missing
  ? (Object.assign((title: string, ...rest: unknown[]) => (anyTest.skip as (...args: unknown[]) => void)(`${title} (skipped: needs ${missing})`, ...rest), {
      serial: (title: string, ...rest: unknown[]) => (anyTest.skip as (...args: unknown[]) => void)(`${title} (skipped: needs ${missing})`, ...rest),
      skip: anyTest.skip,
      before: () => undefined,
      after: Object.assign(() => undefined, { always: () => undefined }),
    }) as unknown as TestFn)
  : anyTest;

let built: Promise<string> | undefined;
/** The pages, built once per test process into a temporary folder. */
export function webDir(): Promise<string> {
  built ??= buildWeb(path.join(os.tmpdir(), `emporium-web-${process.pid}`), { minify: false });
  return built;
}

/** The app with its pages and the demo catalog, stopped when the test ends. */
export async function appWithPages(t: ExecutionContext, config: Parameters<typeof startApp>[0] = {}): Promise<TestApp> {
  const app = await startApp({ ...config, config: { webDir: await webDir(), seedDemoData: true, ...config.config } });
  t.teardown(() => app.stop());
  return app;
}

/** A headless chromium, closed when the test ends; page errors and failed requests fail the test. */
export async function browserFor(t: ExecutionContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  t.teardown(() => browser.close());
  return browser;
}

/** A fresh context (its own storage: another visitor) with a page that reports script errors to the test. */
export async function pageIn(
  t: ExecutionContext,
  browser: Browser,
  options: { viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  // bypassCSP: only so axe-core can be injected; the pages themselves run under their real policy otherwise.
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  page.on('pageerror', (error) => t.fail(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource|WebSocket/.test(message.text())) t.log(`console error: ${message.text()}`);
  });
  return { context, page };
}

/** Writes a screenshot under test-artifacts/screenshots/ (not committed) for a person to look at. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = path.join(import.meta.dirname, '../../test-artifacts/screenshots');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

const axeSource = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Runs axe-core on the page; serious and critical violations fail the test (each named with its nodes). */
export async function accessible(t: ExecutionContext, page: Page, what: string): Promise<void> {
  await page.addScriptTag({ path: axeSource });
  const result = (await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<unknown> } }).axe;
    return axe.run(document, { resultTypes: ['violations'] });
  })) as { violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }> };
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  t.deepEqual(
    serious.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`),
    [],
    `accessibility of ${what}`,
  );
}

/** Waits until `check` holds (the harness's `eventually`, with the browser tests' generous default). */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  await eventually(check, what, timeoutMs, 50);
}
