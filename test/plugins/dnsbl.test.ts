// The bundled `dnsbl` plugin against a real DNS server on loopback that lists test client addresses: refusal at
// connect and at RCPT with the list's reason, several zones, error answers and unlisted clients let through, the
// allow-list, the cache (with an injected clock), tag-only mode, and the IPv6 nibble form (RFC 5782 §2.4).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../server/plugins/testing.js';
import { createResolver } from '../../server/dns/resolver.js';
import { dnsblQueryName, lookup } from '../../plugins/dnsbl/index.js';
import { reverseName, startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';

const INFO = 'info@example.test';
const REASON = 'Listed for testing, see https://bl.test/lookup';
let dns: TestDnsServer;
let clock = Date.UTC(2026, 11, 1, 12, 0, 0);
const harnesses: Harness[] = [];

async function harnessWith(settings: Record<string, unknown>): Promise<Harness> {
  const h = await startHarness({ plugins: ['dnsbl'], settings: { 'plugins.dnsbl.zones': ['bl.test', 'bl2.test'], ...settings }, dnsServers: [dns.address], now: () => clock });
  harnesses.push(h);
  return h;
}

beforeAll(async () => {
  dns = await startDnsServer({
    '1.0.0.127.bl.test': [{ type: 'A', address: '127.0.0.2' }, { type: 'TXT', data: REASON }],
    '5.0.0.127.bl2.test': [{ type: 'A', address: '127.0.0.4' }],
    // Spamhaus's "you query through a public resolver" error code: not a listing
    '6.0.0.127.bl.test': [{ type: 'A', address: '127.255.255.254' }]
  });
});
afterAll(async () => {
  await Promise.all(harnesses.map((h) => h.close()));
  await dns?.close();
});

describe('dnsbl, refusing at connect', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await harnessWith({ 'plugins.dnsbl.allow': ['127.0.0.8'] });
  });

  it('refuses a listed client with 554 naming the list, its answer and its reason, and closes', async () => {
    const t = await harness.send({ to: [INFO] });
    expect(t.greeting).toBe(`554 5.7.1 Client address [127.0.0.1] is listed in bl.test (127.0.0.2): ${REASON}`);
    expect(t.closed).toBe(true);
    expect(dns.queries).toEqual(expect.arrayContaining([{ name: '1.0.0.127.bl.test', type: 'A', transport: 'udp' }, { name: '1.0.0.127.bl2.test', type: 'A', transport: 'udp' }]));
  });

  it('checks every zone: a client listed only in the second is refused too', async () => {
    expect((await harness.send({ to: [INFO], localAddress: '127.0.0.5' })).greeting).toBe('554 5.7.1 Client address [127.0.0.5] is listed in bl2.test (127.0.0.4)');
  });

  it('lets unlisted clients, error answers and allow-listed addresses through', async () => {
    expect((await harness.send({ to: [INFO], localAddress: '127.0.0.7' })).accepted).toBe(true);
    expect((await harness.send({ to: [INFO], localAddress: '127.0.0.6' })).accepted).toBe(true);
    dns.set('8.0.0.127.bl.test', [{ type: 'A', address: '127.0.0.2' }]);
    const before = dns.queries.length;
    expect((await harness.send({ to: [INFO], localAddress: '127.0.0.8' })).accepted).toBe(true);
    expect(dns.queries.slice(before).some((q) => q.name.endsWith('.bl.test'))).toBe(false);
  });

  it('reuses a result for the cache time, then asks again', async () => {
    dns.set('9.0.0.127.bl.test', [{ type: 'A', address: '127.0.0.3' }]);
    expect((await harness.send({ to: [INFO], localAddress: '127.0.0.9' })).greeting).toBe('554 5.7.1 Client address [127.0.0.9] is listed in bl.test (127.0.0.3)');
    dns.remove('9.0.0.127.bl.test');
    expect((await harness.send({ to: [INFO], localAddress: '127.0.0.9' })).greeting).toMatch(/^554 /);
    clock += 301_000;
    expect((await harness.send({ to: [INFO], localAddress: '127.0.0.9' })).accepted).toBe(true);
  });
});

describe('dnsbl, refusing at RCPT or only tagging', () => {
  it('rejectAt rcpt: the session goes on and every recipient gets 550', async () => {
    const harness = await harnessWith({ 'plugins.dnsbl.rejectAt': 'rcpt' });
    const t = await harness.send({ to: [INFO, 'postmaster@example.test'] });
    expect(t.greeting).toMatch(/^220 /);
    expect(t.mail).toBe('250 2.1.0 Accepted');
    expect(t.rcpt).toEqual([`550 5.7.1 Client address [127.0.0.1] is listed in bl.test (127.0.0.2): ${REASON}`, '550 5.1.1 Recipient address rejected: no such mailbox here']);
  });

  it('rejectAt never: the message is stored with X-DNSBL and the listing in the Received trace', async () => {
    const harness = await harnessWith({ 'plugins.dnsbl.rejectAt': 'never', 'plugins.dnsbl.cache': 0 });
    expect((await harness.send({ to: [INFO] })).accepted).toBe(true);
    const [mail] = await harness.messages(INFO);
    expect(mail.header('X-DNSBL')).toBe('bl.test=127.0.0.2; client=127.0.0.1');
    expect(mail.header('Received')).toContain('(plugins: connect dnsbl=continue "listed in bl.test")');
  });
});

describe('query names', () => {
  it('reverses IPv4 octets and IPv6 nibbles (RFC 5782 §2.1, §2.4) and treats IPv4-mapped addresses as IPv4', () => {
    expect(dnsblQueryName('192.0.2.99', 'zen.test')).toBe('99.2.0.192.zen.test');
    expect(dnsblQueryName('::ffff:192.0.2.99', 'zen.test')).toBe('99.2.0.192.zen.test');
    for (const ip of ['2001:db8::1', '2001:db8:1:2:3:4:5:6', '::1', 'fe80::'])
      expect(dnsblQueryName(ip, 'zen.test')).toBe(reverseName(ip).replace(/ip6\.arpa$/, 'zen.test'));
    expect(dnsblQueryName('2001:db8::1', 'bl.test')).toBe('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test');
    expect(dnsblQueryName('not-an-ip', 'bl.test')).toBeNull();
  });

  it('finds an IPv6 listing through the resolver', async () => {
    dns.set(dnsblQueryName('2001:db8::25', 'bl.test')!, [{ type: 'A', address: '127.0.0.10' }]);
    const resolver = createResolver({ servers: [dns.address], timeout: 2000 });
    expect(await lookup(resolver, '2001:db8::25', 'bl.test')).toEqual({ zone: 'bl.test', address: '127.0.0.10', reason: '' });
    expect(await lookup(resolver, '2001:db8::26', 'bl.test')).toBeNull();
    await expect(lookup(resolver, '127.0.0.6', 'bl.test')).rejects.toThrow('bl.test answered 127.255.255.254, which is an error code, not a listing');
  });
});
