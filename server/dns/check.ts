// Live DNS check of a hosted domain: each expected record reported as ok / missing / wrong / error with what was found.
import net from 'node:net';
import type { Domain } from '../db/schema.js';
import type { DnsResolver } from './resolver.js';
import { dkimPublicKeyBase64, dkimRecordName, expectedRecords, normalizeHost, OWNERSHIP_PREFIX, recordData, type ClientListeners, type DnsRecordKind } from './records.js';

export type { DomainCheck, RecordCheck, RecordProblem, RecordStatus } from '../api-types.js';
import type { DomainCheck, RecordCheck, RecordProblem, RecordStatus } from '../api-types.js';


/** RFC 7208 §4.6.4: at most 10 mechanisms or modifiers that cause DNS lookups per evaluation. */
const SPF_LOOKUP_LIMIT = 10;
/** The brief evaluation follows include: and redirect= one level deep, no further. */
const SPF_INCLUDE_DEPTH = 1;

type Lookup<T> = { kind: 'found'; value: T } | { kind: 'nxdomain' } | { kind: 'nodata' } | { kind: 'error'; code: string };

/** Every lookup is bounded by the resolver's own per-query timeout (STYLE.md §9); node reports NXDOMAIN as ENOTFOUND. */
async function lookup<T>(query: () => Promise<T>): Promise<Lookup<T>> {
  try {
    return { kind: 'found', value: await query() };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (code === 'ENOTFOUND') return { kind: 'nxdomain' };
    if (code === 'ENODATA') return { kind: 'nodata' };
    return { kind: 'error', code };
  }
}

const txtLookup = (resolver: DnsResolver, name: string) =>
  lookup(async () => (await resolver.resolveTxt(name)).map((strings) => strings.join(''))); // RFC 7208 §3.3: strings concatenate

/** Whether the check found something to fix: a required record that is not ok (`domain check` exits 3 then). */
export function needsAttention(check: DomainCheck): boolean {
  return check.records.some((record) => record.required && record.status !== 'ok');
}

/**
 * Asks DNS for every expected record. `clients` adds the optional client-configuration records (see expectedRecords);
 * `serverAddresses` are this server's addresses (looked up from the host name when absent).
 */
