// MX recipient routing driven by real SMTP peers: accounts, aliases, forwards (keep copy or not, remote or hosted),
// catch-all, subaddresses (RFC 5233), refusals (unknown, disabled, relay, quota), IDN domains and shared blobs.
import crypto from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startServer, provision, actor, PASSWORD, type TestServer } from '../helpers/server.js';
import { queuedRecipients } from '../helpers/stored-state.js';
import { addAccount, setActive, updateAccount } from '../../server/directory/accounts.js';
import { addDomain, setCatchAll } from '../../server/directory/domains.js';
import { addAlias, addForward } from '../../server/directory/routing.js';
import { listMessages } from '../../server/store/messages.js';

const SENDER = 'peer@sender.test';
/** SENDER rewritten by SRS for the forwarding domain firma.de (hash and day stamp in base32) */
const SRS_SENDER = /^SRS0=[A-Z2-7]{6}=[A-Z2-7]{2}=sender\.test=peer@firma\.de$/;
const UNKNOWN = '550 5.1.1 Recipient address rejected: no such mailbox here';
const DISABLED = '550 5.2.1 Recipient address rejected: mailbox disabled';
const RELAY = '550 5.7.1 Relay access denied: this server does not accept mail for that domain';
const FULL = '452 4.2.2 Recipient mailbox is full, try again later';

let server: TestServer;

/** A plain SMTP dialogue over a socket, for asserting exact replies (STYLE.md §5). */
interface Dialogue {
  command(line: string): Promise<string>;
  close(): Promise<void>;
}

async function dialogue(): Promise<Dialogue> {
  const socket = net.connect(server.ports.smtp!, '127.0.0.1');
  socket.setEncoding('utf8');
  let buffer = '';
  const ready: string[] = [];
  const waiting: Array<(reply: string) => void> = [];
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    // RFC 5321 §4.2.1: continuation lines use "-" after the code, the last line a space
    for (let m; (m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(buffer)); ) {
      buffer = buffer.slice(m[0].length);
      const reply = m[0].trimEnd().split('\r\n').pop()!;
      const waiter = waiting.shift();
      if (waiter) waiter(reply);
      else ready.push(reply);
    }
  });
  const next = () => new Promise<string>((resolve) => (ready.length ? resolve(ready.shift()!) : waiting.push(resolve)));
  expect(await next()).toMatch(/^220 /);
  const command = (line: string) => {
    socket.write(line + '\r\n');
    return next();
  };
  expect(await command('EHLO peer.sender.test')).toMatch(/^250 /);
  return {
    command,
    close: async () => {
      await command('QUIT');
      socket.destroy();
    }
  };
}

/** Reply to RCPT TO:<address> in a fresh transaction (MAIL FROM optionally with parameters). */
async function rcptReply(address: string, mailFromParams = ''): Promise<string> {
  const d = await dialogue();
  try {
    expect(await d.command(`MAIL FROM:<${SENDER}>${mailFromParams}`)).toMatch(/^250 /);
    return await d.command(`RCPT TO:<${address}>`);
  } finally {
    await d.close();
  }
}

function message(to: string, subject: string): string {
  return [`From: ${SENDER}`, `To: ${to}`, `Subject: ${subject}`, `Message-ID: <${crypto.randomUUID()}@sender.test>`, 'MIME-Version: 1.0', '', `Body of ${subject}`, ''].join('\r\n');
}

/** Sends one message to the given envelope recipients with nodemailer; returns the queue id from the 250 reply. */
async function deliver(recipients: string[], subject = crypto.randomUUID()): Promise<{ queueId: string; subject: string }> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp, secure: false, ignoreTLS: true, name: 'peer.sender.test' });
  const info = await transport.sendMail({ envelope: { from: SENDER, to: recipients }, raw: message(recipients.join(', '), subject) });
  expect(info.rejected).toEqual([]);
  const queueId = /^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$/.exec(info.response)?.[1];
  expect(queueId, info.response).toBeTruthy();
  return { queueId: queueId!, subject };
}

async function accountId(address: string): Promise<number> {
  const row = await server.app.services.db.selectFrom('accounts').select('id').where('address', '=', address).executeTakeFirstOrThrow();
  return row.id;
}

/** Messages with the given subject in a folder of the account. */
async function found(address: string, subject: string, folder = 'INBOX') {
  const messages = await listMessages(server.app.services.db, await accountId(address), folder);
  return messages.filter((m) => m.subject === subject);
}

async function receivedLine(blobId: string): Promise<string> {
  const raw = (await server.app.services.blobs.read(blobId)).toString('latin1');
  const field = /^Received: ([^]*?)\r\n(?![ \t])/.exec(raw);
  expect(field).toBeTruthy();
  return field![1].replace(/\r\n[ \t]+/g, ' ');
}

