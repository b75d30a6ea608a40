// Postfach's IMAP server driven by Python's imaplib, an independent client: each test runs a script in python3 that
// prints JSON, and the test asserts the exact responses imaplib parsed and what the store holds afterwards.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, provision, startServer, tempDir, type TestServer } from '../helpers/server.js';
import { INVOICE, INVOICE_BODYSTRUCTURE, OFFER, OFFER_BODY, RECIPIENT, deliver, installed, storedFolders, storedMessages } from '../helpers/sample-mail.js';

const run = promisify(execFile);

const NO_PYTHON = installed('python3') ? null : 'python3 is not installed: the imaplib client cannot run';
const PYTHON_VERSION = NO_PYTHON ? [0, 0] : execFileSync('python3', ['-c', 'import sys; print(sys.version_info[0], sys.version_info[1])'], { encoding: 'utf8' }).trim().split(' ').map(Number);
const NO_IDLE =
  NO_PYTHON ?? (PYTHON_VERSION[0] > 3 || (PYTHON_VERSION[0] === 3 && PYTHON_VERSION[1] >= 14) ? null : `imaplib has IDLE only from Python 3.14; python3 here is ${PYTHON_VERSION.join('.')}`);

/** Shared by every script: connection helpers and JSON output (bytes as UTF-8 text, base64 when not UTF-8). */
const PRELUDE = String.raw`
import base64, imaplib, json, os, ssl
HOST = '127.0.0.1'
IMAP_PORT = int(os.environ['IMAP_PORT'])
IMAPS_PORT = int(os.environ['IMAPS_PORT'])
USER = os.environ['IMAP_USER']
PASSWORD = os.environ['IMAP_PASSWORD']

def login():
    M = imaplib.IMAP4(HOST, IMAP_PORT)
    M.login(USER, PASSWORD)
    return M

def j(value):
    if isinstance(value, bytes):
        try:
            return value.decode('utf-8')
        except UnicodeDecodeError:
            return {'base64': base64.b64encode(value).decode('ascii')}
    if isinstance(value, (list, tuple)):
        return [j(v) for v in value]
    if isinstance(value, dict):
        return {k: j(v) for k, v in value.items()}
    return value

def attempt(fn):
    try:
        return j(fn())
    except imaplib.IMAP4.error as e:
        return ['error', str(e)]

def out(**result):
    print(json.dumps(j(result)))
`;

let server: TestServer;
let scripts: string;
let scriptCount = 0;

