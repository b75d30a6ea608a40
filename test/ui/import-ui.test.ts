// The import screen in headless Chromium: a second Postfach plays the old provider (German folder names, flags, dates,
// one message too large for this server). The owner gets errors at the field that is wrong, loads the folders, sees
// the proposed mapping and changes it, starts, follows the progress to done, turns the sync on (the page polls only
// while it is shown), stops, resumes and deletes the job; the mail is then read over IMAP from the target account.
import crypto from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, ADMIN_PASSWORD, OWNER, adminClients, apiBase, type AdminClient } from '../helpers/admin-api.js';
import { launchBrowser, NO_CHROMIUM, screenshotFailures, uiSteps, type TestBrowser } from '../helpers/browser.js';
import { connectImapFlow } from '../helpers/imapflow-client.js';
import { fillMailbox, remoteFolder, sourceMessage, type SourceMessage } from '../helpers/import-source.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const OLD = 'info@alt-firma.de';
const NEW = 'info@firma.de';
const JOB_TITLE = `Import from ${OLD} at 127.0.0.1`;

let source: TestServer;
let target: TestServer;
let browser: TestBrowser;
let base: string;
let owner: AdminClient;
let jobId = 0;
/** the old provider behind a proxy that can slow it down, so the test sees the import in the middle */
let slow: TcpProxy;
const open: ImapFlow[] = [];

const day = (d: number) => new Date(Date.UTC(2019, 0, d, 9, 15, 0));
/** larger than the target's imap.appendLimit (20000): listed as a failure, the rest goes on */
const tooLarge = sourceMessage('Pläne (groß)', { flags: ['\\Seen'], date: day(6), bodyBytes: 30_000 });
const folders: Record<string, SourceMessage[]> = {
  INBOX: [
    sourceMessage('Angebot Müller', { flags: ['\\Seen'], date: day(3) }),
    sourceMessage('Rückfrage Lieferung', { flags: ['\\Seen', '\\Answered', '\\Flagged'], date: day(4) }),
    sourceMessage('Neue Anfrage', { date: day(5) }),
    tooLarge
  ],
  'Gesendete Elemente': [sourceMessage('Antwort an Müller', { flags: ['\\Seen'], date: day(7) })],
  Entwürfe: [sourceMessage('Entwurf Angebot', { flags: ['\\Draft'], date: day(8) })],
  Papierkorb: [sourceMessage('Alter Kram', { flags: ['\\Seen'], date: day(9) })],
  'Posteingang/Kunden': [sourceMessage('Kunde A', { flags: ['\\Seen'], date: day(10) })]
};

const page = () => browser.page;
const { h1, textOf, announced, fieldError, login, logout } = uiSteps(() => browser);
const mapSelect = (remote: string) => page().getByLabel(`Import ${remote} into`, { exact: true });
const chosen = (remote: string) => mapSelect(remote).evaluate((select) => (select as unknown as { selectedOptions: Array<{ textContent: string }> }).selectedOptions[0].textContent);
const mappingRow = (remote: string) => page().locator('table.list tr').filter({ has: page().getByText(remote, { exact: true }) });
const stateBadge = () => page().locator('.job-state .badge');

