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
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
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

/** A fresh browser context (no cookies) with a laptop-sized window; console errors are collected for assertions. */
export async function newContext(browser: Browser, baseUrl: string, options: { width?: number; height?: number } = {}): Promise<BrowserContext & { consoleErrors: string[] }> {
  const context = (await browser.newContext({ baseURL: baseUrl, viewport: { width: options.width ?? 1280, height: options.height ?? 860 } })) as BrowserContext & { consoleErrors: string[] };
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
