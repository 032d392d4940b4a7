import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { ROOT } from './processes';

/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser). The flags keep it off the network it
 * cannot reach on these machines (background services, QUIC, component updates).
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** Screenshots of the main pages, kept as test artifacts (var/screenshots, or SCREENSHOT_DIR). */
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? join(ROOT, 'var', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Every context a browser test has open, for the screenshots taken when a test fails. */
const openContexts = new Set<BrowserContext>();

/**
 * When a test fails (test/support/jest-environment.js calls this before any afterEach closes a page), every open page
 * is saved as var/screenshots/failures/<test>-<n>.png: what the browser showed when the assertion gave up.
 */
(globalThis as { __mserveOnFailure?: (testName: string) => Promise<void> }).__mserveOnFailure = async (testName) => {
  const pages = [...openContexts].flatMap((context) => context.pages());
  if (!pages.length) return;
  const folder = join(SCREENSHOT_DIR, 'failures');
  mkdirSync(folder, { recursive: true });
  const slug = testName.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 80);
  for (const [index, page] of pages.entries()) {
    const path = join(folder, `${slug}-${index + 1}.png`);
    await page.screenshot({ path, fullPage: true, timeout: 10_000 }).then(
      () => console.log(`failure screenshot (${page.url()}): ${path}`),
      () => undefined,
    );
  }
};

/** A fresh browser context (no cookies) with a laptop-sized window; console errors are collected for assertions. */
export async function newContext(
  browser: Browser,
  baseUrl: string,
  options: { width?: number; height?: number } = {},
): Promise<BrowserContext & { consoleErrors: string[] }> {
  const context = (await browser.newContext({
    baseURL: baseUrl,
    viewport: { width: options.width ?? 1280, height: options.height ?? 860 },
  })) as BrowserContext & { consoleErrors: string[] };
  openContexts.add(context);
  context.on('close', () => openContexts.delete(context));
  context.consoleErrors = [];
  context.on('page', (page) => {
    page.on('pageerror', (error) => context.consoleErrors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) context.consoleErrors.push(message.text());
    });
  });
  return context;
}

/** Opens the console with a capability key, as a share link does (`/browse/<key>`), and waits for it to land. */
export async function openWithKey(context: BrowserContext, key: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`/browse/${encodeURIComponent(key)}`);
  await page.waitForURL((url) => !url.pathname.startsWith('/browse'));
  return page;
}

/**
 * The browser contexts one spec file opens, closed together (after each test or after all of them). `browser` and
 * `baseUrl` are read when a context is opened, so the pool can be made before `beforeAll` has started them.
 */
export function contextPool(browser: () => Browser, baseUrl: () => string) {
  const opened: BrowserContext[] = [];
  return {
    open: async (options: { width?: number; height?: number } = {}) => {
      const made = await newContext(browser(), baseUrl(), options);
      opened.push(made);
      return made;
    },
    closeAll: async () => {
      for (const context of opened.splice(0)) await context.close().catch(() => undefined);
    },
  };
}
