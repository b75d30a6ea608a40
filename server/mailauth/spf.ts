// SPF alone (RFC 7208) for decisions made before DATA, such as greylisting's known-sender rule: mailauth's check
// through Postfach's resolver.
import { spf } from 'mailauth/lib/spf/index.js';
import type { DnsResolver } from '../dns/resolver.js';

export interface SpfInput {
  ip: string;
  /** MAIL FROM, '' for the null sender (then the HELO name is checked, RFC 7208 §2.3) */
  sender: string;
  helo: string;
  /** this server's host name */
  mta: string;
}

/** The SPF result: pass, fail, softfail, neutral, none, temperror or permerror. */
export async function checkSpf(resolver: DnsResolver, input: SpfInput): Promise<string> {
  const result = await spf({ sender: input.sender || undefined, ip: input.ip, helo: input.helo, mta: input.mta, resolver: resolver.resolve });
  return String(result?.status?.result ?? 'none');
}
