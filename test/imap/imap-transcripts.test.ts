// Golden transcripts: the exact lines Postfach's IMAP server sends (RFC 9051 / RFC 3501 syntax) for edge cases that
// clients trip over: literals (synchronizing and LITERAL+), partial and MIME/BINARY fetches, sequence sets with "*",
// UIDs after expunge, SELECT/EXAMINE in IMAP4rev1 and IMAP4rev2, STATUS, ESEARCH, SEARCHRES, CONDSTORE, QRESYNC,
// expunges held back during FETCH (RFC 9051 §7.5.1), and BAD for unknown commands or commands in the wrong state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapWire } from '../helpers/imap-wire.js';
import { accountId, storeMail, textMail } from '../helpers/mail-store.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';

const FLAGS = '\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $MDNSent $Junk $NotJunk $Phishing';

let server: TestServer;
let port: number;
const open: ImapWire[] = [];
let accounts = 0;

beforeAll(async () => {
  server = await startServer({ overrides: { 'imap.port': 0 } });
  port = server.ports.imap!;
  await provision(server, 'firma.de', ['info', 'buchhaltung']);
});

afterAll(async () => {
  for (const wire of open) wire.close();
  await server?.close();
});

/** A fresh account per test, so UIDs, modseqs and flags start from a known state. */
async function freshAccount(): Promise<string> {
  const local = `t${++accounts}`;
  await provision(server, 'firma.de', [local]);
  return `${local}@firma.de`;
}

async function connect(): Promise<ImapWire> {
  const wire = await ImapWire.connect(port);
  open.push(wire);
  return wire;
}

async function login(address: string): Promise<ImapWire> {
  const wire = await connect();
  const reply = await wire.command('L', `LOGIN ${address} ${PASSWORD}`);
  expect(reply.tagged).toMatch(/^L OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*\] Logged in$/);
  return wire;
}

/** Sends one command and asserts every line up to and including the tagged one. */
async function transcript(wire: ImapWire, tag: string, command: string, expected: string[]): Promise<void> {
  const reply = await wire.command(tag, command);
  expect(reply.lines).toEqual(expected);
}

async function mailbox(address: string, name = 'INBOX') {
  const id = await accountId(server, address);
  return server.app.services.db.selectFrom('mailboxes').selectAll().where('account_id', '=', id).where('name', '=', name).executeTakeFirstOrThrow();
}

