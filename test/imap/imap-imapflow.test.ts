// The IMAP server driven by imapflow, the IMAP client most Node mail software uses: login over plain, STARTTLS and
// implicit TLS; folders and STATUS; FETCH of envelopes, MIME structure, parts and bytes; flags with CONDSTORE; SEARCH;
// COPY/MOVE/EXPUNGE; APPEND; quota; and account isolation (one account never reaches another's mail by any name).
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow, type ImapFlowOptions, type MessageStructureObject } from 'imapflow';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { ImapWire } from '../helpers/imap-wire.js';
import { actor, PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';
import { setActive, updateAccount } from '../../server/directory/accounts.js';
import { connectImapFlow } from '../helpers/imapflow-client.js';

const INFO = 'info@firma.de';
const BUCHHALTUNG = 'buchhaltung@firma.de';

let server: TestServer;
const open: ImapFlow[] = [];

/** A logged-in imapflow client; plain connection on loopback unless the options say otherwise. */
const connect = (user = INFO, options: Partial<ImapFlowOptions> = {}) => connectImapFlow(server.ports.imap!, user, open, options);

/** Sends one message to the MX the way a remote server's client would; resolves once it was accepted (stored). */
async function deliver(message: SendMailOptions): Promise<string> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp!, secure: false, ignoreTLS: true, name: 'mail.sender.test' });
  try {
    const info = await transport.sendMail(message);
    expect(info.rejected).toEqual([]);
    return info.messageId;
  } finally {
    transport.close();
  }
}

async function accountId(address: string): Promise<number> {
  const row = await server.app.services.db.selectFrom('accounts').select('id').where('address', '=', address).executeTakeFirstOrThrow();
  return row.id;
}

/** The stored row of a message by account, folder and UID (what the server holds, to compare with what imapflow saw). */
async function storedMessage(address: string, mailbox: string, uid: number) {
  const { db } = server.app.services;
  return db
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .selectAll('messages')
    .where('mailboxes.account_id', '=', await accountId(address))
    .where('mailboxes.name', '=', mailbox)
    .where('messages.uid', '=', uid)
    .executeTakeFirst();
}

async function storedMailbox(address: string, name: string) {
  return server.app.services.db
    .selectFrom('mailboxes')
    .selectAll()
    .where('account_id', '=', await accountId(address))
    .where('name', '=', name)
    .executeTakeFirst();
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** imapflow answers some failures with false instead of throwing: a value that must be there. */
function must<T>(value: T | false | null | undefined, what: string): T {
  if (value === false || value === null || value === undefined) throw new Error(`${what}: no value`);
  return value;
}

/** The failure of a promise that must fail (imapflow errors carry the server's response code). */
async function failure(promise: Promise<unknown>): Promise<{ message: string; serverResponseCode?: string; authenticationFailed?: boolean; responseText?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as never;
  }
  throw new Error('expected the operation to fail');
}

// what was sent, to compare with what imapflow reads back
const pdf = crypto.randomBytes(3000);
const overview = 'Grüße aus Köln\nZeile zwei: Äpfel, Öl, Übermaß\n';
const big = crypto.randomBytes(150_000);
const SUBJECT_INVOICE = 'Rechnung März – Grüße';
const uids: { invoice: number; minutes: number; offer: number; old: number } = { invoice: 0, minutes: 0, offer: 0, old: 0 };
let invoiceMessageId = '';
const OLD_DATE = new Date('2024-03-01T09:30:00Z');

