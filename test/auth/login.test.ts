// Tests for mailbox user login: address forms (case, IDN), wrong and unknown credentials, inactive accounts, lockout per
// account and per client address on an injected clock, memory bounds under a flood of names, and no password in logs.
import fs from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { authenticateUser, type LoginInput } from '../../server/auth/login.js';
import { ACCOUNT_RULE, clientKey, IP_RULE, LoginLimiter, MAX_DELAY_MS, MAX_TRACKED } from '../../server/auth/rate-limit.js';
import { openDatabase, type DatabaseHandle } from '../../server/db/connect.js';
import { addAccount, setActive, type AccountContext } from '../../server/directory/accounts.js';
import { addDomain } from '../../server/directory/domains.js';
import * as password from '../../server/directory/password.js';
import { addAlias } from '../../server/directory/routing.js';
import { createLogger, type Logger } from '../../server/log/logger.js';
import { tempDir } from '../helpers/server.js';

// Counts argon2 verifications, to prove a locked login does none.
vi.mock('../../server/directory/password.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../server/directory/password.js')>();
  return { ...original, verifyPassword: vi.fn(original.verifyPassword) };
});
const verifyCalls = () => vi.mocked(password.verifyPassword).mock.calls.length;

const actor = { name: 'test' };
const PASSWORD = 'Correct-Horse-42';
const WRONG = 'Wrong-Horse-43';

let dataDir: string;
let handle: DatabaseHandle;
let clock: number;
let delays: number[];
let limiter: LoginLimiter;
let logLines: string[];
let log: Logger;

function newLimiter(options: ConstructorParameters<typeof LoginLimiter>[0] = {}): LoginLimiter {
  return new LoginLimiter({ now: () => clock, sleep: async (ms) => void delays.push(ms), ...options });
}

function login(input: Partial<LoginInput> & { username: string }) {
  return authenticateUser({ db: handle.db, limiter, log }, { password: PASSWORD, ip: '192.0.2.1', protocol: 'imap', ...input });
}

beforeAll(async () => {
  dataDir = tempDir();
  handle = await openDatabase(dataDir);
  const accounts: AccountContext = { db: handle.db, policy: { minLength: 10 }, defaultQuota: 0 };
  await addDomain(handle.db, actor, 'example.org');
  await addDomain(handle.db, actor, 'müller.de');
  for (const local of ['anna', 'bert', 'carl', 'dora', 'emil', 'frida', 'gustav']) {
    await addAccount(accounts, actor, { address: `${local}@example.org`, password: PASSWORD });
  }
  await addAccount(accounts, actor, { address: 'juergen@müller.de', password: PASSWORD });
  await addAccount(accounts, actor, { address: 'off@example.org', password: PASSWORD });
  await setActive(handle.db, actor, 'off@example.org', false);
  await addAlias(handle.db, actor, 'info@example.org', 'anna@example.org');
});

afterAll(async () => {
  await handle.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  clock = Date.parse('2026-11-22T10:00:00Z');
  delays = [];
  limiter = newLimiter();
  logLines = [];
  log = createLogger('info', { write: (line: string) => void logLines.push(line) });
});

