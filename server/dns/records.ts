// The DNS records a hosted domain needs: MX, SPF (RFC 7208), DKIM key (RFC 6376 §3.6.1), DMARC (RFC 7489) and the
// ownership TXT record; and the ones that let mail clients configure themselves: autoconfig/autodiscover names and
// RFC 6186 SRV records (with RFC 8314 §5.1's _submissions).
import crypto from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Domain } from '../db/schema.js';

export type { ClientServiceKind, DnsRecord, DnsRecordKind } from '../api-types.js';
import type { ClientServiceKind, DnsRecord } from '../api-types.js';

/** The listeners mail clients connect to, named as in the config (`imaps.port`) and in the app's Listening. */
export type ClientListener = 'imaps' | 'imap' | 'pop3s' | 'pop3' | 'submissions' | 'submission';

/** Listener name -> the port clients reach it at, null when it is switched off (port -1); absent when unknown. */
export type ClientListeners = Partial<Record<ClientListener, number | null>>;

/**
 * RFC 6186 services and the listener behind each. Priorities across IMAP and POP3 are comparable (RFC 6186 §3.4):
 * IMAP is preferred, and implicit TLS before STARTTLS (RFC 8314 §5.1).
 */
export const CLIENT_SERVICES: ReadonlyArray<{ kind: ClientServiceKind; label: string; listener: keyof ClientListeners; priority: number }> = [
  { kind: 'SRV_IMAPS', label: '_imaps._tcp', listener: 'imaps', priority: 0 },
  { kind: 'SRV_IMAP', label: '_imap._tcp', listener: 'imap', priority: 10 },
  { kind: 'SRV_POP3S', label: '_pop3s._tcp', listener: 'pop3s', priority: 20 },
  { kind: 'SRV_POP3', label: '_pop3._tcp', listener: 'pop3', priority: 30 },
  { kind: 'SRV_SUBMISSIONS', label: '_submissions._tcp', listener: 'submissions', priority: 0 },
  { kind: 'SRV_SUBMISSION', label: '_submission._tcp', listener: 'submission', priority: 10 }
];

/** The client listeners as configured (the CLI, which does not see a running server): port 0 means unknown. */
export function configuredListeners(config: Config): ClientListeners {
  const listeners: ClientListeners = {};
  for (const { listener } of CLIENT_SERVICES) {
    const { port, publicPort } = config[listener];
    if (port < 0) listeners[listener] = null;
    else if (publicPort || port) listeners[listener] = publicPort || port;
  }
  return listeners;
}

/** A record's data as zone files and most DNS provider forms write it. */
export function recordData(record: DnsRecord): string {
  if (record.type === 'SRV') return `${record.priority} ${record.weight} ${record.port} ${record.value}`;
  return record.priority === undefined ? record.value : `${record.priority} ${record.value}`;
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

/**
 * The records to set. With `clients` (the listeners mail clients use) also the optional ones that let clients find
 * their settings: autoconfig and autodiscover names pointing at this server, and an SRV record per service.
 */
export function expectedRecords(domain: Domain, hostnameInput: string, clients?: ClientListeners): DnsRecord[] {
  const hostname = normalizeHost(hostnameInput);
  return [...mailRecords(domain, hostname), ...(clients ? clientRecords(domain, hostname, clients) : [])];
}

function clientRecords(domain: Domain, hostname: string, clients: ClientListeners): DnsRecord[] {
  const alias = (kind: 'AUTOCONFIG' | 'AUTODISCOVER', label: string, client: string, path: string): DnsRecord => ({
    kind,
    type: 'CNAME',
    name: `${label}.${domain.name}`,
    value: hostname,
    required: false,
    note:
      `${client} looks up ${label}.${domain.name}${path} to set up accounts by itself. The name must reach this server's ` +
      'HTTP port as port 80 and 443 (a reverse proxy with a certificate for the name, or http.port 80).'
  });
  const services = CLIENT_SERVICES.flatMap(({ kind, label, listener, priority }): DnsRecord[] => {
    const port = clients[listener];
    if (port === undefined) return [];
    const name = `${label}.${domain.name}`;
    if (port === null) {
      // RFC 6186 §4: a service that is not offered is published with the target "."
      return [{ kind, type: 'SRV', name, value: '.', priority: 0, weight: 0, port: 0, required: false, note: `Tells mail clients that ${label.slice(1, label.indexOf('.'))} is not offered for ${domain.name}.` }];
    }
    return [{ kind, type: 'SRV', name, value: hostname, priority, weight: 1, port, required: false, note: `Mail clients that follow RFC 6186 find ${label.slice(1, label.indexOf('.'))} at ${hostname} port ${port}.` }];
  });
  return [alias('AUTOCONFIG', 'autoconfig', 'Thunderbird', '/mail/config-v1.1.xml'), alias('AUTODISCOVER', 'autodiscover', 'Outlook', '/autodiscover/autodiscover.xml'), ...services];
}

function mailRecords(domain: Domain, hostname: string): DnsRecord[] {
  return [
    {
      kind: 'MX',
      required: true,
      type: 'MX',
      name: domain.name,
      value: hostname,
      priority: MX_PRIORITY,
      note: `Mail for ${domain.name} is delivered to ${hostname}. Remove MX records that point at other servers.`
    },
    {
      kind: 'SPF',
      required: true,
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
      required: true,
      type: 'TXT',
      name: dkimRecordName(domain),
      value: `v=DKIM1; k=rsa; p=${dkimPublicKeyBase64(domain.dkim_public_key)}`,
      note:
        'The public key receivers use to check the signature this server puts on outgoing mail. It is generated for this ' +
        'domain; the value is longer than 255 characters, which DNS providers store as several strings.'
    },
    {
      kind: 'DMARC',
      required: true,
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
      required: true,
      type: 'TXT',
      name: `${OWNERSHIP_LABEL}.${domain.name}`,
      value: `${OWNERSHIP_PREFIX}${domain.verification_token}`,
      note: 'Proves that whoever added the domain here also controls its DNS. It does not affect mail delivery.'
    }
  ];
}
