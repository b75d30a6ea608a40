// The one DNS resolver every lookup goes through (STYLE.md §9): configurable servers (tests point it at a DNS server on loopback), per-query timeout.
import dns from 'node:dns';

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME' | 'NS' | 'SRV' | 'SOA' | 'CAA';

export interface DnsResolver {
  /** dns.promises.resolve-compatible (mailauth calls it as resolver(name, rrtype)) */
  resolve(name: string, rrtype: string): Promise<any>;
  reverse(ip: string): Promise<string[]>;
  resolveMx(name: string): Promise<dns.MxRecord[]>;
  resolveTxt(name: string): Promise<string[][]>;
  /** servers in use ("system" when the host's resolv.conf is used) */
  readonly servers: string[];
}

export interface ResolverOptions {
  servers: string[];
  /** milliseconds for one query */
  timeout: number;
}

export function createResolver(options: ResolverOptions): DnsResolver {
  const resolver = new dns.promises.Resolver({ timeout: options.timeout, tries: 2 });
  if (options.servers.length) resolver.setServers(options.servers);
  return {
    servers: options.servers.length ? [...options.servers] : resolver.getServers(),
    resolve: (name, rrtype) => resolver.resolve(name, rrtype as 'A'),
    reverse: (ip) => resolver.reverse(ip),
    resolveMx: (name) => resolver.resolveMx(name),
    resolveTxt: (name) => resolver.resolveTxt(name)
  };
}
