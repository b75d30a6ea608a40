// POP3 sessions among the rest of the server: the admin API ends them when it deactivates an account or resets its
// password (nothing DELE'd is applied), IMAP sessions see what QUIT did, a message expunged over IMAP is refused by
// RETR instead of sent half, mail arriving or expunged during a session never makes QUIT delete the wrong message
// (the maildrop is a snapshot, RFC 1939 §8), and the client settings list POP3 once it listens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMessages } from '../../server/store/messages.js';
import { adminClients, type AdminClient } from '../helpers/admin-api.js';
import { ImapWire } from '../helpers/imap-wire.js';
import { accountId, storeMail, textMail } from '../helpers/mail-store.js';
import { Pop3Wire } from '../helpers/pop3-wire.js';
import { PASSWORD, provision, startServer, TEST_HOSTNAME, type TestServer } from '../helpers/server.js';

let server: TestServer;
let owner: AdminClient;
const open: Array<Pop3Wire | ImapWire> = [];

async function pop3Login(user: string, password = PASSWORD): Promise<Pop3Wire> {
  const wire = await Pop3Wire.connect(server.ports.pop3!);
  open.push(wire);
  await wire.login(user, password);
  return wire;
}

async function subjects(address: string): Promise<string[]> {
  return (await listMessages(server.app.services.db, await accountId(server, address), 'INBOX')).map((m) => m.subject);
}

beforeAll(async () => {
  server = await startServer({ overrides: { 'pop3.port': 0, 'pop3s.port': 0, 'imap.port': 0, 'http.port': 0 } });
  await provision(server, 'firma.de', ['info', 'kasse', 'empfang', 'lager', 'alt', 'neu', 'mitte']);
  for (const address of ['info@firma.de', 'kasse@firma.de', 'empfang@firma.de', 'lager@firma.de']) {
    await storeMail(server, address, textMail('Eins'));
    await storeMail(server, address, textMail('Zwei'));
  }
  ({ owner } = await adminClients(server));
});

afterAll(async () => {
  for (const wire of open) wire.close();
  await server?.close();
});

describe('POP3 and the admin API', () => {
  it('lists POP3S and POP3 in the client settings once they listen', async () => {
    const settings = (await owner.get('/api/v1/accounts/info@firma.de/client-settings')).body;
    const server_ = (protocol: string, security: string, port: number | undefined) => ({ protocol, security, port, host: TEST_HOSTNAME, username: 'info@firma.de', authentication: 'password-normal' });
    expect(settings.incoming).toEqual([server_('imap', 'starttls', server.ports.imap), server_('pop3', 'tls', server.ports.pop3s), server_('pop3', 'starttls', server.ports.pop3)]);
  });

  it('deactivation ends the open session without applying its DELE marks; logins are then refused', async () => {
    const wire = await pop3Login('info@firma.de');
    expect(await wire.send('DELE 1')).toBe('+OK Message 1 deleted');
    expect((await owner.post('/api/v1/accounts/info@firma.de/deactivate')).status).toBe(200);
    expect(await wire.readLine()).toBe('-ERR [SYS/PERM] Account closed by the administrator');
    await wire.closedByServer();
    expect(await subjects('info@firma.de')).toEqual(['Eins', 'Zwei']);
    const again = await Pop3Wire.connect(server.ports.pop3!);
    open.push(again);
    await again.send('USER info@firma.de');
    expect(await again.send(`PASS ${PASSWORD}`)).toBe('-ERR [AUTH] Account is disabled');
    expect((await owner.post('/api/v1/accounts/info@firma.de/activate')).status).toBe(200);
    await again.send('USER info@firma.de');
    expect(await again.send(`PASS ${PASSWORD}`)).toMatch(/^\+OK Logged in, 2 messages/);
  });

  it('a password reset ends the session; the old password no longer works', async () => {
    const wire = await pop3Login('kasse@firma.de');
    const fresh = 'Neues-Geheimwort-2026';
    expect((await owner.post('/api/v1/accounts/kasse@firma.de/password', { password: fresh })).status).toBe(204);
    expect(await wire.readLine()).toBe('-ERR [SYS/PERM] Account closed by the administrator');
    await wire.closedByServer();
    const again = await Pop3Wire.connect(server.ports.pop3!);
    open.push(again);
    await again.send('USER kasse@firma.de');
    expect(await again.send(`PASS ${PASSWORD}`)).toBe('-ERR [AUTH] Invalid credentials');
    await again.send('USER kasse@firma.de');
    expect(await again.send(`PASS ${fresh}`)).toMatch(/^\+OK Logged in/);
  });
});

