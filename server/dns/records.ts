// The DNS records a hosted domain needs: MX, SPF (RFC 7208), DKIM key (RFC 6376 §3.6.1), DMARC (RFC 7489) and the ownership TXT record.
import crypto from 'node:crypto';
import type { Domain } from '../db/schema.js';

export type DnsRecordKind = 'MX' | 'SPF' | 'DKIM' | 'DMARC' | 'OWNERSHIP';

/** One record the domain's owner sets at their DNS provider; `note` is English, the UI translates by `kind`. */
export interface DnsRecord {
  kind: DnsRecordKind;
  type: 'MX' | 'TXT';
  /** owner name, fully qualified, without the trailing dot */
  name: string;
  /** MX: the exchange host; TXT: the whole text (providers split it into 255-byte strings themselves) */
  value: string;
  priority?: number;
  note: string;
}

export const MX_PRIORITY = 10;
/** Ownership proof lives at its own name so it never mixes with the domain's SPF or other TXT records. */
export const OWNERSHIP_LABEL = '_postfach';
export const OWNERSHIP_PREFIX = 'postfach-verification=';

/** Lower-case, without a trailing dot: how names are compared everywhere in server/dns. */
export function normalizeHost(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** base64 of the SubjectPublicKeyInfo DER, the form the DKIM p= tag carries (RFC 6376 §3.6.1). */
export function dkimPublicKeyBase64(publicKeyPem: string): string {
  return crypto.createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' }).toString('base64');
}

export function dkimRecordName(domain: Domain): string {
  return `${domain.dkim_selector}._domainkey.${domain.name}`; // RFC 6376 §3.6.2.1
}

export function expectedRecords(domain: Domain, hostnameInput: string): DnsRecord[] {
  const hostname = normalizeHost(hostnameInput);
  return [
    {
      kind: 'MX',
      type: 'MX',
      name: domain.name,
      value: hostname,
      priority: MX_PRIORITY,
      note: `Mail for ${domain.name} is delivered to ${hostname}. Remove MX records that point at other servers.`
    },
    {
      kind: 'SPF',
      type: 'TXT',
      name: domain.name,
      // `mx` authorises exactly the hosts the MX record names (this server) and follows the MX if it moves; `-all`
      // because all mail of the domain leaves through this server. `~all` would only ask receivers to look closer.
      value: 'v=spf1 mx -all',
      note:
        'Authorises the servers named in the MX record (this server) to send mail for the domain and tells receivers ' +
        'to refuse mail from anywhere else. If another service also sends mail for the domain, add its include: before -all. ' +
        'A domain has exactly one SPF record: edit an existing one rather than adding a second.'
    },
    {
      kind: 'DKIM',
      type: 'TXT',
      name: dkimRecordName(domain),
      value: `v=DKIM1; k=rsa; p=${dkimPublicKeyBase64(domain.dkim_public_key)}`,
      note:
        'The public key receivers use to check the signature this server puts on outgoing mail. It is generated for this ' +
        'domain; the value is longer than 255 characters, which DNS providers store as several strings.'
    },
    {
      kind: 'DMARC',
      type: 'TXT',
      name: `_dmarc.${domain.name}`,
      // Strict alignment holds because this server signs with d=<domain> and sends with a <domain> envelope sender;
      // quarantine rather than reject so a mistake in the other records sends mail to spam instead of losing it.
      value: 'v=DMARC1; p=quarantine; adkim=s; aspf=s',
      note:
        'Tells receivers to put mail that fails both SPF and DKIM for this exact domain into spam. Once every sender ' +
        'of the domain passes, p=reject can replace p=quarantine.'
    },
    {
      kind: 'OWNERSHIP',
      type: 'TXT',
      name: `${OWNERSHIP_LABEL}.${domain.name}`,
      value: `${OWNERSHIP_PREFIX}${domain.verification_token}`,
      note: 'Proves that whoever added the domain here also controls its DNS. It does not affect mail delivery.'
    }
  ];
}