export async function checkDomain(resolver: DnsResolver, domain: Domain, hostnameInput: string, serverAddresses?: string[], clients?: ClientListeners): Promise<DomainCheck> {
  const hostname = normalizeHost(hostnameInput);
  const expected = new Map(expectedRecords(domain, hostname, clients).map((record) => [record.kind, record]));
  const expectedValue = (kind: DnsRecordKind) => recordData(expected.get(kind)!);

  // SOA at the domain: NXDOMAIN means the name does not exist at all, NODATA (the usual answer below a zone apex) that it does.
  const existence = await lookup(() => resolver.resolve(domain.name, 'SOA'));
  if (existence.kind === 'nxdomain') {
    return {
      domain: domain.name,
      resolves: false,
      records: [...expected.values()].map(({ kind, required }) => ({
        kind,
        required,
        status: 'missing',
        expected: expectedValue(kind),
        found: [],
        problem: 'domain-does-not-resolve',
        message: `The domain ${domain.name} does not exist in DNS (NXDOMAIN): register it or check its spelling before setting records.`
      }))
    };
  }

  const check = (kind: DnsRecordKind, status: RecordStatus, found: string[], problem: RecordProblem | null, message: string): RecordCheck => ({
    kind,
    required: expected.get(kind)!.required,
    status,
    expected: expectedValue(kind),
    found,
    problem,
    message
  });
  const dnsError = (kind: DnsRecordKind, name: string, code: string) =>
    check(kind, 'error', [], 'dns-error', `The DNS lookup of ${name} failed (${code}); try again later.`);

  const addresses = serverAddresses ?? (await hostAddresses(resolver, hostname, { lookups: 0 }));
  const optional = [...expected.values()].filter((record) => !record.required);
  const records = await Promise.all([
    checkMx(),
    checkSpf(),
    checkDkim(),
    checkDmarc(),
    checkOwnership(),
    ...optional.map((record) => (record.type === 'CNAME' ? checkClientName(record.kind) : checkService(record.kind)))
  ]);
  return { domain: domain.name, resolves: true, records };

  async function checkMx(): Promise<RecordCheck> {
    const result = await lookup(() => resolver.resolveMx(domain.name));
    if (result.kind === 'error') return dnsError('MX', domain.name, result.code);
    const records = result.kind === 'found' ? result.value : [];
    const found = records.map((record) => `${record.priority} ${normalizeHost(record.exchange)}`);
    if (records.length === 0) {
      return check('MX', 'missing', found, 'no-mx', `${domain.name} has no MX record, so other servers cannot deliver mail for it to ${hostname}.`);
    }
    // RFC 5321 §5.1: senders try the lowest preference value first.
    const best = Math.min(...records.map((record) => record.priority));
    if (records.some((record) => record.priority === best && normalizeHost(record.exchange) === hostname)) {
      return check('MX', 'ok', found, null, `Mail for ${domain.name} is delivered to ${hostname}.`);
    }
    return check('MX', 'wrong', found, 'mx-not-this-server', `The MX records of ${domain.name} send mail to ${found.join(', ')}, not first to ${hostname}.`);
  }

  async function checkSpf(): Promise<RecordCheck> {
    const result = await txtLookup(resolver, domain.name);
    if (result.kind === 'error') return dnsError('SPF', domain.name, result.code);
    const found = result.kind === 'found' ? result.value.filter(isSpfRecord) : [];
    if (found.length === 0) {
      return check('SPF', 'missing', found, 'spf-missing', `${domain.name} has no SPF record; receivers cannot tell that ${hostname} may send its mail.`);
    }
    if (found.length > 1) {
      // RFC 7208 §4.5: more than one record is a permerror, receivers ignore them all.
      return check('SPF', 'wrong', found, 'spf-multiple', `${domain.name} has ${found.length} SPF records; receivers ignore all of them. Merge them into one.`);
    }
    const identities = addresses.length ? addresses : [null];
    const outcomes = await Promise.all(identities.map((ip) => spfAuthorises(resolver, domain.name, found[0]!, { hostname, ip }, { lookups: 0 }, 0)));
    if (outcomes.every(Boolean)) return check('SPF', 'ok', found, null, `The SPF record of ${domain.name} authorises ${hostname}.`);
    const who = addresses.length ? `${hostname} (${addresses.filter((_, i) => !outcomes[i]).join(', ')})` : hostname;
    return check(
      'SPF',
      'wrong',
      found,
      'spf-not-including-this-server',
      `The SPF record of ${domain.name} exists but does not authorise ${who}; add "mx" or "a:${hostname}" before the all mechanism.`
    );
  }

  async function checkDkim(): Promise<RecordCheck> {
    const name = dkimRecordName(domain);
    const result = await txtLookup(resolver, name);
    if (result.kind === 'error') return dnsError('DKIM', name, result.code);
    const found = result.kind === 'found' ? result.value : [];
    if (found.length === 0) return check('DKIM', 'missing', found, 'dkim-missing', `There is no DKIM key at ${name}; receivers cannot check this server's signatures.`);
    const ours = dkimPublicKeyBase64(domain.dkim_public_key);
    if (found.some((text) => tagList(text).get('p')?.replace(/\s+/g, '') === ours)) {
      return check('DKIM', 'ok', found, null, `The DKIM key at ${name} matches this server's key for ${domain.name}.`);
    }
    return check('DKIM', 'wrong', found, 'dkim-key-mismatch', `The record at ${name} does not carry this server's DKIM key; signatures will fail. Replace it with the expected value.`);
  }

  async function checkDmarc(): Promise<RecordCheck> {
    const name = `_dmarc.${domain.name}`;
    const result = await txtLookup(resolver, name);
    if (result.kind === 'error') return dnsError('DMARC', name, result.code);
    // RFC 7489 §6.6.3: records not starting with v=DMARC1 are discarded.
    const found = (result.kind === 'found' ? result.value : []).filter((text) => /^v\s*=\s*DMARC1\s*(;|$)/i.test(text));
    if (found.length === 0) return check('DMARC', 'missing', found, 'dmarc-missing', `There is no DMARC record at ${name}.`);
    if (found.length > 1) return check('DMARC', 'wrong', found, 'dmarc-invalid', `There are ${found.length} DMARC records at ${name}; receivers apply none of them. Keep one.`);
    const policy = tagList(found[0]!).get('p')?.toLowerCase();
    if (policy !== 'none' && policy !== 'quarantine' && policy !== 'reject') {
      return check('DMARC', 'wrong', found, 'dmarc-invalid', `The DMARC record at ${name} has no valid p= policy (none, quarantine or reject).`); // RFC 7489 §6.3
    }
    return check('DMARC', 'ok', found, null, `The DMARC record at ${name} sets the policy p=${policy}.`);
  }

  async function checkOwnership(): Promise<RecordCheck> {
    const name = expected.get('OWNERSHIP')!.name;
    const result = await txtLookup(resolver, name);
    if (result.kind === 'error') return dnsError('OWNERSHIP', name, result.code);
    const found = (result.kind === 'found' ? result.value : []).filter((text) => text.trim().startsWith(OWNERSHIP_PREFIX));
    if (found.length === 0) return check('OWNERSHIP', 'missing', found, 'ownership-missing', `There is no ownership record at ${name}.`);
    if (found.some((text) => text.trim() === expectedValue('OWNERSHIP'))) {
      return check('OWNERSHIP', 'ok', found, null, `The ownership of ${domain.name} is proven.`);
    }
    return check('OWNERSHIP', 'wrong', found, 'ownership-wrong', `The record at ${name} carries a different token; it may be left from an earlier setup. Replace it.`);
  }

  /** autoconfig./autodiscover.<domain>: a CNAME to this server, or address records that are this server's. */
  async function checkClientName(kind: DnsRecordKind): Promise<RecordCheck> {
    const { name } = expected.get(kind)!;
    const result = await lookup(() => resolver.resolve(name, 'CNAME'));
    if (result.kind === 'error') return dnsError(kind, name, result.code);
    if (result.kind === 'found') {
      const targets = (result.value as string[]).map(normalizeHost);
      if (targets.includes(hostname)) return check(kind, 'ok', targets, null, `${name} points at ${hostname}.`);
      return check(kind, 'wrong', targets, 'client-name-not-this-server', `${name} points at ${targets.join(', ')}, not at ${hostname}; mail clients would ask another server for their settings.`);
    }
    const found = await hostAddresses(resolver, name, { lookups: 0 });
    if (!found.length) return check(kind, 'missing', [], 'client-name-missing', `There is no ${name}; mail clients cannot find their settings there (optional).`);
    if (found.some((address) => addresses.includes(address))) return check(kind, 'ok', found, null, `${name} has this server's address.`);
    return check(kind, 'wrong', found, 'client-name-not-this-server', `${name} has the address ${found.join(', ')}, not this server's; point it at ${hostname} with a CNAME.`);
  }

  /** RFC 6186 SRV: the expected target and port among the records, or only "." for a service not offered. */
  async function checkService(kind: DnsRecordKind): Promise<RecordCheck> {
    const record = expected.get(kind)!;
    const result = await lookup(() => resolver.resolve(record.name, 'SRV'));
    if (result.kind === 'error') return dnsError(kind, record.name, result.code);
    const published = (result.kind === 'found' ? (result.value as Array<{ name: string; port: number; priority: number; weight: number }>) : []).map((r) => ({ ...r, target: normalizeHost(r.name) || '.' }));
    const found = published.map((r) => `${r.priority} ${r.weight} ${r.port} ${r.target}`);
    if (!published.length) return check(kind, 'missing', found, 'srv-missing', `There is no SRV record at ${record.name} (optional; clients following RFC 6186 use it).`);
    const right = record.value === '.' ? published.every((r) => r.target === '.') : published.some((r) => r.target === hostname && r.port === record.port);
    if (right) return check(kind, 'ok', found, null, record.value === '.' ? `${record.name} says the service is not offered.` : `${record.name} points at ${hostname} port ${record.port}.`);
    return check(kind, 'wrong', found, 'srv-wrong', `${record.name} does not point at ${record.value === '.' ? '"." (not offered)' : `${hostname} port ${record.port}`}; clients would connect elsewhere.`);
  }
}