describe('literals', () => {
  it('LOGIN with synchronizing literals: a continuation for each, then the command completes', async () => {
    const wire = await connect();
    wire.write('a1 LOGIN {13}\r\n');
    expect(await wire.readLine()).toBe('+ Ready for literal data');
    wire.write(`info@firma.de {${PASSWORD.length}}\r\n`);
    expect(await wire.readLine()).toBe('+ Ready for literal data');
    wire.write(`${PASSWORD}\r\n`);
    const reply = await wire.readTagged('a1');
    expect(reply.lines).toHaveLength(1);
    expect(reply.tagged).toMatch(/^a1 OK \[CAPABILITY IMAP4rev1 IMAP4rev2 [^\]]*\bAPPENDLIMIT=67108864\b[^\]]*\] Logged in$/);
  });

  it('LOGIN with LITERAL+ ({n+}): no continuation, the whole command in one write', async () => {
    const wire = await connect();
    wire.write(`a1 LOGIN {13+}\r\ninfo@firma.de {${PASSWORD.length}+}\r\n${PASSWORD}\r\na2 NOOP\r\n`);
    const login = await wire.readTagged('a1');
    expect(login.lines).toHaveLength(1);
    expect(login.tagged).toMatch(/^a1 OK \[CAPABILITY .*\] Logged in$/);
    expect((await wire.readTagged('a2')).lines).toEqual(['a2 OK NOOP completed']);
  });

  it('a wrong password in a literal is refused like any other', async () => {
    const wire = await connect();
    wire.write(`a1 LOGIN {13+}\r\ninfo@firma.de {5+}\r\nwrong\r\n`);
    expect((await wire.readTagged('a1')).lines).toEqual(['a1 NO [AUTHENTICATIONFAILED] Invalid credentials']);
  });

  it('APPEND with a synchronizing literal, then with LITERAL+; flags and internal date are kept', async () => {
    const address = await freshAccount();
    const { uidvalidity } = await mailbox(address);
    const wire = await login(address);
    const first = textMail('Erste');
    wire.write(`a1 APPEND INBOX (\\Seen \\Flagged) "22-Nov-2026 10:15:00 +0100" {${first.length}}\r\n`);
    expect(await wire.readLine()).toBe('+ Ready for literal data');
    wire.write(`${first}\r\n`);
    expect((await wire.readTagged('a1')).lines).toEqual([`a1 OK [APPENDUID ${uidvalidity} 1] APPEND completed`]);

    const second = textMail('Zweite');
    wire.write(`a2 APPEND INBOX {${second.length}+}\r\n${second}\r\n`);
    expect((await wire.readTagged('a2')).lines).toEqual([`a2 OK [APPENDUID ${uidvalidity} 2] APPEND completed`]);

    await wire.command('s', 'SELECT INBOX');
    const fetched = await wire.command('f', 'FETCH 1:2 (FLAGS INTERNALDATE RFC822.SIZE)');
    expect(fetched.lines).toHaveLength(3);
    expect(fetched.lines[0]).toBe(`* 1 FETCH (FLAGS (\\Seen \\Flagged) INTERNALDATE "22-Nov-2026 09:15:00 +0000" RFC822.SIZE ${first.length})`);
    // without a date-time the internal date is the time of APPEND, written as RFC 9051 §9 date-time
    expect(fetched.lines[1]).toMatch(new RegExp(`^\\* 2 FETCH \\(FLAGS \\(\\) INTERNALDATE "[ 0-9]\\d-[A-Z][a-z]{2}-\\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000" RFC822.SIZE ${second.length}\\)$`));
    expect(fetched.tagged).toBe('f OK FETCH completed');
  });

  it('an empty literal is an empty string; APPEND of it is BAD', async () => {
    const address = await freshAccount();
    const wire = await login(address);
    wire.write('a1 APPEND INBOX {0}\r\n');
    expect(await wire.readLine()).toBe('+ Ready for literal data');
    wire.write('\r\n');
    expect((await wire.readTagged('a1')).lines).toEqual(['a1 BAD Empty message']);
  });
});

describe('FETCH body sections', () => {
  const text = 'Grüße aus Köln!';
  const attachment = Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0x01, 0x02, 0x0a]);
  const raw =
    'From: Kunde <kunde@example.com>\r\n' +
    'To: info@firma.de\r\n' +
    'Subject: Rechnung 42\r\n' +
    'MIME-Version: 1.0\r\n' +
    'Content-Type: multipart/mixed; boundary="grenze"\r\n' +
    '\r\n' +
    '--grenze\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Transfer-Encoding: base64\r\n' +
    '\r\n' +
    Buffer.from(text).toString('base64') +
    '\r\n' +
    '--grenze\r\n' +
    'Content-Type: application/pdf; name="r.pdf"\r\n' +
    'Content-Transfer-Encoding: base64\r\n' +
    '\r\n' +
    attachment.toString('base64') +
    '\r\n' +
    '--grenze--\r\n';
  let wire: ImapWire;

  beforeAll(async () => {
    const address = await freshAccount();
    await storeMail(server, address, raw);
    wire = await login(address);
    await wire.command('s', 'SELECT INBOX');
  });

  it('BODY[]<0.20>: the first 20 octets, labelled with the origin only (RFC 9051 §6.4.5)', async () => {
    await transcript(wire, 'f1', 'FETCH 1 BODY.PEEK[]<0.20>', ['* 1 FETCH (BODY[]<0> {20}\r\nFrom: Kunde <kunde@e)', 'f1 OK FETCH completed']);
    await transcript(wire, 'f2', 'FETCH 1 BODY.PEEK[]<20.6>', ['* 1 FETCH (BODY[]<20> {6}\r\nxample)', 'f2 OK FETCH completed']);
    // an origin past the end gives an empty string
    await transcript(wire, 'f3', 'FETCH 1 BODY.PEEK[]<100000.10>', ['* 1 FETCH (BODY[]<100000> {0}\r\n)', 'f3 OK FETCH completed']);
  });

  it('BODY[1.MIME]: the part header with its blank line', async () => {
    const mime = 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n';
    await transcript(wire, 'f4', 'FETCH 1 BODY.PEEK[1.MIME]', [`* 1 FETCH (BODY[1.MIME] {${mime.length}}\r\n${mime})`, 'f4 OK FETCH completed']);
  });

  it('BODY[HEADER.FIELDS (SUBJECT)]: the field and the blank line; the label names the fields', async () => {
    const fields = 'Subject: Rechnung 42\r\n\r\n';
    await transcript(wire, 'f5', 'FETCH 1 BODY.PEEK[HEADER.FIELDS (subject)]', [`* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {${fields.length}}\r\n${fields})`, 'f5 OK FETCH completed']);
    await transcript(wire, 'f5b', 'FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From To Subject MIME-Version)]', [
      '* 1 FETCH (BODY[HEADER.FIELDS.NOT (FROM TO SUBJECT MIME-VERSION)] {52}\r\nContent-Type: multipart/mixed; boundary="grenze"\r\n\r\n)',
      'f5b OK FETCH completed'
    ]);
  });

  it('BINARY[1] of a base64 part is decoded; BINARY.SIZE[1] is the decoded size (RFC 3516)', async () => {
    const decoded = Buffer.byteLength(text);
    await transcript(wire, 'f6', 'FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])', [`* 1 FETCH (BINARY[1] {${decoded}}\r\n${text} BINARY.SIZE[1] ${decoded})`, 'f6 OK FETCH completed']);
  });

  it('BINARY[2] with NUL octets is sent as literal8 ~{n}', async () => {
    await transcript(wire, 'f7', 'FETCH 1 BINARY.PEEK[2]', [`* 1 FETCH (BINARY[2] ~{${attachment.length}}\r\n${attachment.toString('latin1')})`, 'f7 OK FETCH completed']);
  });

  it('a body part fetched without PEEK sets \\Seen and returns the new flags (RFC 9051 §6.4.5)', async () => {
    const part = Buffer.from(text).toString('base64');
    await transcript(wire, 'f8', 'FETCH 1 BODY[1]', [`* 1 FETCH (BODY[1] {${part.length}}\r\n${part} FLAGS (\\Seen))`, 'f8 OK FETCH completed']);
    await transcript(wire, 'f9', 'FETCH 1 FLAGS', ['* 1 FETCH (FLAGS (\\Seen))', 'f9 OK FETCH completed']);
  });
});