describe('POP3 and IMAP on one mailbox', () => {
  it("an IMAP session in IDLE sees QUIT's changes: EXPUNGE for the deleted message, \\Seen for the retrieved one", async () => {
    const imap = await ImapWire.connect(server.ports.imap!);
    open.push(imap);
    expect((await imap.command('a', `LOGIN empfang@firma.de ${PASSWORD}`)).tagged).toMatch(/^a OK/);
    expect((await imap.command('b', 'SELECT INBOX')).tagged).toMatch(/^b OK/);
    imap.write('c IDLE\r\n');
    expect(await imap.readLine()).toMatch(/^\+ /);
    const pop3 = await pop3Login('empfang@firma.de');
    pop3.write('RETR 1\r\n');
    expect((await pop3.readMulti()).status).toMatch(/^\+OK \d+ octets$/);
    expect(await pop3.send('DELE 2')).toBe('+OK Message 2 deleted');
    expect(await pop3.send('QUIT')).toBe('+OK Postfach POP3 signing off (1 messages left)');
    const updates = [await imap.readLine(), await imap.readLine()].sort();
    expect(updates).toEqual(['* 1 FETCH (UID 1 FLAGS (\\Seen))', '* 2 EXPUNGE']);
    imap.write('DONE\r\n');
    expect((await imap.readTagged('c')).tagged).toBe('c OK IDLE completed');
    expect(await subjects('empfang@firma.de')).toEqual(['Eins']);
  });

  it('a message expunged over IMAP during a POP3 session: RETR answers -ERR, the listing stays, QUIT still commits', async () => {
    const pop3 = await pop3Login('lager@firma.de');
    const imap = await ImapWire.connect(server.ports.imap!);
    open.push(imap);
    await imap.command('a', `LOGIN lager@firma.de ${PASSWORD}`);
    await imap.command('b', 'SELECT INBOX');
    expect((await imap.command('c', 'STORE 1 +FLAGS.SILENT (\\Deleted)')).tagged).toMatch(/^c OK/);
    expect((await imap.command('d', 'EXPUNGE')).lines).toContain('* 1 EXPUNGE');
    expect(await pop3.send('RETR 1')).toBe('-ERR Message 1 was deleted by another session');
    expect(await pop3.send('TOP 1 0')).toBe('-ERR Message 1 was deleted by another session');
    expect((await pop3.multi('LIST')).lines).toHaveLength(2);
    expect(await pop3.send('DELE 1')).toBe('+OK Message 1 deleted');
    expect(await pop3.send('QUIT')).toBe('+OK Postfach POP3 signing off (1 messages left)');
    expect(await subjects('lager@firma.de')).toEqual(['Zwei']);
  });
});

