// DNS block lists (plugin `dnsbl`, RFC 5782): the client address, reversed (IPv4 octets, IPv6 nibbles), is looked up
// under each configured zone through Postfach's one resolver at connect; a listed client is refused at connect or
// at each RCPT, or only marked with an X-DNSBL header (rejectAt: never).
import net from 'node:net';
import type { DnsResolver } from '../../server/dns/resolver.js';
import { AddressList, definePlugin, results } from '../../server/plugins/index.js';
import { ipv6Groups, plainAddress } from '../../server/plugins/addresses.js';

export interface Listing {
  zone: string;
  /** the A record the list answered, e.g. 127.0.0.2 (its meaning is the list's) */
  address: string;
  /** the list's TXT record, usually a URL explaining the listing */
  reason: string;
}

/** The name to look up: RFC 5782 §2.1 (IPv4: octets reversed) and §2.4 (IPv6: 32 nibbles reversed); null for anything else. */
export function dnsblQueryName(ip: string, zone: string): string | null {
  const address = plainAddress(ip);
  if (net.isIPv4(address)) return `${address.split('.').reverse().join('.')}.${zone}`;
  const groups = ipv6Groups(address);
  return groups && `${groups.map((g) => g.padStart(4, '0').toLowerCase()).join('').split('').reverse().join('.')}.${zone}`;
}

/**
 * RFC 5782 §2.1/§2.3: a listing is an A record in 127.0.0.0/8; 127.0.0.1 is never one, and 127.255.255.0/24 is
 * where lists (Spamhaus) answer errors such as "query through a public resolver refused".
 */
const isListing = (a: string) => a.startsWith('127.') && a !== '127.0.0.1' && !a.startsWith('127.255.255.');

/** Looks one address up in one zone: the listing, or null when not listed; throws when the lookup failed. */
export async function lookup(resolver: DnsResolver, ip: string, zone: string): Promise<Listing | null> {
  const name = dnsblQueryName(ip, zone);
  if (!name) return null;
  let answers: string[];
  try {
    answers = await resolver.resolve(name, 'A');
  } catch (err) {
    if (['ENOTFOUND', 'ENODATA'].includes((err as NodeJS.ErrnoException).code ?? '')) return null; // not listed
    throw err;
  }
  const listed = answers.find(isListing);
  if (!listed) {
    if (answers.length) throw new Error(`${zone} answered ${answers.join(', ')}, which is an error code, not a listing`);
    return null;
  }
  const txt = await resolver.resolveTxt(name).catch(() => [] as string[][]);
  return { zone, address: listed, reason: txt.map((parts) => parts.join('')).join(' ').slice(0, 200) };
}

const message = (ip: string, l: Listing) => `Client address [${ip}] is listed in ${l.zone} (${l.address})${l.reason ? `: ${l.reason}` : ''}`;

export default definePlugin({
  name: 'dnsbl',
  settings: [
    { key: 'zones', type: 'domainList', default: ['zen.spamhaus.org'], description: 'DNS block list zones the client address is looked up in (all at once)' },
    { key: 'rejectAt', type: 'enum', default: 'connect', values: ['connect', 'rcpt', 'never'], description: 'Refuse a listed client at connect (554), at each RCPT (550, so the sender learns the recipient), or never (only the X-DNSBL header)' },
    { key: 'allow', type: 'list', default: [], description: 'Client addresses and networks (CIDR) never looked up' },
    { key: 'submission', type: 'boolean', default: false, description: 'Also look up clients of the submission ports (they log in before sending, so normally not)' },
    { key: 'cache', type: 'integer', default: 300, min: 0, max: 86400, description: 'Seconds a lookup result is reused for further connections from the same address (0 = none)' }
  ],
  register(_fastify, plugin) {
    const { config } = plugin;
    const allow = new AddressList(config.allow, 'plugins.dnsbl.allow');
    /** address -> listings and when the result expires; bounded, oldest first out */
    const cache = new Map<string, { expires: number; listings: Listing[] }>();
    const CACHE_SIZE = 10000;

    async function listingsOf(ip: string, log: { warn: (o: object, m: string) => void }): Promise<Listing[]> {
      const now = plugin.now();
      const cached = cache.get(ip);
      if (cached && cached.expires > now) return cached.listings;
      const found = await Promise.all(
        config.zones.map((zone) =>
          lookup(plugin.resolver, ip, zone).catch((err: Error) => {
            log.warn({ zone, err: err.message }, 'block list lookup failed; not counted as listed');
            return null;
          })
        )
      );
      const listings = found.filter((l): l is Listing => l !== null);
      if (config.cache) {
        cache.delete(ip);
        cache.set(ip, { expires: now + config.cache * 1000, listings });
        if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      return listings;
    }

    plugin.hook(
      'connect',
      async ({ connection, log }) => {
        if ((connection.listener === 'submission' && !config.submission) || allow.has(connection.remoteAddress)) return results.continue();
        const listings = await listingsOf(connection.remoteAddress, log);
        connection.notes.dnsbl = listings;
        if (!listings.length) return results.continue();
        log.info({ listings: listings.map((l) => `${l.zone}=${l.address}`) }, 'client is listed');
        if (config.rejectAt === 'connect') return results.deny(message(connection.remoteAddress, listings[0]));
        return results.continue(`listed in ${listings.map((l) => l.zone).join(', ')}`);
      },
      { priority: -50 }
    );

    plugin.hook('rcpt', ({ connection }) => {
      const listings = (connection.notes.dnsbl as Listing[] | undefined) ?? [];
      if (config.rejectAt !== 'rcpt' || !listings.length) return results.continue();
      return results.deny(message(connection.remoteAddress, listings[0]));
    });

    plugin.hook('data_post', ({ connection, transaction }) => {
      for (const l of (connection.notes.dnsbl as Listing[] | undefined) ?? []) transaction.addHeader('X-DNSBL', `${l.zone}=${l.address}; client=${connection.remoteAddress}`);
    });
  }
});
