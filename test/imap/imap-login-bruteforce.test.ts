// Threat: password guessing over IMAP (LOGIN and AUTHENTICATE PLAIN, with and without SASL-IR). After the per-account
// limit further attempts are refused with NO [UNAVAILABLE] even with the right password, whatever connection they come
// on; other accounts stay usable; spraying many account names from one address hits the per-address limit; failures
// are answered only after the progressive delay. The listener here is the real IMAP server on the real services,
// given a limiter whose clock and sleep the test controls (production waits 250 ms … 2 s per failure).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNT_RULE, BASE_DELAY_MS, IP_RULE, LoginLimiter, MAX_DELAY_MS } from '../../server/auth/rate-limit.js';
import { createImapServer, type ImapServer } from '../../server/imap/server.js';
import { ImapWire } from '../helpers/imap-wire.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let imap: ImapServer | null = null;
let port: number;
let clock: number;
let delays: number[];
const open: ImapWire[] = [];

const LOCKED = 'NO [UNAVAILABLE] Too many failed logins; try again later';
const INVALID = 'NO [AUTHENTICATIONFAILED] Invalid credentials';

beforeAll(async () => {
  server = await startServer({ overrides: { 'imap.port': -1 } });
  await provision(server, 'firma.de', ['info', 'buchhaltung', 'empfang', ...Array.from({ length: 12 }, (_, i) => `user${i}`)]);
});

/** A fresh listener and limiter per test: counts start at zero, the clock stands still unless the test moves it. */
beforeEach(async () => {
  for (const wire of open.splice(0)) wire.close();
  await imap?.close();
  clock = Date.UTC(2026, 10, 22, 12, 0);
  delays = [];
  const limiter = new LoginLimiter({ now: () => clock, sleep: async (ms) => void delays.push(ms) });
  imap = createImapServer(server.app.services, { implicitTls: false, limiter });
  port = await imap.listen(0, '127.0.0.1');
});

afterAll(async () => {
  for (const wire of open) wire.close();
  await imap?.close();
  await server?.close();
});

async function connect(): Promise<ImapWire> {
  const wire = await ImapWire.connect(port);
  open.push(wire);
  return wire;
}

let tags = 0;
async function login(wire: ImapWire, user: string, password: string): Promise<string> {
  const tag = `l${++tags}`;
  const reply = await wire.command(tag, `LOGIN ${user} "${password}"`);
  expect(reply.lines).toHaveLength(1);
  return reply.tagged.slice(tag.length + 1);
}

const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');

async function authenticate(wire: ImapWire, user: string, password: string, initialResponse: boolean): Promise<string> {
  const tag = `a${++tags}`;
  if (initialResponse) return (await wire.command(tag, `AUTHENTICATE PLAIN ${plain(user, password)}`)).tagged.slice(tag.length + 1);
  wire.write(`${tag} AUTHENTICATE PLAIN\r\n`);
  expect(await wire.readLine()).toBe('+ ');
  wire.write(`${plain(user, password)}\r\n`);
  return (await wire.readTagged(tag)).tagged.slice(tag.length + 1);
}