describe('sequence sets', () => {
  let address: string;
  let wire: ImapWire;

  beforeAll(async () => {
    address = await freshAccount();
    for (const subject of ['Eins', 'Zwei', 'Drei']) await storeMail(server, address, textMail(subject));
    wire = await login(address);
    await wire.command('s', 'SELECT INBOX');
  });

  it('"*:1" is "1:*" (RFC 9051 §9 seq-range)', async () => {
    await transcript(wire, 'q1', 'FETCH *:1 UID', ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)', 'q1 OK FETCH completed']);
  });

  it('"2:*" on a 3-message mailbox is messages 2 and 3', async () => {
    await transcript(wire, 'q2', 'FETCH 2:* FLAGS', ['* 2 FETCH (FLAGS ())', '* 3 FETCH (FLAGS ())', 'q2 OK FETCH completed']);
  });

  it('UID FETCH 100:* returns the last message even though its UID is below 100 (RFC 9051 §6.4.9)', async () => {
    await transcript(wire, 'q3', 'UID FETCH 100:* UID', ['* 3 FETCH (UID 3)', 'q3 OK UID FETCH completed']);
    // UID FETCH always includes UID, first
    await transcript(wire, 'q4', 'UID FETCH 100:* FLAGS', ['* 3 FETCH (UID 3 FLAGS ())', 'q4 OK UID FETCH completed']);
  });

  it('a sequence number above EXISTS is BAD; a UID above UIDNEXT is simply nothing', async () => {
    await transcript(wire, 'q5', 'FETCH 4 UID', ['q5 BAD Invalid sequence number: no such message']);
    await transcript(wire, 'q6', 'UID FETCH 4:99 UID', ['q6 OK UID FETCH completed']);
    await transcript(wire, 'q7', 'FETCH 0 UID', ['q7 BAD Invalid sequence set 0']);
  });

  it('after an expunge UIDs stay and sequence numbers shift; UID FETCH of the expunged UID returns nothing', async () => {
    await transcript(wire, 'x1', 'STORE 2 +FLAGS (\\Deleted)', ['* 2 FETCH (FLAGS (\\Deleted))', 'x1 OK STORE completed']);
    await transcript(wire, 'x2', 'EXPUNGE', ['* 2 EXPUNGE', 'x2 OK EXPUNGE completed']);
    await transcript(wire, 'x3', 'FETCH 1:* UID', ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', 'x3 OK FETCH completed']);
    await transcript(wire, 'x4', 'UID FETCH 2 UID', ['x4 OK UID FETCH completed']);
    await transcript(wire, 'x5', 'UID FETCH 1:3 UID', ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', 'x5 OK UID FETCH completed']);
    await transcript(wire, 'x6', 'UID SEARCH ALL', ['* SEARCH 1 3', 'x6 OK UID SEARCH completed']);
    await transcript(wire, 'x7', 'SEARCH ALL', ['* SEARCH 1 2', 'x7 OK SEARCH completed']);
    await transcript(wire, 'x8', 'FETCH 3 UID', ['x8 BAD Invalid sequence number: no such message']);
  });
});

describe('SELECT, EXAMINE and STATUS', () => {
  let address: string;
  let v: number;

  beforeAll(async () => {
    address = await freshAccount();
    await storeMail(server, address, textMail('Gelesen'), { flags: ['\\Seen'] });
    await storeMail(server, address, textMail('Neu'));
    v = (await mailbox(address)).uidvalidity;
  });

  it('IMAP4rev1 SELECT: EXISTS, RECENT, UNSEEN, UIDVALIDITY, UIDNEXT, FLAGS, PERMANENTFLAGS, HIGHESTMODSEQ', async () => {
    const wire = await login(address);
    const { highestmodseq } = await mailbox(address);
    await transcript(wire, 's1', 'SELECT INBOX', [
      '* 2 EXISTS',
      '* 0 RECENT',
      '* OK [UNSEEN 2] First unseen',
      `* OK [UIDVALIDITY ${v}] UIDs valid`,
      '* OK [UIDNEXT 3] Predicted next UID',
      `* FLAGS (${FLAGS})`,
      `* OK [PERMANENTFLAGS (${FLAGS} \\*)] Flags permitted`,
      `* OK [HIGHESTMODSEQ ${highestmodseq}] Highest`,
      's1 OK [READ-WRITE] SELECT completed'
    ]);
    // EXAMINE while selected: the previous mailbox is closed first (RFC 7162 §3.2.11), no permanent flags
    await transcript(wire, 's2', 'EXAMINE inbox', [
      '* OK [CLOSED] Previous mailbox closed',
      '* 2 EXISTS',
      '* 0 RECENT',
      '* OK [UNSEEN 2] First unseen',
      `* OK [UIDVALIDITY ${v}] UIDs valid`,
      '* OK [UIDNEXT 3] Predicted next UID',
      `* FLAGS (${FLAGS})`,
      '* OK [PERMANENTFLAGS ()] Read-only mailbox',
      `* OK [HIGHESTMODSEQ ${highestmodseq}] Highest`,
      's2 OK [READ-ONLY] EXAMINE completed'
    ]);
    // read-only: STORE refused, and a non-PEEK fetch does not set \Seen
    await transcript(wire, 's3', 'STORE 2 +FLAGS (\\Flagged)', ['s3 NO [READ-ONLY] Mailbox is read-only']);
    const part = 'Text of Neu\r\n';
    await transcript(wire, 's4', 'FETCH 2 BODY[TEXT]', [`* 2 FETCH (BODY[TEXT] {${part.length}}\r\n${part})`, 's4 OK FETCH completed']);
    await transcript(wire, 's5', 'FETCH 2 FLAGS', ['* 2 FETCH (FLAGS ())', 's5 OK FETCH completed']);
    await transcript(wire, 's6', 'SELECT Nirgendwo', ['* OK [CLOSED] Previous mailbox closed', 's6 NO [NONEXISTENT] No such mailbox']);
    // a failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2)
    await transcript(wire, 's7', 'FETCH 1 UID', ['s7 BAD FETCH is not valid in this state']);
  });

  it('after ENABLE IMAP4rev2: no RECENT or UNSEEN, a LIST line for the mailbox (RFC 9051 §6.3.2)', async () => {
    const wire = await login(address);
    const { highestmodseq } = await mailbox(address);
    await transcript(wire, 'e1', 'ENABLE IMAP4rev2', ['* ENABLED IMAP4rev2', 'e1 OK ENABLE completed']);
    await transcript(wire, 'e2', 'ENABLE IMAP4rev2', ['* ENABLED', 'e2 OK ENABLE completed']);
    await transcript(wire, 'e3', 'SELECT INBOX', [
      '* 2 EXISTS',
      `* OK [UIDVALIDITY ${v}] UIDs valid`,
      '* OK [UIDNEXT 3] Predicted next UID',
      `* FLAGS (${FLAGS})`,
      `* OK [PERMANENTFLAGS (${FLAGS} \\*)] Flags permitted`,
      `* OK [HIGHESTMODSEQ ${highestmodseq}] Highest`,
      '* LIST () "/" "INBOX"',
      'e3 OK [READ-WRITE] SELECT completed'
    ]);
    // IMAP4rev2 answers SEARCH with ESEARCH (RFC 9051 §7.3.4)
    await transcript(wire, 'e4', 'SEARCH UNSEEN', ['* ESEARCH (TAG "e4") ALL 2', 'e4 OK SEARCH completed']);
  });

  it('STATUS: the items asked for, in that order; NONEXISTENT for a missing mailbox', async () => {
    const wire = await login(address);
    const box = await mailbox(address);
    const size = Buffer.byteLength(textMail('Gelesen')) + Buffer.byteLength(textMail('Neu'));
    await transcript(wire, 't1', 'STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)', [
      `* STATUS "INBOX" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ${v} UNSEEN 1 DELETED 0 SIZE ${size} HIGHESTMODSEQ ${box.highestmodseq})`,
      't1 OK STATUS completed'
    ]);
    const sent = await mailbox(address, 'Sent');
    await transcript(wire, 't2', 'STATUS Sent (UIDNEXT MESSAGES)', [`* STATUS "Sent" (UIDNEXT 1 MESSAGES 0)`, 't2 OK STATUS completed']);
    expect(sent.uidnext).toBe(1);
    await transcript(wire, 't3', 'STATUS Nirgendwo (MESSAGES)', ['t3 NO [NONEXISTENT] No such mailbox']);
    await transcript(wire, 't4', 'STATUS INBOX (BOGUS)', ['t4 BAD Unknown STATUS item BOGUS']);
  });
});

describe('ESEARCH and SEARCHRES', () => {
  let address: string;
  let wire: ImapWire;

  beforeAll(async () => {
    address = await freshAccount();
    const seen = [true, false, true, false, false];
    for (const [i, s] of seen.entries()) await storeMail(server, address, textMail(`Nr ${i + 1}`), { flags: s ? ['\\Seen'] : [] });
    await storeMail(server, address, textMail('Archiviert'), { mailbox: 'Archive' });
    wire = await login(address);
    await wire.command('s', 'SELECT INBOX');
  });

  it('SEARCH RETURN (MIN MAX COUNT ALL) (RFC 4731)', async () => {
    await transcript(wire, 'r1', 'SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN', ['* ESEARCH (TAG "r1") MIN 2 MAX 5 ALL 2,4:5 COUNT 3', 'r1 OK SEARCH completed']);
    await transcript(wire, 'r2', 'UID SEARCH RETURN (COUNT) SEEN', ['* ESEARCH (TAG "r2") UID COUNT 2', 'r2 OK UID SEARCH completed']);
    // no match: MIN, MAX and ALL are left out, COUNT is 0
    await transcript(wire, 'r3', 'SEARCH RETURN (MIN MAX COUNT ALL) KEYWORD $Junk', ['* ESEARCH (TAG "r3") COUNT 0', 'r3 OK SEARCH completed']);
    // RETURN () means ALL
    await transcript(wire, 'r4', 'SEARCH RETURN () SEEN', ['* ESEARCH (TAG "r4") ALL 1,3', 'r4 OK SEARCH completed']);
  });

  it('SAVE keeps the result for "$" and sends no ESEARCH of its own (RFC 5182)', async () => {
    await transcript(wire, 'v1', 'SEARCH RETURN (SAVE) UNSEEN', ['v1 OK SEARCH completed']);
    await transcript(wire, 'v2', 'FETCH $ UID', ['* 2 FETCH (UID 2)', '* 4 FETCH (UID 4)', '* 5 FETCH (UID 5)', 'v2 OK FETCH completed']);
    await transcript(wire, 'v3', 'UID SEARCH UID $ SUBJECT "Nr 4"', ['* SEARCH 4', 'v3 OK UID SEARCH completed']);
    await transcript(wire, 'v4', 'STORE $ +FLAGS.SILENT (\\Flagged)', ['v4 OK STORE completed']);
    await transcript(wire, 'v5', 'SEARCH FLAGGED', ['* SEARCH 2 4 5', 'v5 OK SEARCH completed']);
  });

  it('SAVE with MIN or MAX alone saves only that message (RFC 5182 §2.1)', async () => {
    await transcript(wire, 'm1', 'SEARCH RETURN (SAVE MIN) UNSEEN', ['* ESEARCH (TAG "m1") MIN 2', 'm1 OK SEARCH completed']);
    await transcript(wire, 'm2', 'FETCH $ UID', ['* 2 FETCH (UID 2)', 'm2 OK FETCH completed']);
    await transcript(wire, 'm3', 'SEARCH RETURN (SAVE MIN MAX) UNSEEN', ['* ESEARCH (TAG "m3") MIN 2 MAX 5', 'm3 OK SEARCH completed']);
    await transcript(wire, 'm4', 'FETCH $ UID', ['* 2 FETCH (UID 2)', '* 5 FETCH (UID 5)', 'm4 OK FETCH completed']);
    await transcript(wire, 'm5', 'SEARCH RETURN (SAVE MAX COUNT) UNSEEN', ['* ESEARCH (TAG "m5") MAX 5 COUNT 3', 'm5 OK SEARCH completed']);
    await transcript(wire, 'm6', 'FETCH $ UID', ['* 2 FETCH (UID 2)', '* 4 FETCH (UID 4)', '* 5 FETCH (UID 5)', 'm6 OK FETCH completed']);
  });

  it('a failed SEARCH with SAVE empties "$"; SELECT of another mailbox resets it (RFC 5182 §2.1)', async () => {
    await transcript(wire, 'w1', 'SEARCH RETURN (SAVE) ALL', ['w1 OK SEARCH completed']);
    const failed = await wire.command('w2', 'SEARCH RETURN (SAVE) BOGUSKEY');
    expect(failed.lines).toHaveLength(1);
    expect(failed.tagged).toMatch(/^w2 BAD /);
    await transcript(wire, 'w3', 'FETCH $ UID', ['w3 OK FETCH completed']);

    await transcript(wire, 'w4', 'SEARCH RETURN (SAVE) ALL', ['w4 OK SEARCH completed']);
    const select = await wire.command('w5', 'SELECT Archive');
    expect(select.tagged).toBe('w5 OK [READ-WRITE] SELECT completed');
    // UID 1 of Archive is another message than UID 1 of INBOX: "$" must not carry over
    await transcript(wire, 'w6', 'FETCH $ UID', ['w6 OK FETCH completed']);
    await transcript(wire, 'w7', 'SEARCH RETURN (SAVE) ALL', ['w7 OK SEARCH completed']);
    await transcript(wire, 'w8', 'FETCH $ (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])', ['* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {23}\r\nSubject: Archiviert\r\n\r\n)', 'w8 OK FETCH completed']);
    await wire.command('w9', 'SELECT INBOX');
  });
});

describe('CONDSTORE and QRESYNC', () => {
  it('STORE (UNCHANGEDSINCE n) changes what is unchanged and reports the rest as [MODIFIED] (RFC 7162 §3.1.3)', async () => {
    const address = await freshAccount();
    for (const subject of ['A', 'B', 'C']) await storeMail(server, address, textMail(subject));
    const a = await login(address);
    const b = await login(address);
    const before = (await mailbox(address)).highestmodseq;
    const select = await a.command('a1', 'SELECT INBOX (CONDSTORE)');
    expect(select.lines).toContain(`* OK [HIGHESTMODSEQ ${before}] Highest`);
    await b.command('b1', 'SELECT INBOX');
    await transcript(b, 'b2', 'STORE 2 +FLAGS.SILENT (\\Seen)', ['b2 OK STORE completed']);
    await transcript(a, 'a2', `STORE 1:3 (UNCHANGEDSINCE ${before}) +FLAGS (\\Flagged)`, [
      `* 1 FETCH (FLAGS (\\Flagged) MODSEQ (${before + 2}))`,
      `* 3 FETCH (FLAGS (\\Flagged) MODSEQ (${before + 2}))`,
      // the change session B made, announced with the reply (RFC 7162 §3.1.3 lets the client learn it this way)
      `* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (${before + 1}))`,
      'a2 OK [MODIFIED 2] Conditional STORE failed for some messages'
    ]);
    await transcript(a, 'a3', 'FETCH 1:3 (FLAGS MODSEQ)', [
      `* 1 FETCH (FLAGS (\\Flagged) MODSEQ (${before + 2}))`,
      `* 2 FETCH (FLAGS (\\Seen) MODSEQ (${before + 1}))`,
      `* 3 FETCH (FLAGS (\\Flagged) MODSEQ (${before + 2}))`,
      'a3 OK FETCH completed'
    ]);
    // UID STORE reports UIDs in [MODIFIED]; .SILENT still reports MODSEQ of what changed
    await transcript(a, 'a4', `UID STORE 1:3 (UNCHANGEDSINCE ${before + 1}) +FLAGS.SILENT (\\Answered)`, [`* 2 FETCH (UID 2 MODSEQ (${before + 3}))`, 'a4 OK [MODIFIED 1,3] Conditional STORE failed for some messages']);
  });

  it('SELECT (QRESYNC (uidvalidity modseq)) sends VANISHED (EARLIER) and the changed flags (RFC 7162 §3.2.5)', async () => {
    const address = await freshAccount();
    for (const subject of ['A', 'B', 'C', 'D']) await storeMail(server, address, textMail(subject));
    const { uidvalidity: v, highestmodseq: known } = await mailbox(address);
    const other = await login(address);
    await other.command('o1', 'SELECT INBOX');
    await other.command('o2', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    await transcript(other, 'o3', 'EXPUNGE', ['* 2 EXPUNGE', 'o3 OK EXPUNGE completed']);
    await other.command('o4', 'UID STORE 3 +FLAGS.SILENT (\\Seen)');
    const now = (await mailbox(address)).highestmodseq;
    expect(now).toBe(known + 3);

    const wire = await login(address);
    await transcript(wire, 'q0', 'SELECT INBOX (QRESYNC (1 1))', ['q0 BAD QRESYNC must be enabled first (RFC 7162 §3.2.3)']);
    await transcript(wire, 'q1', 'ENABLE QRESYNC', ['* ENABLED QRESYNC', 'q1 OK ENABLE completed']);
    await transcript(wire, 'q2', `SELECT INBOX (QRESYNC (${v} ${known}))`, [
      '* 3 EXISTS',
      '* 0 RECENT',
      '* OK [UNSEEN 1] First unseen',
      `* OK [UIDVALIDITY ${v}] UIDs valid`,
      '* OK [UIDNEXT 5] Predicted next UID',
      `* FLAGS (${FLAGS})`,
      `* OK [PERMANENTFLAGS (${FLAGS} \\*)] Flags permitted`,
      `* OK [HIGHESTMODSEQ ${now}] Highest`,
      '* VANISHED (EARLIER) 2',
      `* 2 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (${now}))`,
      'q2 OK [READ-WRITE] SELECT completed'
    ]);
    // a UIDVALIDITY the client knows from elsewhere: a full resync, no VANISHED
    const full = await wire.command('q3', `SELECT INBOX (QRESYNC (${v + 1} ${known}))`);
    expect(full.lines.some((l) => l.includes('VANISHED') || l.includes('FETCH'))).toBe(false);
    expect(full.tagged).toBe('q3 OK [READ-WRITE] SELECT completed');
    // the same through UID FETCH … (CHANGEDSINCE … VANISHED) (RFC 7162 §3.2.6)
    await transcript(wire, 'q4', `UID FETCH 1:* FLAGS (CHANGEDSINCE ${known} VANISHED)`, [
      '* VANISHED (EARLIER) 2',
      `* 2 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (${now}))`,
      'q4 OK UID FETCH completed'
    ]);
    // with QRESYNC, expunges of other sessions arrive as VANISHED, not EXPUNGE
    await other.command('o5', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await other.command('o6', 'EXPUNGE');
    await transcript(wire, 'q5', 'NOOP', ['* VANISHED 1', 'q5 OK NOOP completed']);
  });
});

describe('expunges during FETCH (RFC 9051 §7.5.1)', () => {
  it('session A is not told of an expunge during or right after its FETCH, only after the next NOOP', async () => {
    const address = await freshAccount();
    for (const subject of ['A', 'B', 'C']) await storeMail(server, address, textMail(subject));
    const a = await login(address);
    const b = await login(address);
    await a.command('a1', 'SELECT INBOX');
    await b.command('b1', 'SELECT INBOX');
    await b.command('b2', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    await transcript(b, 'b3', 'EXPUNGE', ['* 2 EXPUNGE', 'b3 OK EXPUNGE completed']);

    // A still counts 3 messages: message 2 is gone, but its number may not shift during a FETCH
    await transcript(a, 'a2', 'FETCH 1:3 UID', ['* 1 FETCH (UID 1)', '* 3 FETCH (UID 3)', 'a2 OK FETCH completed']);
    await transcript(a, 'a3', 'STORE 3 +FLAGS (\\Flagged)', ['* 3 FETCH (FLAGS (\\Flagged))', 'a3 OK STORE completed']);
    await transcript(a, 'a4', 'SEARCH ALL', ['* SEARCH 1 3', 'a4 OK SEARCH completed']);
    await transcript(a, 'a5', 'NOOP', ['* 2 EXPUNGE', 'a5 OK NOOP completed']);
    await transcript(a, 'a6', 'FETCH 1:* UID', ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', 'a6 OK FETCH completed']);
  });

  it('a delivery during the held expunge is announced with EXISTS counting the expunged message', async () => {
    const address = await freshAccount();
    for (const subject of ['A', 'B']) await storeMail(server, address, textMail(subject));
    const a = await login(address);
    const b = await login(address);
    await a.command('a1', 'SELECT INBOX');
    await b.command('b1', 'SELECT INBOX');
    await b.command('b2', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.command('b3', 'EXPUNGE');
    await storeMail(server, address, textMail('C'));
    // message 1 is gone but keeps its number; the new message is number 3
    await transcript(a, 'a2', 'FETCH 1:* UID', ['* 2 FETCH (UID 2)', '* 3 EXISTS', 'a2 OK FETCH completed']);
    await transcript(a, 'a3', 'NOOP', ['* 1 EXPUNGE', 'a3 OK NOOP completed']);
    await transcript(a, 'a4', 'FETCH 1:* UID', ['* 1 FETCH (UID 2)', '* 2 FETCH (UID 3)', 'a4 OK FETCH completed']);
  });
});

describe('BAD for unknown commands and commands in the wrong state', () => {
  it('an unknown command is BAD and the session goes on', async () => {
    const wire = await connect();
    await transcript(wire, 'u1', 'XYZZY', ['u1 BAD Unknown command XYZZY']);
    await transcript(wire, 'u2', 'xyzzy 1 2 3', ['u2 BAD Unknown command XYZZY']);
    await transcript(wire, 'u3', 'NOOP', ['u3 OK NOOP completed']);
  });

  it('commands outside their state are BAD (RFC 9051 §3)', async () => {
    const wire = await connect();
    await transcript(wire, 'n1', 'SELECT INBOX', ['n1 BAD SELECT is not valid in this state']);
    await transcript(wire, 'n2', 'FETCH 1 UID', ['n2 BAD FETCH is not valid in this state']);
    await transcript(wire, 'n3', 'APPEND INBOX {1+}\r\nx', ['n3 BAD APPEND is not valid in this state']);
    await transcript(wire, 'n4', 'ENABLE CONDSTORE', ['n4 BAD ENABLE is not valid in this state']);
    const login = await wire.command('n5', `LOGIN info@firma.de ${PASSWORD}`);
    expect(login.tagged).toMatch(/^n5 OK /);
    await transcript(wire, 'n6', `LOGIN info@firma.de ${PASSWORD}`, ['n6 BAD LOGIN is not valid in this state']);
    await transcript(wire, 'n7', 'AUTHENTICATE PLAIN', ['n7 BAD AUTHENTICATE is not valid in this state']);
    await transcript(wire, 'n8', 'STARTTLS', ['n8 BAD STARTTLS is not valid in this state']);
    await transcript(wire, 'n9', 'FETCH 1 UID', ['n9 BAD FETCH is not valid in this state']);
    await transcript(wire, 'n10', 'EXPUNGE', ['n10 BAD EXPUNGE is not valid in this state']);
    await transcript(wire, 'n11', 'CLOSE', ['n11 BAD CLOSE is not valid in this state']);
    await transcript(wire, 'n12', 'NOOP', ['n12 OK NOOP completed']);
  });

  it('LOGOUT: BYE, then the tagged OK, then the server closes', async () => {
    const wire = await connect();
    await transcript(wire, 'z1', 'LOGOUT', ['* BYE Postfach logging out', 'z1 OK LOGOUT completed']);
    await wire.closedByServer();
  });
});
