// Test helper for the admin UI (built by test/global-setup.ts): starts Debian's
// headless Chromium (driven by playwright-core) with a fresh profile; screenshots go to test-output/screenshots/.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { beforeEach, expect, onTestFailed } from 'vitest';
import { REPO_ROOT } from './cli.js';
import { tempDir } from './server.js';

export const CHROMIUM = process.env.POSTFACH_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Why the browser tests cannot run here, or null when they can. */
export const NO_CHROMIUM = fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install chromium)`;

export const SCREENSHOTS = path.join(REPO_ROOT, 'test-output', 'screenshots');
/** The page-side half of accessibilityProblems: plain JavaScript, it runs in the browser. */
const AUDIT_SCRIPT = path.join(REPO_ROOT, 'test', 'helpers', 'accessibility-audit.js');

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
      expect(await accessibilityProblems(page), `accessibility of screen "${name}"`).toEqual([]);
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  };
}

/**
 * What a screen reader or keyboard user would trip over on the page as shown, in words: the document's language unset,
 * a visible form control, button or link without an accessible name, an image without alt text, an id used twice
 * (labels then point at the wrong control), a label/aria reference to no element, not exactly one h1, or a heading
 * level skipped on the way down. Every screenshot of a screen runs it.
 */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(${fs.readFileSync(AUDIT_SCRIPT, 'utf8')})()`);
}

/** The steps UI tests share, on the browser's page: headings, polled texts, the status line, navigation, logging in. */
export function uiSteps(browser: () => TestBrowser) {
  const page = () => browser().page;
  return {
    h1: (name: string) => page().getByRole('heading', { level: 1, name, exact: true }),
    /** The text of an element, polled until the expectation holds (the UI changes it asynchronously). */
    textOf: (locator: Locator, timeout = 8000) => expect.poll(() => locator.textContent(), { timeout }),
    /** Waits for the status line (role=status) to announce exactly this. */
    announced: (text: string) => page().getByRole('status').getByText(text, { exact: true }).waitFor(),
    nav: (name: string) => page().getByRole('navigation').getByRole('link', { name, exact: true }),
    /** The error shown at a labelled field (its aria-describedby error line), or null when there is none. */
    fieldError: (label: string) =>
      page()
        .getByLabel(label, { exact: true })
        .evaluate((control) => {
          const error = control.ownerDocument.getElementById(`${control.id}-error`);
          return error && !error.hidden ? error.textContent : null;
        }),
    async login(user: string, password: string): Promise<void> {
      await page().getByLabel('E-mail address').fill(user);
      await page().getByLabel('Password').fill(password);
      await page().getByRole('button', { name: 'Log in' }).click();
    },
    async logout(): Promise<void> {
      await page().getByRole('button', { name: 'Log out' }).click();
      await page().getByRole('heading', { level: 1, name: 'Log in to Postfach', exact: true }).waitFor();
    }
  };
}

/** Registers, for every test of the file: what the page showed when a step failed, next to the other screenshots. */
export function screenshotFailures(browser: () => TestBrowser | undefined): void {
  beforeEach((context) => {
    onTestFailed(() => browser()?.screenshot(`failed-${context.task.name.slice(0, 40).replace(/\W+/g, '-')}`));
  });
}