describe('per-account limit', () => {
  it(`after ${ACCOUNT_RULE.maxFailures} wrong LOGINs the right password gets NO [UNAVAILABLE]; other accounts are unaffected`, async () => {
    const wire = await connect();
    for (let i = 0; i < ACCOUNT_RULE.maxFailures; i++) expect(await login(wire, 'info@firma.de', `falsch${i}`)).toBe(INVALID);
    expect(await login(wire, 'info@firma.de', PASSWORD)).toBe(LOCKED);
    // a new connection changes nothing
    const again = await connect();
    expect(await login(again, 'info@firma.de', PASSWORD)).toBe(LOCKED);
    expect(await authenticate(again, 'info@firma.de', PASSWORD, true)).toBe(LOCKED);
    // the session is still usable, and another account logs in from the same address
    expect(await login(again, 'buchhaltung@firma.de', PASSWORD)).toMatch(/^OK \[CAPABILITY /);
    expect((await again.command('s', 'SELECT INBOX')).tagged).toBe('s OK [READ-WRITE] SELECT completed');
  });

  it('AUTHENTICATE PLAIN (SASL-IR and with a continuation) counts like LOGIN, and the lock covers both', async () => {
    const wire = await connect();
    expect(await authenticate(wire, 'info@firma.de', 'falsch1', true)).toBe(INVALID);
    expect(await authenticate(wire, 'info@firma.de', 'falsch2', false)).toBe(INVALID);
    expect(await login(wire, 'info@firma.de', 'falsch3')).toBe(INVALID);
    expect(await authenticate(wire, 'info@firma.de', 'falsch4', true)).toBe(INVALID);
    expect(await authenticate(wire, 'info@firma.de', 'falsch5', false)).toBe(INVALID);
    expect(await authenticate(wire, 'info@firma.de', PASSWORD, false)).toBe(LOCKED);
    expect(await authenticate(wire, 'info@firma.de', PASSWORD, true)).toBe(LOCKED);
    expect(await login(wire, 'info@firma.de', PASSWORD)).toBe(LOCKED);
  });

  it('spellings of the same address share one counter', async () => {
    const wire = await connect();
    for (const user of ['info@firma.de', 'INFO@firma.de', 'Info@FIRMA.DE', '"info@firma.de"', 'info@Firma.De']) expect(await login(wire, user, 'falsch')).toBe(INVALID);
    expect(await login(wire, 'info@firma.de', PASSWORD)).toBe(LOCKED);
  });

  it('failures spread over many connections count together', async () => {
    for (let i = 0; i < ACCOUNT_RULE.maxFailures; i++) expect(await login(await connect(), 'info@firma.de', 'falsch')).toBe(INVALID);
    expect(await login(await connect(), 'info@firma.de', PASSWORD)).toBe(LOCKED);
  });

  it('the lock ends when the oldest failure leaves the window, not before', async () => {
    const wire = await connect();
    for (let i = 0; i < ACCOUNT_RULE.maxFailures; i++) {
      expect(await login(wire, 'info@firma.de', 'falsch')).toBe(INVALID);
      clock += 1000;
    }
    clock += ACCOUNT_RULE.windowMs - ACCOUNT_RULE.maxFailures * 1000 - 1;
    expect(await login(wire, 'info@firma.de', PASSWORD)).toBe(LOCKED);
    clock += 1;
    expect(await login(wire, 'info@firma.de', PASSWORD)).toMatch(/^OK \[CAPABILITY /);
  });

  it('a successful login clears the account counter', async () => {
    const wire = await connect();
    for (let i = 0; i < ACCOUNT_RULE.maxFailures - 1; i++) expect(await login(wire, 'info@firma.de', 'falsch')).toBe(INVALID);
    expect(await login(wire, 'info@firma.de', PASSWORD)).toMatch(/^OK /);
    const next = await connect();
    for (let i = 0; i < ACCOUNT_RULE.maxFailures - 1; i++) expect(await login(next, 'info@firma.de', 'falsch')).toBe(INVALID);
    expect(await login(next, 'info@firma.de', PASSWORD)).toMatch(/^OK /);
  });
});

describe('per-address limit', () => {
  it(`${IP_RULE.maxFailures} failures across many account names lock the client address, even for a right password`, async () => {
    const wire = await connect();
    for (let i = 0; i < IP_RULE.maxFailures; i++) expect(await login(wire, `user${i}@firma.de`, 'falsch')).toBe(INVALID);
    expect(await login(wire, 'empfang@firma.de', PASSWORD)).toBe(LOCKED);
    expect(await authenticate(wire, 'empfang@firma.de', PASSWORD, true)).toBe(LOCKED);
    // names that are not addresses and unknown accounts count as well (the answers reveal nothing)
    expect(await login(wire, 'niemand@firma.de', 'x')).toBe(LOCKED);
  });

  it('unknown accounts and non-address user names count towards the address limit', async () => {
    const wire = await connect();
    for (let i = 0; i < IP_RULE.maxFailures / 2; i++) expect(await login(wire, `niemand${i}@firma.de`, 'falsch')).toBe(INVALID);
    for (let i = 0; i < IP_RULE.maxFailures / 2; i++) expect(await login(wire, `kein-adresse-${i}`, 'falsch')).toBe(INVALID);
    expect(await login(wire, 'empfang@firma.de', PASSWORD)).toBe(LOCKED);
  });
});

describe('progressive delay', () => {
  it('each refusal waits longer, from 250 ms doubling up to 2 s; a right password waits for nothing', async () => {
    const wire = await connect();
    expect(await login(wire, 'buchhaltung@firma.de', PASSWORD)).toMatch(/^OK /);
    expect(delays).toEqual([]);
    const other = await connect();
    for (let i = 0; i < ACCOUNT_RULE.maxFailures; i++) await login(other, 'info@firma.de', 'falsch');
    expect(await login(other, 'info@firma.de', PASSWORD)).toBe(LOCKED);
    expect(delays).toEqual([BASE_DELAY_MS, 2 * BASE_DELAY_MS, 4 * BASE_DELAY_MS, MAX_DELAY_MS, MAX_DELAY_MS, MAX_DELAY_MS]);
  });
});