describe('IMAP with imapflow', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'imap.port': 0, 'imaps.port': 0 } });
    await provision(server, 'firma.de', ['info', 'buchhaltung']);
    invoiceMessageId = await deliver({
      from: '"Anna Müller" <anna@sender.test>',
      to: 'Info Firma <info@firma.de>',
      cc: 'Carl Extern <carl@partner.test>',
      envelope: { from: 'anna@sender.test', to: [INFO] },
      subject: SUBJECT_INVOICE,
      text: 'Guten Tag,\nanbei die Rechnung. Zahlungsziel 14 Tage.\n',
      html: '<p>Guten Tag,</p><p>anbei die Rechnung. <b>Zahlungsziel 14 Tage.</b></p>',
      attachments: [
        { filename: 'Rechnung-2026-03.pdf', content: pdf, contentType: 'application/pdf' },
        { filename: 'Übersicht.txt', content: overview, contentType: 'text/plain; charset=utf-8' }
      ]
    });
    await deliver({ from: 'bernd@partner.test', to: INFO, subject: 'Protokoll der Sitzung', text: 'Kurzes Protokoll ohne Anhang.\n' });
    await deliver({
      from: '"Anna Müller" <anna@sender.test>',
      to: INFO,
      subject: 'Großes Angebot',
      text: 'Das Angebot liegt bei.\n',
      attachments: [{ filename: 'angebot.bin', content: big, contentType: 'application/octet-stream' }]
    });
    await deliver({ from: 'dora@sender.test', to: BUCHHALTUNG, subject: 'Nur für die Buchhaltung', text: 'Vertraulich.\n' });

    const client = await connect();
    const appended = await client.append(
      'INBOX',
      'From: Alt <alt@sender.test>\r\nTo: info@firma.de\r\nSubject: Alte Nachricht\r\nDate: Fri, 1 Mar 2024 09:30:00 +0000\r\n\r\nSchon gelesen.\r\n',
      ['\\Seen'],
      OLD_DATE
    );
    await client.mailboxOpen('INBOX');
    for (const message of await client.fetchAll('1:*', { uid: true, envelope: true })) {
      const subject = message.envelope?.subject;
      if (subject === SUBJECT_INVOICE) uids.invoice = message.uid;
      else if (subject === 'Protokoll der Sitzung') uids.minutes = message.uid;
      else if (subject === 'Großes Angebot') uids.offer = message.uid;
      else if (subject === 'Alte Nachricht') uids.old = message.uid;
    }
    expect(appended && appended.uid).toBe(uids.old);
    expect(Object.values(uids).every((u) => u > 0)).toBe(true);
    await client.logout();
  });

  afterEach(async () => {
    for (const client of open.splice(0)) if (client.usable) await client.logout().catch(() => client.close());
  });

  afterAll(async () => server?.close());

  describe('login', () => {
    it('logs in over a plain connection on loopback with the address in any case', async () => {
      const client = await connect('Info@FIRMA.De');
      expect(client.secureConnection).toBe(false);
      const inbox = await client.mailboxOpen('INBOX');
      expect(inbox.exists).toBe(4); // info's four messages, so this is info's INBOX
    });

    it('logs in after STARTTLS', async () => {
      const client = await connect('INFO@firma.de', { doSTARTTLS: true });
      expect(client.secureConnection).toBe(true);
      expect(client.tls && client.tls.version).toMatch(/^TLSv1\.[23]$/);
      expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: 4 });
    });

    it('logs in over implicit TLS (the imaps port)', async () => {
      const client = await connect(INFO, { port: server.ports.imaps!, secure: true });
      expect(client.secureConnection).toBe(true);
      expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: 4 });
    });

    it('refuses a wrong password with AUTHENTICATIONFAILED', async () => {
      const err = await failure(connect(INFO, { auth: { user: INFO, pass: 'Falsches-Passwort-1' } }));
      expect(err.authenticationFailed).toBe(true);
      expect(err.serverResponseCode).toBe('AUTHENTICATIONFAILED');
    });

    it('refuses an inactive account even with the right password, and lets it in again once active', async () => {
      await setActive(server.app.services.db, actor, BUCHHALTUNG, false);
      try {
        const err = await failure(connect(BUCHHALTUNG));
        expect(err.authenticationFailed).toBe(true);
        expect(err.serverResponseCode).toBe('AUTHENTICATIONFAILED');
      } finally {
        await setActive(server.app.services.db, actor, BUCHHALTUNG, true);
      }
      const client = await connect(BUCHHALTUNG);
      expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: 1 });
    });
  });

  describe('folders', () => {
    it('lists the default folders with their special-use flags as the server sent them', async () => {
      const client = await connect();
      const folders = await client.list();
      const byPath = new Map(folders.map((f) => [f.path, f]));
      expect([...byPath.keys()]).toEqual(expect.arrayContaining(['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']));
      for (const [path, use] of [['Sent', '\\Sent'], ['Drafts', '\\Drafts'], ['Trash', '\\Trash'], ['Junk', '\\Junk'], ['Archive', '\\Archive']]) {
        expect(byPath.get(path)?.specialUse, path).toBe(use);
        expect(byPath.get(path)?.specialUseSource, path).toBe('extension'); // from the LIST attributes, not guessed from the name
        expect(byPath.get(path)?.flags.has(use), path).toBe(true);
      }
      expect(byPath.get('INBOX')?.specialUse).toBe('\\Inbox');
      expect(byPath.get('INBOX')?.delimiter).toBe('/');
      expect(byPath.get('INBOX')?.subscribed).toBe(true);
      // LIST … RETURN (STATUS …) (RFC 5819) in the same round trip
      const withStatus = await client.list({ statusQuery: { messages: true, unseen: true } });
      expect(withStatus.find((f) => f.path === 'INBOX')?.status).toMatchObject({ messages: 4, unseen: 3 });
      expect(withStatus.find((f) => f.path === 'Trash')?.status).toMatchObject({ messages: 0, unseen: 0 });
    });

    it('answers STATUS with messages, unseen, UIDNEXT, UIDVALIDITY and HIGHESTMODSEQ as stored', async () => {
      const client = await connect();
      const status = await client.status('INBOX', { messages: true, unseen: true, uidNext: true, uidValidity: true, highestModseq: true });
      const inbox = (await storedMailbox(INFO, 'INBOX'))!;
      expect(status).toMatchObject({ path: 'INBOX', messages: 4, unseen: 3, uidNext: inbox.uidnext });
      expect(status && status.uidValidity).toBe(BigInt(inbox.uidvalidity));
      expect(status && status.highestModseq).toBe(BigInt(inbox.highestmodseq));
      expect(inbox.uidnext).toBe(Math.max(...Object.values(uids)) + 1);
    });

    it('opens a folder with no messages: EXISTS 0, empty FETCH and SEARCH, STATUS of zero', async () => {
      const client = await connect();
      const trash = await client.mailboxOpen('Trash');
      expect(trash.exists).toBe(0);
      expect(trash.uidNext).toBe(1);
      expect(await client.fetchAll('1:*', { uid: true, flags: true })).toEqual([]);
      expect(await client.search({ all: true }, { uid: true })).toEqual([]);
      expect(await client.status('Trash', { messages: true, unseen: true, uidNext: true })).toMatchObject({ messages: 0, unseen: 0, uidNext: 1 });
    });

    it('keeps UIDVALIDITY and UIDs stable across sessions', async () => {
      const first = await connect();
      const a = await first.mailboxOpen('INBOX');
      const uidsA = (await first.fetchAll('1:*', { uid: true })).map((m) => m.uid);
      await first.logout();
      const second = await connect(INFO, { doSTARTTLS: true });
      const b = await second.mailboxOpen('INBOX');
      const uidsB = (await second.fetchAll('1:*', { uid: true })).map((m) => m.uid);
      expect(b.uidValidity).toBe(a.uidValidity);
      expect(a.uidValidity).toBe(BigInt((await storedMailbox(INFO, 'INBOX'))!.uidvalidity));
      expect(uidsB).toEqual(uidsA);
      expect(uidsA).toEqual(Object.values(uids).sort((x, y) => x - y));
      // every folder has its own UIDVALIDITY
      const archive = await second.status('Archive', { uidValidity: true });
      expect(archive && archive.uidValidity).not.toBe(a.uidValidity);
    });

    it('creates, renames, subscribes and deletes folders, including umlauts and a nested path', async () => {
      const client = await connect();
      expect(await client.mailboxCreate('Entwürfe alt')).toMatchObject({ path: 'Entwürfe alt', created: true });
      expect(await client.mailboxCreate('Projekte/2026')).toMatchObject({ path: 'Projekte/2026', created: true });
      expect((await client.mailboxCreate('Entwürfe alt')).created).toBe(false); // ALREADYEXISTS
      // stored as UTF-8 names, the parent created with the child
      expect(await storedMailbox(INFO, 'Entwürfe alt')).toBeTruthy();
      expect(await storedMailbox(INFO, 'Projekte')).toBeTruthy();

      let folders = await client.list();
      const projekte = folders.find((f) => f.path === 'Projekte')!;
      expect(projekte.flags.has('\\HasChildren')).toBe(true);
      expect(folders.find((f) => f.path === 'Projekte/2026')).toMatchObject({ name: '2026', parentPath: 'Projekte' });

      const appended = await client.append('Projekte/2026', 'Subject: Plan\r\n\r\nPlan 2026\r\n');
      expect(appended && appended.uid).toBe(1);

      expect(await client.mailboxRename('Entwürfe alt', 'Entwürfe 2025')).toMatchObject({ newPath: 'Entwürfe 2025' });
      await client.mailboxRename('Projekte', 'Projekte alt');
      folders = await client.list();
      const paths = folders.map((f) => f.path);
      expect(paths).toEqual(expect.arrayContaining(['Entwürfe 2025', 'Projekte alt', 'Projekte alt/2026']));
      expect(paths).not.toContain('Entwürfe alt');
      expect(paths).not.toContain('Projekte');
      expect(paths).not.toContain('Projekte/2026');
      // the child moved with its message
      const moved = await client.mailboxOpen('Projekte alt/2026');
      expect(moved.exists).toBe(1);
      await client.mailboxClose();

      // a client that does not enable UTF-8 gets modified UTF-7 on the wire and still sees the same names
      const legacy = await connect(INFO, { disableAutoEnable: true, disableCompression: true });
      expect(legacy.enabled.size).toBe(0);
      const legacyPaths = (await legacy.list()).map((f) => f.path);
      expect(legacyPaths).toEqual(expect.arrayContaining(['Entwürfe 2025', 'Projekte alt/2026']));
      expect((await legacy.mailboxOpen('Entwürfe 2025')).exists).toBe(0);
      await legacy.mailboxClose();

      // subscriptions
      await client.mailboxUnsubscribe('Projekte alt/2026');
      expect((await client.list()).find((f) => f.path === 'Projekte alt/2026')?.subscribed).toBeFalsy(); // not in LSUB
      expect((await storedMailbox(INFO, 'Projekte alt/2026'))!.subscribed).toBe(0);
      await client.mailboxSubscribe('Projekte alt/2026');
      expect((await client.list()).find((f) => f.path === 'Projekte alt/2026')?.subscribed).toBe(true);

      // a folder with children cannot go first; INBOX and special-use folders never
      expect((await failure(client.mailboxDelete('Projekte alt'))).serverResponseCode).toBe('HASCHILDREN');
      expect((await failure(client.mailboxDelete('Sent'))).serverResponseCode).toBe('CANNOT');
      await client.mailboxDelete('Projekte alt/2026');
      await client.mailboxDelete('Projekte alt');
      await client.mailboxDelete('Entwürfe 2025');
      const left = (await client.list()).map((f) => f.path);
      expect(left.filter((p) => p.startsWith('Projekte') || p.startsWith('Entwürfe'))).toEqual([]);
      expect(await storedMailbox(INFO, 'Projekte alt/2026')).toBeUndefined();
    });

    it('reports the account quota (GETQUOTAROOT) in bytes and its growth after an APPEND', async () => {
      await updateAccount(server.app.services.db, actor, INFO, { quota: 50 * 1024 * 1024 });
      try {
        const client = await connect();
        const before = await client.getQuota('INBOX');
        const used = (await server.app.services.db.selectFrom('accounts').select('used_bytes').where('address', '=', INFO).executeTakeFirstOrThrow()).used_bytes;
        const beforeUsage = before ? (before.storage?.usage ?? 0) : 0;
        expect(before && before.storage?.limit).toBe(50 * 1024 * 1024);
        expect(beforeUsage).toBe(Math.ceil(used / 1024) * 1024);
        await client.append('Archive', Buffer.concat([Buffer.from('Subject: Ballast\r\n\r\n'), Buffer.alloc(20_000, 'x'), Buffer.from('\r\n')]));
        const after = await client.getQuota('INBOX');
        expect(after && after.storage?.usage).toBeGreaterThanOrEqual(beforeUsage + 19 * 1024);
        // a message that does not fit is refused with OVERQUOTA (RFC 9208 §4.3) and not stored
        await updateAccount(server.app.services.db, actor, INFO, { quota: used + 30_000 });
        const archive = await client.status('Archive', { messages: true });
        const err = await failure(client.append('Archive', Buffer.concat([Buffer.from('Subject: zu groß\r\n\r\n'), Buffer.alloc(40_000, 'y')])));
        expect(err.serverResponseCode).toBe('OVERQUOTA');
        expect(await client.status('Archive', { messages: true })).toEqual(archive);
      } finally {
        await updateAccount(server.app.services.db, actor, INFO, { quota: 0 });
      }
    });
  });

  describe('messages', () => {
    it('FETCHes the envelope and body structure of a multipart message with attachments as they were sent', async () => {
      const client = await connect();
      await client.mailboxOpen('INBOX');
      const message = await client.fetchOne(String(uids.invoice), { uid: true, envelope: true, bodyStructure: true, size: true, flags: true }, { uid: true });
      expect(message).toBeTruthy();
      if (!message) return;
      const envelope = message.envelope!;
      expect(envelope.subject).toBe(SUBJECT_INVOICE);
      expect(envelope.messageId).toBe(invoiceMessageId);
      expect(envelope.from).toEqual([{ name: 'Anna Müller', address: 'anna@sender.test' }]);
      expect(envelope.sender).toEqual([{ name: 'Anna Müller', address: 'anna@sender.test' }]);
      expect(envelope.to).toEqual([{ name: 'Info Firma', address: 'info@firma.de' }]);
      expect(envelope.cc).toEqual([{ name: 'Carl Extern', address: 'carl@partner.test' }]);
      expect(envelope.date).toBeInstanceOf(Date);
      expect(Math.abs((envelope.date as Date).getTime() - Date.now())).toBeLessThan(5 * 60_000);
      expect([...message.flags!]).toEqual([]);

      const root = message.bodyStructure!;
      expect(root.type).toBe('multipart/mixed');
      const [alternative, pdfPart, textPart] = root.childNodes!;
      expect(alternative.type).toBe('multipart/alternative');
      expect(alternative.part).toBe('1');
      expect(alternative.childNodes!.map((p: MessageStructureObject) => [p.part, p.type])).toEqual([
        ['1.1', 'text/plain'],
        ['1.2', 'text/html']
      ]);
      expect(alternative.childNodes![0].parameters).toMatchObject({ charset: 'utf-8' });
      expect(alternative.childNodes![0].lineCount).toBeGreaterThan(0);
      expect(pdfPart).toMatchObject({ part: '2', type: 'application/pdf', encoding: 'base64', disposition: 'attachment', dispositionParameters: { filename: 'Rechnung-2026-03.pdf' } });
      // the size is that of the encoded body: base64 lines of 76 characters, CRLF between them (the last CRLF
      // belongs to the boundary, RFC 2046 §5.1.1)
      const encoded = pdf.toString('base64').replace(/.{76}(?=.)/g, '$&\r\n');
      const blob = await server.app.services.blobs.read((await storedMessage(INFO, 'INBOX', uids.invoice))!.blob_id);
      expect(blob.includes(encoded + '\r\n--')).toBe(true);
      expect(pdfPart.size).toBe(encoded.length);
      expect(textPart).toMatchObject({ part: '3', type: 'text/plain', disposition: 'attachment', dispositionParameters: { filename: 'Übersicht.txt' } });

      const stored = (await storedMessage(INFO, 'INBOX', uids.invoice))!;
      expect(message.size).toBe(stored.size);
    });

    it('downloads an attachment decoded, and the full source byte for byte as stored', async () => {
      const client = await connect();
      await client.mailboxOpen('INBOX');
      const part = await client.download(String(uids.invoice), '2', { uid: true });
      expect(part.meta).toMatchObject({ contentType: 'application/pdf', filename: 'Rechnung-2026-03.pdf' });
      expect((await readAll(part.content!)).equals(pdf)).toBe(true);

      // the same part through FETCH BINARY (RFC 3516): the server decodes the base64
      const binary = await client.download(String(uids.invoice), '2', { uid: true, binary: true });
      expect((await readAll(binary.content!)).equals(pdf)).toBe(true);

      const text = await client.download(String(uids.invoice), '3', { uid: true });
      expect((await readAll(text.content!)).toString('utf8')).toBe(overview);

      const bigPart = await client.download(String(uids.offer), '2', { uid: true });
      expect((await readAll(bigPart.content!)).equals(big)).toBe(true);

      const stored = (await storedMessage(INFO, 'INBOX', uids.invoice))!;
      const blob = await server.app.services.blobs.read(stored.blob_id);
      const full = await client.fetchOne(String(uids.invoice), { source: true }, { uid: true });
      expect(full && full.source && full.source.equals(blob)).toBe(true);
      const whole = await client.download(String(uids.invoice), undefined, { uid: true });
      expect((await readAll(whole.content!)).equals(blob)).toBe(true);
      // fetching with BODY.PEEK (imapflow's default) did not mark it \Seen
      expect((await storedMessage(INFO, 'INBOX', uids.invoice))!.flags).toBe('');
    });

    it('adds, removes and sets flags with a new modseq each time (CONDSTORE), and UNCHANGEDSINCE guards a stale change', async () => {
      const client = await connect();
      await client.mailboxCreate('Flaggen');
      await client.mailboxOpen('INBOX');
      const copied = await client.messageCopy(String(uids.minutes), 'Flaggen', { uid: true });
      const uid = must(copied && copied.uidMap?.get(uids.minutes), 'COPYUID');
      expect(uid).toBe(1);
      const box = await client.mailboxOpen('Flaggen');
      expect(client.enabled.has('CONDSTORE')).toBe(true);

      const read = async () => must(await client.fetchOne(String(uid), { uid: true, flags: true }, { uid: true }), 'FETCH');
      const start = await read();
      expect(typeof start.modseq).toBe('bigint');
      expect(start.modseq).toBe(box.highestModseq);

      expect(await client.messageFlagsAdd(String(uid), ['\\Flagged', '$Wichtig'], { uid: true })).toBe(true);
      const added = await read();
      expect([...added.flags!].sort()).toEqual(['$Wichtig', '\\Flagged']);
      expect(added.modseq! > start.modseq!).toBe(true);

      await client.messageFlagsRemove(String(uid), ['\\Flagged'], { uid: true });
      const removed = await read();
      expect([...removed.flags!]).toEqual(['$Wichtig']);
      expect(removed.modseq! > added.modseq!).toBe(true);

      await client.messageFlagsSet(String(uid), ['\\Seen', '\\Answered'], { uid: true });
      const set = await read();
      expect([...set.flags!].sort()).toEqual(['\\Answered', '\\Seen']);
      expect(set.modseq! > removed.modseq!).toBe(true);

      // a change conditional on the first modseq must not apply now (RFC 7162 §3.1.3 MODIFIED)
      await client.messageFlagsAdd(String(uid), ['\\Draft'], { uid: true, unchangedSince: start.modseq });
      const guarded = await read();
      expect([...guarded.flags!].sort()).toEqual(['\\Answered', '\\Seen']);
      expect(guarded.modseq).toBe(set.modseq);

      const stored = (await storedMessage(INFO, 'Flaggen', uid))!;
      expect(stored.flags.split(' ').sort()).toEqual(['\\Answered', '\\Seen']);
      expect(BigInt(stored.modseq)).toBe(set.modseq);
      const status = await client.status('Flaggen', { highestModseq: true, unseen: true });
      expect(status && status.highestModseq).toBe(set.modseq);
      expect(status && status.unseen).toBe(0);
      // the original in INBOX kept its own flags
      expect((await storedMessage(INFO, 'INBOX', uids.minutes))!.flags).toBe('');
    });

    it('SEARCHes by from, subject, body, text, seen/unseen, since and larger', async () => {
      const client = await connect();
      await client.mailboxOpen('INBOX');
      const search = async (query: Parameters<ImapFlow['search']>[0]) => ((await client.search(query, { uid: true })) || []).sort((a, b) => a - b);
      const sorted = (...list: number[]) => list.sort((a, b) => a - b);
      expect(await search({ from: 'anna@sender.test' })).toEqual(sorted(uids.invoice, uids.offer));
      expect(await search({ from: 'Müller' })).toEqual(sorted(uids.invoice, uids.offer));
      expect(await search({ subject: 'rechnung' })).toEqual([uids.invoice]);
      expect(await search({ subject: 'Grüße' })).toEqual([uids.invoice]);
      expect(await search({ body: 'Zahlungsziel' })).toEqual([uids.invoice]);
      expect(await search({ body: 'Protokoll' })).toEqual([uids.minutes]); // in the body of one, the subject of the same
      expect(await search({ body: 'Sitzung' })).toEqual([]); // only in a subject: not BODY
      expect(await search({ text: 'Sitzung' })).toEqual([uids.minutes]); // TEXT covers the header too
      expect(await search({ seen: true })).toEqual([uids.old]);
      expect(await search({ seen: false })).toEqual(sorted(uids.invoice, uids.minutes, uids.offer));
      expect(await search({ since: new Date('2025-01-01T00:00:00Z') })).toEqual(sorted(uids.invoice, uids.minutes, uids.offer));
      expect(await search({ before: new Date('2025-01-01T00:00:00Z') })).toEqual([uids.old]);
      expect(await search({ larger: 100_000 })).toEqual([uids.offer]);
      expect(await search({ smaller: 100_000, from: 'anna' })).toEqual([uids.invoice]);
      expect(await search({ or: [{ subject: 'Protokoll' }, { subject: 'Angebot' }] })).toEqual(sorted(uids.minutes, uids.offer));
      expect(await search({ subject: 'gibt es nicht' })).toEqual([]);
    });

    it('copies with COPYUID, moves to Archive and expunges, keeping the bytes and the folders consistent', async () => {
      const client = await connect();
      await client.mailboxCreate('Ablage');
      await client.mailboxOpen('INBOX');
      const ablage = (await storedMailbox(INFO, 'Ablage'))!;
      const all = Object.values(uids).sort((a, b) => a - b);
      const copy = await client.messageCopy(all.join(','), 'Ablage', { uid: true });
      expect(copy).toBeTruthy();
      if (!copy) return;
      expect(copy.destination).toBe('Ablage');
      expect(copy.uidValidity).toBe(BigInt(ablage.uidvalidity));
      expect([...copy.uidMap!.entries()]).toEqual(all.map((u, i) => [u, i + 1]));
      // the copies share the original blobs
      for (const [source, target] of copy.uidMap!) {
        expect((await storedMessage(INFO, 'Ablage', target))!.blob_id).toBe((await storedMessage(INFO, 'INBOX', source))!.blob_id);
      }

      await client.mailboxOpen('Ablage');
      const archiveBefore = (await storedMailbox(INFO, 'Archive'))!;
      const invoiceCopy = copy.uidMap!.get(uids.invoice)!;
      const moved = await client.messageMove(String(invoiceCopy), 'Archive', { uid: true });
      expect(moved && moved.uidValidity).toBe(BigInt(archiveBefore.uidvalidity));
      const archivedUid = must(moved && moved.uidMap?.get(invoiceCopy), 'COPYUID of MOVE');
      expect(archivedUid).toBe(archiveBefore.uidnext);
      expect(await storedMessage(INFO, 'Ablage', invoiceCopy)).toBeUndefined();
      const archived = (await storedMessage(INFO, 'Archive', archivedUid))!;
      expect(archived.subject).toBe(SUBJECT_INVOICE);
      expect(client.mailbox && client.mailbox.exists).toBe(3);

      const expunged: Array<{ seq?: number; uid?: number }> = [];
      client.on('expunge', (event) => expunged.push(event));
      const minutesCopy = copy.uidMap!.get(uids.minutes)!;
      expect(await client.messageDelete(String(minutesCopy), { uid: true })).toBe(true);
      expect(expunged).toHaveLength(1);
      expect(await storedMessage(INFO, 'Ablage', minutesCopy)).toBeUndefined();
      const left = (await client.fetchAll('1:*', { uid: true })).map((m) => m.uid);
      expect(left).toEqual([copy.uidMap!.get(uids.offer)!, copy.uidMap!.get(uids.old)!].sort((a, b) => a - b));
      // the expunge is logged for QRESYNC clients
      const log = await server.app.services.db.selectFrom('expunges').select('uid').where('mailbox_id', '=', ablage.id).execute();
      expect(log.map((r) => r.uid).sort((a, b) => a - b)).toEqual([invoiceCopy, minutesCopy].sort((a, b) => a - b));
      // the original stays in INBOX with its bytes
      await client.mailboxOpen('INBOX');
      const original = await client.fetchOne(String(uids.invoice), { source: true }, { uid: true });
      expect(original && original.source?.equals(await server.app.services.blobs.read(archived.blob_id))).toBe(true);
    });

    it('APPENDs with flags and an internal date, answered with APPENDUID', async () => {
      const client = await connect();
      const drafts = (await storedMailbox(INFO, 'Drafts'))!;
      const raw = Buffer.from('From: info@firma.de\r\nTo: kunde@partner.test\r\nSubject: Entwurf Angebot\r\n\r\nSehr geehrte Damen und Herren,\r\n');
      const date = new Date('2025-11-03T08:15:30Z');
      const appended = await client.append('Drafts', raw, ['\\Draft', '\\Seen', '$Angebot'], date);
      expect(appended).toMatchObject({ destination: 'Drafts', uid: drafts.uidnext, uidValidity: BigInt(drafts.uidvalidity) });
      await client.mailboxOpen('Drafts');
      const message = await client.fetchOne(String(drafts.uidnext), { uid: true, flags: true, internalDate: true, source: true, envelope: true }, { uid: true });
      expect(message).toBeTruthy();
      if (!message) return;
      expect([...message.flags!].sort()).toEqual(['$Angebot', '\\Draft', '\\Seen']);
      expect(new Date(message.internalDate!).getTime()).toBe(date.getTime());
      expect(message.source!.equals(raw)).toBe(true);
      expect(message.envelope?.subject).toBe('Entwurf Angebot');
      // into a folder that does not exist: TRYCREATE, nothing stored
      const err = await failure(client.append('Gibt es nicht', raw));
      expect(err.serverResponseCode).toBe('TRYCREATE');
    });
  });

  describe('account isolation', () => {
    const FOREIGN_NAMES = [
      '../info',
      '../info/INBOX',
      'info',
      'info/INBOX',
      'info@firma.de',
      'info@firma.de/INBOX',
      'INFO@FIRMA.DE/INBOX',
      '#shared',
      '#shared/info',
      '#shared/info@firma.de/INBOX',
      '#user/info',
      '#users/info@firma.de/INBOX',
      'Other Users/info/INBOX',
      'user/info',
      'user.info',
      '~info/INBOX',
      '/INBOX',
      '%',
      '*'
    ];

    it('never lets buchhaltung select, examine, STATUS, APPEND to or COPY into info\'s folders under any name', async () => {
      const client = await connect(BUCHHALTUNG);
      const before = await server.app.services.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      for (const name of FOREIGN_NAMES) {
        const err = await failure(client.mailboxOpen(name));
        expect(err.serverResponseCode, name).toBe('NONEXISTENT');
        expect(await failure(client.mailboxOpen(name, { readOnly: true })), name).toBeTruthy();
        expect(await client.status(name, { messages: true }).catch(() => false), name).toBe(false);
        expect(await client.append(name, 'Subject: x\r\n\r\nx\r\n').catch(() => 'refused'), name).toBe('refused');
      }
      // its own INBOX holds only its own message
      await client.mailboxOpen('INBOX');
      const own = await client.fetchAll('1:*', { uid: true, envelope: true });
      expect(own.map((m) => m.envelope?.subject)).toEqual(['Nur für die Buchhaltung']);
      for (const name of ['../info/INBOX', 'info@firma.de/INBOX', '#shared/info/INBOX']) {
        expect(await client.messageCopy('1:*', name).catch(() => false), name).toBe(false); // imapflow answers a NO with false
      }
      expect(await client.search({ subject: 'Rechnung' })).toEqual([]);
      expect(await client.search({ text: 'Zahlungsziel' })).toEqual([]);
      // LIST shows only its own folders; the namespace has no shared or other-users part
      const paths = (await client.list()).map((f) => f.path).sort();
      expect(paths).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      expect(client.namespaces).toMatchObject({ other: false, shared: false });
      const after = await server.app.services.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(after.n).toBe(before.n);
      // info's INBOX is unchanged
      expect((await client.status('INBOX', { messages: true }))).toMatchObject({ messages: 1 });
      const infoClient = await connect();
      expect(await infoClient.status('INBOX', { messages: true })).toMatchObject({ messages: 4 });
    });

    it('refuses the same names on the wire, where no client library rewrites them first', async () => {
      const wire = await ImapWire.connect(server.ports.imap!);
      try {
        expect((await wire.command('l', `LOGIN ${BUCHHALTUNG} ${PASSWORD}`)).tagged).toMatch(/^l OK /);
        const quoted = (name: string) => '"' + name.replace(/["\\]/g, '\\$&') + '"';
        let n = 0;
        for (const name of [...FOREIGN_NAMES, 'info@firma.de/INBOX/', '..', '.', '../../info/INBOX']) {
          for (const command of [`SELECT ${quoted(name)}`, `EXAMINE ${quoted(name)}`, `STATUS ${quoted(name)} (MESSAGES)`, `GETQUOTAROOT ${quoted(name)}`]) {
            const reply = await wire.command(`t${++n}`, command);
            expect(reply.tagged, command).toMatch(new RegExp(`^t${n} NO `));
            expect(reply.lines.filter((l) => /^\* (\d+ EXISTS|STATUS)/.test(l)), command).toEqual([]);
          }
        }
        // LIST with a foreign-looking reference or pattern still lists only buchhaltung's own folders
        const own = ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash'];
        for (const [reference, pattern] of [['', '*'], ['../info', '*'], ['info@firma.de/', '*'], ['#shared/', '*'], ['', '../*'], ['', '*/INBOX'], ['~info', '%']]) {
          const reply = await wire.command(`t${++n}`, `LIST ${quoted(reference)} ${quoted(pattern)}`);
          expect(reply.tagged).toMatch(new RegExp(`^t${n} OK `));
          const names = reply.lines.filter((l) => l.startsWith('* LIST')).map((l) => /"([^"]*)"$/.exec(l)?.[1]);
          for (const name of names) expect(own, `LIST ${reference} ${pattern}`).toContain(name);
          if (reference === '' && pattern === '*') expect(names.sort()).toEqual(own);
        }
      } finally {
        wire.close();
      }
    });
  });
});
