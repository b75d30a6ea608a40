// Where mail for a domain goes (RFC 5321 §5.1): its MX hosts in preference order, else the domain's own address
// records (implicit MX); a null MX (RFC 7505) or a domain that does not exist is a permanent failure.
import type { DnsResolver } from '../dns/resolver.js';

export interface MailHost {
  /** the MX host name (or the domain itself for an implicit MX); TLS SNI and log lines use it */
  name: string;
  /** its IPv4 then IPv6 addresses */
  addresses: string[];
}

export type Route = { kind: 'hosts'; hosts: MailHost[] } | { kind: 'permanent'; reply: string } | { kind: 'temporary'; reply: string };

/** DNS answers that mean "there is no such record" rather than "ask again later". */
const NO_DATA = new Set(['ENODATA', 'ENOTFOUND']);

const code = (err: unknown) => String((err as { code?: string })?.code ?? '');

/** A and AAAA records of a host; empty when it has none; throws on lookup failures other than "none". */
async function addressesOf(resolver: DnsResolver, name: string): Promise<{ addresses: string[]; nxdomain: boolean }> {
  const results = await Promise.allSettled([resolver.resolve(name, 'A'), resolver.resolve(name, 'AAAA')]);
  const addresses: string[] = [];
  let nxdomain = false;
  for (const r of results) {
    if (r.status === 'fulfilled') addresses.push(...(r.value as string[]));
    else if (code(r.reason) === 'ENOTFOUND') nxdomain = true;
    else if (!NO_DATA.has(code(r.reason))) throw r.reason;
  }
  return { addresses, nxdomain: nxdomain && !addresses.length };
}

/** Limit on MX hosts tried per attempt, so a hostile zone cannot make one attempt endless. */
const MAX_HOSTS = 10;

export async function resolveRoute(resolver: DnsResolver, domain: string): Promise<Route> {
  let mx: Array<{ exchange: string; priority: number }>;
  try {
    mx = await resolver.resolveMx(domain);
  } catch (err) {
    if (code(err) === 'ENOTFOUND') return { kind: 'permanent', reply: `550 5.1.2 Domain ${domain} does not exist (DNS NXDOMAIN)` };
    if (code(err) !== 'ENODATA') return { kind: 'temporary', reply: `451 4.4.3 MX lookup for ${domain} failed (${code(err) || 'DNS error'})` };
    mx = [];
  }
  if (!mx.length) {
    // RFC 5321 §5.1: no MX records, so the domain's own address records act as an implicit MX
    try {
      const own = await addressesOf(resolver, domain);
      if (own.nxdomain) return { kind: 'permanent', reply: `550 5.1.2 Domain ${domain} does not exist (DNS NXDOMAIN)` };
      if (!own.addresses.length) return { kind: 'permanent', reply: `550 5.1.2 Domain ${domain} has no MX and no address records` };
      return { kind: 'hosts', hosts: [{ name: domain, addresses: own.addresses }] };
    } catch (err) {
      return { kind: 'temporary', reply: `451 4.4.3 Address lookup for ${domain} failed (${code(err) || 'DNS error'})` };
    }
  }
  // RFC 7505 §3: a single MX with an empty exchange ("." ) says the domain takes no mail
  if (mx.some((m) => m.exchange === '' || m.exchange === '.')) {
    return { kind: 'permanent', reply: `556 5.1.10 Domain ${domain} does not accept mail (null MX, RFC 7505)` };
  }
  // RFC 5321 §5.1: lowest preference first; equal preferences in random order to spread the load
  const ordered = mx
    .map((m) => ({ ...m, tiebreak: Math.random() }))
    .sort((a, b) => a.priority - b.priority || a.tiebreak - b.tiebreak)
    .slice(0, MAX_HOSTS);
  const hosts: MailHost[] = [];
  let lookupError: unknown = null;
  for (const m of ordered) {
    try {
      const { addresses } = await addressesOf(resolver, m.exchange);
      if (addresses.length) hosts.push({ name: m.exchange.replace(/\.$/, '').toLowerCase(), addresses });
    } catch (err) {
      lookupError = err;
    }
  }
  if (hosts.length) return { kind: 'hosts', hosts };
  if (lookupError) return { kind: 'temporary', reply: `451 4.4.3 Address lookup for the MX hosts of ${domain} failed (${code(lookupError) || 'DNS error'})` };
  // MX hosts that have no addresses are a misconfiguration the domain's owner may fix: keep retrying
  return { kind: 'temporary', reply: `451 4.4.4 None of the MX hosts of ${domain} has an address record` };
}
