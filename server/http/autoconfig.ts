// Mail client autoconfiguration documents built from the listening endpoints: Thunderbird's config-v1.1.xml, Outlook's
// autodiscover (POX) response, and an Apple configuration profile (com.apple.mail.managed). No password is ever in them.
import crypto from 'node:crypto';
import type { ClientEndpoint, ClientProtocol } from './client-settings.js';

/** XML text and attribute escaping (XML 1.0 §2.4); control characters that XML cannot carry are dropped. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function xmlUnescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-f]{1,6});/gi, (_, entity: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (entity[0] !== '#') return named[entity.toLowerCase()];
    const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : '';
  });
}

/** The preferred endpoint of a protocol: implicit TLS before STARTTLS (RFC 8314 §3); endpointsOf lists them so. */
function preferred(endpoints: ClientEndpoint[], protocol: ClientProtocol): ClientEndpoint | undefined {
  return endpoints.find((e) => e.protocol === protocol);
}

const element = (indent: string, name: string, value: string | number) => `${indent}<${name}>${xmlEscape(String(value))}</${name}>`;

/**
 * Thunderbird's autoconfig file (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat): every
 * incoming and outgoing endpoint, implicit TLS first; the user name is the full address (%EMAILADDRESS%).
 */
export function thunderbirdConfig(domain: string, host: string, endpoints: ClientEndpoint[]): string {
  const server = (kind: 'incomingServer' | 'outgoingServer', e: ClientEndpoint) =>
    [
      `    <${kind} type="${e.protocol}">`,
      element('      ', 'hostname', host),
      element('      ', 'port', e.port),
      element('      ', 'socketType', e.security === 'tls' ? 'SSL' : 'STARTTLS'),
      // the password travels inside TLS as typed (LOGIN/PLAIN, USER/PASS)
      element('      ', 'authentication', 'password-cleartext'),
      element('      ', 'username', '%EMAILADDRESS%'),
      `    </${kind}>`
    ].join('\n');
  // Thunderbird proposes the first incoming server: IMAP before POP3
  const incoming = [...endpoints.filter((e) => e.protocol === 'imap'), ...endpoints.filter((e) => e.protocol === 'pop3')];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${xmlEscape(domain)}">`,
    element('    ', 'domain', domain),
    element('    ', 'displayName', `${domain} (Postfach)`),
    element('    ', 'displayShortName', domain),
    ...incoming.map((e) => server('incomingServer', e)),
    ...endpoints.filter((e) => e.protocol === 'smtp').map((e) => server('outgoingServer', e)),
    '  </emailProvider>',
    '</clientConfig>',
    ''
  ].join('\n');
}

/** The address in an Outlook autodiscover request (`<EMailAddress>` of the 2006 request schema); null when absent. */
export function autodiscoverAddress(body: string): string | null {
  const match = /<(?:[\w.-]+:)?EMailAddress\s*>([^<]{1,400})<\/(?:[\w.-]+:)?EMailAddress\s*>/i.exec(body);
  return match ? xmlUnescape(match[1]).trim() : null;
}

const AUTODISCOVER_NS = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';
const OUTLOOK_NS = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';
const POX_TYPE: Record<ClientProtocol, string> = { imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP' };

/**
 * Outlook's autodiscover answer ([MS-OXDSCLI] POX, Account/Protocol): one Protocol per protocol type, its preferred
 * endpoint; Encryption says SSL for implicit TLS and TLS for STARTTLS.
 */
export function autodiscoverResponse(address: string, host: string, endpoints: ClientEndpoint[]): string {
  const protocols = (['imap', 'pop3', 'smtp'] as const).flatMap((protocol) => {
    const e = preferred(endpoints, protocol);
    if (!e) return [];
    return [
      '      <Protocol>',
      element('        ', 'Type', POX_TYPE[protocol]),
      element('        ', 'Server', host),
      element('        ', 'Port', e.port),
      element('        ', 'DomainRequired', 'off'),
      element('        ', 'LoginName', address),
      element('        ', 'SPA', 'off'),
      element('        ', 'SSL', 'on'),
      element('        ', 'Encryption', e.security === 'tls' ? 'SSL' : 'TLS'),
      element('        ', 'AuthRequired', 'on'),
      ...(protocol === 'smtp' ? [element('        ', 'UsePOPAuth', 'on'), element('        ', 'SMTPLast', 'off')] : []),
      '      </Protocol>'
    ];
  });
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<Autodiscover xmlns="${AUTODISCOVER_NS}">`,
    `  <Response xmlns="${OUTLOOK_NS}">`,
    '    <Account>',
    element('      ', 'AccountType', 'email'),
    element('      ', 'Action', 'settings'),
    ...protocols,
    '    </Account>',
    '  </Response>',
    '</Autodiscover>',
    ''
  ].join('\n');
}

/** An autodiscover error answer ([MS-OXDSCLI] Error, code 600 = invalid request). */
export function autodiscoverError(code: number, message: string): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<Autodiscover xmlns="${AUTODISCOVER_NS}">`,
    '  <Response>',
    `    <Error Time="${new Date().toISOString().slice(11, 19)}" Id="0">`,
    element('      ', 'ErrorCode', code),
    element('      ', 'Message', message),
    '      <DebugData />',
    '    </Error>',
    '  </Response>',
    '</Autodiscover>',
    ''
  ].join('\n');
}

