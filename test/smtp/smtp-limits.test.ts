// Threat: resource exhaustion and parser abuse on the MX: oversize messages (declared and actual), recipient floods,
// huge or over-long lines (RFC 5321 §4.5.3.1.6: 998 octets), NUL bytes (RFC 5322 §3.5), blind pipelining past
// failed commands (RFC 2920 §3.1), garbage and cross-protocol (HTTP) command floods, over-long command lines, and
// connection floods from one address. Each limit must answer with the right reply, store nothing, and leave the
// server (and usually the session) able to take the next message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLIES, type ReplyName } from '../../server/smtp/replies.js';
import { listMessages } from '../../server/store/messages.js';
import { provision, startServer, type TestServer } from '../helpers/server.js';
import { eventually, SmtpWire } from '../helpers/smtp-wire.js';
import { filesUnder, storedState } from '../helpers/stored-state.js';

const SENDER = 'alice@sender.test';
const ACCEPTED = /^250 2\.0\.0 Ok: queued as [0-9A-F]{16}$/;
const LINE_TOO_LONG = '550 5.6.0 Message has a line longer than the limit of 998 octets (RFC 5321 section 4.5.3.1.6)';
const NUL_BYTE = '550 5.6.0 Message contains a NUL byte (RFC 5322 section 3.5)';
const TOO_BIG = '552 5.3.4 Message size exceeds fixed maximum message size';
const TOO_MANY_RECIPIENTS = '452 4.5.3 Too many recipients for one message';
const UNKNOWN_RECIPIENT = '550 5.1.1 Recipient address rejected: no such mailbox here';
const UNRECOGNIZED = '500 5.5.2 Error: command not recognized';

const reply = (name: ReplyName) => `${REPLIES[name].code} ${REPLIES[name].enhanced} ${REPLIES[name].text}`;


async function accountId(server: TestServer, address: string): Promise<number> {
  const row = await server.app.services.db.selectFrom('accounts').select('id').where('address', '=', address).executeTakeFirstOrThrow();
  return row.id;
}

async function inbox(server: TestServer, address: string): Promise<Buffer[]> {
  const rows = await listMessages(server.app.services.db, await accountId(server, address), 'INBOX');
  return Promise.all(rows.map((m) => server.app.services.blobs.read(m.blob_id)));
}

/** MAIL + RCPT (each must be accepted) + DATA up to 354. */
async function openData(wire: SmtpWire, recipients: string[]): Promise<void> {
  expect((await wire.command(`MAIL FROM:<${SENDER}>`)).line).toBe('250 2.1.0 Accepted');
  for (const rcpt of recipients) expect((await wire.command(`RCPT TO:<${rcpt}>`)).line).toBe('250 2.1.5 Accepted');
  expect((await wire.command('DATA')).line).toBe('354 End data with <CR><LF>.<CR><LF>');
}

const header = (subject: string, to = 'info@firma.de') => `From: ${SENDER}\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\n`;

/** n octets of 76-character CRLF lines (no line starts with a dot). */
function body(octets: number): string {
  const line = `${'x'.repeat(76)}\r\n`;
  return line.repeat(Math.ceil(octets / line.length));
}

/** A message on an open session that must be accepted and stored: proves the session survived. */
async function deliversAgain(server: TestServer, wire: SmtpWire, tag: string): Promise<void> {
  const before = (await inbox(server, 'info@firma.de')).length;
  await openData(wire, ['info@firma.de']);
  await wire.write(`${header(tag)}still here ${tag}\r\n.\r\n`);
  expect((await wire.reply()).line).toMatch(ACCEPTED);
  const after = await inbox(server, 'info@firma.de');
  expect(after.length).toBe(before + 1);
  expect(after[after.length - 1].toString('latin1').endsWith(`\r\n\r\nstill here ${tag}\r\n`)).toBe(true);
}

