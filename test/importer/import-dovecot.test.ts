// Import from Debian's Dovecot on loopback (a server other than Postfach, with Maildir++'s "." hierarchy delimiter and a
// \Sent folder called "Gesendete Elemente"): proposed mapping, a wrong password, every message with flags, keywords,
// internal dates and a 5 MB message, and resumption after the connection is cut mid-folder.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImport, importView, loadFolders } from '../../server/importer/admin.js';
import { findJob } from '../../server/importer/store.js';
import { NO_DOVECOT, startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { fillMailbox, imapClient, localFolder, remoteFolder, sourceMessage, waitFor, type SourceMessage } from '../helpers/import-source.js';
import { actor, provision, startServer, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const OLD = 'info@alt-firma.de';
const OLD_PASSWORD = 'Altes-Passwort-1';
const NEW = 'info@firma.de';

let dovecot: Dovecot;
let target: TestServer;
let proxy: TcpProxy;

const day = (d: number) => new Date(Date.UTC(2018, 10, d, 16, 45, 0));
const folders: Record<string, SourceMessage[]> = {
  INBOX: [sourceMessage('Willkommen', { flags: ['\\Seen'], date: day(1) }), sourceMessage('Termin', { flags: ['\\Flagged', 'Wichtig'], date: day(2) })],
  'Gesendete Elemente': [sourceMessage('Angebot verschickt', { flags: ['\\Seen'], date: day(3) })],
  Entwürfe: [sourceMessage('Halbfertig', { flags: ['\\Draft'], date: day(4) })],
  'Posteingang.Kunden': [sourceMessage('Großkunde', { flags: ['\\Seen', '\\Answered'], date: day(5) }), sourceMessage('Zeichnungen', { date: day(6), bodyBytes: 5 * 1024 * 1024 })]
};
const view = async (id: number) => importView(target.app.services.db, (await findJob(target.app.services.db, id))!);
const login = (port: number, password = OLD_PASSWORD, username = OLD) => ({ host: '127.0.0.1', port, encryption: 'none' as const, username, password });

describe.skipIf(NO_DOVECOT !== null)(NO_DOVECOT ? `import from Dovecot (skipped: ${NO_DOVECOT})` : 'import from Dovecot', () => {
  beforeAll(async () => {
    dovecot = await startDovecot({ [OLD]: OLD_PASSWORD, 'lang@alt-firma.de': OLD_PASSWORD });
    await fillMailbox(dovecot.port, OLD, OLD_PASSWORD, folders);
    proxy = await startTcpProxy(dovecot.port);
    target = await startServer({ overrides: { 'import.retryDelay': 1 }, build: { imports: { scanIntervalMs: 100, renewIntervalMs: 100 } } });
    await provision(target, 'firma.de', ['info']);
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await target?.close();
    await dovecot?.close();
  });

  it(`proposes a mapping for Dovecot's folders (special use, German names, "." hierarchy)`, async () => {
    const proposal = await loadFolders(target.app.services, NEW, login(dovecot.port));
    const byRemote = new Map(proposal.folders.map((f) => [f.remote, f]));
    expect(byRemote.get('Gesendete Elemente')).toMatchObject({ delimiter: '.', specialUse: '\\Sent', local: 'Sent', reason: 'special-use', messages: 1 });
    expect(byRemote.get('Entwürfe')).toMatchObject({ local: 'Drafts', reason: 'name' });
    expect(byRemote.get('Posteingang')).toMatchObject({ selectable: false, local: null, reason: 'not-selectable' });
    expect(byRemote.get('Posteingang.Kunden')).toMatchObject({ local: 'INBOX/Kunden', reason: 'hierarchy', messages: 2 });
    expect(proposal.remoteBytes).toBeGreaterThan(5 * 1024 * 1024);
  });

  it('names the password field when Dovecot refuses the login', async () => {
    await expect(loadFolders(target.app.services, NEW, login(dovecot.port, 'Falsches-Passwort-1'))).rejects.toMatchObject({ field: 'password', rule: 'login' });
  });

  it('imports every folder with flags, keywords, internal dates and the large message', async () => {
    const created = await createImport(target.app.services, actor, NEW, login(dovecot.port));
    target.app.services.imports.kick();
    const done = await waitFor(() => view(created.id), (j) => j.state !== 'queued' && j.state !== 'running', 30_000, 'the import');
    expect(done).toMatchObject({ state: 'done', progress: { messages: 6, imported: 6, failed: 0 } });
    const remote = await imapClient(dovecot.port, OLD, OLD_PASSWORD);
    try {
      for (const [path, local] of [['INBOX', 'INBOX'], ['Gesendete Elemente', 'Sent'], ['Entwürfe', 'Drafts'], ['Posteingang.Kunden', 'INBOX/Kunden']]) {
        expect(await localFolder(target, NEW, local), `${path} -> ${local}`).toEqual(await remoteFolder(remote, path));
      }
    } finally {
      await remote.logout();
    }
    expect((await localFolder(target, NEW, 'INBOX'))[1].flags).toEqual(['Wichtig', '\\Flagged']);
  });

  it('resumes after the connection is cut mid-folder: every message exactly once', async () => {
    const messages = Array.from({ length: 24 }, (_, i) => sourceMessage(`Langer Ordner ${i}`, { bodyBytes: 12_000, date: day(7 + (i % 20)) }));
    await fillMailbox(dovecot.port, 'lang@alt-firma.de', OLD_PASSWORD, { 'Projekte.2018': messages });
    proxy.cutAfter = 120_000; // the fetching connection breaks after ~9 messages
    const created = await createImport(target.app.services, actor, NEW, { ...login(proxy.port, OLD_PASSWORD, 'lang@alt-firma.de'), mapping: [{ remote: 'Projekte.2018', local: 'Projekte/2018' }] });
    target.app.services.imports.kick();
    const done = await waitFor(() => view(created.id), (j) => j.state === 'done' || j.state === 'failed', 30_000, 'the import');
    expect(proxy.cuts).toBe(1);
    expect(done).toMatchObject({ state: 'done', progress: { messages: 24, imported: 24, skipped: 0, failed: 0 } });
    const sha = (m: SourceMessage) => crypto.createHash('sha256').update(m.raw).digest('hex');
    expect((await localFolder(target, NEW, 'Projekte/2018')).map((m) => m.blob)).toEqual(messages.map(sha));
  });
});
