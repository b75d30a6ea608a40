// Domain DNS records and the live check, against the loopback DNS server: each situation a user must tell apart.
import fs from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../server/db/connect.js';
import type { Domain } from '../../server/db/schema.js';
import { addDomain } from '../../server/directory/domains.js';
import { checkDomain, needsAttention, type DomainCheck } from '../../server/dns/check.js';
import { dkimPublicKeyBase64, expectedRecords, recordData } from '../../server/dns/records.js';
import { createResolver, type DnsResolver } from '../../server/dns/resolver.js';
import { startDnsServer, type TestDnsServer, type ZoneRecord } from '../helpers/dns-server.js';
import { actor, tempDir } from '../helpers/server.js';

const HOST = 'mx.postfach.test';
const SERVER_IP = '192.0.2.25';
const NAME = 'example.test';

let dataDir: string;
let handle: DatabaseHandle;
let domain: Domain;
let dns: TestDnsServer;
let resolver: DnsResolver;

beforeAll(async () => {
  dataDir = tempDir();
  handle = await openDatabase(dataDir);
  domain = await addDomain(handle.db, actor, NAME);
  dns = await startDnsServer({});
  resolver = createResolver({ servers: [dns.address], timeout: 1000 });
});

afterAll(async () => {
  await dns.close();
  await handle.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function value(kind: string): string {
  return expectedRecords(domain, HOST).find((record) => record.kind === kind)!.value;
}

/** A zone where every record is as expected; tests then break one thing. */
function goodZone(): Record<string, ZoneRecord[]> {
  return {
    [HOST]: [{ type: 'A', address: SERVER_IP }],
    [NAME]: [
      { type: 'MX', exchange: HOST, priority: 10 },
      { type: 'TXT', data: value('SPF') },
      { type: 'TXT', data: 'google-site-verification=abc' }
    ],
    [`${domain.dkim_selector}._domainkey.${NAME}`]: [{ type: 'TXT', data: value('DKIM') }],
    [`_dmarc.${NAME}`]: [{ type: 'TXT', data: value('DMARC') }],
    [`_postfach.${NAME}`]: [{ type: 'TXT', data: value('OWNERSHIP') }]
  };
}

const seen = new Set<string>();
function load(zone: Record<string, ZoneRecord[]>): void {
  for (const name of seen) dns.remove(name);
  seen.clear();
  for (const [name, records] of Object.entries(zone)) {
    dns.set(name, records);
    seen.add(name);
  }
}

function record(check: DomainCheck, kind: string) {
  return check.records.find((entry) => entry.kind === kind)!;
}

function otherKindsOk(check: DomainCheck, kind: string): void {
  for (const entry of check.records.filter((r) => r.kind !== kind)) expect(entry, entry.kind).toMatchObject({ status: 'ok', problem: null });
}

beforeEach(() => load(goodZone()));

describe('expectedRecords', () => {
  it('lists MX, SPF, DKIM with the domain key, DMARC and the ownership token', () => {
    const records = expectedRecords(domain, 'MX.Postfach.Test.');
    expect(records.map((r) => [r.kind, r.type, r.name])).toEqual([
      ['MX', 'MX', NAME],
      ['SPF', 'TXT', NAME],
      ['DKIM', 'TXT', `${domain.dkim_selector}._domainkey.${NAME}`],
      ['DMARC', 'TXT', `_dmarc.${NAME}`],
      ['OWNERSHIP', 'TXT', `_postfach.${NAME}`]
    ]);
    expect(records[0]).toMatchObject({ value: HOST, priority: 10 });
    expect(records[1]!.value).toBe('v=spf1 mx -all');
    expect(records[2]!.value).toMatch(/^v=DKIM1; k=rsa; p=MIIBIjAN[A-Za-z0-9+/=]+$/);
    expect(records[2]!.value).toContain(dkimPublicKeyBase64(domain.dkim_public_key));
    expect(records[3]!.value).toBe('v=DMARC1; p=quarantine; adkim=s; aspf=s');
    expect(records[4]!.value).toBe(`postfach-verification=${domain.verification_token}`);
    for (const r of records) expect(r.note.length).toBeGreaterThan(20);
  });
});

describe('checkDomain', () => {
  it('reports every record ok for a good zone', async () => {
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(check).toMatchObject({ domain: NAME, resolves: true });
    expect(check.records.map((r) => [r.kind, r.status, r.problem])).toEqual([
      ['MX', 'ok', null],
      ['SPF', 'ok', null],
      ['DKIM', 'ok', null],
      ['DMARC', 'ok', null],
      ['OWNERSHIP', 'ok', null]
    ]);
    expect(record(check, 'MX')).toMatchObject({ expected: `10 ${HOST}`, found: [`10 ${HOST}`] });
    expect(record(check, 'SPF').found).toEqual(['v=spf1 mx -all']); // the unrelated TXT record is not listed
  });

  it('finds the server addresses from the host name when none are given', async () => {
    const check = await checkDomain(resolver, domain, HOST);
    expect(record(check, 'SPF').status).toBe('ok');
  });

  it('no MX records: missing / no-mx', async () => {
    load({ ...goodZone(), [NAME]: [{ type: 'TXT', data: 'v=spf1 a:mx.postfach.test -all' }] });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(check.resolves).toBe(true);
    expect(record(check, 'MX')).toMatchObject({ status: 'missing', problem: 'no-mx', found: [] });
    expect(record(check, 'MX').message).toContain('has no MX record');
    otherKindsOk(check, 'MX');
  });

  it('MX elsewhere: wrong / mx-not-this-server, with what was found', async () => {
    load({
      ...goodZone(),
      [NAME]: [
        { type: 'MX', exchange: 'mail.provider.test', priority: 5 },
        { type: 'MX', exchange: HOST, priority: 20 },
        { type: 'TXT', data: 'v=spf1 ip4:192.0.2.0/24 -all' }
      ]
    });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(record(check, 'MX')).toMatchObject({ status: 'wrong', problem: 'mx-not-this-server', found: ['5 mail.provider.test', `20 ${HOST}`] });
    otherKindsOk(check, 'MX');
  });

  it('SPF present but not including this server', async () => {
    load({
      ...goodZone(),
      [NAME]: [{ type: 'MX', exchange: HOST, priority: 10 }, { type: 'TXT', data: 'v=spf1 include:spf.provider.test ip4:198.51.100.0/24 -all' }],
      'spf.provider.test': [{ type: 'TXT', data: 'v=spf1 ip4:203.0.113.0/24 -all' }]
    });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(record(check, 'SPF')).toMatchObject({
      status: 'wrong',
      problem: 'spf-not-including-this-server',
      found: ['v=spf1 include:spf.provider.test ip4:198.51.100.0/24 -all']
    });
    expect(record(check, 'SPF').message).toContain(`does not authorise ${HOST} (${SERVER_IP})`);
  });

  it('SPF where this server is matched first by a non-pass qualifier is not authorising', async () => {
    load({ ...goodZone(), [NAME]: [{ type: 'MX', exchange: HOST, priority: 10 }, { type: 'TXT', data: 'v=spf1 ~all mx' }] });
    expect(record(await checkDomain(resolver, domain, HOST, [SERVER_IP]), 'SPF').problem).toBe('spf-not-including-this-server');
  });

  it('SPF ok via mx, via ip4, via ip6, via a:host and via include', async () => {
    const spfVariants: Array<[string, Record<string, ZoneRecord[]>]> = [
      ['v=spf1 mx -all', {}],
      ['v=spf1 ip4:192.0.2.0/24 -all', {}],
      ['v=spf1 ip6:2001:db8::/32 ip4:192.0.2.25 -all', {}],
      [`v=spf1 a:${HOST} -all`, {}],
      ['v=spf1 include:spf.provider.test -all', { 'spf.provider.test': [{ type: 'TXT', data: 'v=spf1 ip4:192.0.2.16/28 -all' }] }],
      ['v=spf1 redirect=spf.provider.test', { 'spf.provider.test': [{ type: 'TXT', data: 'v=spf1 mx:example.test -all' }] }]
    ];
    for (const [spf, extra] of spfVariants) {
      load({ ...goodZone(), ...extra, [NAME]: [{ type: 'MX', exchange: HOST, priority: 10 }, { type: 'TXT', data: spf }] });
      const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
      expect(record(check, 'SPF'), spf).toMatchObject({ status: 'ok', problem: null, found: [spf] });
    }
    // mx via the exchange's address when the MX names another host that is this server
    load({
      ...goodZone(),
      'alias.postfach.test': [{ type: 'A', address: SERVER_IP }],
      [NAME]: [{ type: 'MX', exchange: HOST, priority: 10 }, { type: 'TXT', data: 'v=spf1 mx:other.test -all' }],
      'other.test': [{ type: 'MX', exchange: 'alias.postfach.test', priority: 10 }]
    });
    expect(record(await checkDomain(resolver, domain, HOST, [SERVER_IP]), 'SPF').status).toBe('ok');
  });

  it('SPF with an IPv6 server address not covered is wrong', async () => {
    load({ ...goodZone(), [NAME]: [{ type: 'MX', exchange: HOST, priority: 10 }, { type: 'TXT', data: 'v=spf1 ip4:192.0.2.25 -all' }] });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP, '2001:db8::25']);
    expect(record(check, 'SPF')).toMatchObject({ status: 'wrong', problem: 'spf-not-including-this-server' });
    expect(record(check, 'SPF').message).toContain('(2001:db8::25)');
  });

  it('two SPF records: wrong / spf-multiple', async () => {
    load({
      ...goodZone(),
      [NAME]: [{ type: 'MX', exchange: HOST, priority: 10 }, { type: 'TXT', data: 'v=spf1 mx -all' }, { type: 'TXT', data: 'v=spf1 include:other.test ~all' }]
    });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(record(check, 'SPF')).toMatchObject({ status: 'wrong', problem: 'spf-multiple' });
    expect(record(check, 'SPF').found).toHaveLength(2);
  });

  it('no SPF record: missing / spf-missing', async () => {
    load({ ...goodZone(), [NAME]: [{ type: 'MX', exchange: HOST, priority: 10 }, { type: 'TXT', data: 'something-else' }] });
    expect(record(await checkDomain(resolver, domain, HOST, [SERVER_IP]), 'SPF')).toMatchObject({ status: 'missing', problem: 'spf-missing', found: [] });
  });

  it('DKIM missing, DKIM with another key, DKIM with whitespace in the key', async () => {
    const dkimName = `${domain.dkim_selector}._domainkey.${NAME}`;
    load({ ...goodZone(), [dkimName]: [] });
    expect(record(await checkDomain(resolver, domain, HOST, [SERVER_IP]), 'DKIM')).toMatchObject({ status: 'missing', problem: 'dkim-missing' });

    const other = await addDomain(handle.db, actor, 'other-key.test');
    const wrong = expectedRecords(other, HOST).find((r) => r.kind === 'DKIM')!.value;
    load({ ...goodZone(), [dkimName]: [{ type: 'TXT', data: wrong }] });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(record(check, 'DKIM')).toMatchObject({ status: 'wrong', problem: 'dkim-key-mismatch', found: [wrong], expected: value('DKIM') });
    otherKindsOk(check, 'DKIM');

    const key = dkimPublicKeyBase64(domain.dkim_public_key);
    const spaced = `v=DKIM1;  k=rsa;\tp=${key.slice(0, 100)} ${key.slice(100, 250)}  ${key.slice(250)}`;
    load({ ...goodZone(), [dkimName]: [{ type: 'TXT', data: spaced }] });
    expect(record(await checkDomain(resolver, domain, HOST, [SERVER_IP]), 'DKIM').status).toBe('ok');
  });

  it('DMARC missing and DMARC without a policy', async () => {
    load({ ...goodZone(), [`_dmarc.${NAME}`]: [{ type: 'TXT', data: 'not a dmarc record' }] });
    const missing = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(record(missing, 'DMARC')).toMatchObject({ status: 'missing', problem: 'dmarc-missing', found: [] });
    otherKindsOk(missing, 'DMARC');

    load({ ...goodZone(), [`_dmarc.${NAME}`]: [{ type: 'TXT', data: 'v=DMARC1; p=maybe' }] });
    expect(record(await checkDomain(resolver, domain, HOST, [SERVER_IP]), 'DMARC')).toMatchObject({ status: 'wrong', problem: 'dmarc-invalid' });

    load({ ...goodZone(), [`_dmarc.${NAME}`]: [{ type: 'TXT', data: 'v=DMARC1; p=reject; rua=mailto:d@example.test' }] });
    expect(record(await checkDomain(resolver, domain, HOST, [SERVER_IP]), 'DMARC').status).toBe('ok'); // any valid policy is accepted
  });

  it('ownership token wrong, ownership missing', async () => {
    load({ ...goodZone(), [`_postfach.${NAME}`]: [{ type: 'TXT', data: 'postfach-verification=0000' }] });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(record(check, 'OWNERSHIP')).toMatchObject({ status: 'wrong', problem: 'ownership-wrong', found: ['postfach-verification=0000'] });
    otherKindsOk(check, 'OWNERSHIP');

    load({ ...goodZone(), [`_postfach.${NAME}`]: [] });
    expect(record(await checkDomain(resolver, domain, HOST, [SERVER_IP]), 'OWNERSHIP')).toMatchObject({ status: 'missing', problem: 'ownership-missing' });
  });

  it('a domain that does not resolve (NXDOMAIN): every record reports it', async () => {
    load({ [HOST]: [{ type: 'A', address: SERVER_IP }] });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(check.resolves).toBe(false);
    expect(check.records).toHaveLength(5);
    for (const entry of check.records) {
      expect(entry).toMatchObject({ status: 'missing', problem: 'domain-does-not-resolve', found: [] });
      expect(entry.message).toContain('NXDOMAIN');
    }
  });

  it('a domain that exists with no records at its own name is not NXDOMAIN (NODATA)', async () => {
    load({ ...goodZone(), [NAME]: [] });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
    expect(check.resolves).toBe(true);
    expect(record(check, 'MX').problem).toBe('no-mx');
    expect(record(check, 'SPF').problem).toBe('spf-missing');
  });

  it('SERVFAIL is reported as a DNS error, not as a missing or wrong record', async () => {
    dns.servfail(NAME, true);
    try {
      const check = await checkDomain(resolver, domain, HOST, [SERVER_IP]);
      expect(check.resolves).toBe(true);
      for (const kind of ['MX', 'SPF']) {
        expect(record(check, kind)).toMatchObject({ status: 'error', problem: 'dns-error', found: [] });
        expect(record(check, kind).message).toMatch(/failed \(ESERVFAIL\); try again later/);
      }
      for (const kind of ['DKIM', 'DMARC', 'OWNERSHIP']) expect(record(check, kind).status).toBe('ok');
    } finally {
      dns.servfail(NAME, false);
    }
  });
});