describe('the maildrop is a snapshot of the INBOX at login (RFC 1939 §8)', () => {
  /** RFC 1939 §7: 1 to 70 characters from 0x21 to 0x7E, unique in the maildrop. */
  const wellFormed = (lines: string[]) => {
    const ids = lines.map((line) => line.split(' ')[1]);
    for (const id of ids) expect(id).toMatch(/^[\x21-\x7e]{1,70}$/);
    expect(new Set(ids).size).toBe(ids.length);
    return ids;
  };

  it('mail arriving during a session stays out of it until the next login; QUIT deletes exactly the marked message', async () => {
    await storeMail(server, 'neu@firma.de', textMail('Eins'));
    await storeMail(server, 'neu@firma.de', textMail('Zwei'));
    const pop3 = await pop3Login('neu@firma.de');
    const stat = await pop3.send('STAT');
    const ids = wellFormed((await pop3.multi('UIDL')).lines);
    await storeMail(server, 'neu@firma.de', textMail('Drei'));
    expect(await subjects('neu@firma.de')).toEqual(['Eins', 'Zwei', 'Drei']);
    expect(await pop3.send('STAT')).toBe(stat);
    expect(await pop3.send('LIST 3')).toBe('-ERR No message 3');
    expect((await pop3.multi('UIDL')).lines).toEqual([`1 ${ids[0]}`, `2 ${ids[1]}`]);
    expect(await pop3.send('DELE 1')).toBe('+OK Message 1 deleted');
    expect(await pop3.send('QUIT')).toBe('+OK Postfach POP3 signing off (1 messages left)');
    expect(await subjects('neu@firma.de')).toEqual(['Zwei', 'Drei']);
    // the next session sees the new message; the survivor keeps its id under its new number
    const next = await pop3Login('neu@firma.de');
    const after = wellFormed((await next.multi('UIDL')).lines);
    expect(after[0]).toBe(ids[1]);
    expect(ids).not.toContain(after[1]);
    expect((await next.multi('RETR 2')).lines.join('\r\n') + '\r\n').toBe(textMail('Drei'));
    expect(await next.send('QUIT')).toMatch(/^\+OK/);
  });

  it('a message expunged over IMAP during a session does not shift the numbers: DELE 2 removes the second message, not the third', async () => {
    for (const subject of ['Eins', 'Zwei', 'Drei']) await storeMail(server, 'mitte@firma.de', textMail(subject));
    const pop3 = await pop3Login('mitte@firma.de');
    const imap = await ImapWire.connect(server.ports.imap!);
    open.push(imap);
    await imap.command('a', `LOGIN mitte@firma.de ${PASSWORD}`);
    await imap.command('b', 'SELECT INBOX');
    await imap.command('c', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect((await imap.command('d', 'EXPUNGE')).lines).toContain('* 1 EXPUNGE');
    // numbers are those of the login: 2 is still "Zwei", 3 still "Drei"
    expect((await pop3.multi('RETR 3')).lines.join('\r\n') + '\r\n').toBe(textMail('Drei'));
    expect(await pop3.send('DELE 2')).toBe('+OK Message 2 deleted');
    expect(await pop3.send('QUIT')).toBe('+OK Postfach POP3 signing off (2 messages left)');
    expect(await subjects('mitte@firma.de')).toEqual(['Drei']);
    const [drei] = await listMessages(server.app.services.db, await accountId(server, 'mitte@firma.de'), 'INBOX');
    expect(drei.flags).toBe('\\Seen');
  });
});

describe('messages stored before POP3', () => {
  it('measures a message whose CRLF size was never recorded from its file, once, and keeps the size', async () => {
    const raw = 'Subject: Alt\n\nvon einem Import\nmit LF\n';
    await storeMail(server, 'alt@firma.de', raw);
    const { db } = server.app.services;
    const [message] = await listMessages(db, await accountId(server, 'alt@firma.de'), 'INBOX');
    await db.updateTable('blobs').set({ wire_size: null }).where('id', '=', message.blob_id).execute();
    const wire = await pop3Login('alt@firma.de');
    const expected = Buffer.byteLength(raw.replace(/\n/g, '\r\n'));
    expect(await wire.send('LIST 1')).toBe(`+OK 1 ${expected}`);
    expect((await wire.multi('RETR 1')).lines.join('\r\n') + '\r\n').toBe(raw.replace(/\n/g, '\r\n'));
    const blob = await db.selectFrom('blobs').select('wire_size').where('id', '=', message.blob_id).executeTakeFirstOrThrow();
    expect(blob.wire_size).toBe(expected);
    await wire.send('QUIT');
  });
});