const outboundFor = (blobId: string) => queuedRecipients(server, { blobId });

async function refcount(blobId: string): Promise<number | undefined> {
  const row = await server.app.services.db.selectFrom('blobs').select('refcount').where('id', '=', blobId).executeTakeFirst();
  return row?.refcount;
}

describe('MX routing', () => {
  beforeAll(async () => {
    // the queue stays stopped: these tests look at what was queued, not at its delivery
    server = await startServer({ build: { queue: false } });
    await provision(server, 'firma.de', ['info', 'sales', 'ops', 'anna', 'bob', 'carl', 'paused', 'full', 'big']);
    await provision(server, 'catch.de', ['office', 'boss', 'bin']);
    const { db } = server.app.services;
    await addAlias(db, actor, 'kontakt@firma.de', 'info@firma.de');
    await addForward(db, actor, 'anna@firma.de', 'anna@remote.example', true);
    await addForward(db, actor, 'bob@firma.de', 'bob@remote.example', false);
    await addForward(db, actor, 'carl@firma.de', 'info@firma.de', false);
    await addForward(db, actor, 'team@firma.de', 'x@remote.example', false);
    await addForward(db, actor, 'team@firma.de', 'sales@firma.de', false);
    await addAlias(db, actor, 'chef@catch.de', 'boss@catch.de');
    await setCatchAll(db, actor, 'catch.de', 'bin@catch.de');
  });
  afterAll(async () => server?.close());

  it('delivers to an account INBOX and names the recipient in Received', async () => {
    const { queueId, subject } = await deliver(['info@firma.de']);
    const [stored] = await found('info@firma.de', subject);
    expect(stored).toBeDefined();
    expect(stored.flags).toBe('');
    expect(await receivedLine(stored.blob_id)).toMatch(new RegExp(`^from peer\\.sender\\.test \\(.*\\[127\\.0\\.0\\.1\\]\\) by mx\\.postfach\\.test \\(Postfach\\) with ESMTP id ${queueId} for <info@firma\\.de>; `));
    expect(await found('sales@firma.de', subject)).toEqual([]);
  });

  it('delivers mail for an alias to its account', async () => {
    const { subject } = await deliver(['kontakt@firma.de']);
    const [stored] = await found('info@firma.de', subject);
    expect(stored).toBeDefined();
    expect(await receivedLine(stored.blob_id)).toContain('for <kontakt@firma.de>;');
  });

  it('forwards with keep copy: stored locally and one outbound row on the same blob', async () => {
    const { subject } = await deliver(['anna@firma.de']);
    const [stored] = await found('anna@firma.de', subject);
    expect(stored).toBeDefined();
    const rows = await outboundFor(stored.blob_id);
    expect(rows).toEqual([
      expect.objectContaining({ sender: expect.stringMatching(SRS_SENDER), return_path: SENDER, recipient: 'anna@remote.example', domain: 'remote.example', origin: 'forward', forwarded_for: 'anna@firma.de', attempts: 0, last_error: null, status: 'pending' })
    ]);
    expect(await refcount(stored.blob_id)).toBe(2); // one message + one queued forward
  });

  it('forwards without keep copy: no local copy, an outbound row naming the forwarding address', async () => {
    const { db } = server.app.services;
    const before = await queuedRecipients(server, { recipient: 'bob@remote.example' });
    const { subject } = await deliver(['bob@firma.de']);
    expect(await found('bob@firma.de', subject)).toEqual([]);
    const rows = await queuedRecipients(server, { recipient: 'bob@remote.example' });
    expect(rows).toHaveLength(before.length + 1);
    const row = rows[rows.length - 1];
    expect(row).toMatchObject({ sender: expect.stringMatching(SRS_SENDER), return_path: SENDER, origin: 'forward', forwarded_for: 'bob@firma.de' });
    const raw = (await server.app.services.blobs.read(row.blob_id)).toString('latin1');
    expect(raw).toContain(`Subject: ${subject}\r\n`);
    // RFC 8617 §5.1: the forwarding domain seals first, then our trace and verdict follow
    expect(raw).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none; d=firma\.de; s=\w+;[^]*?\r\nARC-Message-Signature: i=1;[^]*?\r\nARC-Authentication-Results: i=1; mx\.postfach\.test;[^]*?\r\nReceived: .*\r\n\tby mx\.postfach\.test/);
    expect(await refcount(row.blob_id)).toBe(1);
  });

  it('forwards to another hosted address by storing it there, with no outbound row', async () => {
    const { subject } = await deliver(['carl@firma.de']);
    expect(await found('carl@firma.de', subject)).toEqual([]);
    const [stored] = await found('info@firma.de', subject);
    expect(stored).toBeDefined();
    expect(await outboundFor(stored.blob_id)).toEqual([]);
  });

  it('splits a forward-only address into hosted and remote destinations', async () => {
    const { subject } = await deliver(['team@firma.de']);
    const [stored] = await found('sales@firma.de', subject);
    expect(stored).toBeDefined();
    expect(await outboundFor(stored.blob_id)).toEqual([expect.objectContaining({ recipient: 'x@remote.example', forwarded_for: 'team@firma.de' })]);
  });

  describe('catch-all', () => {
    it('takes addresses that match nothing else, with or without a subaddress', async () => {
      const { subject } = await deliver(['whoever@catch.de', 'nobody+tag@catch.de']);
      expect(await found('bin@catch.de', subject)).toHaveLength(1);
      expect(await rcptReply('anything-at-all@catch.de')).toMatch(/^250 /);
    });

    it('never shadows an existing account, alias or subaddress of an account', async () => {
      for (const rcpt of ['office@catch.de', 'OFFICE+x@catch.de']) {
        const { subject } = await deliver([rcpt]);
        expect(await found('office@catch.de', subject), rcpt).toHaveLength(1);
        expect(await found('bin@catch.de', subject), rcpt).toEqual([]);
      }
      const { subject } = await deliver(['chef@catch.de']);
      expect(await found('boss@catch.de', subject)).toHaveLength(1);
      expect(await found('bin@catch.de', subject)).toEqual([]);
    });

    it('does not take mail for a disabled account', async () => {
      await addAccount(server.app.services.accounts, actor, { address: 'gone@catch.de', password: PASSWORD, active: false });
      expect(await rcptReply('gone@catch.de')).toBe(DISABLED);
    });
  });

  it('delivers info+news@ to info@ and keeps the full address in Received', async () => {
    const { subject } = await deliver(['info+news@firma.de']);
    const [stored] = await found('info@firma.de', subject);
    expect(stored).toBeDefined();
    expect(await receivedLine(stored.blob_id)).toContain('for <info+news@firma.de>;');
  });

  it('refuses an unknown address with 550 5.1.1, also with a subaddress', async () => {
    expect(await rcptReply('nobody@firma.de')).toBe(UNKNOWN);
    expect(await rcptReply('nobody+info@firma.de')).toBe(UNKNOWN);
  });

  it('refuses a disabled account with 550 5.2.1 and delivers again once reactivated', async () => {
    const { db } = server.app.services;
    await setActive(db, actor, 'paused@firma.de', false);
    expect(await rcptReply('paused@firma.de')).toBe(DISABLED);
    expect(await rcptReply('paused+x@firma.de')).toBe(DISABLED);
    await setActive(db, actor, 'paused@firma.de', true);
    const { subject } = await deliver(['paused@firma.de']);
    expect(await found('paused@firma.de', subject)).toHaveLength(1);
  });

  it('refuses a domain not hosted here with 550 5.7.1 (no relaying)', async () => {
    expect(await rcptReply('someone@example.org')).toBe(RELAY);
    expect(await rcptReply('info@firma.de.example.org')).toBe(RELAY);
  });

  it('refuses an address that is not one with 501 5.1.3', async () => {
    expect(await rcptReply('no-at-sign')).toMatch(/^501 5\.1\.3 /);
  });

  it('delivers to an upper-case recipient', async () => {
    const { subject } = await deliver(['INFO@FIRMA.DE']);
    expect(await found('info@firma.de', subject)).toHaveLength(1);
  });

  it('delivers to an IDN domain given in Unicode or ASCII form', async () => {
    const { db } = server.app.services;
    const domain = await addDomain(db, actor, 'müller.de');
    expect(domain.name).toBe('xn--mller-kva.de');
    await addAccount(server.app.services.accounts, actor, { address: 'info@müller.de', password: PASSWORD });
    expect(await accountId('info@xn--mller-kva.de')).toBeGreaterThan(0);

    // RFC 6531: a UTF-8 domain in the envelope needs SMTPUTF8
    const d = await dialogue();
    const subject = 'IDN ' + crypto.randomUUID();
    try {
      expect(await d.command(`MAIL FROM:<${SENDER}> SMTPUTF8`)).toMatch(/^250 /);
      expect(await d.command('RCPT TO:<INFO@Müller.de>')).toMatch(/^250 /);
      expect(await d.command('DATA')).toMatch(/^354 /);
      expect(await d.command(message('info@müller.de', subject) + '.')).toMatch(/^250 2\.0\.0 Ok: queued as /);
    } finally {
      await d.close();
    }
    expect(await found('info@xn--mller-kva.de', subject)).toHaveLength(1);

    const ascii = await deliver(['Info@XN--MLLER-KVA.de']);
    expect(await found('info@xn--mller-kva.de', ascii.subject)).toHaveLength(1);
  });

  it('refuses a full mailbox with 452 4.2.2 until the quota is raised', async () => {
    const { db } = server.app.services;
    await deliver(['full@firma.de']);
    const account = await db.selectFrom('accounts').selectAll().where('address', '=', 'full@firma.de').executeTakeFirstOrThrow();
    expect(account.used_bytes).toBeGreaterThan(0);
    await updateAccount(db, actor, 'full@firma.de', { quota: 10 });
    expect(await rcptReply('full@firma.de')).toBe(FULL);
    expect(await rcptReply('full+x@firma.de')).toBe(FULL);
    await updateAccount(db, actor, 'full@firma.de', { quota: 0 });
    const { subject } = await deliver(['full@firma.de']);
    expect(await found('full@firma.de', subject)).toHaveLength(1);
  });

  it('refuses a recipient whose quota cannot hold the SIZE the client declared', async () => {
    const { db } = server.app.services;
    await updateAccount(db, actor, 'big@firma.de', { quota: 100_000 });
    expect(await rcptReply('big@firma.de', ' SIZE=200000')).toBe(FULL);
    expect(await rcptReply('big@firma.de', ' SIZE=1000')).toMatch(/^250 /);
  });

  it('stores one message to several recipients once per account on one shared blob, without a for clause', async () => {
    const { db } = server.app.services;
    const { queueId, subject } = await deliver(['info@firma.de', 'kontakt@firma.de', 'info+x@firma.de', 'sales@firma.de', 'ops@firma.de']);
    const info = await found('info@firma.de', subject);
    const sales = await found('sales@firma.de', subject);
    const ops = await found('ops@firma.de', subject);
    expect([info.length, sales.length, ops.length]).toEqual([1, 1, 1]);
    const blobId = info[0].blob_id;
    expect(sales[0].blob_id).toBe(blobId);
    expect(ops[0].blob_id).toBe(blobId);
    expect(await refcount(blobId)).toBe(3);
    const referencing = await db.selectFrom('messages').select('id').where('blob_id', '=', blobId).execute();
    expect(referencing).toHaveLength(3);
    const blob = await server.app.services.blobs.read(blobId);
    expect(info[0].size).toBe(blob.length);

    const received = await receivedLine(blobId);
    expect(received).toMatch(new RegExp(`with ESMTP id ${queueId};`));
    expect(received).not.toMatch(/ for </);
  });

  it('stores a message to two recipients once in each account', async () => {
    const { subject } = await deliver(['sales@firma.de', 'ops@firma.de']);
    const sales = await found('sales@firma.de', subject);
    const ops = await found('ops@firma.de', subject);
    expect(sales).toHaveLength(1);
    expect(ops).toHaveLength(1);
    expect(sales[0].blob_id).toBe(ops[0].blob_id);
    expect(await refcount(sales[0].blob_id)).toBe(2);
    expect(await receivedLine(sales[0].blob_id)).not.toContain('for <');
  });

  it('stores one copy when the same recipient is given again (also in other case), and still names it in Received', async () => {
    const d = await dialogue();
    const subject = 'twice ' + crypto.randomUUID();
    try {
      expect(await d.command(`MAIL FROM:<${SENDER}>`)).toMatch(/^250 /);
      expect(await d.command('RCPT TO:<ops@firma.de>')).toMatch(/^250 /);
      expect(await d.command('RCPT TO:<ops@firma.de>')).toMatch(/^250 /);
      expect(await d.command('RCPT TO:<OPS@Firma.DE>')).toMatch(/^250 /);
      expect(await d.command('DATA')).toMatch(/^354 /);
      expect(await d.command(message('ops@firma.de', subject) + '.')).toMatch(/^250 2\.0\.0 /);
    } finally {
      await d.close();
    }
    const stored = await found('ops@firma.de', subject);
    expect(stored).toHaveLength(1);
    expect(await refcount(stored[0].blob_id)).toBe(1);
    expect(await receivedLine(stored[0].blob_id)).toContain('for <ops@firma.de>;');
  });

  it('accepts the good recipients of a transaction when one is refused', async () => {
    const d = await dialogue();
    const subject = 'mixed ' + crypto.randomUUID();
    try {
      expect(await d.command(`MAIL FROM:<${SENDER}>`)).toMatch(/^250 /);
      expect(await d.command('RCPT TO:<ops@firma.de>')).toMatch(/^250 /);
      expect(await d.command('RCPT TO:<nobody@firma.de>')).toBe(UNKNOWN);
      expect(await d.command('DATA')).toMatch(/^354 /);
      expect(await d.command(message('ops@firma.de', subject) + '.')).toMatch(/^250 2\.0\.0 /);
    } finally {
      await d.close();
    }
    const [stored] = await found('ops@firma.de', subject);
    expect(stored).toBeDefined();
    expect(await receivedLine(stored.blob_id)).toContain('for <ops@firma.de>;');
  });
});
