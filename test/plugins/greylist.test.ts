// The bundled `greylist` plugin over real SMTP with a loopback DNS server (SPF) and an injected clock: the delay, the
// retry window, the /24 network, expiry, the allow-lists, logged-in clients, and the known-sender rule that keeps
// login codes from known senders undelayed (a domain the recipient wrote to, or had mail pass from, with SPF pass).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../server/plugins/testing.js';
import { networkOf } from '../../plugins/greylist/store.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

const INFO = 'info@example.test';
const greylisted = (seconds: number) => `451 4.7.1 Greylisted, please try again in ${seconds} seconds`;
const MINUTE = 60_000;
let dns: TestDnsServer;
let harness: Harness;
let clock = Date.UTC(2026, 11, 1, 9, 0, 0);

beforeAll(async () => {
  dns = await startDnsServer({
    // the whole of 127.0.0.0/16 may send for these domains; 127.1.x.x may not
    'bank.test': [{ type: 'TXT', data: 'v=spf1 ip4:127.0.0.0/16 -all' }],
    'shop.test': [{ type: 'TXT', data: 'v=spf1 ip4:127.0.0.0/16 -all' }]
  });
  harness = await startHarness({
    plugins: ['greylist'],
    settings: {
      'plugins.greylist.delay': 300,
      'plugins.greylist.retryWindow': 3600,
      'plugins.greylist.expiry': 86400,
      'plugins.greylist.allowIps': ['127.0.5.0/24'],
      'plugins.greylist.allowSenderDomains': ['partner.test'],
      'plugins.greylist.allowRecipients': ['postmaster@example.test']
    },
    accounts: ['info', 'postmaster', 'sales'],
    dnsServers: [dns.address],
    submission: true,
    now: () => clock
  });
});
afterAll(async () => {
  await harness?.close();
  await dns?.close();
});

const rcptReply = async (from: string, to: string, localAddress = '127.0.0.1') => (await harness.send({ from, to: [to], localAddress })).rcpt[0];

describe('greylisting', () => {
  it('refuses a new triplet with 451 until the delay has passed, then accepts its retry and later mail at once', async () => {
    expect(await rcptReply('a@other.test', INFO)).toBe(greylisted(300));
    clock += 2 * MINUTE;
    expect(await rcptReply('a@other.test', INFO)).toBe(greylisted(180));
    clock += 3 * MINUTE;
    const retry = await harness.send({ from: 'a@other.test', to: [INFO] });
    expect(retry.rcpt).toEqual(['250 2.1.5 Accepted']);
    expect(retry.accepted).toBe(true);
    // from another address of the same /24, and on later days, nothing waits
    clock += 12 * 60 * MINUTE;
    expect(await rcptReply('a@other.test', INFO, '127.0.0.77')).toBe('250 2.1.5 Accepted');
    // another sender, another recipient or another network is a new triplet
    expect(await rcptReply('b@other.test', INFO)).toBe(greylisted(300));
    expect(await rcptReply('a@other.test', 'sales@example.test')).toBe(greylisted(300));
    expect(await rcptReply('a@other.test', INFO, '127.0.6.1')).toBe(greylisted(300));
    const row = await harness.app.services.db.selectFrom('greylist_triplets').selectAll().where('sender', '=', 'a@other.test').where('recipient', '=', INFO).where('network', '=', '127.0.0.0/24').executeTakeFirstOrThrow();
    expect(row.passed_at).not.toBeNull();
  });

  it('starts over when the retry comes after the retry window, and forgets passed triplets after the expiry', async () => {
    expect(await rcptReply('late@other.test', INFO)).toBe(greylisted(300));
    clock += 61 * MINUTE;
    expect(await rcptReply('late@other.test', INFO)).toBe(greylisted(300));
    clock += 6 * MINUTE;
    expect(await rcptReply('late@other.test', INFO)).toBe('250 2.1.5 Accepted');
    clock += 25 * 60 * MINUTE;
    expect(await rcptReply('late@other.test', INFO)).toBe(greylisted(300));
  });

  it('never delays allow-listed networks, sender domains (and their subdomains) or recipients', async () => {
    expect(await rcptReply('x@fresh.test', INFO, '127.0.5.9')).toBe('250 2.1.5 Accepted');
    expect(await rcptReply('x@partner.test', INFO)).toBe('250 2.1.5 Accepted');
    expect(await rcptReply('x@mail.partner.test', INFO)).toBe('250 2.1.5 Accepted');
    expect(await rcptReply('x@fresh.test', 'postmaster@example.test')).toBe('250 2.1.5 Accepted');
    expect(await rcptReply('x@fresh.test', 'sales@example.test')).toBe(greylisted(300));
  });

  it('never delays logged-in submission clients', async () => {
    expect((await harness.send({ auth: { user: 'sales@example.test' }, to: [INFO] })).accepted).toBe(true);
  });
});

