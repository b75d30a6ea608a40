// Import from another provider over IMAP, through the admin API: the old provider is a second Postfach (a real IMAP
// server on loopback) with German folder names, flags, internal dates and a large message. Load folders with the
// proposed mapping, errors naming the field, roles, the import itself, stop/resume, sync, and the password wiped.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClients, type AdminClient } from '../helpers/admin-api.js';
import { fillMailbox, imapClient, localFolder, remoteFolder, sourceMessage, waitFor, type SourceMessage } from '../helpers/import-source.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const OLD = 'info@alt-firma.de';
const NEW = 'info@firma.de';
const base = `/api/v1/accounts/${NEW}/imports`;

let source: TestServer;
let target: TestServer;
let owner: AdminClient;
let admin: AdminClient;
let proxy: TcpProxy;
let login: { host: string; port: number; encryption: 'none'; username: string; password: string };

const MB = 1024 * 1024;
const day = (d: number) => new Date(Date.UTC(2019, 0, d, 9, 15, 0));
const folders: Record<string, SourceMessage[]> = {
  INBOX: [
    sourceMessage('Angebot Müller', { flags: ['\\Seen'], date: day(3) }),
    sourceMessage('Rückfrage Lieferung', { flags: ['\\Seen', '\\Answered', '\\Flagged'], date: day(4) }),
    sourceMessage('Neue Anfrage', { flags: [], date: day(5) }),
    sourceMessage('Gelöscht markiert', { flags: ['\\Deleted', '$Label1'], date: day(6) })
  ],
  'Gesendete Elemente': [sourceMessage('Antwort an Müller', { flags: ['\\Seen'], date: day(7) }), sourceMessage('Rechnung 2019-01', { flags: ['\\Seen'], date: day(8) })],
  Entwürfe: [sourceMessage('Entwurf Angebot', { flags: ['\\Draft'], date: day(9) })],
  'Posteingang/Kunden': [sourceMessage('Kunde A', { flags: ['\\Seen'], date: day(10) }), sourceMessage('Pläne (groß)', { flags: ['\\Seen'], date: day(11), bodyBytes: 6 * MB })],
  Papierkorb: [sourceMessage('Alter Kram', { flags: ['\\Seen', '\\Deleted'], date: day(12) })],
  Spam: [sourceMessage('Gewinnspiel', { date: day(13) })]
};

async function job(id: number) {
  return (await owner.get(`${base}/${id}`)).body.import;
}
const settled = (id: number, states = ['done', 'failed', 'stopped', 'waiting']) => waitFor(() => job(id), (j) => states.includes(j.state), 30_000, `import ${id} to settle`);

beforeAll(async () => {
  source = await startServer({ overrides: { 'imap.port': 0, 'imaps.port': 0 } });
  await provision(source, 'alt-firma.de', ['info', 'archiv', 'sync']);
  await fillMailbox(source.ports.imap!, OLD, PASSWORD, folders);
  proxy = await startTcpProxy(source.ports.imap!);
  target = await startServer({
    overrides: { 'http.port': 0, 'imap.port': 0, 'import.syncInterval': 1, 'import.retryDelay': 1 },
    build: { imports: { scanIntervalMs: 100, renewIntervalMs: 100 } }
  });
  await provision(target, 'firma.de', ['info', 'klein']);
  ({ owner, admin } = await adminClients(target));
  login = { host: '127.0.0.1', port: source.ports.imap!, encryption: 'none', username: OLD, password: PASSWORD };
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await target?.close();
  await source?.close();
});

