// Postfach's POP3 server driven by Python's poplib, an independent client: each test runs a script in python3 that
// prints JSON, and the test asserts what poplib received against the stored messages and what the store holds after.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setActive } from '../../server/directory/accounts.js';
import { listMessages } from '../../server/store/messages.js';
import { accountId, storeMail, textMail } from '../helpers/mail-store.js';
import { installed } from '../helpers/sample-mail.js';
import { actor, PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const NO_PYTHON = installed('python3') ? null : 'python3 is not installed: the poplib client cannot run';

/** Messages whose wire form differs from naive byte counting in each way POP3 cares about. */
const MESSAGES = {
  crlf: textMail('Erste', 'Grüße aus München'),
  // lines starting with "." are stuffed on the wire and un-stuffed by the client; a lone "." must not end the message
  dots: 'Subject: Punkte\r\n\r\n.erste Zeile\r\n..zwei\r\n.\r\nEnde\r\n',
  // bare LF, as IMAP APPEND or an import may store it: sent (and counted) as CRLF
  bareLf: 'Subject: Unix\n\nZeile eins\nZeile zwei\n',
  // no line ending at the end: POP3 ends the last line before the "." line, and counts that CRLF
  unterminated: 'Subject: Offen\r\n\r\nohne Zeilenende',
  // bare CR (old Mac), CR CR LF and a dot after a bare LF: each line ending becomes one CRLF (poplib counts the octets
  // it reads per line, endings included, so a bare CR or LF on the wire would show as a wrong count)
  mixed: 'Subject: Gemischt\r\rZeile mit CR\rZeile mit CR CR LF\r\r\nZeile mit LF\n.Punkt\r\n'
};

/** The message as lines ended by CRLF: an independent statement of what RETR must send. */
function wireForm(raw: string): string {
  const lines = raw.replace(/\r\n|\r|\n/g, '\r\n');
  return lines.endsWith('\r\n') ? lines : lines + '\r\n';
}

/** A message larger than the server's 256 KiB read chunks, with dot lines and bare LFs around chunk boundaries. */
function largeMessage(): string {
  let text = 'Subject: Gross\r\n\r\n';
  for (let i = 0; text.length < 700_000; i++) text += (i % 997 === 0 ? `.Punktzeile ${i}` : `Zeile ${i} ${'x'.repeat(60)}`) + (i % 2 ? '\n' : '\r\n');
  return text;
}

const PRELUDE = String.raw`
import base64, json, os, poplib, ssl, time
HOST = '127.0.0.1'
PORT = int(os.environ['POP3_PORT'])
PORT_TLS = int(os.environ['POP3S_PORT'])
PASSWORD = os.environ['POP3_PASSWORD']
UNVERIFIED = ssl._create_unverified_context()

def login(user):
    M = poplib.POP3(HOST, PORT)
    M.user(user)
    M.pass_(PASSWORD)
    return M

def text(value):
    return value.decode('utf-8') if isinstance(value, bytes) else value

def attempt(fn):
    try:
        return text(fn())
    except poplib.error_proto as e:
        return 'error: ' + text(e.args[0])

def message(lines):
    return ''.join(text(l) + '\r\n' for l in lines)

def out(**result):
    print(json.dumps(result))
`;

let server: TestServer;

async function python(user: string, body: string): Promise<any> {
  const env = { ...process.env, POP3_PORT: String(server.ports.pop3), POP3S_PORT: String(server.ports.pop3s), POP3_PASSWORD: PASSWORD, POP3_USER: user, PYTHONIOENCODING: 'utf-8' };
  const { stdout } = await run('python3', ['-c', PRELUDE + `USER = '${user}'\n` + body], { env, timeout: 20_000 }).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`python3 failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '');
}

async function inbox(address: string) {
  return listMessages(server.app.services.db, await accountId(server, address), 'INBOX');
}

describe.skipIf(NO_PYTHON !== null)(NO_PYTHON ? `POP3 with Python poplib (skipped: ${NO_PYTHON})` : 'POP3 with Python poplib', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'pop3.port': 0, 'pop3s.port': 0 } });
    await provision(server, 'firma.de', ['info', 'top', 'dele', 'tls', 'gesperrt', 'lock']);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('CAPA before login offers USER, SASL PLAIN LOGIN and STLS; after login only the extensions', async () => {
    const result = await python('info@firma.de', String.raw`
M = poplib.POP3(HOST, PORT)
before = M.capa()
M.user(USER); M.pass_(PASSWORD)
out(welcome=text(M.getwelcome()), before=before, after=M.capa())
M.quit()
`);
    expect(result.welcome).toBe('+OK Postfach POP3 ready');
    const extensions = { TOP: [], UIDL: [], 'RESP-CODES': [], 'AUTH-RESP-CODE': [], PIPELINING: [], EXPIRE: ['NEVER'], IMPLEMENTATION: ['Postfach'] };
    expect(result.before).toEqual({ ...extensions, STLS: [], USER: [], SASL: ['PLAIN', 'LOGIN'] });
    expect(result.after).toEqual(extensions);
  });

  it('STAT, LIST and UIDL count exactly what RETR sends: CRLF, bare LF, bare CR, dot-started lines, an unterminated last line, 700 KB', async () => {
    const large = largeMessage();
    const raws = [MESSAGES.crlf, MESSAGES.dots, MESSAGES.bareLf, MESSAGES.unterminated, MESSAGES.mixed, large];
    for (const raw of raws) await storeMail(server, 'info@firma.de', raw);
    const result = await python('info@firma.de', String.raw`
M = login(USER)
stat = M.stat()
listing = M.list()
uidl = M.uidl()
retrieved = []
for n in range(1, stat[0] + 1):
    resp, lines, octets = M.retr(n)
    retrieved.append([text(resp), message(lines), octets])
single = [text(M.list(2)), text(M.uidl(5))]
M.quit()
out(stat=stat, listing=[text(listing[0]), [text(l) for l in listing[1]]], uidl=[text(l) for l in uidl[1]], retrieved=retrieved, single=single)
`);
    const wire = raws.map(wireForm);
    const sizes = wire.map((w) => Buffer.byteLength(w));
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(result.stat).toEqual([6, total]);
    expect(result.listing).toEqual([`+OK 6 messages (${total} octets)`, sizes.map((size, i) => `${i + 1} ${size}`)]);
    const messages = await inbox('info@firma.de');
    const { uidvalidity } = await server.app.services.db.selectFrom('mailboxes').select('uidvalidity').where('id', '=', messages[0].mailbox_id).executeTakeFirstOrThrow();
    expect(result.uidl).toEqual(messages.map((m, i) => `${i + 1} ${uidvalidity}.${m.uid}`));
    result.retrieved.forEach(([status, text, octets]: [string, string, number], i: number) => {
      expect(status).toBe(`+OK ${sizes[i]} octets`);
      expect(text).toBe(wire[i]);
      expect(octets).toBe(sizes[i]); // poplib counts the un-stuffed lines with their CRLF
    });
    expect(result.single).toEqual([`+OK 2 ${sizes[1]}`, `+OK 5 ${uidvalidity}.${messages[4].uid}`]);
  });

  it('TOP n sends the header, the blank line and n body lines (the whole message for any larger n), and leaves \\Seen alone', async () => {
    await storeMail(server, 'top@firma.de', 'Subject: Oben\r\nFrom: a@b.test\r\n\r\neins\r\n.zwei\r\ndrei\r\nvier\r\n');
    await storeMail(server, 'top@firma.de', 'Subject: Nur Kopf\r\nFrom: a@b.test\r\n');
    const result = await python('top@firma.de', String.raw`
M = login(USER)
tops = [message(M.top(1, n)[1]) for n in (0, 2, 10, 99999999999)]
headers_only = message(M.top(2, 5)[1])
bad = [attempt(lambda: M._shortcmd('TOP 1')), attempt(lambda: M._shortcmd('TOP 1 -1')), attempt(lambda: M._shortcmd('TOP 9 1'))]
M.quit()
out(tops=tops, headers_only=headers_only, bad=bad)
`);
    const head = 'Subject: Oben\r\nFrom: a@b.test\r\n\r\n';
    const whole = `${head}eins\r\n.zwei\r\ndrei\r\nvier\r\n`;
    expect(result.tops).toEqual([head, `${head}eins\r\n.zwei\r\n`, whole, whole]);
    expect(result.headers_only).toBe('Subject: Nur Kopf\r\nFrom: a@b.test\r\n');
    expect(result.bad).toEqual(['error: -ERR TOP takes a message number and a number of lines', 'error: -ERR The number of lines must be a non-negative integer', 'error: -ERR No message 9']);
    expect((await inbox('top@firma.de')).map((m) => m.flags)).toEqual(['', '']);
  });

  it('DELE only marks: RSET unmarks, a dropped connection deletes nothing, QUIT removes and marks retrieved messages \\Seen; UIDL stays stable', async () => {
    for (const subject of ['Eins', 'Zwei', 'Drei', 'Vier']) await storeMail(server, 'dele@firma.de', textMail(subject));
    const result = await python('dele@firma.de', String.raw`
M = login(USER)
first_uidl = [text(l) for l in M.uidl()[1]]
M.dele(1)
marked = [M.stat(), attempt(lambda: M.retr(1)), attempt(lambda: M.dele(1)), [text(l) for l in M.list()[1]]]
M.rset()
after_rset = M.stat()
M.dele(2)
M.file.close(); M.sock.close()       # no QUIT: nothing is deleted (RFC 1939 §6)

for attempt_number in range(50):     # until the server has seen the close and released the maildrop lock
    try:
        M = login(USER)
        break
    except poplib.error_proto as e:
        if b'[IN-USE]' not in e.args[0]: raise
        time.sleep(0.02)
else:
    raise Exception('the maildrop stayed locked after the connection closed')
after_drop = M.stat()
M.retr(1)
M.dele(2)
M.dele(3)
quit = text(M.quit())

M = login(USER)
after_quit = [M.stat(), [text(l) for l in M.uidl()[1]]]
M.quit()
out(first_uidl=first_uidl, marked=marked, after_rset=after_rset, after_drop=after_drop, quit=quit, after_quit=after_quit)
`);
    const ids = result.first_uidl.map((line: string) => line.split(' ')[1]);
    expect(result.marked[0][0]).toBe(3);
    expect(result.marked.slice(1, 3)).toEqual(['error: -ERR Message 1 is deleted', 'error: -ERR Message 1 is deleted']);
    expect(result.marked[3].map((l: string) => l.split(' ')[0])).toEqual(['2', '3', '4']);
    expect(result.after_rset[0]).toBe(4);
    expect(result.after_drop[0]).toBe(4);
    expect(result.quit).toBe('+OK Postfach POP3 signing off (2 messages left)');
    // the survivors keep their ids under new message numbers
    expect(result.after_quit[0][0]).toBe(2);
    expect(result.after_quit[1]).toEqual([`1 ${ids[0]}`, `2 ${ids[3]}`]);
    const stored = await inbox('dele@firma.de');
    expect(stored.map((m) => [m.subject, m.flags])).toEqual([
      ['Eins', '\\Seen'],
      ['Vier', '']
    ]);
    const expunged = await server.app.services.db.selectFrom('expunges').select('uid').where('mailbox_id', '=', stored[0].mailbox_id).orderBy('uid').execute();
    expect(expunged.map((e) => e.uid)).toEqual([2, 3]);
  });

  it('logs in over POP3S and after STLS; CAPA after STLS no longer offers STLS, and STLS inside TLS is refused', async () => {
    await storeMail(server, 'tls@firma.de', textMail('Sicher'));
    const result = await python('tls@firma.de', String.raw`
S = poplib.POP3_SSL(HOST, PORT_TLS, context=UNVERIFIED)
stls_on_pop3s = attempt(lambda: S._shortcmd('STLS'))   # poplib's own stls() would refuse this itself
S.user(USER)
implicit = [text(S.pass_(PASSWORD)), S.sock.version(), S.stat()]
S.quit()
P = poplib.POP3(HOST, PORT)
stls = text(P.stls(context=UNVERIFIED))
caps = P.capa()
stls_twice = attempt(lambda: P._shortcmd('STLS'))
P.user(USER)
upgraded = [text(P.pass_(PASSWORD)), P.sock.version(), message(P.retr(1)[1])]
P.quit()
out(implicit=implicit, stls=stls, caps=sorted(caps), upgraded=upgraded, refused=[stls_on_pop3s, stls_twice])
`);
    expect(result.implicit[0]).toMatch(/^\+OK Logged in, 1 messages \(\d+ octets\)$/);
    expect(result.implicit[1]).toMatch(/^TLSv1\.[23]$/);
    expect(result.stls).toBe('+OK Begin TLS negotiation');
    expect(result.caps).not.toContain('STLS');
    expect(result.caps).toContain('USER');
    expect(result.upgraded[1]).toMatch(/^TLSv1\.[23]$/);
    expect(result.upgraded[2]).toBe(wireForm(textMail('Sicher')));
    expect(result.refused).toEqual(['error: -ERR Already using TLS', 'error: -ERR Already using TLS']);
  });

  it('refuses a wrong password with [AUTH], an inactive account with [AUTH], and a second session on a locked maildrop with [IN-USE]', async () => {
    await setActive(server.app.services.db, actor, 'gesperrt@firma.de', false);
    const result = await python('lock@firma.de', String.raw`
W = poplib.POP3(HOST, PORT)
W.user(USER)
wrong = attempt(lambda: W.pass_('not-the-password'))
I = poplib.POP3(HOST, PORT)
I.user('gesperrt@firma.de')
inactive = attempt(lambda: I.pass_(PASSWORD))
A = login(USER)
B = poplib.POP3(HOST, PORT)
B.user(USER)
in_use = attempt(lambda: B.pass_(PASSWORD))
A.quit()
B.user(USER)
after_release = attempt(lambda: B.pass_(PASSWORD))
B.quit()
out(wrong=wrong, inactive=inactive, in_use=in_use, after_release=after_release)
`);
    expect(result).toEqual({
      wrong: 'error: -ERR [AUTH] Invalid credentials',
      inactive: 'error: -ERR [AUTH] Account is disabled',
      in_use: 'error: -ERR [IN-USE] Mailbox is in use by another POP3 session',
      after_release: '+OK Logged in, 0 messages (0 octets)'
    });
  });
});
