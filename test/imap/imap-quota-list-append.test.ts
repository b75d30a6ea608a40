// Protocol details checked on the wire: QUOTA for an account without a limit (RFC 9208), INBOX case in LIST
// patterns and reference joining (RFC 9051 §6.3.9), APPEND's UTF8 form (RFC 6855 §4), the LIST line of an
// IMAP4rev2 SELECT, the UID EXPUNGE reply, and a selected folder deleted by another session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapWire } from '../helpers/imap-wire.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';
import { listMessages } from '../../server/store/messages.js';

describe('IMAP quota, LIST patterns and UTF8 APPEND', () => {
  let server: TestServer;
  let wire: ImapWire;
  beforeAll(async () => {
    server = await startServer({ overrides: { 'imap.port': 0 } });
    await provision(server, 'firma.de', ['info']);
    wire = await ImapWire.connect(server.ports.imap!);
    await wire.command('a', `LOGIN info@firma.de ${PASSWORD}`);
    await wire.command('b', 'CREATE INBOX/Rechnungen');
  });
  afterAll(async () => {
    wire?.close();
    await server?.close();
  });

  it('an account without a limit has no quota root and no QUOTA resource list', async () => {
    const root = await wire.command('q1', 'GETQUOTAROOT INBOX');
    expect(root.lines).toEqual(['* QUOTAROOT "INBOX"', 'q1 OK GETQUOTAROOT completed']);
    const quota = await wire.command('q2', 'GETQUOTA ""');
    expect(quota.tagged).toBe('q2 NO [NONEXISTENT] This account has no quota');
  });

  it('reports STORAGE in KiB once a quota is set', async () => {
    await server.app.services.db.updateTable('accounts').set({ quota: 10 * 1024 * 1024 }).where('address', '=', 'info@firma.de').execute();
    const root = await wire.command('q3', 'GETQUOTAROOT INBOX');
    expect(root.lines[0]).toBe('* QUOTAROOT "INBOX" ""');
    expect(root.lines[1]).toMatch(/^\* QUOTA "" \(STORAGE \d+ 10240\)$/);
  });

  it('matches INBOX in any case at the start of a pattern, names below it exactly', async () => {
    const mixed = await wire.command('l1', 'LIST "" InBoX*');
    expect(mixed.lines.slice(0, -1)).toEqual(['* LIST (\\HasChildren) "/" "INBOX"', '* LIST (\\HasNoChildren) "/" "INBOX/Rechnungen"']);
    const wrongCase = await wire.command('l2', 'LIST "" inbox/rechnungen');
    expect(wrongCase.lines).toEqual(['l2 OK LIST completed']);
  });

  it('joins reference and pattern as written', async () => {
    const joined = await wire.command('l3', 'LIST "INBOX/" %');
    expect(joined.lines.slice(0, -1)).toEqual(['* LIST (\\HasNoChildren) "/" "INBOX/Rechnungen"']);
  });

  it('takes the UTF8 (~{n}) form of APPEND', async () => {
    const body = Buffer.from('Subject: Grüße\r\nFrom: a@b.example\r\n\r\nÄpfel und Birnen\r\n', 'utf8');
    wire.write(`u1 APPEND INBOX UTF8 (~{${body.length}+}\r\n`);
    wire.write(Buffer.concat([body, Buffer.from(')\r\n')]));
    const reply = await wire.readTagged('u1');
    expect(reply.tagged).toMatch(/^u1 OK \[APPENDUID \d+ 1\] APPEND completed$/);
    const account = await server.app.services.db.selectFrom('accounts').select('id').where('address', '=', 'info@firma.de').executeTakeFirstOrThrow();
    const [stored] = await listMessages(server.app.services.db, account.id, 'INBOX');
    expect(await server.app.services.blobs.read(stored.blob_id)).toEqual(body);
  });

  it('names the special use in the LIST line of an IMAP4rev2 SELECT, and answers UID EXPUNGE as such', async () => {
    const other = await ImapWire.connect(server.ports.imap!);
    try {
      await other.command('a', `LOGIN info@firma.de ${PASSWORD}`);
      await other.command('b', 'ENABLE IMAP4rev2');
      const sent = await other.command('c', 'SELECT Sent');
      expect(sent.lines).toContain('* LIST (\\Sent) "/" "Sent"');
      await other.command('d', 'SELECT INBOX');
      await other.command('e', 'UID STORE 1 +FLAGS (\\Deleted)');
      const expunged = await other.command('f', 'UID EXPUNGE 1');
      expect(expunged.lines).toEqual(['* 1 EXPUNGE', 'f OK UID EXPUNGE completed']);
    } finally {
      other.close();
    }
  });

  it('ends a session whose selected folder another session deletes, with BYE', async () => {
    const watcher = await ImapWire.connect(server.ports.imap!);
    try {
      await wire.command('p1', 'CREATE Projekte');
      await watcher.command('a', `LOGIN info@firma.de ${PASSWORD}`);
      await watcher.command('b', 'SELECT Projekte');
      const deleted = await wire.command('p2', 'DELETE Projekte');
      expect(deleted.tagged).toBe('p2 OK DELETE completed');
      watcher.write('c NOOP\r\n');
      expect(await watcher.readLine()).toBe('* BYE Selected mailbox was deleted by another session');
      await watcher.closedByServer();
    } finally {
      watcher.close();
    }
  });
});
