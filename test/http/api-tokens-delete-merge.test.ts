// API tokens (shown once, stored hashed, revocable, role-bound, revoked with their creator), deleting an account with
// a confirmation token (wrong, expired, other principal, reused; blobs really gone; open IMAP session closed), merging
// accounts with overlapping folder names, and the live DNS check against good and broken zones on the loopback server.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startServer, PASSWORD, TEST_HOSTNAME, type TestServer } from '../helpers/server.js';
import { ADMIN, AdminClient, OWNER, adminClients, apiBase } from '../helpers/admin-api.js';
import { ImapWire } from '../helpers/imap-wire.js';
import { connectImapFlow } from '../helpers/imapflow-client.js';
import { expectedRecords } from '../../server/dns/records.js';
import type { ImapFlow } from 'imapflow';

let clock = Date.parse('2026-11-23T09:00:00Z');
let server: TestServer;
let owner: AdminClient;
let admin: AdminClient;
const imapClients: ImapFlow[] = [];

async function deliver(to: string, subject = `m-${crypto.randomUUID()}`): Promise<string> {
  await nodemailer
    .createTransport({ host: '127.0.0.1', port: server.ports.smtp, secure: false, ignoreTLS: true, name: 'peer.sender.test' })
    .sendMail({ envelope: { from: 'peer@sender.test', to: [to] }, raw: `From: peer@sender.test\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nInhalt ${subject}\r\n` });
  return subject;
}

