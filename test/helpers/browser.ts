// Test helper for the admin UI (built by test/global-setup.ts): starts Debian's
// headless Chromium (driven by playwright-core) with a fresh profile; screenshots go to test-output/screenshots/.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from './cli.js';
import { tempDir } from './server.js';

export const CHROMIUM = process.env.POSTFACH_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Why the browser tests cannot run here, or null when they can. */
export const NO_CHROMIUM = fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install chromium)`;

export const SCREENSHOTS = path.join(REPO_ROOT, 'test-output', 'screenshots');

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** console errors (CSP violations among them) and page exceptions seen so far */
  problems: string[];
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Chromium with a new temporary profile, English unless `locale` says otherwise, desktop size. */
export async function launchBrowser(options: { locale?: string } = {}): Promise<TestBrowser> {
  const profile = tempDir('postfach-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    locale: options.locale ?? 'en-US',
    viewport: { width: 1280, height: 900 },
    timezoneId: 'Europe/Berlin'
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // a missing element fails the step quickly instead of running into the test's own timeout
  page.setDefaultTimeout(8000);
  const problems: string[] = [];
  page.on('console', (message) => {
    // the API's 4xx answers (wrong password, lockout) are expected; Chromium logs each one as a failed load
    if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    context,
    page,
    problems,
    async screenshot(name) {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  };
}