describe('MX limits with smtp.maxMessageSize = 64 KB and smtp.maxRecipients = 3', () => {
  const MAX_SIZE = 64 * 1024;
  let server: TestServer;
  let port: number;

  beforeAll(async () => {
    server = await startServer({ overrides: { 'smtp.maxMessageSize': MAX_SIZE, 'smtp.maxRecipients': 3 } });
    port = server.ports.smtp!;
    await provision(server, 'firma.de', ['info', 'vertrieb', 'buchhaltung', 'technik']);
  });
  afterAll(async () => server?.close());

  it('the reply table holds the literal replies these tests expect', () => {
    expect(reply('lineTooLong')).toBe(LINE_TOO_LONG);
    expect(reply('nulByte')).toBe(NUL_BYTE);
    expect(reply('messageTooBig')).toBe(TOO_BIG);
    expect(reply('tooManyRecipients')).toBe(TOO_MANY_RECIPIENTS);
    expect(reply('unknownRecipient')).toBe(UNKNOWN_RECIPIENT);
  });

  it('EHLO advertises the size limit (RFC 1870) and enhanced status codes (RFC 2034)', async () => {
    const wire = await SmtpWire.connect(port);
    try {
      expect((await wire.reply()).code).toBe(220);
      const ehlo = await wire.command('EHLO client.sender.test');
      expect(ehlo.code).toBe(250);
      expect(ehlo.lines.some((l) => l === `250-SIZE ${MAX_SIZE}` || l === `250 SIZE ${MAX_SIZE}`)).toBe(true);
      expect(ehlo.lines.some((l) => /^250[ -]ENHANCEDSTATUSCODES$/.test(l))).toBe(true);
      await wire.quit();
    } finally {
      wire.destroy();
    }
  });

  it('a message over the size limit gets 552 5.3.4 at the end of DATA, nothing is stored, the session goes on', async () => {
    const before = await storedState(server);
    const wire = await SmtpWire.session(port);
    try {
      await openData(wire, ['info@firma.de']);
      await wire.write(`${header('too big')}${body(MAX_SIZE + 4096)}.\r\n`);
      expect((await wire.reply()).line).toBe(TOO_BIG);
      expect(await storedState(server)).toEqual(before);
      await deliversAgain(server, wire, 'after oversize');
      await wire.quit();
    } finally {
      wire.destroy();
    }
  });

  it('an oversize message is not spooled to disk beyond the limit while it streams in', async () => {
    const wire = await SmtpWire.session(port);
    const { tmp } = server.app.services.blobs;
    try {
      await openData(wire, ['info@firma.de']);
      // 3 MB: past the 1 MB in-memory spool, so without a size cut-off the rest would go to a temp file
      await wire.write(`${header('huge')}${body(3 * 1024 * 1024)}`);
      const spilled = await eventually(() => filesUnder(tmp) > 0, 400);
      await wire.write('.\r\n');
      expect((await wire.reply()).line).toBe(TOO_BIG);
      expect(spilled).toBe(false);
      expect(filesUnder(tmp)).toBe(0);
      await wire.quit();
    } finally {
      wire.destroy();
    }
  });

  it('SIZE= over the limit is refused at MAIL FROM with 552 5.3.4 and opens no transaction', async () => {
    const wire = await SmtpWire.session(port);
    try {
      const mail = await wire.command(`MAIL FROM:<${SENDER}> SIZE=${MAX_SIZE + 1}`);
      // smtp-server answers this itself, before onMailFrom (see the report: not the table's text)
      expect(mail.line).toMatch(/^552 5\.3\.4 (Error: message exceeds fixed maximum message size 65536|Message size exceeds fixed maximum message size)$/);
      expect((await wire.command('RCPT TO:<info@firma.de>')).line).toBe('503 5.5.1 Error: need MAIL command');
      // exactly at the limit is fine
      expect((await wire.command(`MAIL FROM:<${SENDER}> SIZE=${MAX_SIZE}`)).line).toBe('250 2.1.0 Accepted');
      expect((await wire.command('RSET')).code).toBe(250);
      await wire.quit();
    } finally {
      wire.destroy();
    }
  });

  it('the 4th recipient gets 452 4.5.3 and the message reaches exactly the 3 accepted ones', async () => {
    const before = await Promise.all(['info', 'vertrieb', 'buchhaltung', 'technik'].map(async (l) => (await inbox(server, `${l}@firma.de`)).length));
    const wire = await SmtpWire.session(port);
    try {
      await wire.command(`MAIL FROM:<${SENDER}>`);
      for (const l of ['info', 'vertrieb', 'buchhaltung']) expect((await wire.command(`RCPT TO:<${l}@firma.de>`)).line).toBe('250 2.1.5 Accepted');
      expect((await wire.command('RCPT TO:<technik@firma.de>')).line).toBe(TOO_MANY_RECIPIENTS);
      // naming an accepted recipient again adds nobody, so it is not over the limit
      expect((await wire.command('RCPT TO:<INFO@firma.de>')).line).toBe('250 2.1.5 Accepted');
      expect((await wire.command('DATA')).code).toBe(354);
      await wire.write(`${header('three recipients')}for three\r\n.\r\n`);
      expect((await wire.reply()).line).toMatch(ACCEPTED);
      await wire.quit();
    } finally {
      wire.destroy();
    }
    const after = await Promise.all(['info', 'vertrieb', 'buchhaltung', 'technik'].map(async (l) => (await inbox(server, `${l}@firma.de`)).length));
    expect(after).toEqual([before[0] + 1, before[1] + 1, before[2] + 1, before[3]]);
  });

  it('a NUL byte in the body gets 550 5.6.0, nothing is stored, the session goes on', async () => {
    const before = await storedState(server);
    const wire = await SmtpWire.session(port);
    try {
      await openData(wire, ['info@firma.de']);
      await wire.write(Buffer.concat([Buffer.from(`${header('nul')}before`), Buffer.from([0]), Buffer.from('after\r\n.\r\n')]));
      expect((await wire.reply()).line).toBe(NUL_BYTE);
      expect(await storedState(server)).toEqual(before);
      await deliversAgain(server, wire, 'after NUL');
      await wire.quit();
    } finally {
      wire.destroy();
    }
  });

  it('a 998-octet line is accepted intact; 999 octets get 550 5.6.0 (also when split across segments)', async () => {
    const wire = await SmtpWire.session(port);
    try {
      const line998 = `${'a'.repeat(997)}Z`;
      await openData(wire, ['info@firma.de']);
      await wire.write(`${header('998')}${line998}\r\n.\r\n`);
      expect((await wire.reply()).line).toMatch(ACCEPTED);
      const stored = await inbox(server, 'info@firma.de');
      expect(stored[stored.length - 1].toString('latin1').endsWith(`\r\n\r\n${line998}\r\n`)).toBe(true);

      const before = await storedState(server);
      await openData(wire, ['info@firma.de']);
      await wire.write(`${header('999')}${'b'.repeat(999)}\r\n.\r\n`);
      expect((await wire.reply()).line).toBe(LINE_TOO_LONG);

      // the same 999 octets as a header line, arriving in three segments (the count must carry across chunks)
      await openData(wire, ['info@firma.de']);
      await wire.writeSplit([`X-Long: ${'c'.repeat(400)}`, 'c'.repeat(991 - 400), '\r\n\r\nbody\r\n.\r\n']);
      expect((await wire.reply()).line).toBe(LINE_TOO_LONG);
      expect(await storedState(server)).toEqual(before);

      // and 998 split the same way is fine, also with the CR ending one chunk and the LF starting the next
      // (smtp-server holds the last 4 bytes of a read back, hence the segment ends 4 bytes after the CR)
      await openData(wire, ['info@firma.de']);
      await wire.writeSplit([`${header('998 split')}${'d'.repeat(500)}`, `${'d'.repeat(498)}\r\nnex`, 't\r\n.\r\n']);
      expect((await wire.reply()).line).toMatch(ACCEPTED);
      await wire.quit();
    } finally {
      wire.destroy();
    }
  });

  it('blind pipelining past a refused recipient: RCPT 550, DATA 503, body lines 500, nothing stored, no crash', async () => {
    const before = await storedState(server);
    const wire = await SmtpWire.session(port);
    try {
      await wire.write(
        `MAIL FROM:<${SENDER}>\r\nRCPT TO:<nobody@firma.de>\r\nDATA\r\nSubject: pipelined\r\n\r\nhello\r\n.\r\nQUIT\r\n`
      );
      const replies = (await wire.replies(8)).map((r) => r.line);
      expect(replies).toEqual([
        '250 2.1.0 Accepted',
        UNKNOWN_RECIPIENT,
        '503 5.5.1 Error: need RCPT command',
        UNRECOGNIZED, // "Subject: pipelined"
        UNRECOGNIZED, // ""
        UNRECOGNIZED, // "hello"
        UNRECOGNIZED, // "."
        '221 2.0.0 Bye'
      ]);
      await wire.waitClosed();
    } finally {
      wire.destroy();
    }
    expect(await storedState(server)).toEqual(before);
    const next = await SmtpWire.session(port);
    try {
      await deliversAgain(server, next, 'after pipelining');
      await next.quit();
    } finally {
      next.destroy();
    }
  });

  it('a flood of binary garbage commands gets 500 each and is cut off with 421; a new connection still works', async () => {
    const wire = await SmtpWire.session(port);
    try {
      const garbage: Buffer[] = [];
      for (let i = 0; i < 30; i++) {
        // 0xff first so no line can spell a real command; no CR or LF inside a line
        const bytes = Buffer.from(Array.from({ length: 200 }, (_, j) => (i * 131 + j * 17) % 256).map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b)));
        garbage.push(Buffer.from([0xff]), bytes, Buffer.from('\r\n'));
      }
      await wire.write(Buffer.concat(garbage));
      const replies = (await wire.replies(10)).map((r) => r.line);
      expect(replies.slice(0, 9)).toEqual(Array(9).fill(UNRECOGNIZED));
      expect(replies[9]).toMatch(/^421 4\.\d\.\d Error: too many unrecognized commands$/);
      await wire.waitClosed();
      // nothing was answered after the 421
      expect(wire.unread).toBe('');
    } finally {
      wire.destroy();
    }
    const next = await SmtpWire.session(port);
    expect((await next.command('NOOP')).line).toBe('250 2.0.0 OK');
    await next.quit();
  });

  it('an HTTP request sent to the MX (cross-protocol attack from a web page) is answered 421 and cut off', async () => {
    const wire = await SmtpWire.connect(port);
    try {
      expect((await wire.reply()).code).toBe(220);
      await wire.write('POST /submit HTTP/1.1\r\nHost: mx.postfach.test\r\nContent-Length: 40\r\n\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<info@firma.de>\r\n');
      const refused = await wire.reply();
      expect(refused.code).toBe(421);
      expect(refused.line).toMatch(/HTTP requests not allowed$/);
      await wire.waitClosed();
      expect(wire.unread).toBe('');
    } finally {
      wire.destroy();
    }
  });

  it('over-long command lines: 5xx while still parseable, 421 and cut off past the parser limit (16 KB)', async () => {
    const wire = await SmtpWire.session(port);
    try {
      // over RFC 5321 §4.5.3.1.4's 512 octets but parseable: answered, the session stays
      expect((await wire.command('X'.repeat(600))).line).toBe(UNRECOGNIZED);
      expect((await wire.command(`MAIL FROM:<${SENDER}>`)).line).toBe('250 2.1.0 Accepted');
      // a 2 000-octet local part (§4.5.3.1.1 allows 64) is a syntax error, not a directory lookup
      expect((await wire.command(`RCPT TO:<${'l'.repeat(2000)}@firma.de>`)).line).toMatch(/^501 5\.1\.3 (Error: )?Bad recipient address syntax$/);
      expect((await wire.command(`RCPT TO:<${'l'.repeat(65)}@firma.de>`)).line).toBe(reply('badRecipient'));

      await wire.write(`NOOP ${'n'.repeat(20 * 1024)}\r\n`);
      const refused = await wire.reply();
      expect(refused.line).toMatch(/^421 4\.\d\.\d Error: Command line too long$/);
      await wire.waitClosed();
    } finally {
      wire.destroy();
    }
    const next = await SmtpWire.session(port);
    expect((await next.command('NOOP')).line).toBe('250 2.0.0 OK');
    await next.quit();
  });
});