/** Runs PRELUDE + body in python3 and returns the JSON it printed last. */
async function python(body: string, env: Record<string, string> = {}): Promise<any> {
  const file = path.join(scripts, `script-${++scriptCount}.py`);
  fs.writeFileSync(file, PRELUDE + body);
  const { stdout, stderr } = await run('python3', [file], {
    timeout: 20_000,
    env: {
      ...process.env,
      ...env,
      IMAP_PORT: String(server.ports.imap),
      IMAPS_PORT: String(server.ports.imaps),
      IMAP_USER: RECIPIENT,
      IMAP_PASSWORD: PASSWORD,
      CA_FILE: path.join(server.dataDir, 'tls', 'selfsigned.crt'),
      SMTP_PORT: String(server.ports.smtp),
      PYTHONIOENCODING: 'utf-8'
    }
  }).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`python3 failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`python3 printed no JSON:\n${stdout}\n${stderr}`);
  }
}

async function uidvalidity(folder: string): Promise<number> {
  const { db } = server.app.services;
  const row = await db
    .selectFrom('mailboxes')
    .innerJoin('accounts', 'accounts.id', 'mailboxes.account_id')
    .select('mailboxes.uidvalidity')
    .where('accounts.address', '=', RECIPIENT)
    .where('mailboxes.name', '=', folder)
    .executeTakeFirstOrThrow();
  return row.uidvalidity;
}

const SYSTEM_FLAGS = String.raw`\Answered \Flagged \Deleted \Seen \Draft $Forwarded $MDNSent $Junk $NotJunk $Phishing`;

describe.skipIf(NO_PYTHON !== null)(NO_PYTHON ? `IMAP with Python imaplib (skipped: ${NO_PYTHON})` : 'IMAP with Python imaplib', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'imap.port': 0, 'imaps.port': 0 } });
    await provision(server, 'firma.de', ['info']);
    await deliver(server, OFFER, INVOICE);
    scripts = tempDir('postfach-imaplib-');
  });
  afterAll(async () => {
    await server?.close();
    if (scripts) fs.rmSync(scripts, { recursive: true, force: true });
  });

  it('logs in with LOGIN over plain IMAP on loopback; CAPABILITY changes with the state; a wrong password is NO [AUTHENTICATIONFAILED]', async () => {
    const result = await python(String.raw`
M = imaplib.IMAP4(HOST, IMAP_PORT)
before = list(M.capabilities)
wrong = attempt(lambda: M.login(USER, 'not-the-password'))
ok = M.login(USER, PASSWORD)
after = M.capability()
out(before=before, wrong=wrong, ok=ok, after=after, state=M.state)
`);
    expect(result.before).toEqual(['IMAP4REV1', 'IMAP4REV2', 'STARTTLS', 'AUTH=PLAIN', 'SASL-IR', 'ID', 'ENABLE', 'LITERAL+']);
    expect(result.wrong).toEqual(['error', `b'[AUTHENTICATIONFAILED] Invalid credentials'`]);
    expect(result.ok[0]).toBe('OK');
    expect(result.ok[1][0]).toMatch(/^\[CAPABILITY IMAP4rev1 IMAP4rev2 .*\] Logged in$/);
    expect(result.state).toBe('AUTH');
    expect(result.after[0]).toBe('OK');
    const capabilities = result.after[1][0].split(' ');
    for (const cap of ['IMAP4rev1', 'IDLE', 'UIDPLUS', 'MOVE', 'NAMESPACE', 'SPECIAL-USE', 'UTF8=ACCEPT', 'LITERAL+']) expect(capabilities).toContain(cap);
    // after login there is nothing left to start TLS for or to authenticate with
    expect(capabilities).not.toContain('STARTTLS');
    expect(capabilities.filter((c: string) => c.startsWith('AUTH='))).toEqual([]);
  });

  it('logs in with IMAP4_SSL on the implicit-TLS port and with STARTTLS on the plain port; the generated certificate verifies for 127.0.0.1', async () => {
    const result = await python(String.raw`
unverified = imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=ssl._create_unverified_context())
implicit = [unverified.login(USER, PASSWORD)[0], unverified.sock.version(), 'STARTTLS' in unverified.capabilities]
unverified.logout()

pinned = ssl.create_default_context(cafile=os.environ['CA_FILE'])
verified = imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=pinned)
verified_login = verified.login(USER, PASSWORD)[0]
verified.logout()

try:
    imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=ssl.create_default_context())
    untrusted = 'connected'
except ssl.SSLCertVerificationError as e:
    untrusted = e.verify_message

S = imaplib.IMAP4(HOST, IMAP_PORT)
starttls = S.starttls(ssl_context=pinned)
S.login(USER, PASSWORD)
out(implicit=implicit, verified=verified_login, untrusted=untrusted, starttls=starttls, starttls_version=S.sock.version(), caps_after_tls=list(S.capabilities))
S.logout()
`);
    expect(result.implicit[0]).toBe('OK');
    expect(result.implicit[1]).toMatch(/^TLSv1\.[23]$/);
    expect(result.implicit[2]).toBe(false); // no STARTTLS on a connection that is already encrypted
    expect(result.verified).toBe('OK');
    expect(result.untrusted).toBe('self-signed certificate');
    expect(result.starttls[0]).toBe('OK');
    expect(result.starttls_version).toMatch(/^TLSv1\.[23]$/);
    expect(result.caps_after_tls).not.toContain('STARTTLS');
  });

  it('LIST shows INBOX and the special-use folders every account starts with', async () => {
    const result = await python(String.raw`
M = login()
out(all=M.list(), inbox_only=M.list('""', 'INBOX'), none=M.list('""', 'Nichts*'))
M.logout()
`);
    expect(result.all).toEqual([
      'OK',
      [
        String.raw`(\HasNoChildren \Archive) "/" "Archive"`,
        String.raw`(\HasNoChildren \Drafts) "/" "Drafts"`,
        String.raw`(\HasNoChildren) "/" "INBOX"`,
        String.raw`(\HasNoChildren \Junk) "/" "Junk"`,
        String.raw`(\HasNoChildren \Sent) "/" "Sent"`,
        String.raw`(\HasNoChildren \Trash) "/" "Trash"`
      ]
    ]);
    expect(result.inbox_only).toEqual(['OK', [String.raw`(\HasNoChildren) "/" "INBOX"`]]);
    expect(result.none).toEqual(['OK', [null]]);
  });

  it('SELECT reports EXISTS, UIDVALIDITY, UIDNEXT, FLAGS and READ-WRITE; EXAMINE is READ-ONLY; an unknown folder is NO', async () => {
    const result = await python(String.raw`
