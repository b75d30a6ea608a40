// Allow-lists of client addresses for plugins: single IPv4/IPv6 addresses and CIDR networks (RFC 4632, RFC 4291 §2.3).
import net from 'node:net';
import { ConfigError } from '../config/load.js';

/** An IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2) is the IPv4 address it carries. */
export function plainAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? mapped[1] : ip;
}

/** The eight 16-bit groups of an IPv6 address, `::` expanded, as written (RFC 4291 §2.2); null for anything else. */
export function ipv6Groups(ip: string): string[] | null {
  if (!net.isIPv6(ip) || ip.includes('%') || ip.includes('.')) return null;
  const [head, tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  return [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
}

export class AddressList {
  private readonly list = new net.BlockList();
  readonly size: number;

  /** `key` names the setting in the error a bad entry causes (`plugins.greylist.allowIps`). */
  constructor(entries: readonly string[], key: string) {
    for (const entry of entries) {
      const [address, bits, extra] = entry.split('/');
      const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
      const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
      if (!family || extra !== undefined || !(prefix >= 0 && prefix <= (family === 'ipv4' ? 32 : 128))) {
        throw new ConfigError(key, `"${entry}" is not an IP address or network (e.g. 192.0.2.7, 198.51.100.0/24, 2001:db8::/32)`);
      }
      this.list.addSubnet(address, prefix, family);
    }
    this.size = entries.length;
  }

  has(ip: string): boolean {
    if (!this.size) return false;
    const address = plainAddress(ip);
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
    return family !== null && this.list.check(address, family);
  }
}