describe('loading the remote folders', () => {
  it('lists every folder with counts and proposes local folders by special use, German names and hierarchy', async () => {
    const response = await owner.post(`${base}/folders`, login);
    expect(response.status).toBe(200);
    const byRemote = new Map(response.body.folders.map((f: { remote: string }) => [f.remote, f]));
    const proposal = (remote: string) => byRemote.get(remote) as { local: string | null; reason: string; messages: number; bytes: number };
    expect(proposal('INBOX')).toMatchObject({ local: 'INBOX', reason: 'inbox', messages: 4 });
    expect(proposal('Gesendete Elemente')).toMatchObject({ local: 'Sent', reason: 'name', messages: 2 });
    expect(proposal('Entwürfe')).toMatchObject({ local: 'Drafts', reason: 'name' });
    expect(proposal('Papierkorb')).toMatchObject({ local: 'Trash', reason: 'name' });
    expect(proposal('Spam')).toMatchObject({ local: 'Junk', reason: 'name' });
    expect(proposal('Posteingang')).toMatchObject({ local: 'INBOX', reason: 'name', messages: 0 });
    expect(proposal('Posteingang/Kunden')).toMatchObject({ local: 'INBOX/Kunden', reason: 'hierarchy', messages: 2 });
    expect(proposal('Posteingang/Kunden').bytes).toBeGreaterThan(6 * MB);
    // the source's own special-use folders are matched by their flag
    expect(proposal('Sent')).toMatchObject({ local: 'Sent', reason: 'special-use' });
    expect(response.body.mapping).toContainEqual({ remote: 'Entwürfe', local: 'Drafts' });
    expect(response.body.localFolders.map((f: { name: string }) => f.name)).toContain('Archive');
    expect(response.body.account).toMatchObject({ address: NEW, quota: 0 });
  });

  it('names the field when the password, port, host or encryption is wrong', async () => {
    const wrong = await owner.post(`${base}/folders`, { ...login, username: 'archiv@alt-firma.de', password: 'falsches-Passwort-1' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({ code: 'invalid', field: 'password', rule: 'login' });
    expect(wrong.body.error.message).toMatch(/user name or password is wrong/);

    const closed = await startTcpProxy(1);
    const closedPort = closed.port;
    await closed.close();
    const port = await owner.post(`${base}/folders`, { ...login, port: closedPort });
    expect(port.body.error).toMatchObject({ field: 'port', rule: 'connect' });

    const host = await owner.post(`${base}/folders`, { ...login, host: 'imap.gibt-es-nicht.test' });
    expect(host.body.error).toMatchObject({ field: 'host', rule: 'resolve' });
    expect(host.body.error.message).toMatch(/imap\.gibt-es-nicht\.test does not exist/);

    const tls = await owner.post(`${base}/folders`, { ...login, encryption: 'tls' });
    expect(tls.body.error).toMatchObject({ field: 'encryption', rule: 'tls' });

    const bad = await owner.post(`${base}/folders`, { ...login, host: 'kein host!' });
    expect(bad.body.error).toMatchObject({ field: 'host', rule: 'hostname' });

    // the old server's certificate is self-signed: refused unless the owner says so
    const imaps = { ...login, port: source.ports.imaps!, encryption: 'tls' };
    const untrusted = await owner.post(`${base}/folders`, imaps);
    expect(untrusted.body.error).toMatchObject({ field: 'encryption', rule: 'certificate' });
    expect(untrusted.body.error.message).toMatch(/certificate of 127\.0\.0\.1 is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    expect((await owner.post(`${base}/folders`, { ...imaps, verifyCertificate: false })).status).toBe(200);
    expect((await owner.post(`${base}/folders`, { ...login, encryption: 'starttls', verifyCertificate: false })).status).toBe(200);
  });

  it('is for the owner: an admin may look at imports but not log in to the old provider or start one', async () => {
    expect((await admin.post(`${base}/folders`, login)).status).toBe(403);
    expect((await admin.post(base, login)).status).toBe(403);
    expect((await admin.get(base)).status).toBe(200);
  });
});

describe('importing', () => {
  it('copies every message once with flags and internal date, following the mapping the owner changed', async () => {
    const idle = await imapClient(target.ports.imap!, NEW, PASSWORD);
    const arrived: number[] = [];
    idle.on('exists', (e) => arrived.push(e.count));
    await idle.mailboxOpen('INBOX');
    const idling = idle.idle();

    const mapping = [
      { remote: 'INBOX', local: 'INBOX' },
      { remote: 'Gesendete Elemente', local: 'Sent' },
      { remote: 'Entwürfe', local: 'Drafts' },
      { remote: 'Posteingang/Kunden', local: 'Kunden/Alt' },
      { remote: 'Papierkorb', local: null },
      { remote: 'Spam', local: 'Junk' }
    ];
    const created = await owner.post(base, { ...login, mapping });
    expect(created.status).toBe(201);
    expect(created.body.import).toMatchObject({ state: 'queued', host: '127.0.0.1', username: OLD, passwordStored: true, folders: expect.any(Array) });
    const id = created.body.import.id;
    const done = await settled(id);
    expect(done.state).toBe('done');
    expect(done.progress).toMatchObject({ messages: 10, imported: 10, skipped: 0, failed: 0, done: 10 });
    expect(done.progress.bytesDone).toBe(done.progress.bytes);
    expect(done.folders.map((f: { remote: string; local: string; state: string }) => [f.remote, f.local, f.state])).toEqual(mapping.filter((m) => m.local).map((m) => [m.remote, m.local, 'done']));
    expect(done.passwordStored).toBe(false);
    const row = await target.app.services.db.selectFrom('import_jobs').select('password_sealed').where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.password_sealed).toBeNull();

    const remote = await imapClient(source.ports.imap!, OLD, PASSWORD);
    try {
      for (const { remote: path, local } of mapping.filter((m) => m.local)) {
        expect(await localFolder(target, NEW, local!), `${path} -> ${local}`).toEqual(await remoteFolder(remote, path));
      }
    } finally {
      await remote.logout();
    }
    // the new folder was created with its superior, the skipped one left alone
    expect(await localFolder(target, NEW, 'Trash')).toEqual([]);
    const names = (await target.app.services.db.selectFrom('mailboxes').select('name').execute()).map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['Kunden', 'Kunden/Alt']));

    // an IMAP session idling on INBOX heard of the new messages
    await waitFor(async () => arrived, (a) => a.includes(4), 5000, 'EXISTS in the idling session');
    await idle.logout().catch(() => undefined);
    await idling.catch(() => undefined);

    // the audit log has the creation, without the password
    const audit = await owner.get('/api/v1/audit?limit=20');
    const entry = audit.body.entries.find((e: { action: string }) => e.action === 'import.create');
    expect(entry).toMatchObject({ target: NEW, detail: { job: id, host: '127.0.0.1', username: OLD } });
    expect(JSON.stringify(audit.body)).not.toContain(PASSWORD);

    // an admin sees the progress; a foreign account's path does not show the job
    expect((await admin.get(`${base}/${id}`)).body.import.progress.imported).toBe(10);
    expect((await owner.get(`/api/v1/accounts/klein@firma.de/imports/${id}`)).status).toBe(404);
  });

  it('stops between two messages and resumes without duplicates', async () => {
    const many = Array.from({ length: 30 }, (_, i) => sourceMessage(`Archiv ${i}`, { date: day(1 + (i % 28)), bodyBytes: 8000 }));
    await fillMailbox(source.ports.imap!, 'archiv@alt-firma.de', PASSWORD, { Archiv: many });
    proxy.throttle = 30_000; // a few messages a second: the test acts in the middle
    const created = await owner.post(base, { ...login, port: proxy.port, username: 'archiv@alt-firma.de', mapping: [{ remote: 'Archiv', local: 'Archiv' }] });
    const id = created.body.import.id;
    await waitFor(() => job(id), (j) => j.progress.imported >= 3, 15_000, 'some progress');
    const stopped = await owner.post(`${base}/${id}/stop`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.import.state).toBe('stopped');
    const atStop = stopped.body.import.progress.imported;
    expect(atStop).toBeLessThan(30);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await job(id)).progress.imported).toBe(atStop);
    expect(await localFolder(target, NEW, 'Archiv')).toHaveLength(atStop);

    proxy.throttle = null;
    const resumed = await owner.post(`${base}/${id}/resume`);
    expect(resumed.body.import.state).toBe('queued');
    const done = await settled(id);
    expect(done).toMatchObject({ state: 'done', progress: { messages: 30, imported: 30, failed: 0 } });
    const local = await localFolder(target, NEW, 'Archiv');
    expect(local.map((m) => m.blob)).toEqual(many.map((m) => crypto.createHash('sha256').update(m.raw).digest('hex')));
    expect((await owner.post(`${base}/${id}/stop`)).body.error).toMatchObject({ code: 'conflict', field: 'state' });
  });

  it('keeps fetching new mail while sync is on, and deletes the password when it is turned off', async () => {
    await fillMailbox(source.ports.imap!, 'sync@alt-firma.de', PASSWORD, { INBOX: [sourceMessage('Vor dem Umzug 1'), sourceMessage('Vor dem Umzug 2')] });
    const created = await owner.post(base, { ...login, username: 'sync@alt-firma.de', mapping: [{ remote: 'INBOX', local: 'Altes Postfach' }], sync: true });
    const id = created.body.import.id;
    const waiting = await settled(id);
    expect(waiting).toMatchObject({ state: 'waiting', sync: true, passwordStored: true, progress: { imported: 2 } });
    expect(waiting.nextRunAt).not.toBeNull();

    await fillMailbox(source.ports.imap!, 'sync@alt-firma.de', PASSWORD, { INBOX: [sourceMessage('Nach dem Umzug')] });
    const synced = await waitFor(() => job(id), (j) => j.progress.imported === 3 && j.state === 'waiting', 10_000, 'the sync to fetch the new message');
    expect(synced.passes).toBeGreaterThanOrEqual(2);
    expect((await localFolder(target, NEW, 'Altes Postfach')).length).toBe(3);

    const off = await owner.patch(`${base}/${id}`, { sync: false });
    expect(off.status).toBe(200);
    expect(off.body.import).toMatchObject({ state: 'done', sync: false, passwordStored: false });
    const row = await target.app.services.db.selectFrom('import_jobs').select(['password_sealed', 'state']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toEqual({ password_sealed: null, state: 'done' });
    // turning it on again needs the password, which is gone
    const again = await owner.patch(`${base}/${id}`, { sync: true });
    expect(again.body.error).toMatchObject({ field: 'password', rule: 'required' });
  });

  it('deletes a job with its progress but keeps the mail', async () => {
    const list = await owner.get(base);
    const first = list.body.imports[list.body.imports.length - 1];
    expect((await owner.delete(`${base}/${first.id}`)).status).toBe(204);
    expect((await owner.get(`${base}/${first.id}`)).status).toBe(404);
    expect(await localFolder(target, NEW, 'Drafts')).toHaveLength(1);
    const left = await target.app.services.db.selectFrom('import_folders').select('id').where('job_id', '=', first.id).execute();
    expect(left).toEqual([]);
  });
});