// ---- SPF: a small evaluation of "would this host pass", not a full RFC 7208 engine ----------------------------

interface SpfIdentity {
  hostname: string;
  /** one address of this server, or null when no address is known (then only host names can match) */
  ip: string | null;
}

interface SpfBudget {
  lookups: number;
}

export function isSpfRecord(text: string): boolean {
  return /^v=spf1(\s|$)/i.test(text.trim()); // RFC 7208 §4.5
}

/**
 * True when the record's first matching mechanism for this server has the pass qualifier. Followed: all, ip4, ip6, a,
 * mx (both with /cidr), include: and redirect= one level deep. Not followed (never match): exists, ptr, macros, and any
 * lookup past the RFC 7208 §4.6.4 limit or one that fails. The server's own host name counts as matching a and mx.
 */
async function spfAuthorises(resolver: DnsResolver, domainName: string, record: string, identity: SpfIdentity, budget: SpfBudget, depth: number): Promise<boolean> {
  const terms = record.trim().split(/\s+/).slice(1);
  let redirect: string | null = null;
  for (const term of terms) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(term);
    if (modifier) {
      if (modifier[1]!.toLowerCase() === 'redirect') redirect = modifier[2]!;
      continue;
    }
    const qualifier = '+-~?'.includes(term[0]!) ? term[0]! : '+';
    const mechanism = qualifier === term[0] ? term.slice(1) : term;
    if (await spfMechanismMatches(resolver, domainName, mechanism, identity, budget, depth)) return qualifier === '+'; // RFC 7208 §4.6.2
  }
  // RFC 7208 §6.1: redirect applies only when no mechanism matched and there is no "all".
  if (redirect && depth < SPF_INCLUDE_DEPTH) return spfOfDomain(resolver, redirect, identity, budget, depth + 1);
  return false;
}