describe('a 10 MB header line with the default size limit', () => {
  let server: TestServer;
  let port: number;

  beforeAll(async () => {
    server = await startServer();
    port = server.ports.smtp!;
    await provision(server, 'firma.de', ['info']);
  });
  afterAll(async () => server?.close());

  it('is refused as too long a line (550 5.6.0), nothing is stored or spooled, the server and session go on', async () => {
    const before = await storedState(server);
    const wire = await SmtpWire.session(port);
    try {
      await openData(wire, ['info@firma.de']);
      await wire.write(`From: ${SENDER}\r\nX-Huge: ${'h'.repeat(10 * 1024 * 1024)}\r\n\r\nbody\r\n.\r\n`);
      expect((await wire.reply(15_000)).line).toBe(LINE_TOO_LONG);
      expect(await storedState(server)).toEqual(before);
      expect((await wire.command('NOOP')).line).toBe('250 2.0.0 OK');
      await deliversAgain(server, wire, 'after 10 MB line');
      await wire.quit();
    } finally {
      wire.destroy();
    }
  });
});

describe('connections per address with smtp.maxConnectionsPerIp = 3', () => {
  let server: TestServer;
  let port: number;

  beforeAll(async () => {
    server = await startServer({ overrides: { 'smtp.maxConnectionsPerIp': 3 } });
    port = server.ports.smtp!;
  });
  afterAll(async () => server?.close());

  it('the 4th concurrent connection gets 421 4.7.0 and is closed; a slot frees when one closes', async () => {
    const open: SmtpWire[] = [];
    try {
      for (let i = 0; i < 3; i++) open.push(await SmtpWire.session(port));
      const fourth = await SmtpWire.connect(port);
      open.push(fourth);
      expect((await fourth.reply()).line).toBe('421 4.7.0 Too many connections from your address, try again later');
      expect(reply('tooManyConnections')).toBe('421 4.7.0 Too many connections from your address, try again later');
      await fourth.waitClosed();

      // the three admitted sessions are unaffected
      for (const w of open.slice(0, 3)) expect((await w.command('NOOP')).line).toBe('250 2.0.0 OK');
      // still full: a refused connection must not have freed (or taken) a slot
      const again = await SmtpWire.connect(port);
      open.push(again);
      expect((await again.reply()).code).toBe(421);

      await open[0].quit();
      let admitted: SmtpWire | null = null;
      const freed = await eventually(async () => {
        const w = await SmtpWire.connect(port);
        open.push(w);
        const greeting = await w.reply();
        if (greeting.code === 220) admitted = w;
        return greeting.code === 220;
      }, 3000, 50);
      expect(freed).toBe(true);
      expect((await admitted!.command('EHLO client.sender.test')).code).toBe(250);
    } finally {
      for (const w of open) w.destroy();
    }
  });
});