describe('the known-sender rule (login codes)', () => {
  it('lets a domain the recipient wrote to through at once when SPF passes, and not when it fails', async () => {
    // before: the bank is a stranger to info@
    expect(await rcptReply('noreply@bank.test', INFO)).toBe(greylisted(300));
    // info@ writes to the bank through submission …
    expect((await harness.send({ auth: { user: INFO }, to: ['kundenservice@bank.test'] })).accepted).toBe(true);
    // … so the bank's login code comes through at once, from any server SPF allows
    const code = await harness.send({ from: 'noreply@bank.test', to: [INFO], localAddress: '127.0.44.1' });
    expect(code.rcpt).toEqual(['250 2.1.5 Accepted']);
    expect(code.accepted).toBe(true);
    const stored = (await harness.messages(INFO)).find((m) => m.header('From') === '<noreply@bank.test>')!;
    expect(stored.header('Received')).toContain('(plugins: rcpt greylist=continue "known sender, SPF pass")');
    // a forger using the bank's name from a server SPF does not allow is greylisted; other recipients do not know the bank
    expect(await rcptReply('noreply@bank.test', INFO, '127.1.0.1')).toBe(greylisted(300));
    expect(await rcptReply('noreply@bank.test', 'sales@example.test', '127.0.45.1')).toBe(greylisted(300));
  });

  it('knows a domain whose mail passed greylisting once, from new servers too', async () => {
    expect(await rcptReply('orders@shop.test', 'sales@example.test')).toBe(greylisted(300));
    clock += 6 * MINUTE;
    expect(await rcptReply('orders@shop.test', 'sales@example.test')).toBe('250 2.1.5 Accepted');
    // the shop's login code from another of its servers, another sender address
    expect(await rcptReply('login@shop.test', 'sales@example.test', '127.0.99.3')).toBe('250 2.1.5 Accepted');
  });
});

describe('networkOf', () => {
  it('groups IPv4 by /24 and IPv6 by /64', () => {
    expect(networkOf('192.0.2.77')).toBe('192.0.2.0/24');
    expect(networkOf('::ffff:192.0.2.77')).toBe('192.0.2.0/24');
    expect(networkOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
  });
});

describe('with the default settings', () => {
  it('lets this box itself through: the admin UI\'s test message and mail from 127.0.0.1 are not delayed', async () => {
    const local = await startHarness({ plugins: ['greylist'], http: true });
    try {
      const sent = await local.api(`/api/v1/accounts/${INFO}/test-mail`, { method: 'POST', body: {}, role: 'admin' });
      expect(sent.status).toBe(201);
      expect(sent.body.arrived).toMatchObject({ folder: 'INBOX' });
      // 127.0.0.1 is this box; a stranger's server is not
      expect((await local.send({ from: 'a@other.test', to: [INFO], localAddress: '127.0.0.1' })).accepted).toBe(true);
    } finally {
      await local.close();
    }
  });
});