M = login()
M.select('INBOX')
M.store('1:*', '-FLAGS.SILENT', r'(\Seen)')
M.close()
selected = M.select('INBOX')
codes = {k: M.response(k)[1] for k in ['EXISTS', 'RECENT', 'UNSEEN', 'UIDVALIDITY', 'UIDNEXT', 'FLAGS', 'PERMANENTFLAGS', 'READ-WRITE']}
examined = M.select('INBOX', readonly=True)
readonly = [M.response('READ-ONLY')[1], M.response('PERMANENTFLAGS')[1]]
missing = attempt(lambda: M.select('Nichtda'))
out(selected=selected, codes=codes, examined=examined, readonly=readonly, missing=missing, state=M.state)
M.logout()
`);
    expect(result.selected).toEqual(['OK', ['2']]);
    expect(result.codes).toEqual({
      EXISTS: ['2'],
      RECENT: ['0'],
      UNSEEN: ['1'],
      UIDVALIDITY: [String(await uidvalidity('INBOX'))],
      UIDNEXT: ['3'],
      FLAGS: [`(${SYSTEM_FLAGS})`],
      PERMANENTFLAGS: [`(${SYSTEM_FLAGS} \\*)`],
      'READ-WRITE': ['']
    });
    expect(result.examined).toEqual(['OK', ['2']]);
    expect(result.readonly).toEqual([[''], ['()']]);
    expect(result.missing).toEqual(['NO', ['[NONEXISTENT] No such mailbox']]);
    // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected
    expect(result.state).toBe('AUTH');
  });

  it('FETCH returns RFC822, HEADER.FIELDS, BODYSTRUCTURE, FLAGS and a partial BODY[]<0.10>; only non-PEEK fetches set \\Seen', async () => {
    const result = await python(String.raw`
