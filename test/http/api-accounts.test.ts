// The owner's daily work through the admin API over real HTTP: domains (records, removal only when empty), accounts
// (lower-casing, validation, usage after real SMTP delivery, edits, deactivation that ends IMAP sessions and refuses
// mail and logins), aliases, forwards, catch-all, client settings, admin users and the audit log with paging.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startServer, PASSWORD, type TestServer } from '../helpers/server.js';
import { ADMIN, AdminClient, OWNER, adminClients, apiBase } from '../helpers/admin-api.js';
import { ImapWire } from '../helpers/imap-wire.js';

let server: TestServer;
let owner: AdminClient;
let admin: AdminClient;

function mx() {
  return nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp, secure: false, ignoreTLS: true, name: 'peer.sender.test' });
}

async function deliver(to: string, size = 2000): Promise<string> {
  const subject = `api-${crypto.randomUUID()}`;
  await mx().sendMail({ envelope: { from: 'peer@sender.test', to: [to] }, raw: `From: peer@sender.test\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\n${'x'.repeat(size).replace(/.{70}/g, '$&\r\n')}\r\n` });
  return subject;
}

const account = async (address: string) => (await owner.get(`/api/v1/accounts/${address}`)).body;

describe('admin API: domains, accounts, routing', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'http.port': 0, 'imap.port': 0, 'imaps.port': 0, 'submission.port': 0, 'submissions.port': 0 } });
    ({ owner, admin } = await adminClients(server));
  });
  afterAll(async () => server?.close());

  it('adds a domain and returns the DNS records to set', async () => {
    const response = await owner.post('/api/v1/domains', { name: 'Firma.DE' });
    expect(response.status).toBe(201);
    type Shown = { kind: string; type: string; name: string; value: string; port?: number; required: boolean };
    const records: Shown[] = response.body.records;
    const kinds = records.filter((r) => r.required).map((r) => `${r.kind} ${r.type} ${r.name}`);
    expect(kinds).toEqual(['MX MX firma.de', 'SPF TXT firma.de', `DKIM TXT ${response.body.domain.dkimSelector}._domainkey.firma.de`, 'DMARC TXT _dmarc.firma.de', 'OWNERSHIP TXT _postfach.firma.de']);
    // then the optional client records with the ports as bound; POP3 does not run here, so its SRV records say "."
    const srv = Object.fromEntries(records.filter((r) => r.type === 'SRV').map((r) => [r.kind, `${r.port} ${r.value}`]));
    expect(srv).toEqual({
      SRV_IMAPS: `${server.ports.imaps} mx.postfach.test`,
      SRV_IMAP: `${server.ports.imap} mx.postfach.test`,
      SRV_POP3S: '0 .',
      SRV_POP3: '0 .',
      SRV_SUBMISSIONS: `${server.ports.submissions} mx.postfach.test`,
      SRV_SUBMISSION: `${server.ports.submission} mx.postfach.test`
    });
    expect(response.body.records[0]).toMatchObject({ value: 'mx.postfach.test', priority: 10 });
    expect(response.body.records[2].value).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
    expect((await owner.post('/api/v1/domains', { name: 'firma.de' })).body.error).toMatchObject({ status: 409, field: 'name' });
    expect((await owner.post('/api/v1/domains', { name: 'not a domain' })).body.error).toMatchObject({ status: 400, field: 'name' });
    const list = await admin.get('/api/v1/domains');
    expect(list.body.domains).toEqual([expect.objectContaining({ name: 'firma.de', accounts: 0 })]);
  });

  it('creates accounts with the local part lower-cased and refuses characters a mailbox name may not have', async () => {
    const created = await owner.post('/api/v1/accounts', { address: 'Info@Firma.de', password: PASSWORD, displayName: 'Firma Info', quota: 10_000_000 });
    expect(created.status).toBe(201);
    expect(created.body.account).toMatchObject({ address: 'info@firma.de', displayName: 'Firma Info', active: true, quota: 10_000_000, usedBytes: 0, messages: 0 });
    for (const address of ['in fo@firma.de', 'info+x@firma.de', '.info@firma.de']) {
      const refused = await owner.post('/api/v1/accounts', { address, password: PASSWORD });
      expect(refused.status, address).toBe(400);
      expect(refused.body.error.field, address).toBe('address');
    }
    const unhosted = await owner.post('/api/v1/accounts', { address: 'x@elsewhere.example', password: PASSWORD });
    expect(unhosted.body.error).toMatchObject({ status: 404, field: 'address' });
    expect((await owner.post('/api/v1/accounts', { address: 'buchhaltung@firma.de', password: PASSWORD, active: false })).body.account.active).toBe(false);
    expect((await owner.post('/api/v1/accounts', { address: 'INFO@firma.de', password: PASSWORD })).status).toBe(409);
  });

  it('lists accounts with usage after mail arrived over SMTP, and edits display name and quota', async () => {
    await deliver('info@firma.de', 5000);
    const list = await admin.get('/api/v1/accounts');
    const info = list.body.accounts.find((a: { address: string }) => a.address === 'info@firma.de');
    expect(info.messages).toBe(1);
    expect(info.usedBytes).toBeGreaterThan(5000);
    const patched = await owner.patch('/api/v1/accounts/info@firma.de', { displayName: 'Info-Postfach', quota: 0 });
    expect(patched.body.account).toMatchObject({ displayName: 'Info-Postfach', quota: 0 });
    expect((await owner.patch('/api/v1/accounts/info@firma.de', {})).body.error).toMatchObject({ status: 400 });
    expect((await admin.patch('/api/v1/accounts/info@firma.de', { displayName: 'x' })).status).toBe(403);
  });

  it('deactivates: an open IMAP session gets BYE, mail is refused with 550 5.2.1, logins fail; activation undoes it, mail kept', async () => {
    await owner.post('/api/v1/accounts/buchhaltung@firma.de/activate');
    const imap = await ImapWire.connect(server.ports.imap!);
    expect((await imap.command('a', `LOGIN buchhaltung@firma.de ${PASSWORD}`)).tagged).toMatch(/^a OK/);
    await imap.command('b', 'SELECT INBOX');
    const off = await owner.post('/api/v1/accounts/buchhaltung@firma.de/deactivate');
    expect(off.body.account.active).toBe(false);
    expect(await imap.readLine()).toBe('* BYE Account closed by the administrator');
    await imap.closedByServer();
    await expect(deliver('buchhaltung@firma.de')).rejects.toMatchObject({ response: '550 5.2.1 Recipient address rejected: mailbox disabled' });
    const again = await ImapWire.connect(server.ports.imap!);
    expect((await again.command('a', `LOGIN buchhaltung@firma.de ${PASSWORD}`)).tagged).toMatch(/^a NO /);
    again.close();
    expect((await owner.post('/api/v1/accounts/buchhaltung@firma.de/activate')).body.account.active).toBe(true);
    await deliver('buchhaltung@firma.de');
    expect((await account('buchhaltung@firma.de')).account.messages).toBe(1);
  });

  it('manages aliases, forwards (several destinations, keep copy, replace, remove one) and the catch-all', async () => {
    expect((await owner.post('/api/v1/aliases', { address: 'Kontakt@firma.de', account: 'info@firma.de' })).status).toBe(201);
    expect((await owner.post('/api/v1/aliases', { address: 'kontakt@firma.de', account: 'info@firma.de' })).status).toBe(409);
    expect((await admin.get('/api/v1/aliases?account=info@firma.de')).body.aliases).toEqual([{ address: 'kontakt@firma.de', account: 'info@firma.de' }]);
    const subject = await deliver('kontakt@firma.de');
    expect(subject).toBeTruthy();
    expect((await account('info@firma.de')).account.messages).toBe(2);

    expect((await owner.post('/api/v1/forwards', { source: 'info@firma.de', destinations: ['a@extern.example', 'b@extern.example'], keepCopy: true })).status).toBe(201);
    expect((await account('info@firma.de')).forward).toEqual({ destinations: ['a@extern.example', 'b@extern.example'], keepCopy: true });
    expect((await owner.put('/api/v1/forwards/info@firma.de', { destinations: ['c@extern.example'], keepCopy: false })).status).toBe(200);
    expect((await account('info@firma.de')).forward).toEqual({ destinations: ['c@extern.example'], keepCopy: false });
    await owner.post('/api/v1/forwards', { source: 'info@firma.de', destinations: ['d@extern.example'] });
    expect((await owner.delete('/api/v1/forwards/info@firma.de?destination=c@extern.example')).status).toBe(204);
    expect((await account('info@firma.de')).forward).toEqual({ destinations: ['d@extern.example'], keepCopy: false });
    expect((await owner.delete('/api/v1/forwards/info@firma.de')).status).toBe(204);
    expect((await account('info@firma.de')).forward).toBeNull();

    await expect(deliver('wer-auch-immer@firma.de')).rejects.toMatchObject({ responseCode: 550 });
    expect((await owner.put('/api/v1/domains/firma.de/catch-all', { target: 'info@firma.de' })).status).toBe(200);
    await deliver('wer-auch-immer@firma.de');
    expect((await account('info@firma.de')).account.messages).toBe(3);
    expect((await owner.put('/api/v1/domains/firma.de/catch-all', { target: 'niemand@firma.de' })).status).toBe(404);
    expect((await owner.delete('/api/v1/domains/firma.de/catch-all')).status).toBe(204);
    await expect(deliver('wer-auch-immer@firma.de')).rejects.toMatchObject({ response: '550 5.1.1 Recipient address rejected: no such mailbox here' });
  });

  it('gives the client settings of an account: servers, ports, encryption and the address as user name', async () => {
    const settings = (await admin.get('/api/v1/accounts/info@firma.de/client-settings')).body;
    const { ports } = server;
    expect(settings).toEqual({
      address: 'info@firma.de',
      username: 'info@firma.de',
      incoming: [
        { protocol: 'imap', security: 'tls', port: ports.imaps, host: 'mx.postfach.test', username: 'info@firma.de', authentication: 'password-normal' },
        { protocol: 'imap', security: 'starttls', port: ports.imap, host: 'mx.postfach.test', username: 'info@firma.de', authentication: 'password-normal' }
      ],
      outgoing: [
        { protocol: 'smtp', security: 'tls', port: ports.submissions, host: 'mx.postfach.test', username: 'info@firma.de', authentication: 'password-normal' },
        { protocol: 'smtp', security: 'starttls', port: ports.submission, host: 'mx.postfach.test', username: 'info@firma.de', authentication: 'password-normal' }
      ]
    });
  });

  it('refuses to remove a domain that still has accounts', async () => {
    const refused = await owner.delete('/api/v1/domains/firma.de');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ field: 'domain', rule: 'empty' });
    await owner.post('/api/v1/domains', { name: 'leer.example' });
    expect((await owner.delete('/api/v1/domains/leer.example')).status).toBe(204);
  });

  it('manages admin users (owner only; the last owner stays)', async () => {
    const created = await owner.post('/api/v1/admins', { login: 'Aushilfe@firma.de', password: 'Zeitweise-Pass-42', role: 'admin' });
    expect(created.status).toBe(201);
    expect(created.body.admin).toMatchObject({ login: 'aushilfe@firma.de', role: 'admin' });
    expect((await admin.post('/api/v1/admins', { login: 'x@firma.de', password: 'Zeitweise-Pass-42', role: 'owner' })).status).toBe(403);
    const logins = (await owner.get('/api/v1/admins')).body.admins.map((a: { login: string }) => a.login);
    expect(logins.sort()).toEqual([ADMIN, 'aushilfe@firma.de', OWNER].sort());
    expect((await owner.post('/api/v1/admins/aushilfe@firma.de/password', { password: 'Anderes-Pass-43' })).status).toBe(204);
    expect((await new AdminClient(apiBase(server)).login('aushilfe@firma.de', 'Anderes-Pass-43')).status).toBe(200);
    expect((await owner.delete('/api/v1/admins/aushilfe@firma.de')).status).toBe(204);
    const last = await owner.delete(`/api/v1/admins/${OWNER}`);
    expect(last.status).toBe(409);
  });

  it('keeps an audit log of every change with actor, action, target and client address, readable in pages by the owner', async () => {
    expect((await admin.get('/api/v1/audit')).status).toBe(403);
    const all = (await owner.get('/api/v1/audit?limit=1000')).body.entries as Array<{ id: number; actor: string; action: string; target: string; ip: string }>;
    const actions = all.map((e) => `${e.action} ${e.target}`);
    expect(actions).toEqual(
      expect.arrayContaining(['domain.add firma.de', 'account.add info@firma.de', 'account.deactivate buchhaltung@firma.de', 'alias.add kontakt@firma.de', 'admin.remove aushilfe@firma.de'])
    );
    const byOwner = all.find((e) => e.action === 'account.add' && e.target === 'info@firma.de')!;
    expect(byOwner).toMatchObject({ actor: OWNER, ip: '127.0.0.1' });
    // newest first, and pages chain with `before`
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => b - a));
    const first = (await owner.get('/api/v1/audit?limit=3')).body;
    expect(first.entries.map((e: { id: number }) => e.id)).toEqual(all.slice(0, 3).map((e) => e.id));
    const second = (await owner.get(`/api/v1/audit?limit=3&before=${first.next}`)).body;
    expect(second.entries.map((e: { id: number }) => e.id)).toEqual(all.slice(3, 6).map((e) => e.id));
    const filtered = (await owner.get('/api/v1/audit?target=buchhaltung@firma.de')).body.entries;
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((e: { target: string }) => e.target === 'buchhaltung@firma.de')).toBe(true);
  });
});
