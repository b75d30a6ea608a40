// Test helper for the admin UI: builds it when the build is missing or older than its sources, and starts Debian's
// headless Chromium (driven by playwright-core) with a fresh profile; screenshots go to test-output/screenshots/.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_UI_DIR } from '../../server/paths.js';
import { REPO_ROOT } from './cli.js';
import { tempDir } from './server.js';

export const CHROMIUM = process.env.POSTFACH_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Why the browser tests cannot run here, or null when they can. */
export const NO_CHROMIUM = fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install chromium)`;

export const SCREENSHOTS = path.join(REPO_ROOT, 'test-output', 'screenshots');
const UI_SOURCES = [path.join(REPO_ROOT, 'admin-ui'), path.join(REPO_ROOT, 'server', 'directory', 'password-policy.ts')];
const UI_INDEX = path.join(ADMIN_UI_DIR, 'index.html');

function newestMtime(entry: string): number {
  const stat = fs.statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...fs.readdirSync(entry).filter((name) => name !== 'node_modules').map((name) => newestMtime(path.join(entry, name))));
}

/** Builds the UI (vite) unless dist/admin-ui is newer than every source file (npm test builds it first anyway). */
export function ensureUiBuilt(): void {
  if (fs.existsSync(UI_INDEX) && fs.statSync(UI_INDEX).mtimeMs >= Math.max(...UI_SOURCES.map(newestMtime))) return;
  execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'vite'), ['build', 'admin-ui', '--logLevel', 'warn'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

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