M = login()
M.select('INBOX')
M.store('1:*', '-FLAGS.SILENT', r'(\Seen)')
fields = M.fetch('2', '(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])')
after_peek = M.fetch('2', '(FLAGS)')
structure = M.fetch('1:2', '(BODYSTRUCTURE FLAGS)')
partial = M.fetch('2', '(BODY[]<0.10>)')
partial_later = M.fetch('2', '(BODY.PEEK[]<10.8>)')
rfc822 = M.fetch('1', '(RFC822)')
flags = M.fetch('1:2', '(FLAGS)')
out(fields=fields, after_peek=after_peek, structure=structure, partial=partial, partial_later=partial_later, rfc822=rfc822, flags=flags)
M.logout()
`);
    const [offer, invoice] = await storedMessages(server, 'INBOX');
    const fields = 'From: Buchhaltung <billing@sender.test>\r\nSubject: Rechnung 2026-17\r\n\r\n';
    expect(result.fields).toEqual(['OK', [[`2 (BODY[HEADER.FIELDS (SUBJECT FROM)] {${fields.length}}`, fields], ')']]);
    expect(result.after_peek).toEqual(['OK', ['2 (FLAGS ())']]);
    expect(result.structure).toEqual([
      'OK',
      [
        `1 (BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" ${OFFER_BODY.length} 3 NIL NIL NIL NIL) FLAGS ())`,
        `2 (BODYSTRUCTURE ${INVOICE_BODYSTRUCTURE} FLAGS ())`
      ]
    ]);
    // the first ten octets are those of the trace header the MX prepended
    expect(result.partial).toEqual(['OK', [['2 (BODY[]<0> {10}', invoice.raw.subarray(0, 10).toString()], String.raw` FLAGS (\Seen))`]]);
    expect(result.partial_later).toEqual(['OK', [['2 (BODY[]<10> {8}', invoice.raw.subarray(10, 18).toString()], ')']]);
    expect(result.rfc822).toEqual(['OK', [[`1 (RFC822 {${offer.raw.length}}`, offer.raw.toString('utf8')], String.raw` FLAGS (\Seen))`]]);
    expect(offer.raw.toString('utf8').endsWith('\r\n' + OFFER)).toBe(true); // trace fields prepended, the message unchanged
    expect(result.flags).toEqual(['OK', [String.raw`1 (FLAGS (\Seen))`, String.raw`2 (FLAGS (\Seen))`]]);
    expect((await storedMessages(server, 'INBOX')).map((m) => m.flags)).toEqual(['\\Seen', '\\Seen']);
  });

  it('UID SEARCH finds by ALL, UNSEEN, SUBJECT and TEXT, with UTF-8 search text sent as a literal', async () => {
    const result = await python(String.raw`
M = login()
M.select('INBOX')
M.store('1:*', '-FLAGS.SILENT', r'(\Seen)')
M.store('2', '+FLAGS.SILENT', r'(\Seen)')
def utf8_search(key, text):
    M.literal = text.encode('utf-8')
    return M.uid('SEARCH', 'CHARSET', 'UTF-8', key)
out(
    all=M.uid('SEARCH', None, 'ALL'),
    unseen=M.uid('SEARCH', None, 'UNSEEN'),
    seen=M.uid('SEARCH', None, 'SEEN'),
    subject=M.uid('SEARCH', None, 'SUBJECT', 'Rechnung'),
    subject_quoted=M.uid('SEARCH', None, 'SUBJECT', '"2026-17"'),
    text_body=M.uid('SEARCH', None, 'TEXT', 'Lieferung'),
    text_header=M.uid('SEARCH', None, 'TEXT', 'billing@sender.test'),
    nothing=M.uid('SEARCH', None, 'SUBJECT', 'Mahnung'),
    subject_utf8=utf8_search('SUBJECT', 'München'),
    text_utf8=utf8_search('TEXT', 'für die Lieferung'),
    by_sequence=M.search(None, 'OR', 'SUBJECT', 'Angebot', 'FROM', 'billing'),
    bad_charset=attempt(lambda: M.uid('SEARCH', 'CHARSET', 'KOI8-R', 'TEXT', 'x')),
)
M.logout()
`);
    expect(result).toEqual({
      all: ['OK', ['1 2']],
      unseen: ['OK', ['1']],
      seen: ['OK', ['2']],
      subject: ['OK', ['2']],
      subject_quoted: ['OK', ['2']],
      text_body: ['OK', ['1']],
      text_header: ['OK', ['2']],
      nothing: ['OK', ['']],
      subject_utf8: ['OK', ['1']],
      text_utf8: ['OK', ['1']],
      by_sequence: ['OK', ['1 2']],
      bad_charset: ['NO', ['[BADCHARSET (UTF-8 US-ASCII)] Charset KOI8-R is not supported']]
    });
  });

  it('STORE +FLAGS, COPY (COPYUID) and EXPUNGE in a folder of its own', async () => {
    const result = await python(String.raw`
M = login()
M.create('Ablage')
for n in range(1, 4):
    M.append('Ablage', None, None, ('Subject: Ablage %d\r\nFrom: a@firma.de\r\n\r\nNummer %d\r\n' % (n, n)).encode())
M.select('Ablage')
stored = M.store('1,3', '+FLAGS', r'(\Flagged \Deleted)')
copied = M.copy('1:3', 'Archive')
missing_target = M.copy('1', 'Nichtda')
expunged = M.expunge()
left = M.fetch('1:*', '(UID FLAGS)')
archive = M.status('Archive', '(MESSAGES)')
out(stored=stored, copied=copied, missing_target=missing_target, expunged=expunged, left=left, archive=archive)
M.logout()
`);
    const archive = await uidvalidity('Archive');
    expect(result).toEqual({
      stored: ['OK', [String.raw`1 (FLAGS (\Flagged \Deleted))`, String.raw`3 (FLAGS (\Flagged \Deleted))`]],
      copied: ['OK', [`[COPYUID ${archive} 1:3 1:3] COPY completed`]],
      missing_target: ['NO', ['[TRYCREATE] No such mailbox']],
      // from the highest sequence number down, so each number is still valid when the client applies it
      expunged: ['OK', ['3', '1']],
      left: ['OK', ['1 (UID 2 FLAGS ())']],
      archive: ['OK', ['"Archive" (MESSAGES 3)']]
    });
    expect((await storedMessages(server, 'Ablage')).map((m) => [m.uid, m.subject])).toEqual([[2, 'Ablage 2']]);
    // COPY keeps the flags, \Deleted included (RFC 9051 §6.4.7)
    expect((await storedMessages(server, 'Archive')).map((m) => [m.uid, m.subject, m.flags])).toEqual([
      [1, 'Ablage 1', '\\Flagged \\Deleted'],
      [2, 'Ablage 2', ''],
      [3, 'Ablage 3', '\\Flagged \\Deleted']
    ]);
    await python(`M = login()\nout(deleted=M.delete('Ablage'))\nM.logout()\n`);
    expect(await storedFolders(server)).not.toContain('Ablage');
  });

  it('APPEND stores a literal with non-ASCII UTF-8 octets byte for byte, with flags and an internal date given in +0100', async () => {
    // 2026-03-02T09:00:00Z; imaplib writes it in the script's local time zone, Europe/Berlin: "02-Mar-2026 10:00:00 +0100"
    const when = Date.UTC(2026, 2, 2, 9, 0, 0) / 1000;
    const result = await python(
      String.raw`
message = 'From: Jörg Müller <joerg@firma.de>\r\nSubject: Grüße aus Köln\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSchöne Grüße – bis bald, Straße 5 ✓\r\n'.encode('utf-8')
M = login()
date = imaplib.Time2Internaldate(${when})
appended = M.append('Sent', r'(\Seen $Wichtig)', ${when}, message)
M.select('Sent')
uid = appended[1][0].decode().split()[2].rstrip(']')
fetched = M.uid('FETCH', uid, '(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])')
out(date=date, appended=appended, fetched=fetched, sent=message)
M.logout()
`,
      { TZ: 'Europe/Berlin' }
    );
    const sent = Buffer.from(result.sent, 'utf8');
    expect(result.date).toBe('"02-Mar-2026 10:00:00 +0100"');
    expect(result.appended).toEqual(['OK', [`[APPENDUID ${await uidvalidity('Sent')} 1] APPEND completed`]]);
    expect(result.fetched).toEqual([
      'OK',
      [[String.raw`1 (UID 1 FLAGS (\Seen $Wichtig) INTERNALDATE " 2-Mar-2026 09:00:00 +0000" RFC822.SIZE ${sent.length} BODY[] {${sent.length}}`, result.sent], ')']
    ]);
    const [stored] = await storedMessages(server, 'Sent');
    expect(stored.raw.equals(sent)).toBe(true);
    expect(stored.internal_date).toBe(when * 1000);
    expect(stored.subject).toBe('Grüße aus Köln');
  });

  it('CREATE, SELECT, RENAME and DELETE a folder with an umlaut in modified UTF-7 (Entw&APw-rfe is Entwürfe)', async () => {
    const result = await python(String.raw`
M = login()
created = M.create('Entw&APw-rfe')
listed = M.list('""', 'Entw*')
selected = M.select('Entw&APw-rfe')
M.close()
renamed = M.rename('Entw&APw-rfe', '"Projekte/Entw&APw-rfe 2026"')
after_rename = M.list('""', 'Projekte*')
status = M.status('"Projekte/Entw&APw-rfe 2026"', '(MESSAGES UIDNEXT)')
invalid = attempt(lambda: M.create('Entw&AP-rfe'))
out(created=created, listed=listed, selected=selected, renamed=renamed, after_rename=after_rename, status=status, invalid=invalid)
M.logout()
`);
    expect(result).toEqual({
      created: ['OK', ['CREATE completed']],
      listed: ['OK', [String.raw`(\HasNoChildren) "/" "Entw&APw-rfe"`]],
      selected: ['OK', ['0']],
      renamed: ['OK', ['RENAME completed']],
      after_rename: ['OK', [String.raw`(\HasChildren) "/" "Projekte"`, String.raw`(\HasNoChildren) "/" "Projekte/Entw&APw-rfe 2026"`]],
      status: ['OK', ['"Projekte/Entw&APw-rfe 2026" (MESSAGES 0 UIDNEXT 1)']],
      invalid: ['error', `CREATE command error: BAD [b'Mailbox name is not valid modified UTF-7']`]
    });
    // stored as Unicode, not as the wire form
    expect(await storedFolders(server)).toEqual(expect.arrayContaining(['Projekte', 'Projekte/Entwürfe 2026']));
    expect((await storedFolders(server)).filter((name) => name.startsWith('Entw'))).toEqual([]);

    const deleted = await python(String.raw`
M = login()
deleted = M.delete('"Projekte/Entw&APw-rfe 2026"')
again = M.delete('"Projekte/Entw&APw-rfe 2026"')
listed = M.list('""', 'Projekte*')
M.delete('Projekte')
out(deleted=deleted, again=again, listed=listed)
M.logout()
`);
    expect(deleted).toEqual({
      deleted: ['OK', ['DELETE completed']],
      again: ['NO', ['[NONEXISTENT] No such mailbox']],
      listed: ['OK', [String.raw`(\HasNoChildren) "/" "Projekte"`]]
    });
    expect(await storedFolders(server)).not.toContain('Projekte/Entwürfe 2026');
  });

  it('two sessions on one folder: the other session learns of APPEND (EXISTS), STORE (FETCH FLAGS) and EXPUNGE, the expunge not during FETCH', async () => {
    const result = await python(String.raw`
A = login()
B = login()
A.create('Gemeinsam')
for n in (1, 2):
    A.append('Gemeinsam', None, None, ('Subject: Gemeinsam %d\r\n\r\nText\r\n' % n).encode())
A.select('Gemeinsam')
B.select('Gemeinsam')
def updates(M):
    M.untagged_responses.clear()
    M.noop()
    return {k: M.untagged_responses.get(k) for k in ('EXISTS', 'FETCH', 'EXPUNGE')}
A.untagged_responses.clear()
B.append('Gemeinsam', None, None, b'Subject: Gemeinsam 3\r\n\r\nText\r\n')
appended = updates(A)
B.store('1', '+FLAGS', r'(\Flagged)')
flagged = updates(A)
B.store('2', '+FLAGS', r'(\Deleted)')
B.expunge()
A.untagged_responses.clear()
during_fetch = A.fetch('1:*', '(UID)')
held = A.untagged_responses.get('EXPUNGE')
expunged = updates(A)
after = A.fetch('1:*', '(UID)')
A.close()
A.delete('Gemeinsam')
out(appended=appended, flagged=flagged, during_fetch=during_fetch, held=held, expunged=expunged, after=after)
A.logout()
B.logout()
`);
    expect(result.appended).toEqual({ EXISTS: ['3'], FETCH: null, EXPUNGE: null });
    expect(result.flagged).toEqual({ EXISTS: null, FETCH: [String.raw`1 (UID 1 FLAGS (\Flagged))`], EXPUNGE: null });
    // RFC 9051 §7.5.1: no EXPUNGE during FETCH; sequence numbers stay as the client knows them until it is told
    expect(result.held).toBeNull();
    expect(result.during_fetch[0]).toBe('OK');
    expect(result.during_fetch[1].filter((line: string) => !line.startsWith('2 '))).toEqual(['1 (UID 1)', '3 (UID 3)']);
    expect(result.expunged).toEqual({ EXISTS: null, FETCH: null, EXPUNGE: ['2'] });
    expect(result.after).toEqual(['OK', ['1 (UID 1)', '2 (UID 3)']]);
  });

  it.skipIf(NO_IDLE !== null)(`IDLE announces a delivery while idling (${NO_IDLE ?? 'imaplib IDLE'})`, async () => {
    const result = await python(String.raw`
import smtplib
M = login()
exists = int(M.select('INBOX')[1][0])
seen = []
with M.idle(duration=10) as idler:
    with smtplib.SMTP(HOST, int(os.environ['SMTP_PORT'])) as smtp:
        smtp.sendmail('peer@sender.test', [USER], b'From: peer@sender.test\r\nSubject: Waehrend IDLE\r\n\r\nHallo\r\n')
    for response in idler:
        seen.append(response)
        if response[0] == 'EXISTS':
            break
out(before=exists, seen=seen)
M.logout()
`);
    expect(result.seen).toContainEqual(['EXISTS', [String(result.before + 1)]]);
  });

  it('LOGOUT answers BYE before the tagged OK, and the server closes the connection', async () => {
    const result = await python(String.raw`
M = login()
tag = M._new_tag()
M.send(tag + b' LOGOUT\r\n')
lines = []
while True:
    line = M.readline()
    if not line:
        break
    lines.append(line)
out(lines=lines, tag=tag)
`);
    expect(result.lines).toEqual(['* BYE Postfach logging out\r\n', `${result.tag} OK LOGOUT completed\r\n`]);
  });
});