const blobFiles = () => (fs.existsSync(server.app.services.blobs.root) ? fs.readdirSync(server.app.services.blobs.root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : []);

describe('admin API: tokens, deletion, merge, DNS check', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'http.port': 0, 'imap.port': 0 }, build: { http: { now: () => clock } } });
    ({ owner, admin } = await adminClients(server));
    await owner.post('/api/v1/domains', { name: 'firma.de' });
    for (const local of ['info', 'alt', 'neu', 'weg']) expect((await owner.post('/api/v1/accounts', { address: `${local}@firma.de`, password: PASSWORD })).status).toBe(201);
  });
  afterAll(async () => {
    for (const c of imapClients) await c.logout().catch(() => undefined);
    await server?.close();
  });

  describe('API tokens', () => {
    it('shows a token once, stores only its hash, and lets scripts work with it without CSRF', async () => {
      const created = await owner.post('/api/v1/tokens', { name: 'backup-script' });
      expect(created.status).toBe(201);
      const token: string = created.body.token;
      expect(token).toMatch(/^pfat_[A-Za-z0-9_-]{30,}$/);
      const rows = await server.app.services.db.selectFrom('api_tokens').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(token);
      expect(rows.find((r) => r.name === 'backup-script')!.token_hash).toBe(crypto.createHash('sha256').update(token).digest('hex'));
      expect(JSON.stringify((await owner.get('/api/v1/tokens')).body)).not.toContain(token);

      const script = new AdminClient(apiBase(server));
      script.token = token;
      expect((await script.get('/api/v1/accounts')).status).toBe(200);
      expect((await script.post('/api/v1/aliases', { address: 'script@firma.de', account: 'info@firma.de' })).status).toBe(201);

      expect((await owner.delete(`/api/v1/tokens/${created.body.id}`)).status).toBe(204);
      const revoked = await script.get('/api/v1/accounts');
      expect(revoked.status).toBe(401);
      expect(revoked.body.error.code).toBe('unauthenticated');
    });

    it('binds a token to its role: an admin-role token gets 403 on owner operations', async () => {
      const created = await owner.post('/api/v1/tokens', { name: 'helpdesk', role: 'admin' });
      const script = new AdminClient(apiBase(server));
      script.token = created.body.token;
      expect((await script.get('/api/v1/accounts')).status).toBe(200);
      expect((await script.post('/api/v1/accounts/info@firma.de/password', { password: 'Helpdesk-Reset-77' })).status).toBe(204);
      const refused = await script.post('/api/v1/accounts', { address: 'nope@firma.de', password: PASSWORD });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ code: 'forbidden', rule: 'role' });
      expect((await admin.post('/api/v1/tokens', { name: 'mine' })).status).toBe(403);
    });

    it('revokes the tokens of an admin user when that user is removed', async () => {
      await owner.post('/api/v1/admins', { login: 'zweite@firma.de', password: 'Andere-Leitung-88', role: 'owner' });
      const second = new AdminClient(apiBase(server));
      await second.login('zweite@firma.de', 'Andere-Leitung-88');
      const created = await second.post('/api/v1/tokens', { name: 'of-the-second' });
      const script = new AdminClient(apiBase(server));
      script.token = created.body.token;
      expect((await script.get('/api/v1/accounts')).status).toBe(200);
      expect((await owner.delete('/api/v1/admins/zweite@firma.de')).status).toBe(204);
      expect((await script.get('/api/v1/accounts')).status).toBe(401);
      expect((await second.get('/api/v1/accounts')).status).toBe(401);
    });
  });

  describe('deleting an account', () => {
    it('needs the confirmation token of step 1: wrong, other principal, expired and reused tokens are refused', async () => {
      await deliver('weg@firma.de');
      const step1 = await owner.post('/api/v1/accounts/weg@firma.de/deletion');
      expect(step1.status).toBe(201);
      expect(step1.body).toMatchObject({ confirmation: expect.any(String), account: { address: 'weg@firma.de', messages: 1 }, warning: expect.stringContaining('ALL its mail') });

      const missing = await owner.delete('/api/v1/accounts/weg@firma.de', {});
      expect(missing.body.error).toMatchObject({ status: 400, field: 'confirmation', rule: 'required' });
      const wrong = await owner.delete('/api/v1/accounts/weg@firma.de', { confirmation: 'x'.repeat(step1.body.confirmation.length) });
      expect(wrong.body.error).toMatchObject({ status: 409, code: 'confirmation_required', field: 'confirmation' });

      // a token issued to another principal (the second owner session of a script) does not count for this one
      const other = await owner.post('/api/v1/tokens', { name: 'other-owner' });
      const script = new AdminClient(apiBase(server));
      script.token = other.body.token;
      expect((await script.delete('/api/v1/accounts/weg@firma.de', { confirmation: step1.body.confirmation })).status).toBe(409);
      // a token for another account does not delete this one
      const forInfo = await owner.post('/api/v1/accounts/info@firma.de/deletion');
      expect((await owner.delete('/api/v1/accounts/weg@firma.de', { confirmation: forInfo.body.confirmation })).status).toBe(409);

      const stale = await owner.post('/api/v1/accounts/weg@firma.de/deletion');
      clock += 10 * 60_000 + 1000;
      expect((await owner.delete('/api/v1/accounts/weg@firma.de', { confirmation: stale.body.confirmation })).status).toBe(409);
      expect((await owner.get('/api/v1/accounts/weg@firma.de')).status).toBe(200);
    });

    it('deletes the account, all its messages and their files, and ends its IMAP session', async () => {
      const subject = await deliver('weg@firma.de');
      const rows = await server.app.services.db
        .selectFrom('messages')
        .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
        .innerJoin('accounts', 'accounts.id', 'mailboxes.account_id')
        .select('messages.blob_id')
        .where('accounts.address', '=', 'weg@firma.de')
        .execute();
      expect(rows).toHaveLength(2);
      const blobs = rows.map((r) => r.blob_id);
      expect(blobFiles()).toEqual(expect.arrayContaining(blobs));
      const imap = await ImapWire.connect(server.ports.imap!);
      await imap.command('a', `LOGIN weg@firma.de ${PASSWORD}`);
      await imap.command('b', 'SELECT INBOX');

      const step1 = await owner.post('/api/v1/accounts/weg@firma.de/deletion');
      const deleted = await owner.delete('/api/v1/accounts/weg@firma.de', { confirmation: step1.body.confirmation });
      expect(deleted.status).toBe(200);
      expect(deleted.body).toMatchObject({ deleted: 'weg@firma.de', messages: 2, filesRemoved: 2 });
      expect(await imap.readLine()).toBe('* BYE Account closed by the administrator');
      expect(blobFiles().filter((f) => blobs.includes(f))).toEqual([]);
      expect(await server.app.services.db.selectFrom('blobs').select('id').where('id', 'in', blobs).execute()).toEqual([]);
      expect((await owner.get('/api/v1/accounts/weg@firma.de')).status).toBe(404);
      // used once: the same token cannot delete again (a re-created account of that name is safe)
      expect((await owner.delete('/api/v1/accounts/weg@firma.de', { confirmation: step1.body.confirmation })).status).toBe(404);
      await expect(deliver('weg@firma.de', subject)).rejects.toMatchObject({ responseCode: 550 });
    });
  });

  describe('merging accounts', () => {
    it('moves every folder and message into the target, matching folder names, keeping flags and dates', async () => {
      const alt = await connectImapFlow(server.ports.imap!, 'alt@firma.de', imapClients);
      const neu = await connectImapFlow(server.ports.imap!, 'neu@firma.de', imapClients);
      await alt.mailboxCreate('Projekte');
      await neu.mailboxCreate('Projekte');
      await alt.mailboxCreate('Nur-Alt');
      const date = new Date('2024-05-06T07:08:09Z');
      await alt.append('Projekte', 'From: a@b.example\r\nSubject: alt-projekt\r\n\r\nA\r\n', ['\\Seen', '\\Flagged'], date);
      await alt.append('Nur-Alt', 'From: a@b.example\r\nSubject: nur-alt\r\n\r\nB\r\n', [], date);
      await neu.append('Projekte', 'From: a@b.example\r\nSubject: neu-projekt\r\n\r\nC\r\n', ['\\Seen']);
      await deliver('alt@firma.de', 'alt-inbox');
      await alt.logout();

      expect((await admin.post('/api/v1/accounts/alt@firma.de/merge', { into: 'neu@firma.de' })).status).toBe(403);
      const merged = await owner.post('/api/v1/accounts/alt@firma.de/merge', { into: 'neu@firma.de' });
      expect(merged.status).toBe(200);
      expect(merged.body).toMatchObject({ merged: 'alt@firma.de', moved: 3 });

      const lock = await neu.getMailboxLock('Projekte');
      const projects: Array<{ subject: string; flags: string[]; date: string }> = [];
      try {
        for await (const m of neu.fetch('1:*', { envelope: true, flags: true, internalDate: true })) {
          projects.push({ subject: m.envelope!.subject!, flags: [...m.flags!].sort(), date: new Date(m.internalDate!).toISOString() });
        }
      } finally {
        lock.release();
      }
      expect(projects.map((p) => p.subject).sort()).toEqual(['alt-projekt', 'neu-projekt']);
      expect(projects.find((p) => p.subject === 'alt-projekt')).toEqual({ subject: 'alt-projekt', flags: ['\\Flagged', '\\Seen'], date: date.toISOString() });
      const folders = (await neu.list()).map((f) => f.path);
      expect(folders).toEqual(expect.arrayContaining(['INBOX', 'Projekte', 'Nur-Alt']));
      expect(folders.filter((f) => f === 'Projekte')).toHaveLength(1);
      expect(await neu.status('INBOX', { messages: true })).toMatchObject({ messages: 1 });

      expect((await owner.get('/api/v1/accounts/alt@firma.de')).status).toBe(404);
      expect((await owner.get('/api/v1/aliases?account=neu@firma.de')).body.aliases).toEqual([{ address: 'alt@firma.de', account: 'neu@firma.de' }]);
      await deliver('alt@firma.de', 'after-merge');
      expect(await neu.status('INBOX', { messages: true })).toMatchObject({ messages: 2 });
    });
  });

  describe('live DNS check', () => {
    const zoneFor = async () => {
      const domain = await server.app.services.db.selectFrom('domains').selectAll().where('name', '=', 'firma.de').executeTakeFirstOrThrow();
      const value = (kind: string) => expectedRecords(domain, TEST_HOSTNAME).find((r) => r.kind === kind)!;
      return { domain, value };
    };

    it('reports every record ok for a good zone', async () => {
      const { domain, value } = await zoneFor();
      server.dns.set(TEST_HOSTNAME, [{ type: 'A', address: '127.0.0.1' }]);
      server.dns.set('firma.de', [{ type: 'MX', exchange: TEST_HOSTNAME, priority: 10 }, { type: 'TXT', data: value('SPF').value }]);
      server.dns.set(`${domain.dkim_selector}._domainkey.firma.de`, [{ type: 'TXT', data: value('DKIM').value }]);
      server.dns.set('_dmarc.firma.de', [{ type: 'TXT', data: value('DMARC').value }]);
      server.dns.set('_postfach.firma.de', [{ type: 'TXT', data: value('OWNERSHIP').value }]);
      const check = await admin.get('/api/v1/domains/firma.de/dns-check');
      expect(check.status).toBe(200);
      expect(check.body.resolves).toBe(true);
      const records: Array<{ kind: string; status: string; required: boolean }> = check.body.records;
      expect(records.filter((r) => r.required).map((r) => `${r.kind} ${r.status}`)).toEqual(['MX ok', 'SPF ok', 'DKIM ok', 'DMARC ok', 'OWNERSHIP ok']);
      // the client autoconfiguration records are optional: not set here, reported, and no reason for alarm
      expect(records.filter((r) => !r.required).map((r) => `${r.kind} ${r.status}`)).toContain('SRV_IMAP missing');
    });

    it('tells apart SPF not including this server, no MX records, and a domain that does not resolve', async () => {
      const { value } = await zoneFor();
      server.dns.set('firma.de', [{ type: 'MX', exchange: TEST_HOSTNAME, priority: 10 }, { type: 'TXT', data: 'v=spf1 ip4:198.51.100.7 -all' }]);
      let records = (await owner.get('/api/v1/domains/firma.de/dns-check')).body.records;
      expect(records.find((r: { kind: string }) => r.kind === 'SPF')).toMatchObject({ status: 'wrong', problem: 'spf-not-including-this-server', found: ['v=spf1 ip4:198.51.100.7 -all'] });

      server.dns.set('firma.de', [{ type: 'TXT', data: value('SPF').value }]);
      records = (await owner.get('/api/v1/domains/firma.de/dns-check')).body.records;
      expect(records.find((r: { kind: string }) => r.kind === 'MX')).toMatchObject({ status: 'missing', problem: 'no-mx', found: [] });

      for (const name of ['firma.de', '_dmarc.firma.de', '_postfach.firma.de']) server.dns.remove(name);
      const { domain } = await zoneFor();
      server.dns.remove(`${domain.dkim_selector}._domainkey.firma.de`);
      const gone = (await owner.get('/api/v1/domains/firma.de/dns-check')).body;
      expect(gone.resolves).toBe(false);
      expect(new Set(gone.records.map((r: { problem: string }) => r.problem))).toEqual(new Set(['domain-does-not-resolve']));
    });
  });
});
