// The admin UI in headless Chromium against a real Postfach (HTTP, MX and IMAP on loopback): first-start setup, login
// errors and lockout, a domain with its DNS records and live check, accounts, a forward and a catch-all, a test mail, a
// password reset by an admin user, deactivation and deletion, German and phone width; each step checked through the
// API and, for mail, by sending over SMTP and reading over IMAP. Screenshots land in test-output/screenshots/.
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import type { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, PASSWORD, type TestServer } from '../helpers/server.js';
import { AdminClient, apiBase } from '../helpers/admin-api.js';
import { connectImapFlow } from '../helpers/imapflow-client.js';
import type { Locator } from 'playwright-core';
import { accessibilityProblems, launchBrowser, NO_CHROMIUM, screenshotFailures, uiSteps, type TestBrowser } from '../helpers/browser.js';

const OWNER = 'chefin@firma.de';
const ADMIN = 'it@firma.de';
const ADMIN_PASSWORD = 'Admin-Passwort-77';
const RESET_PASSWORD = 'Neues-Passwort-2026';

let server: TestServer;
let browser: TestBrowser;
let base: string;
/** the owner's API client, to check what the UI did */
let api: AdminClient;
/** the password the UI generated for buchhaltung@ */
let generated = '';
const open: ImapFlow[] = [];

const page = () => browser.page;
const { h1, textOf, announced, nav, login, logout } = uiSteps(() => browser);
/** A DNS record's card on the domain page, by its heading. */
const card = (kind: string) => page().locator('article.record').filter({ has: page().getByRole('heading', { name: kind }) });
const statusOf = async (kind: string) => (await card(kind).locator('h3 .badge').textContent())?.trim();
/** A record card's fields as label -> value (the value's code text, without the copy button). */
const fieldsOf = (record: Locator) =>
  record.evaluate((el) => Object.fromEntries([...el.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling!.querySelector('code')!.textContent])));
const REQUIRED_KINDS = ['Mail server (MX)', 'Allowed senders (SPF)', 'Signature key (DKIM)', 'Policy (DMARC)', 'Ownership proof'];

async function deliver(to: string, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp, secure: false, ignoreTLS: true, name: 'peer.sender.test' });
  try {
    await transport.sendMail({ envelope: { from: 'peer@sender.test', to: [to] }, raw: `From: peer@sender.test\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@sender.test>\r\n\r\nHallo.\r\n` });
  } finally {
    transport.close();
  }
}