describe('client autoconfiguration records (optional)', () => {
  const CLIENTS = { imaps: 993, imap: 143, pop3s: 995, pop3: null, submissions: 465, submission: 587 };

  it('lists CNAMEs for autoconfig and autodiscover and an RFC 6186 SRV record per service, "." for one switched off', () => {
    const records = expectedRecords(domain, HOST, CLIENTS).filter((r) => !r.required);
    expect(records.map((r) => [r.kind, r.type, r.name, recordData(r)])).toEqual([
      ['AUTOCONFIG', 'CNAME', `autoconfig.${NAME}`, HOST],
      ['AUTODISCOVER', 'CNAME', `autodiscover.${NAME}`, HOST],
      ['SRV_IMAPS', 'SRV', `_imaps._tcp.${NAME}`, `0 1 993 ${HOST}`],
      ['SRV_IMAP', 'SRV', `_imap._tcp.${NAME}`, `10 1 143 ${HOST}`],
      ['SRV_POP3S', 'SRV', `_pop3s._tcp.${NAME}`, `20 1 995 ${HOST}`],
      ['SRV_POP3', 'SRV', `_pop3._tcp.${NAME}`, '0 0 0 .'],
      ['SRV_SUBMISSIONS', 'SRV', `_submissions._tcp.${NAME}`, `0 1 465 ${HOST}`],
      ['SRV_SUBMISSION', 'SRV', `_submission._tcp.${NAME}`, `10 1 587 ${HOST}`]
    ]);
    expect(expectedRecords(domain, HOST, { imaps: 993 }).filter((r) => r.type === 'SRV').map((r) => r.kind)).toEqual(['SRV_IMAPS']);
  });

  it('checks them: ok when set, ok by address, wrong target or port, missing; the required records are unaffected', async () => {
    const srv = (port: number, target = HOST) => [{ type: 'SRV' as const, priority: 0, weight: 1, port, target }];
    load({
      ...goodZone(),
      [`autoconfig.${NAME}`]: [{ type: 'CNAME', target: HOST }],
      [`autodiscover.${NAME}`]: [{ type: 'A', address: '198.51.100.9' }],
      [`_imaps._tcp.${NAME}`]: srv(993),
      [`_imap._tcp.${NAME}`]: srv(1143),
      [`_pop3s._tcp.${NAME}`]: srv(995, 'mail.provider.test'),
      [`_submissions._tcp.${NAME}`]: srv(465)
    });
    const check = await checkDomain(resolver, domain, HOST, [SERVER_IP], CLIENTS);
    for (const kind of ['MX', 'SPF', 'DKIM', 'DMARC', 'OWNERSHIP']) expect(record(check, kind)).toMatchObject({ status: 'ok', required: true });
    const optional = Object.fromEntries(check.records.filter((r) => !r.required).map((r) => [r.kind, `${r.status} ${r.problem}`]));
    expect(optional).toEqual({
      AUTOCONFIG: 'ok null',
      AUTODISCOVER: 'wrong client-name-not-this-server',
      SRV_IMAPS: 'ok null',
      SRV_IMAP: 'wrong srv-wrong',
      SRV_POP3S: 'wrong srv-wrong',
      SRV_POP3: 'missing srv-missing',
      SRV_SUBMISSIONS: 'ok null',
      SRV_SUBMISSION: 'missing srv-missing'
    });
    expect(record(check, 'SRV_IMAP').found).toEqual([`0 1 1143 ${HOST}`]);
    expect(needsAttention(check)).toBe(false);

    load({ ...goodZone(), [`autodiscover.${NAME}`]: [{ type: 'A', address: SERVER_IP }] });
    const byAddress = await checkDomain(resolver, domain, HOST, [SERVER_IP], CLIENTS);
    expect(record(byAddress, 'AUTODISCOVER')).toMatchObject({ status: 'ok', found: [SERVER_IP] });
    expect(record(byAddress, 'AUTOCONFIG')).toMatchObject({ status: 'missing', problem: 'client-name-missing' });
  });

  it('a missing required record still needs attention; a domain that does not resolve marks the optional ones too', async () => {
    load({ ...goodZone(), [`_dmarc.${NAME}`]: [] });
    expect(needsAttention(await checkDomain(resolver, domain, HOST, [SERVER_IP], CLIENTS))).toBe(true);
    load({});
    const gone = await checkDomain(resolver, domain, HOST, [SERVER_IP], CLIENTS);
    expect(gone.resolves).toBe(false);
    expect(gone.records).toHaveLength(13);
    expect(gone.records.filter((r) => !r.required).every((r) => r.problem === 'domain-does-not-resolve')).toBe(true);
  });
});
