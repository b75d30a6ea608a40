// Threat: password guessing over POP3 (USER/PASS, AUTH PLAIN, AUTH LOGIN) and hopping between POP3 and IMAP to dodge
// the limits, and passwords sent in clear. The listeners are the real POP3 and IMAP servers on the real services,
// sharing a limiter whose clock and sleep the test controls (production waits 250 ms … 2 s per failure).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNT_RULE, IP_RULE, LoginLimiter } from '../../server/auth/rate-limit.js';
import { createImapServer, type ImapServer } from '../../server/imap/server.js';
import { createPop3Server, type Pop3Server } from '../../server/pop3/server.js';
import { ImapWire } from '../helpers/imap-wire.js';
import { Pop3Wire } from '../helpers/pop3-wire.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let pop3: Pop3Server | null = null;
let imap: ImapServer | null = null;
let ports: { pop3: number; imap: number };
let clock: number;
let delays: number[];
const open: Array<Pop3Wire | ImapWire> = [];

const LOCKED = '-ERR [SYS/TEMP] Too many failed logins; try again later';
const INVALID = '-ERR [AUTH] Invalid credentials';
const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');
const b64 = (text: string) => Buffer.from(text).toString('base64');

beforeAll(async () => {
  server = await startServer();
  await provision(server, 'firma.de', ['info', 'buchhaltung', ...Array.from({ length: 12 }, (_, i) => `user${i}`)]);
});

beforeEach(async () => {
  for (const wire of open.splice(0)) wire.close();
  await Promise.all([pop3?.close(), imap?.close()]);
  clock = Date.UTC(2026, 11, 1, 12, 0);
  delays = [];
  const limiter = new LoginLimiter({ now: () => clock, sleep: async (ms) => void delays.push(ms) });
  pop3 = createPop3Server(server.app.services, { implicitTls: false, limiter, staleLockMs: 1000 });
  imap = createImapServer(server.app.services, { implicitTls: false, limiter });
  ports = { pop3: await pop3.listen(0, '127.0.0.1'), imap: await imap.listen(0, '127.0.0.1') };
});

afterAll(async () => {
  for (const wire of open) wire.close();
  await Promise.all([pop3?.close(), imap?.close()]);
  await server?.close();
});

async function connect(): Promise<Pop3Wire> {
  const wire = await Pop3Wire.connect(ports.pop3);
  open.push(wire);
  return wire;
}

/** One attempt with each login method in turn, on one connection. */
async function attempt(wire: Pop3Wire, user: string, password: string, method: number): Promise<string> {
  if (method % 3 === 0) {
    await wire.send(`USER ${user}`);
    return wire.send(`PASS ${password}`);
  }
  if (method % 3 === 1) return wire.send(`AUTH PLAIN ${plain(user, password)}`);
  await wire.send('AUTH LOGIN');
  await wire.send(b64(user));
  return wire.send(b64(password));
}

describe('POP3 login limits', () => {
  it(`locks an account after ${ACCOUNT_RULE.maxFailures} failures by any method; the right password is refused until the window passes`, async () => {
    const wire = await connect();
    for (let i = 0; i < ACCOUNT_RULE.maxFailures; i++) expect(await attempt(wire, 'info@firma.de', `falsch-${i}-Passwort`, i)).toBe(INVALID);
    expect(delays).toEqual([250, 500, 1000, 2000, 2000]);
    const other = await connect();
    expect(await attempt(other, 'info@firma.de', PASSWORD, 0)).toBe(LOCKED);
    expect(await attempt(other, 'info@firma.de', PASSWORD, 1)).toBe(LOCKED);
    // other accounts from the same address still work
    expect(await attempt(other, 'buchhaltung@firma.de', PASSWORD, 2)).toMatch(/^\+OK Logged in/);
    clock += ACCOUNT_RULE.windowMs;
    const later = await connect();
    expect(await attempt(later, 'info@firma.de', PASSWORD, 0)).toMatch(/^\+OK Logged in/);
  });

  it(`hopping to IMAP does not help: failures on POP3 and IMAP count together per address (${IP_RULE.maxFailures})`, async () => {
    const wire = await connect();
    const imapWire = await ImapWire.connect(ports.imap);
    open.push(imapWire);
    for (let i = 0; i < IP_RULE.maxFailures; i++) {
      const user = `user${i}@firma.de`; // spraying: a different account each time
      if (i % 2) expect(await attempt(wire, user, 'Falsches-Passwort-1', i)).toBe(INVALID);
      else expect((await imapWire.command(`a${i}`, `LOGIN ${user} Falsches-Passwort-1`)).tagged).toBe(`a${i} NO [AUTHENTICATIONFAILED] Invalid credentials`);
    }
    expect(await attempt(wire, 'user11@firma.de', PASSWORD, 0)).toBe(LOCKED);
    expect((await imapWire.command('b', `LOGIN user11@firma.de ${PASSWORD}`)).tagged).toBe('b NO [UNAVAILABLE] Too many failed logins; try again later');
  });
});

describe('maildrop lock', () => {
  it('refuses a second session with [IN-USE] while the first is active; a silent holder loses the lock to a new login', async () => {
    const first = await connect();
    await first.login('buchhaltung@firma.de', PASSWORD);
    const second = await connect();
    expect(await attempt(second, 'buchhaltung@firma.de', PASSWORD, 0)).toBe('-ERR [IN-USE] Mailbox is in use by another POP3 session');
    expect(await first.send('NOOP')).toBe('+OK Still here');
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the holder says nothing past staleLockMs (1 s here)
    expect(await attempt(second, 'buchhaltung@firma.de', PASSWORD, 1)).toMatch(/^\+OK Logged in/);
    expect(await first.readLine()).toBe('-ERR [SYS/TEMP] Session replaced by a newer login');
    await first.closedByServer();
  });
});

describe('plaintext policy (pop3.plaintextLogin)', () => {
  it('never: no USER or SASL offered before STLS, USER/PASS/AUTH refused with [AUTH]; after STLS they work', async () => {
    const strict = await startServer({ dns: server.dns, overrides: { 'smtp.port': -1, 'pop3.port': 0, 'pop3.plaintextLogin': 'never' } });
    try {
      await provision(strict, 'firma.de', ['info']);
      const wire = await Pop3Wire.connect(strict.ports.pop3!);
      open.push(wire);
      expect((await wire.multi('CAPA')).lines).toEqual(['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER', 'IMPLEMENTATION Postfach', 'STLS']);
      const refusal = '-ERR [AUTH] Plaintext login is disabled: use STLS (or the POP3S port) first';
      expect(await wire.send('USER info@firma.de')).toBe(refusal);
      expect(await wire.send(`AUTH PLAIN ${plain('info@firma.de', PASSWORD)}`)).toBe(refusal);
      expect(await wire.send('AUTH')).toBe(refusal);
      const python = String.raw`
import os, poplib, ssl
P = poplib.POP3('127.0.0.1', int(os.environ['PORT']))
P.stls(context=ssl._create_unverified_context())
caps = P.capa()
P.user('info@firma.de')
print('USER' in caps, P.pass_(os.environ['PASSWORD']).decode())
P.quit()
`;
      const { stdout } = await promisify(execFile)('python3', ['-c', python], { env: { ...process.env, PORT: String(strict.ports.pop3), PASSWORD } });
      expect(stdout.trim()).toBe('True +OK Logged in, 0 messages (0 octets)');
    } finally {
      await strict.close();
    }
  });
});