describe('credentials', () => {
  it('accepts the right password with the address in any case', async () => {
    for (const username of ['anna@example.org', 'ANNA@Example.ORG', '  Anna@example.org ']) {
      const result = await login({ username });
      expect(result.ok && result.account.address).toBe('anna@example.org');
    }
  });

  it('accepts IDN domains in Unicode and in punycode', async () => {
    for (const username of ['juergen@müller.de', 'JUERGEN@MÜLLER.DE', 'juergen@xn--mller-kva.de']) {
      const result = await login({ username, protocol: 'pop3' });
      expect(result.ok && result.account.address).toBe('juergen@xn--mller-kva.de');
    }
  });

  it('refuses a wrong password, an unknown user and a malformed name alike', async () => {
    expect(await login({ username: 'anna@example.org', password: WRONG })).toEqual({ ok: false, reason: 'invalid' });
    expect(await login({ username: 'nobody@example.org' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await login({ username: 'anna@elsewhere.example' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await login({ username: 'anna' })).toEqual({ ok: false, reason: 'invalid' });
  });

  it('verifies a decoy for unknown users, so timing does not reveal which addresses exist', async () => {
    const before = verifyCalls();
    await login({ username: 'nobody@example.org' });
    await login({ username: 'not an address' });
    expect(verifyCalls() - before).toBe(2);
  });

  it('does not take aliases or subaddresses as login names', async () => {
    expect(await login({ username: 'info@example.org' })).toEqual({ ok: false, reason: 'invalid' });
    expect(await login({ username: 'anna+imap@example.org' })).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses an overlong password without hashing it', async () => {
    const before = verifyCalls();
    expect(await login({ username: 'anna@example.org', password: 'x'.repeat(100_000) })).toEqual({ ok: false, reason: 'invalid' });
    expect(verifyCalls()).toBe(before);
  });
});

describe('inactive accounts', () => {
  it('answers inactive only to the right password', async () => {
    expect(await login({ username: 'off@example.org' })).toEqual({ ok: false, reason: 'inactive' });
    expect(await login({ username: 'off@example.org', password: WRONG })).toEqual({ ok: false, reason: 'invalid' });
  });

  it('refuses accounts of a deactivated domain', async () => {
    await handle.db.updateTable('domains').set({ active: 0 }).where('name', '=', 'xn--mller-kva.de').execute();
    try {
      expect(await login({ username: 'juergen@müller.de' })).toEqual({ ok: false, reason: 'inactive' });
    } finally {
      await handle.db.updateTable('domains').set({ active: 1 }).where('name', '=', 'xn--mller-kva.de').execute();
    }
  });
});

describe('lockout per account', () => {
  it(`locks a name after ${ACCOUNT_RULE.maxFailures} failures from any addresses, without argon2 work`, async () => {
    for (let i = 0; i < ACCOUNT_RULE.maxFailures; i++) {
      expect(await login({ username: 'bert@example.org', password: WRONG, ip: `198.51.100.${i}` })).toEqual({ ok: false, reason: 'invalid' });
    }
    const before = verifyCalls();
    expect(await login({ username: 'BERT@example.org', ip: '203.0.113.9' })).toEqual({ ok: false, reason: 'locked' });
    expect(verifyCalls()).toBe(before);
    // other accounts are not affected
    expect((await login({ username: 'carl@example.org', ip: '203.0.113.9' })).ok).toBe(true);
  });

  it('locks unknown names just the same, so lockout does not reveal existence', async () => {
    for (let i = 0; i < ACCOUNT_RULE.maxFailures; i++) await login({ username: 'ghost@example.org', ip: `198.51.100.${i}` });
    expect(await login({ username: 'ghost@example.org', ip: '203.0.113.9' })).toEqual({ ok: false, reason: 'locked' });
  });

  it('unlocks when the window has passed', async () => {
    for (let i = 0; i < ACCOUNT_RULE.maxFailures; i++) await login({ username: 'dora@example.org', password: WRONG, ip: `198.51.100.${i}` });
    clock += ACCOUNT_RULE.windowMs - 1;
    expect(await login({ username: 'dora@example.org' })).toEqual({ ok: false, reason: 'locked' });
    expect(limiter.check('192.0.2.1', 'dora@example.org')).toEqual({ locked: true, scope: 'account', retryAfterMs: 1 });
    clock += 1;
    expect((await login({ username: 'dora@example.org' })).ok).toBe(true);
  });

  it('counts failures in a sliding window', async () => {
    for (let i = 0; i < ACCOUNT_RULE.maxFailures - 1; i++) await login({ username: 'dora@example.org', password: WRONG, ip: `198.51.100.${i}` });
    clock += ACCOUNT_RULE.windowMs / 2;
    await login({ username: 'dora@example.org', password: WRONG });
    expect(limiter.check('192.0.2.99', 'dora@example.org').locked).toBe(true);
    clock += ACCOUNT_RULE.windowMs / 2; // the first four have expired, the fifth has not
    expect(limiter.check('192.0.2.99', 'dora@example.org').locked).toBe(false);
    expect(await login({ username: 'dora@example.org', password: WRONG })).toEqual({ ok: false, reason: 'invalid' });
    expect(await login({ username: 'dora@example.org', password: WRONG })).toEqual({ ok: false, reason: 'invalid' });
  });

  it("clears the account's counter on success, but not the client address's", async () => {
    for (let i = 0; i < ACCOUNT_RULE.maxFailures - 1; i++) await login({ username: 'emil@example.org', password: WRONG });
    expect((await login({ username: 'emil@example.org' })).ok).toBe(true);
    for (let i = 0; i < ACCOUNT_RULE.maxFailures - 1; i++) {
      expect(await login({ username: 'emil@example.org', password: WRONG })).toEqual({ ok: false, reason: 'invalid' });
    }
    // 8 failures from 192.0.2.1 so far; two more lock the address even though a login succeeded in between
    await login({ username: 'nobody@example.org', password: WRONG });
    await login({ username: 'nobody2@example.org', password: WRONG });
    expect(await login({ username: 'frida@example.org' })).toEqual({ ok: false, reason: 'locked' });
  });

  it('does not count a right password for an inactive account as a failure', async () => {
    for (let i = 0; i < ACCOUNT_RULE.maxFailures + 1; i++) {
      expect(await login({ username: 'off@example.org' })).toEqual({ ok: false, reason: 'inactive' });
    }
  });
});

describe('lockout per client address', () => {
  it(`locks an address after ${IP_RULE.maxFailures} failures across many names, and only that address`, async () => {
    for (let i = 0; i < IP_RULE.maxFailures; i++) {
      expect(await login({ username: `guess${i}@example.org`, ip: '198.51.100.7' })).toEqual({ ok: false, reason: 'invalid' });
    }
    const before = verifyCalls();
    expect(await login({ username: 'frida@example.org', ip: '198.51.100.7' })).toEqual({ ok: false, reason: 'locked' });
    expect(await login({ username: 'frida@example.org', ip: '::ffff:198.51.100.7' })).toEqual({ ok: false, reason: 'locked' });
    expect(verifyCalls()).toBe(before);
    expect((await login({ username: 'frida@example.org', ip: '198.51.100.8' })).ok).toBe(true);
    clock += IP_RULE.windowMs;
    expect((await login({ username: 'frida@example.org', ip: '198.51.100.7' })).ok).toBe(true);
  });

  it('counts an IPv6 client by its /64', async () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:DB8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
    for (let i = 0; i < IP_RULE.maxFailures; i++) await login({ username: `v6guess${i}@example.org`, ip: `2001:db8:1:2::${i + 1}` });
    expect(await login({ username: 'gustav@example.org', ip: '2001:db8:1:2:ffff::' })).toEqual({ ok: false, reason: 'locked' });
    expect((await login({ username: 'gustav@example.org', ip: '2001:db8:1:3::1' })).ok).toBe(true);
  });

  it('counts malformed user names against the address', async () => {
    for (let i = 0; i < IP_RULE.maxFailures; i++) await login({ username: `not an address ${i}`, ip: '198.51.100.20' });
    expect(await login({ username: 'anna@example.org', ip: '198.51.100.20' })).toEqual({ ok: false, reason: 'locked' });
  });
});

describe('progressive delay', () => {
  it('holds back refusals 250 ms, doubling to at most 2 s, and never a success', async () => {
    for (let i = 0; i < IP_RULE.maxFailures; i++) await login({ username: `slow${i}@example.org`, password: WRONG, ip: '198.51.100.30' });
    await login({ username: 'anna@example.org', ip: '198.51.100.30' });
    expect(delays).toEqual([250, 500, 1000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, MAX_DELAY_MS]);
    delays = [];
    expect((await login({ username: 'anna@example.org', ip: '198.51.100.31' })).ok).toBe(true);
    expect(delays).toEqual([]);
  });
});

describe('bounded memory', () => {
  it(`keeps at most ${MAX_TRACKED} names and addresses after a million distinct user names`, () => {
    const flood = new LoginLimiter({ now: () => clock });
    for (let i = 0; i < 1_000_000; i++) flood.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `user${i}@example.org`);
    expect(flood.tracked.accounts).toBeLessThanOrEqual(MAX_TRACKED);
    expect(flood.tracked.ips).toBeLessThanOrEqual(MAX_TRACKED);
    // the most recent entries are the ones kept
    flood.recordFailure('10.99.0.1', 'user999999@example.org');
    flood.recordFailure('10.99.0.1', 'user999999@example.org');
    flood.recordFailure('10.99.0.1', 'user999999@example.org');
    flood.recordFailure('10.99.0.1', 'user999999@example.org');
    expect(flood.check('10.99.0.2', 'user999999@example.org').locked).toBe(true);
  });

  it('evicts the entry touched longest ago when logins flood in through authenticateUser', async () => {
    limiter = newLimiter({ maxTracked: 8 });
    for (let i = 0; i < 30; i++) await login({ username: `flood${i}@example.org`, password: WRONG, ip: `198.51.100.${i}` });
    const { ips, accounts } = limiter.tracked;
    expect(ips).toBeLessThanOrEqual(8);
    expect(accounts).toBeLessThanOrEqual(8);
    // the newest names are the ones kept
    expect(limiter.failureDelayMs('203.0.113.1', 'flood29@example.org')).toBeGreaterThan(0);
    expect(limiter.failureDelayMs('203.0.113.1', 'flood0@example.org')).toBe(0);
  });

  it('caps the length of an account key', () => {
    const flood = new LoginLimiter({ now: () => clock, perAccount: { maxFailures: 1, windowMs: 60_000 } });
    // no address is longer than 320 characters, so what follows them cannot tell two names apart
    const long = 'a'.repeat(320);
    flood.recordFailure('10.0.0.1', long + 'x'.repeat(100_000));
    expect(flood.check('10.0.0.2', long + 'y'.repeat(100_000)).locked).toBe(true);
  });
});

describe('logging', () => {
  it('logs every outcome at info with protocol, ip and user, and never the password', async () => {
    const secret = 'Very-Secret-Passphrase-77';
    await login({ username: 'anna@example.org', password: secret, protocol: 'submission' });
    await login({ username: 'nobody@example.org', password: secret });
    await login({ username: secret, password: secret }); // a password typed into the user name field
    await login({ username: 'off@example.org' });
    for (let i = 0; i < ACCOUNT_RULE.maxFailures; i++) await login({ username: 'gustav@example.org', password: secret, ip: `198.51.100.${i}` });
    await login({ username: 'gustav@example.org', password: secret, ip: '198.51.100.99' });
    await login({ username: 'anna@example.org' });
    const text = logLines.join('');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(PASSWORD);
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.every((e) => e.level === 30)).toBe(true);
    expect(entries[0]).toMatchObject({ protocol: 'submission', ip: '192.0.2.1', user: 'anna@example.org', msg: 'login failed' });
    expect(entries[2]).toMatchObject({ user: null, malformedUser: true, msg: 'login failed' });
    expect(entries[3]).toMatchObject({ user: 'off@example.org', msg: 'login refused: inactive' });
    expect(entries.at(-2)).toMatchObject({ user: 'gustav@example.org', ip: '198.51.100.99', scope: 'account', msg: 'login refused: too many failures' });
    expect(entries.at(-1)).toMatchObject({ protocol: 'imap', user: 'anna@example.org', msg: 'login succeeded' });
  });
});