async function spfMechanismMatches(resolver: DnsResolver, domainName: string, mechanism: string, identity: SpfIdentity, budget: SpfBudget, depth: number): Promise<boolean> {
  const match = /^([a-z0-9]+)(?::([^/]*))?(?:\/(\d+))?(?:\/\/(\d+))?$/i.exec(mechanism);
  if (!match) return false;
  const name = match[1]!.toLowerCase();
  const argument = match[2];
  const cidr4 = match[3] === undefined ? undefined : Number(match[3]);
  const cidr6 = match[4] === undefined ? undefined : Number(match[4]);
  if (argument?.includes('%')) return false; // macros (RFC 7208 §7) are not evaluated
  switch (name) {
    case 'all':
      return true;
    case 'ip4':
    case 'ip6': {
      if (!identity.ip || !argument) return false;
      const family = name === 'ip4' ? 'ipv4' : 'ipv6';
      return inNetwork(identity.ip, argument, (name === 'ip4' ? cidr4 : cidr6 ?? cidr4) ?? (family === 'ipv4' ? 32 : 128), family);
    }
    case 'a': {
      const host = normalizeHost(argument ?? domainName);
      if (host === identity.hostname) return true;
      if (!identity.ip) return false;
      return (await hostAddresses(resolver, host, budget)).some((address) => inHost(identity.ip!, address, cidr4, cidr6));
    }
    case 'mx': {
      if (!spend(budget)) return false;
      const result = await lookup(() => resolver.resolveMx(normalizeHost(argument ?? domainName)));
      if (result.kind !== 'found') return false;
      const exchanges = result.value.map((record) => normalizeHost(record.exchange));
      if (exchanges.includes(identity.hostname)) return true;
      if (!identity.ip) return false;
      for (const exchange of exchanges) {
        if ((await hostAddresses(resolver, exchange, budget)).some((address) => inHost(identity.ip!, address, cidr4, cidr6))) return true;
      }
      return false;
    }
    case 'include':
      // RFC 7208 §5.2: include matches when the included record passes.
      return argument !== undefined && depth < SPF_INCLUDE_DEPTH && spfOfDomain(resolver, argument, identity, budget, depth + 1);
    default:
      return false; // exists, ptr and unknown mechanisms
  }
}

async function spfOfDomain(resolver: DnsResolver, name: string, identity: SpfIdentity, budget: SpfBudget, depth: number): Promise<boolean> {
  if (!spend(budget)) return false;
  const result = await txtLookup(resolver, normalizeHost(name));
  const records = result.kind === 'found' ? result.value.filter(isSpfRecord) : [];
  return records.length === 1 && spfAuthorises(resolver, normalizeHost(name), records[0]!, identity, budget, depth);
}

function spend(budget: SpfBudget): boolean {
  budget.lookups += 1;
  return budget.lookups <= SPF_LOOKUP_LIMIT;
}

/** A and AAAA addresses of a host; an empty list when it has none or the lookup fails. */
async function hostAddresses(resolver: DnsResolver, host: string, budget: SpfBudget): Promise<string[]> {
  if (!spend(budget)) return [];
  const [v4, v6] = await Promise.all([lookup(() => resolver.resolve(host, 'A')), lookup(() => resolver.resolve(host, 'AAAA'))]);
  return [v4, v6].flatMap((result) => (result.kind === 'found' ? (result.value as string[]) : []));
}

function inHost(ip: string, address: string, cidr4: number | undefined, cidr6: number | undefined): boolean {
  const family = net.isIPv4(address) ? 'ipv4' : 'ipv6';
  return inNetwork(ip, address, (family === 'ipv4' ? cidr4 : cidr6) ?? (family === 'ipv4' ? 32 : 128), family);
}

function inNetwork(ip: string, network: string, prefix: number, family: 'ipv4' | 'ipv6'): boolean {
  const ipFamily = net.isIPv4(ip) ? 'ipv4' : net.isIPv6(ip) ? 'ipv6' : null;
  if (ipFamily !== family || net.isIP(network) !== (family === 'ipv4' ? 4 : 6)) return false;
  if (prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) return false;
  const list = new net.BlockList();
  list.addSubnet(network, prefix, family);
  return list.check(ip, family);
}

/** DKIM / DMARC tag=value list (RFC 6376 §3.2); tag names lower-cased. */
function tagList(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) tags.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return tags;
}