/** Screenshots at desktop and phone width; the phone one must not scroll sideways. */
async function screenshots(name: string): Promise<void> {
  await browser.screenshot(name);
  await page().setViewportSize({ width: 375, height: 812 });
  try {
    await browser.screenshot(`phone-${name}`);
    expect(await page().evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
  } finally {
    await page().setViewportSize({ width: 1280, height: 900 });
  }
}

/** What a folder holds, read over IMAP: of the target account, or of the old provider's. */
async function folderOver(server: TestServer, user: string, path: string) {
  const client = await connectImapFlow(server.ports.imap!, user, open);
  try {
    return await remoteFolder(client, path);
  } finally {
    await client.logout();
  }
}
const targetFolder = (path: string) => folderOver(target, NEW, path);
const sourceFolder = (path: string) => folderOver(source, OLD, path);

const LABELS = {
  en: { host: 'IMAP server of the old provider', encryption: 'Encryption', port: 'Port', username: 'User name', password: 'Password' },
  de: { host: 'IMAP-Server des alten Anbieters', encryption: 'Verschlüsselung', port: 'Port', username: 'Benutzername', password: 'Passwort' }
};

/** Fills the old provider's login (the encryption first: choosing it sets the port until the port is typed). */
async function fillLogin(values: { host?: string; port?: number; password?: string }, labels = LABELS.en): Promise<void> {
  await page().getByLabel(labels.host).fill(values.host ?? '127.0.0.1');
  await page().getByLabel(labels.encryption).selectOption('none');
  await page().getByLabel(labels.port, { exact: true }).fill(String(values.port ?? source.ports.imap));
  await page().getByLabel(labels.username).fill(OLD);
  await page().getByLabel(labels.password, { exact: true }).fill(values.password ?? PASSWORD);
}

describe.skipIf(NO_CHROMIUM !== null)(NO_CHROMIUM ? `import screen (skipped: ${NO_CHROMIUM})` : 'import screen in Chromium', () => {
  beforeAll(async () => {
    source = await startServer({ overrides: { 'imap.port': 0 } });
    await provision(source, 'alt-firma.de', ['info']);
    await fillMailbox(source.ports.imap!, OLD, PASSWORD, folders);
    slow = await startTcpProxy(source.ports.imap!);
    target = await startServer({
      overrides: { 'http.port': 0, 'imap.port': 0, 'imap.appendLimit': 20_000, 'import.syncInterval': 1 },
      build: { imports: { scanIntervalMs: 100, renewIntervalMs: 100 } }
    });
    await provision(target, 'firma.de', ['info']);
    ({ owner } = await adminClients(target));
    base = apiBase(target);
    browser = await launchBrowser();
    await page().goto(`${base}/`);
    await login(OWNER, PASSWORD);
    await h1('Domains').waitFor();
  }, 60_000);

  screenshotFailures(() => browser);

  afterAll(async () => {
    await Promise.all(open.map((c) => c.logout().catch(() => undefined)));
    await browser?.close();
    await slow?.close();
    await target?.close();
    await source?.close();
  });

  it('is reached from the account page; the port follows the encryption until it is typed, the user name is the address', async () => {
    await page().goto(`${base}/#/accounts/info%40firma.de`);
    await page().getByRole('link', { name: 'Import mail from another provider' }).click();
    await h1('Import mail from another provider').waitFor();
    await page().getByText('No import yet.').waitFor();
    const port = page().getByLabel('Port', { exact: true });
    const encryption = page().getByLabel('Encryption');
    expect(await port.inputValue()).toBe('993');
    expect(await page().getByLabel('User name').inputValue()).toBe(NEW);
    expect(await page().getByRole('checkbox', { name: 'Verify the certificate' }).isChecked()).toBe(true);
    await encryption.selectOption('starttls');
    expect(await port.inputValue()).toBe('143');
    await encryption.selectOption('tls');
    expect(await port.inputValue()).toBe('993');
    await port.fill('1993');
    await encryption.selectOption('none');
    expect(await port.inputValue()).toBe('1993');
    await page().getByLabel('IMAP server of the old provider').fill('imap.alt-firma.de');
    await screenshots('import-form');
  });

  it('says at the field what is wrong: a host that does not exist, a closed port, a wrong password', async () => {
    await fillLogin({ host: 'imap.gibt-es-nicht.test', password: 'Falsches-Passwort-1' });
    await page().getByRole('button', { name: 'Load folders' }).click();
    await expect.poll(() => fieldError('IMAP server of the old provider')).toBe('This server name cannot be found in the DNS. Check the spelling.');
    expect(await page().getByLabel('IMAP server of the old provider').getAttribute('aria-invalid')).toBe('true');

    const closed = await startTcpProxy(1);
    await closed.close();
    await fillLogin({ port: closed.port, password: 'Falsches-Passwort-1' });
    expect(await fieldError('IMAP server of the old provider')).toBeNull();
    await page().getByRole('button', { name: 'Load folders' }).click();
    await expect.poll(() => fieldError('Port')).toBe('Nothing accepts connections on this port. IMAP uses 993 (SSL/TLS) or 143 (STARTTLS).');

    await fillLogin({ password: 'Falsches-Passwort-1' });
    await page().getByRole('button', { name: 'Load folders' }).click();
    await expect.poll(() => fieldError('Password')).toBe('The old provider refused the login: the user name or the password is wrong.');
    expect(await fieldError('Port')).toBeNull();
    await expect(page().locator('.mapping table').count()).resolves.toBe(0);
    await browser.screenshot('import-wrong-password');
  });

  it('loads the folders and proposes local folders by special use and German names; the owner changes two', async () => {
    await fillLogin({ port: slow.port });
    await page().getByRole('button', { name: 'Load folders' }).click();
    await page().getByRole('heading', { level: 3, name: 'Folders and where they go' }).waitFor();
    expect(await chosen('INBOX')).toBe('INBOX (incoming mail)');
    await textOf(mappingRow('INBOX').locator('td.why')).toBe('The inbox.');
    expect(await mappingRow('INBOX').locator('td.num').first().textContent()).toBe('4');
    expect(await chosen('Gesendete Elemente')).toBe('Sent (sent mail)');
    await textOf(mappingRow('Gesendete Elemente').locator('td.why')).toBe('A usual name of the Sent folder.');
    expect(await chosen('Entwürfe')).toBe('Drafts (drafts)');
    expect(await chosen('Papierkorb')).toBe('Trash (deleted mail)');
    // the old server's own special-use folder, matched by its flag
    await textOf(mappingRow('Sent').locator('td.why')).toBe('The old server marks it as its Sent folder.');
    expect(await chosen('Posteingang/Kunden')).toBe('New folder "INBOX/Kunden"');
    await textOf(mappingRow('Posteingang/Kunden').locator('td.why')).toBe('A subfolder: it stays below its parent, as INBOX/Kunden.');
    await textOf(page().locator('.selection')).toMatch(/^To import: 11 folders, 8 messages, /);

    await mapSelect('Papierkorb').selectOption({ label: 'Archive (archive)' });
    await textOf(mappingRow('Papierkorb').locator('td.why')).toBe('Your choice.');
    await mapSelect('Posteingang/Kunden').selectOption({ label: 'Another new folder …' });
    const newName = page().getByLabel('Name of the new folder for Posteingang/Kunden');
    await mapSelect('Junk').selectOption({ label: 'Skip (do not import)' });
    await textOf(page().locator('.selection')).toMatch(/^To import: 10 folders, 8 messages, /);
    // a name the server refuses (mapping.N.local) is said at that folder's row
    await newName.fill('Kunden//Alt');
    await page().getByRole('button', { name: 'Start import' }).click();
    await textOf(mappingRow('Posteingang/Kunden').locator('.field-error')).toBe('Not a valid folder name: no empty level (//), no * or %, at most 1000 bytes.');
    expect(await newName.getAttribute('aria-invalid')).toBe('true');
    await newName.fill('Kunden/Alt');
    expect(await mappingRow('Posteingang/Kunden').locator('.field-error').isHidden()).toBe(true);
    expect((await owner.get(`/api/v1/accounts/${NEW}/imports`)).body.imports).toEqual([]);
    await screenshots('import-mapping');
  });

  it('imports with progress to done, polling only while shown: the mail is in the account over IMAP with flags and dates', async () => {
    slow.throttle = 1000; // bytes a second from the old server: a few seconds in all
    await page().getByRole('button', { name: 'Start import' }).click();
    await h1(JOB_TITLE).waitFor();
    jobId = Number(/import\/(\d+)$/.exec(page().url())![1]);
    // in the middle: a folder not reached yet is not shown as complete
    await textOf(stateBadge(), 15_000).toBe('running');
    for (const row of await page().locator('table.list tr').filter({ hasText: '→' }).all()) {
      const text = (await row.textContent())!;
      if (text.includes('not yet')) expect(text).toMatch(/not counted yet|of \d+ messages?/);
    }
    await screenshots('import-running');

    // another page: no more requests for the job, though it is still running
    const asked: string[] = [];
    const onRequest = (request: { url(): string }) => {
      if (request.url().endsWith(`/imports/${jobId}`)) asked.push(request.url());
    };
    await page().getByRole('link', { name: '← Import mail from another provider' }).click();
    await h1('Import mail from another provider').waitFor();
    // counted from when the other page shows: a request the progress page sent just before the click does not count
    page().on('request', onRequest);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    page().off('request', onRequest);
    expect(asked).toEqual([]);
    await page().getByRole('link', { name: `Show progress of import ${jobId} from 127.0.0.1` }).click();
    await h1(JOB_TITLE).waitFor();
    await textOf(stateBadge(), 30_000).toBe('done');
    slow.throttle = null;
    await textOf(page().locator('.job-progress')).toContain('8 of 8 messages');
    await textOf(page().locator('.job-progress .counts')).toBe('Imported: 7 · already here: 0 · failed: 1');
    await textOf(page().locator('table.list tr').filter({ hasText: 'Gesendete Elemente' })).toContain('copied1 of 1 message');
    const failure = page().locator('table.list tr').filter({ hasText: 'Pläne (groß)' });
    await textOf(failure.locator('td').last()).toMatch(/^larger than this server accepts/);
    await textOf(failure.locator('td').first()).toBe('INBOX');
    await screenshots('import-progress');

    const large = crypto.createHash('sha256').update(tooLarge.raw).digest('hex');
    expect(await targetFolder('INBOX')).toEqual((await sourceFolder('INBOX')).filter((m) => m.blob !== large));
    for (const [remote, local] of [
      ['Gesendete Elemente', 'Sent'],
      ['Entwürfe', 'Drafts'],
      ['Papierkorb', 'Archive'],
      ['Posteingang/Kunden', 'Kunden/Alt']
    ]) {
      const copied = await targetFolder(local);
      expect(copied, `${remote} -> ${local}`).toEqual(await sourceFolder(remote));
      expect(copied).toHaveLength(1);
    }
    expect(await targetFolder('Trash')).toEqual([]);
    expect((await targetFolder('INBOX')).map((m) => m.flags)).toEqual([['\\Seen'], ['\\Answered', '\\Flagged', '\\Seen'], []]);
  });

  it('turns the sync on with the password again, shows new mail the sync fetched, stops, resumes and turns the sync off', async () => {
    const sync = page().getByRole('switch', { name: 'Keep fetching new mail' });
    await sync.click();
    expect(await fieldError('Password at the old provider')).toBe('The password was deleted when the import finished: enter it to turn the sync on again.');
    expect(await sync.isChecked()).toBe(false);
    await page().getByLabel('Password at the old provider').fill(PASSWORD);
    await sync.click();
    await announced('Sync is on.');
    expect((await owner.get(`/api/v1/accounts/${NEW}/imports/${jobId}`)).body.import).toMatchObject({ sync: true, passwordStored: true });

    // new mail at the old provider: the page, asking every 2 s, shows the next sync fetching it
    await fillMailbox(source.ports.imap!, OLD, PASSWORD, { INBOX: [sourceMessage('Nach dem Umzug', { date: day(11) })] });
    await textOf(page().locator('.job-progress'), 15_000).toContain('9 of 9 messages');

    expect((await targetFolder('INBOX')).length).toBe(4);
    await page().getByRole('link', { name: '← Import mail from another provider' }).click();
    await h1('Import mail from another provider').waitFor();
    await textOf(page().locator('table.list tr').filter({ hasText: OLD })).toContain('9 of 9');
    await page().getByRole('link', { name: `Show progress of import ${jobId} from 127.0.0.1` }).click();
    await h1(JOB_TITLE).waitFor();
    await page().getByRole('button', { name: 'Stop', exact: true }).click();
    await announced('Import stopped.');
    await textOf(stateBadge()).toBe('stopped');
    await page().getByRole('button', { name: 'Resume', exact: true }).click();
    await announced('Import resumed.');
    await expect.poll(() => stateBadge().textContent(), { timeout: 10_000 }).toMatch(/^(waiting for the next sync|running|waiting to start)$/);
    await page().getByRole('switch', { name: 'Keep fetching new mail' }).click();
    await announced('Sync is off.');
    await textOf(stateBadge(), 10_000).toBe('done');
    expect((await owner.get(`/api/v1/accounts/${NEW}/imports/${jobId}`)).body.import).toMatchObject({ state: 'done', sync: false, passwordStored: false });
  });

  it('shows an admin user the progress without the controls', async () => {
    await logout();
    await login(ADMIN, ADMIN_PASSWORD);
    await h1('Domains').waitFor();
    await page().goto(`${base}/#/accounts/info%40firma.de/import/${jobId}`);
    await h1(JOB_TITLE).waitFor();
    await textOf(stateBadge()).toBe('done');
    expect(await page().getByRole('button').filter({ hasText: /Stop|Resume|Delete|Fetch new mail/ }).count()).toBe(0);
    expect(await page().getByRole('switch').count()).toBe(0);
    await page().goto(`${base}/#/accounts/info%40firma.de/import`);
    await h1('Import mail from another provider').waitFor();
    expect(await page().getByRole('button', { name: 'Load folders' }).count()).toBe(0);
    await logout();
    await login(OWNER, PASSWORD);
    await h1('Domains').waitFor();
  });

  it('deletes the job after a confirmation saying the mail stays, and speaks German', async () => {
    await page().goto(`${base}/#/accounts/info%40firma.de/import/${jobId}`);
    await h1(JOB_TITLE).waitFor();
    await page().getByRole('button', { name: 'Delete import job' }).click();
    const dialog = page().getByRole('dialog');
    await textOf(dialog).toContain('The mail imported so far stays in info@firma.de.');
    await dialog.getByRole('button', { name: 'Delete import job' }).click();
    await h1('Import mail from another provider').waitFor();
    await announced('Import job deleted; the imported mail stays.');
    await page().getByText('No import yet.').waitFor();
    expect((await owner.get(`/api/v1/accounts/${NEW}/imports`)).body.imports).toEqual([]);
    expect((await targetFolder('INBOX')).length).toBe(4);

    await page().getByLabel('Language').selectOption('de');
    await h1('E-Mails von einem anderen Anbieter übernehmen').waitFor();
    await fillLogin({ password: 'Falsches-Passwort-2' }, LABELS.de);
    await page().getByRole('button', { name: 'Ordner laden' }).click();
    await expect.poll(() => fieldError('Passwort')).toBe('Der alte Anbieter hat die Anmeldung abgelehnt: Benutzername oder Passwort ist falsch.');
    await browser.screenshot('import-de');
    await page().getByLabel('Sprache').selectOption('en');
    expect(browser.problems).toEqual([]);
  });
});