/** A name-based UUID (RFC 9562 §5.5, version 5): the same account gets the same payload ids, so a profile replaces its predecessor. */
export function nameUuid(name: string): string {
  const namespace = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex'); // RFC 9562 §6.6 NameSpace_URL
  const hash = crypto.createHash('sha1').update(namespace).update(name).digest().subarray(0, 16);
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`.toUpperCase();
}

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

/** Apple's XML property list (DTD PropertyList-1.0). */
function plistValue(value: PlistValue, indent: string): string {
  if (typeof value === 'string') return `${indent}<string>${xmlEscape(value)}</string>`;
  if (typeof value === 'number') return `${indent}<integer>${Math.trunc(value)}</integer>`;
  if (typeof value === 'boolean') return `${indent}<${value}/>`;
  if (Array.isArray(value)) return [`${indent}<array>`, ...value.map((v) => plistValue(v, indent + '  ')), `${indent}</array>`].join('\n');
  return [`${indent}<dict>`, ...Object.entries(value).flatMap(([k, v]) => [`${indent}  <key>${xmlEscape(k)}</key>`, plistValue(v, indent + '  ')]), `${indent}</dict>`].join('\n');
}

export interface ProfileAccount {
  address: string;
  displayName: string;
}

/**
 * A configuration profile with one com.apple.mail.managed payload (Apple's Configuration Profile Reference): IMAP (or
 * POP3 where IMAP does not listen) and SMTP at their preferred endpoints, the address as user name for both. The
 * device asks for the password when the profile is installed. Unsigned: iOS and macOS show it as not verified.
 */
export function appleProfile(account: ProfileAccount, host: string, endpoints: ClientEndpoint[]): string | null {
  const incoming = preferred(endpoints, 'imap') ?? preferred(endpoints, 'pop3');
  const outgoing = preferred(endpoints, 'smtp');
  if (!incoming || !outgoing) return null;
  const reversedHost = host.split('.').reverse().join('.');
  const id = (part: string) => nameUuid(`postfach:${host}:${account.address}:${part}`);
  const mail: PlistValue = {
    EmailAccountDescription: account.address,
    EmailAccountName: account.displayName || account.address,
    EmailAccountType: incoming.protocol === 'imap' ? 'EmailTypeIMAP' : 'EmailTypePOP',
    EmailAddress: account.address,
    IncomingMailServerAuthentication: 'EmailAuthPassword',
    IncomingMailServerHostName: host,
    IncomingMailServerPortNumber: incoming.port,
    IncomingMailServerUseSSL: true,
    IncomingMailServerUsername: account.address,
    OutgoingMailServerAuthentication: 'EmailAuthPassword',
    OutgoingMailServerHostName: host,
    OutgoingMailServerPortNumber: outgoing.port,
    OutgoingMailServerUseSSL: true,
    OutgoingMailServerUsername: account.address,
    OutgoingPasswordSameAsIncomingPassword: true,
    PayloadDescription: `Mail account ${account.address}`,
    PayloadDisplayName: account.address,
    PayloadIdentifier: `${reversedHost}.postfach.mail.${id('mail')}`,
    PayloadType: 'com.apple.mail.managed',
    PayloadUUID: id('mail'),
    PayloadVersion: 1
  };
  const profile: PlistValue = {
    PayloadContent: [mail],
    PayloadDescription: `Sets up the mail account ${account.address} on ${host}.`,
    PayloadDisplayName: `Mail ${account.address}`,
    PayloadIdentifier: `${reversedHost}.postfach.${id('profile')}`,
    PayloadRemovalDisallowed: false,
    PayloadType: 'Configuration',
    PayloadUUID: id('profile'),
    PayloadVersion: 1
  };
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    plistValue(profile, ''),
    '</plist>',
    ''
  ].join('\n');
}