/** Subjects in the INBOX, read over IMAP with the account's password. */
async function inboxSubjects(address: string, password: string): Promise<string[]> {
  const client = await connectImapFlow(server.ports.imap!, address, open, { auth: { user: address, pass: password } });
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const subjects: string[] = [];
      if ((client.mailbox && client.mailbox.exists) || 0) for await (const m of client.fetch('1:*', { envelope: true })) subjects.push(m.envelope?.subject ?? '');
      return subjects;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

async function imapLoginWorks(address: string, password: string): Promise<boolean> {
  try {
    await inboxSubjects(address, password);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(NO_CHROMIUM !== null)(NO_CHROMIUM ? `admin UI (skipped: ${NO_CHROMIUM})` : 'admin UI in Chromium', () => {
  beforeAll(async () => {
    server = await startServer({
      overrides: { 'http.port': 0, 'imap.port': 0, 'imaps.port': 0, 'submission.port': 0, 'submissions.port': 0 },
      zone: {
        // MX right, SPF not naming this server, DKIM and ownership missing, DMARC present
        'firma.de': [{ type: 'MX', exchange: 'mx.postfach.test', priority: 10 }, { type: 'TXT', data: 'v=spf1 a:other.example -all' }],
        '_dmarc.firma.de': [{ type: 'TXT', data: 'v=DMARC1; p=none' }],
        // of the optional records: autoconfig right, autodiscover pointing elsewhere, the IMAPS SRV record (below) right
        'autoconfig.firma.de': [{ type: 'CNAME', target: 'mx.postfach.test' }],
        'autodiscover.firma.de': [{ type: 'CNAME', target: 'autodiscover.outlook.com' }]
      }
    });
    server.dns.set('_imaps._tcp.firma.de', [{ type: 'SRV', priority: 0, weight: 1, port: server.ports.imaps!, target: 'mx.postfach.test' }]);
    base = apiBase(server);
    browser = await launchBrowser();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  });

  screenshotFailures(() => browser);

  afterAll(async () => {
    await Promise.all(open.map((c) => c.logout().catch(() => undefined)));
    await browser?.close();
    await server?.close();
  });

  it('serves the page with a strict Content-Security-Policy and hashed assets cached for good', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'; style-src 'self'/);
    const html = await response.text();
    expect(html).not.toMatch(/<script>|<style>|https?:\/\//);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    const script = await fetch(base + asset);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    // the API and unknown paths are not shadowed by the UI
    expect((await fetch(`${base}/api/v1/nothing`)).status).toBe(404);
    expect((await fetch(`${base}/accounts`)).status).toBe(404);
  });

  it('creates the owner through the one-time setup link, with the password rules shown live', async () => {
    await page().goto(`${base}/setup#token=${server.app.setupToken}`);
    await h1('Set up Postfach').waitFor();
    await page().getByLabel("Owner's e-mail address").fill(OWNER);
    const password = page().getByLabel('Password', { exact: true });
    await password.fill('kurz');
    await expect.poll(() => page().locator('.rules li.unmet').allTextContents()).toEqual(['✗At least 10 characters (not fulfilled yet)', '✗Letters and at least one digit or symbol (not fulfilled yet)']);
    await browser.screenshot('setup');
    await password.fill(PASSWORD);
    expect(await page().locator('.rules li.unmet').count()).toBe(0);
    await page().getByRole('button', { name: 'Create owner' }).click();
    await h1('Domains').waitFor();
    await announced('The owner is created and logged in. Next: add your domain.');
    // the spent token is gone from the address bar
    expect(page().url()).toBe(`${base}/#/domains`);
    api = new AdminClient(base);
    expect((await api.login(OWNER, PASSWORD)).status).toBe(200);
    expect((await api.get('/api/v1/admins')).body.admins).toMatchObject([{ login: OWNER, role: 'owner' }]);
  });

  it('tells a wrong password and a locked login apart in plain words', async () => {
    await logout();
    await textOf(page().locator('.notice')).toBe('You are logged out.');
    await login(OWNER, 'Falsches-Passwort-1');
    await textOf(page().getByRole('alert')).toBe('Wrong e-mail address or password.');
    await browser.screenshot('login-wrong-password');
    // five failures for one login lock it (sent at once, so the growing delays overlap)
    const guesser = new AdminClient(base);
    await Promise.all(Array.from({ length: 5 }, (_, i) => guesser.post('/api/v1/session', { login: 'gast@firma.de', password: `Versuch-${i}-abc` })));
    await login('gast@firma.de', 'Noch-ein-Versuch-9');
    await textOf(page().getByRole('alert')).toBe('Too many failed logins. Wait 15 minutes, then try again.');
    await login(OWNER, PASSWORD);
    await h1('Domains').waitFor();
  });

  it('adds a domain and shows the DNS records with copy buttons and a live check saying what to change', async () => {
    await page().getByLabel('Domain name').fill('Firma.DE');
    await page().getByRole('button', { name: 'Add domain' }).click();
    await h1('firma.de').waitFor();
    const expected = (await api.get('/api/v1/domains/firma.de')).body.records as Array<{ kind: string; value: string }>;
    // the five records mail needs first, then the optional ones for mail programs in their own group
    expect(await page().locator('.records.required article.record h3 .kind').allTextContents()).toEqual(REQUIRED_KINDS);
    expect(await page().locator('.records.optional article.record h3 .kind').allTextContents()).toEqual([
      'Settings for Thunderbird (autoconfig)',
      'Settings for Outlook (autodiscover)',
      'IMAP with SSL/TLS (SRV)',
      'IMAP with STARTTLS (SRV)',
      'POP3 with SSL/TLS (SRV)',
      'POP3 with STARTTLS (SRV)',
      'Sending (SMTP) with SSL/TLS (SRV)',
      'Sending (SMTP) with STARTTLS (SRV)'
    ]);
    await page().getByRole('heading', { level: 2, name: 'Optional: automatic setup of mail programs' }).waitFor();
    // SRV as providers' forms ask for it, and as one zone-file line
    const imapsLine = `_imaps._tcp.firma.de. 3600 IN SRV 0 1 ${server.ports.imaps} mx.postfach.test.`;
    expect(await fieldsOf(card('IMAP with SSL/TLS (SRV)'))).toEqual({
      Type: 'SRV',
      Name: '_imaps._tcp.firma.de',
      Priority: '0',
      Weight: '1',
      Port: String(server.ports.imaps),
      Target: 'mx.postfach.test',
      'Zone file line': imapsLine
    });
    // POP3 is off on this server: published with the target "." (not offered)
    expect(await fieldsOf(card('POP3 with SSL/TLS (SRV)'))).toMatchObject({ Port: '0', Target: '.', 'Zone file line': '_pop3s._tcp.firma.de. 3600 IN SRV 0 0 0 .' });
    await page().getByRole('button', { name: 'Copy zone file line of the IMAP with SSL/TLS (SRV) record' }).click();
    expect(await page().evaluate<string>('navigator.clipboard.readText()')).toBe(imapsLine);
    await page().getByRole('button', { name: 'Copy value of the Signature key (DKIM) record' }).click();
    expect(await page().evaluate<string>('navigator.clipboard.readText()')).toBe(expected.find((r) => r.kind === 'DKIM')!.value);
    await page().locator('.check-summary .notice').waitFor();
    expect(await statusOf('Mail server (MX)')).toBe('OK');
    expect(await statusOf('Allowed senders (SPF)')).toBe('wrong');
    expect(await statusOf('Signature key (DKIM)')).toBe('missing');
    expect(await statusOf('Policy (DMARC)')).toBe('OK');
    expect(await statusOf('Ownership proof')).toBe('missing');
    await textOf(card('Allowed senders (SPF)').locator('.check-result')).toBe(
      'There is an SPF record, but it does not allow this server. Add "mx" before "-all" (or "~all"), for example: v=spf1 mx -allFound: v=spf1 a:other.example -all'
    );
    await textOf(page().locator('.check-summary').first()).toMatch(/^2 of 5 records are right/);
    // optional records: set right, set wrong, and not set, which is a suggestion rather than an error
    expect(await statusOf('Settings for Thunderbird (autoconfig)')).toBe('OK');
    expect(await statusOf('IMAP with SSL/TLS (SRV)')).toBe('OK');
    expect(await statusOf('Settings for Outlook (autodiscover)')).toBe('wrong');
    await textOf(card('Settings for Outlook (autodiscover)').locator('.check-result')).toBe(
      'autodiscover.firma.de points elsewhere (autodiscover.outlook.com), so mail programs would ask another server for their settings. Make it a CNAME for mx.postfach.test.Found: autodiscover.outlook.com'
    );
    expect(await statusOf('IMAP with STARTTLS (SRV)')).toBe('not set (optional)');
    expect(await card('IMAP with STARTTLS (SRV)').getAttribute('class')).toBe('record unset');
    expect(await card('Signature key (DKIM)').getAttribute('class')).toBe('record missing');
    await textOf(card('IMAP with STARTTLS (SRV)').locator('.check-result')).toBe('Not set. Mail works without it; mail programs that look for it ask the user for the settings instead.');
    await textOf(page().locator('.check-summary').last()).toBe('2 of 8 optional records are set. Missing ones do not affect mail.');
    await browser.screenshot('domain-dns');
    // the owner fixes SPF at the DNS provider and checks again
    server.dns.set('firma.de', [{ type: 'MX', exchange: 'mx.postfach.test', priority: 10 }, { type: 'TXT', data: 'v=spf1 mx -all' }]);
    await page().getByRole('button', { name: 'Check again' }).click();
    await expect.poll(() => statusOf('Allowed senders (SPF)'), { timeout: 8000 }).toBe('OK');
    expect((await api.get('/api/v1/domains')).body.domains).toMatchObject([{ name: 'firma.de', accounts: 0 }]);
  });

  it('creates info@ and buchhaltung@: lower case as typed, rules live, a generated password, a quota', async () => {
    await nav('Accounts').click();
    await h1('Accounts').waitFor();
    await page().getByRole('link', { name: 'New account' }).click();
    await h1('Create an account').waitFor();
    const local = page().getByLabel('Address', { exact: true });
    await local.pressSequentially('Info');
    expect(await local.inputValue()).toBe('info');
    await page().getByLabel('Display name').fill('Firma Info');
    await page().getByLabel('Password', { exact: true }).fill('info-1234567');
    await textOf(page().locator('.rules li.unmet')).toContain('Does not contain the mailbox name');
    await page().getByLabel('Password', { exact: true }).fill(PASSWORD);
    await browser.screenshot('account-new');
    await page().getByRole('button', { name: 'Create account' }).click();
    await h1('info@firma.de').waitFor();

    await page().goto(`${base}/#/accounts/new`);
    await h1('Create an account').waitFor();
    await local.pressSequentially('BuchHaltung');
    await page().getByLabel('Display name').fill('Buchhaltung');
    await page().getByRole('button', { name: 'Generate password' }).click();
    generated = await page().getByLabel('Password', { exact: true }).inputValue();
    expect(generated).toMatch(/^([a-zA-Z2-9]{4}-){3}[a-zA-Z2-9]{4}$/);
    expect(await page().locator('.rules li.met').count()).toBe(4);
    await page().getByLabel('Storage limit').fill('50');
    await page().getByRole('button', { name: 'Create account' }).click();
    await h1('buchhaltung@firma.de').waitFor();
    await announced('Account buchhaltung@firma.de created.');

    const accounts = (await api.get('/api/v1/accounts')).body.accounts;
    expect(accounts).toMatchObject([
      { address: 'buchhaltung@firma.de', displayName: 'Buchhaltung', active: true, quota: 50 * 1024 * 1024 },
      { address: 'info@firma.de', displayName: 'Firma Info', active: true, quota: 0 }
    ]);
    await deliver('info@firma.de', 'Hallo Info');
    await deliver('buchhaltung@firma.de', 'Rechnung 1');
    expect(await inboxSubjects('info@firma.de', PASSWORD)).toEqual(['Hallo Info']);
    expect(await inboxSubjects('buchhaltung@firma.de', generated)).toEqual(['Rechnung 1']);

    await nav('Accounts').click();
    await page().getByRole('link', { name: 'info@firma.de' }).waitFor();
    await browser.screenshot('accounts');
  });

  it('sets a forward that keeps a copy and a catch-all for the domain', async () => {
    await nav('Aliases & forwards').click();
    await h1('Aliases & forwards').waitFor();
    await page().getByLabel('Address', { exact: true }).fill('buchhaltung@firma.de');
    await page().getByLabel('Forward to').fill('info@firma.de');
    expect(await page().getByRole('switch', { name: 'Keep a copy', exact: true }).isChecked()).toBe(true);
    await page().getByRole('button', { name: 'Add forward' }).click();
    await announced('Forward for buchhaltung@firma.de saved.');
    await page().getByLabel('Catch-all for firma.de').selectOption('info@firma.de');
    await page().getByRole('button', { name: 'Save' }).click();
    await announced('Catch-all of firma.de goes to info@firma.de.');
    await textOf(page().locator('section').filter({ hasText: 'Catch-all' }).last()).toContain('match nothing else');
    await browser.screenshot('addresses');

    expect((await api.get('/api/v1/forwards')).body.forwards).toEqual([{ source: 'buchhaltung@firma.de', destinations: ['info@firma.de'], keepCopy: true }]);
    expect((await api.get('/api/v1/domains/firma.de')).body.domain.catchAll).toBe('info@firma.de');
    await deliver('buchhaltung@firma.de', 'Rechnung 2');
    await deliver('wer-auch-immer@firma.de', 'Vertippt');
    expect(await inboxSubjects('buchhaltung@firma.de', generated)).toEqual(['Rechnung 1', 'Rechnung 2']);
    expect(await inboxSubjects('info@firma.de', PASSWORD)).toEqual(['Hallo Info', 'Rechnung 2', 'Vertippt']);
  });

  it('shows the mail client settings and a test mail that arrives in the INBOX', async () => {
    await page().goto(`${base}/#/accounts/info%40firma.de/setup`);
    await h1('Mail program setup for info@firma.de').waitFor();
    const imap = page().locator('article.record').filter({ hasText: 'IMAP · STARTTLS' });
    await textOf(imap).toContain(String(server.ports.imap));
    await textOf(imap).toContain('mx.postfach.test');
    await page().getByRole('button', { name: 'Send test mail' }).click();
    await textOf(page().locator('.test-result .notice.ok')).toMatch(/^Arrived at .* in the folder INBOX/);
    await browser.screenshot('client-setup');
    expect(await inboxSubjects('info@firma.de', PASSWORD)).toContain('Postfach: Testnachricht / test message');
    expect((await api.get('/api/v1/audit?target=info@firma.de')).body.entries.map((e: { action: string }) => e.action)).toContain('account.test-mail');
  });

  it('an admin user resets a password and sees no owner-only controls', async () => {
    await nav('Admin users').click();
    await h1('Admin users').waitFor();
    await page().getByLabel('Login (e-mail address)').fill(ADMIN);
    await page().getByLabel('Role').selectOption('admin');
    await page().getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page().getByRole('button', { name: 'Add admin user' }).click();
    await page().getByRole('cell', { name: ADMIN, exact: true }).waitFor();
    await browser.screenshot('admins');

    await logout();
    await login(ADMIN, ADMIN_PASSWORD);
    await h1('Domains').waitFor();
    expect(await page().getByRole('navigation').getByRole('link').allTextContents()).toEqual(['Domains', 'Accounts', 'Aliases & forwards']);
    await nav('Accounts').click();
    await page().getByRole('link', { name: 'buchhaltung@firma.de' }).click();
    await h1('buchhaltung@firma.de').waitFor();
    expect(await page().getByRole('link', { name: 'New account' }).count()).toBe(0);
    expect(await page().getByRole('button', { name: /Delete account|Deactivate/ }).count()).toBe(0);
    await page().getByRole('textbox', { name: 'New password' }).fill(RESET_PASSWORD);
    await page().getByRole('button', { name: 'Set password' }).click();
    await announced('New password for buchhaltung@firma.de set.');
    await browser.screenshot('account-as-admin');
    expect(await imapLoginWorks('buchhaltung@firma.de', RESET_PASSWORD)).toBe(true);
    expect(await imapLoginWorks('buchhaltung@firma.de', generated)).toBe(false);
    const audit = (await api.get('/api/v1/audit?target=buchhaltung@firma.de')).body.entries;
    expect(audit[0]).toMatchObject({ actor: ADMIN, action: 'account.passwd' });
    // an owner-only page is refused in words, not with a blank page
    await page().goto(`${base}/#/audit`);
    await textOf(page().getByRole('alert')).toBe('Your role may not do this. Ask the owner.');
  });

  it('the owner deactivates an account, then deletes it after two confirmations', async () => {
    await logout();
    await login(OWNER, PASSWORD);
    await h1('Domains').waitFor();
    await page().goto(`${base}/#/accounts/buchhaltung%40firma.de`);
    await h1('buchhaltung@firma.de').waitFor();
    await page().getByRole('button', { name: 'Deactivate' }).click();
    await page().getByRole('dialog').getByRole('button', { name: 'Deactivate' }).click();
    await announced('buchhaltung@firma.de is deactivated.');
    expect((await api.get('/api/v1/accounts/buchhaltung@firma.de')).body.account.active).toBe(false);
    await expect(deliver('buchhaltung@firma.de', 'Abgewiesen')).rejects.toMatchObject({ response: '550 5.2.1 Recipient address rejected: mailbox disabled' });

    await page().getByRole('button', { name: 'Delete account …' }).click();
    const dialog = page().getByRole('dialog');
    await textOf(dialog).toContain('All mail in buchhaltung@firma.de is lost: 2 messages (');
    await browser.screenshot('delete-first');
    await dialog.getByRole('button', { name: 'Continue' }).click();
    await textOf(dialog.getByRole('heading')).toBe('Really delete it, with all mail?');
    const final = dialog.getByRole('button', { name: 'Delete account and all mail' });
    expect(await final.isDisabled()).toBe(true);
    await dialog.getByLabel('To confirm, type: buchhaltung@firma.de').fill('buchhaltung@firma.de');
    await browser.screenshot('delete-second');
    await final.click();
    await h1('Accounts').waitFor();
    await announced('buchhaltung@firma.de deleted (2 messages).');
    expect((await api.get('/api/v1/accounts/buchhaltung@firma.de')).status).toBe(404);
    // the forward went with it; mail to the address now reaches the catch-all
    await deliver('buchhaltung@firma.de', 'Nach dem Löschen');
    expect(await inboxSubjects('info@firma.de', PASSWORD)).toContain('Nach dem Löschen');

    await nav('Audit log').click();
    await page().getByRole('cell', { name: 'Account deleted' }).waitFor();
    await browser.screenshot('audit');
  });

  it('merges an account into another after a confirmation naming both', async () => {
    await api.post('/api/v1/accounts', { address: 'alt@firma.de', password: PASSWORD });
    await deliver('alt@firma.de', 'Altes Postfach');
    await page().goto(`${base}/#/accounts/alt%40firma.de`);
    await h1('alt@firma.de').waitFor();
    await page().getByRole('combobox', { name: 'Merge into' }).selectOption('info@firma.de');
    await page().getByRole('button', { name: 'Merge …' }).click();
    const dialog = page().getByRole('dialog');
    await textOf(dialog).toContain('All mail of alt@firma.de (1 message) moves into info@firma.de.');
    await dialog.getByRole('button', { name: 'Merge alt@firma.de into info@firma.de' }).click();
    await h1('info@firma.de').waitFor();
    await announced('alt@firma.de merged into info@firma.de.');
    expect((await api.get('/api/v1/accounts/alt@firma.de')).status).toBe(404);
    expect((await api.get('/api/v1/accounts/info@firma.de')).body.aliases).toEqual(['alt@firma.de']);
    expect(await inboxSubjects('info@firma.de', PASSWORD)).toContain('Altes Postfach');
  });

  it('speaks German when chosen (kept across reloads), fits a phone screen, and sends an ended session to the login', async () => {
    await page().getByLabel('Language').selectOption('de');
    await textOf(page().getByRole('navigation').getByRole('link').nth(1)).toBe('Postfächer');
    await page().reload();
    await nav('Postfächer').waitFor();
    await page().setViewportSize({ width: 375, height: 812 });
    // the domain page in German: required records first, the optional group apart, an unset optional record not an error
    await page().goto(`${base}/#/domains/firma.de`);
    await page().getByRole('heading', { level: 2, name: 'Erforderlich: DNS-Einträge für Empfang und Versand' }).waitFor();
    await page().getByRole('heading', { level: 2, name: 'Optional: automatische Einrichtung von Mailprogrammen' }).waitFor();
    expect(await page().locator('.records.required article.record h3 .kind').allTextContents()).toEqual(['Mailserver (MX)', 'Erlaubte Absender (SPF)', 'Signaturschlüssel (DKIM)', 'Richtlinie (DMARC)', 'Inhabernachweis']);
    await expect.poll(() => statusOf('IMAP mit STARTTLS (SRV)'), { timeout: 8000 }).toBe('nicht gesetzt (optional)');
    expect(await statusOf('Signaturschlüssel (DKIM)')).toBe('fehlt');
    expect(Object.keys(await fieldsOf(card('IMAP mit SSL/TLS (SRV)')))).toEqual(['Typ', 'Name', 'Priorität', 'Gewichtung', 'Port', 'Ziel', 'Zeile für die Zonendatei']);
    await textOf(page().locator('.check-summary').last()).toBe('2 von 8 optionalen Einträgen sind gesetzt. Fehlende beeinträchtigen den E-Mail-Verkehr nicht.');
    await browser.screenshot('domain-dns-de');
    for (const [route, title, shot] of [
      ['#/accounts', 'Postfächer', 'phone-accounts'],
      ['#/domains/firma.de', 'firma.de', 'phone-domain'],
      ['#/accounts/info%40firma.de', 'info@firma.de', 'phone-account'],
      ['#/accounts/info%40firma.de/setup', 'Mailprogramm einrichten für info@firma.de', 'phone-client-setup'],
      ['#/addresses', 'Aliase & Weiterleitungen', 'phone-addresses']
    ] as const) {
      await page().goto(`${base}/${route}`);
      await h1(title).waitFor();
      await browser.screenshot(shot);
      // nothing wider than the screen: no sideways scrolling
      expect(await page().evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    }
    await page().getByRole('button', { name: 'Menü' }).click();
    await page().getByRole('link', { name: 'Postfächer' }).waitFor();
    await browser.screenshot('phone-menu');
    await page().setViewportSize({ width: 1280, height: 900 });
    await page().goto(`${base}/#/accounts/info%40firma.de`);
    await h1('info@firma.de').waitFor();
    await browser.screenshot('account-de');
    // the session ends on the server (expiry, password reset elsewhere): the next request leads to the login page
    await server.app.services.db.deleteFrom('admin_sessions').execute();
    await nav('Postfächer').click();
    await h1('Bei Postfach anmelden').waitFor();
    await textOf(page().locator('.notice')).toBe('Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.');
    expect(browser.problems).toEqual([]);
  });

  it('audits every screenshot for accessibility: the audit finds each kind of problem on a page that has them', async () => {
    const probe = await browser.context.newPage();
    try {
      await probe.setContent(`<html><body>
        <h1>One</h1><h1>Two</h1><h3>Skipped</h3>
        <input id="a"><input id="a" aria-label="Named"><label for="gone">Label</label>
        <button></button><button aria-describedby="nowhere">Go</button><a href="#x"><img src="x.png"></a>
        <input type="hidden"><button hidden></button><div hidden><input></div></body></html>`);
      expect(await accessibilityProblems(probe)).toEqual([
        'the document has no lang',
        'no accessible name: <input id="a">',
        'no accessible name: <button>',
        'no accessible name: <a>',
        'image without alt: x.png',
        'id used twice: a',
        'label for a missing control: gone',
        'aria-describedby points at a missing element: <button>Go -> nowhere',
        '2 visible h1 headings (one expected)',
        'heading level skipped: h1 -> <h3>Skipped (h3)'
      ]);
      await probe.setContent(`<html lang="de"><body><h1>Eins</h1><h2>Zwei</h2><label for="b">Name</label><input id="b"><button>Los</button><a href="#y"><img src="y.png" alt="Logo"></a></body></html>`);
      expect(await accessibilityProblems(probe)).toEqual([]);
    } finally {
      await probe.close();
    }
  });
});
