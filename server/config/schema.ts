// The configuration schema: one list gives validation, defaults, environment variable names and the documented example.
import os from 'node:os';

export type SettingType = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'hostPortList' | 'domainList' | 'enum';

export interface Setting {
  /** dotted key as written in the config file, e.g. `smtp.port` */
  key: string;
  type: SettingType;
  default: unknown;
  description: string;
  /** inclusive bounds for integers and numbers */
  min?: number;
  max?: number;
  /** allowed values for enums */
  values?: readonly string[];
  /** environment variable when it is not the one envName(key) gives */
  env?: string;
}

/** Environment variable for a key: `smtp.maxMessageSize` -> `POSTFACH_SMTP_MAX_MESSAGE_SIZE` (`-` in plugin names -> `_`). */
export function envName(key: string): string {
  return 'POSTFACH_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[.-]/g, '_').toUpperCase();
}

/** The environment variable a setting is read from. */
export const settingEnv = (setting: Setting): string => setting.env ?? envName(setting.key);

const port = (key: string, def: number, what: string): Setting => ({
  key,
  type: 'integer',
  default: def,
  min: -1,
  max: 65535,
  description: `${what} (0 = any free port, -1 = disabled)`
});

/** The port mail clients are told, where a port mapping (Docker, a NAT) puts the listener at another number outside. */
const publicPort = (listener: string, what: string): Setting => ({
  key: `${listener}.publicPort`,
  type: 'integer',
  default: 0,
  min: 0,
  max: 65535,
  description: `Port of ${what} as mail clients reach it, when a port mapping (Docker -p, NAT) makes it differ from ${listener}.port: named in autoconfiguration, the Apple profile, the SRV records and the setup page (0 = ${listener}.port as bound)`
});

export const settings: readonly Setting[] = [
  { key: 'hostname', type: 'string', default: os.hostname(), description: 'Host name this server announces in SMTP greetings, Received headers and DNS suggestions' },
  { key: 'dataDir', type: 'string', default: './data', description: 'Folder for the SQLite database, message blobs, spool and generated TLS certificate' },
  { key: 'bind', type: 'string', default: '0.0.0.0', description: 'Address every listener binds to' },
  { key: 'shutdownTimeout', type: 'integer', default: 30, min: 1, max: 3600, description: 'Seconds SIGTERM waits for SMTP transactions and outbound deliveries in progress before closing them (421)' },
  { key: 'log.level', type: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'pino log level' },

  port('smtp.port', 2525, 'MX port for inbound mail (25 in production)'),
  { key: 'smtp.maxMessageSize', type: 'integer', default: 25 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024, description: 'Largest accepted message in bytes, advertised with SIZE (RFC 1870)' },
  { key: 'smtp.maxRecipients', type: 'integer', default: 100, min: 1, max: 10000, description: 'Recipients per message; RFC 5321 §4.5.3.1.8 requires at least 100' },
  { key: 'smtp.maxLineLength', type: 'integer', default: 998, min: 998, max: 1024 * 1024, description: 'Longest message line in octets without CRLF (RFC 5321 §4.5.3.1.6 sets 998)' },
  { key: 'smtp.maxConnections', type: 'integer', default: 500, min: 1, max: 100000, description: 'Concurrent MX connections in all' },
  { key: 'smtp.maxConnectionsPerIp', type: 'integer', default: 20, min: 1, max: 100000, description: 'Concurrent MX connections from one client address' },
  { key: 'smtp.trustedArcSealers', type: 'domainList', default: [], description: 'Domains whose ARC seals may override a failing DMARC policy (RFC 8617 §7.2); empty = the mailauth community list, "none" = trust no sealer' },
  { key: 'smtp.socketTimeout', type: 'integer', default: 300, min: 5, max: 3600, description: 'Seconds of client silence before the MX drops the connection (RFC 5321 §4.5.3.2.7 suggests 5 minutes)' },

  port('submission.port', 1587, 'Submission port with STARTTLS (587 in production)'),
  publicPort('submission', 'submission with STARTTLS'),
  port('submissions.port', 1465, 'Submission port with implicit TLS (465 in production)'),
  publicPort('submissions', 'submission with implicit TLS'),
  port('imap.port', 1143, 'IMAP port with STARTTLS (143 in production)'),
  publicPort('imap', 'IMAP with STARTTLS'),
  port('imaps.port', 1993, 'IMAP port with implicit TLS (993 in production)'),
  publicPort('imaps', 'IMAP with implicit TLS'),
  { key: 'imap.maxConnections', type: 'integer', default: 10000, min: 1, max: 1000000, description: 'Concurrent IMAP connections in all' },
  { key: 'imap.maxConnectionsPerIp', type: 'integer', default: 100, min: 1, max: 1000000, description: 'Concurrent IMAP connections from one client address (an office behind one NAT address has several clients)' },
  { key: 'imap.idleTimeout', type: 'integer', default: 1800, min: 60, max: 86400, description: 'Seconds an IMAP session may stay silent; RFC 9051 §5.4 asks for at least 30 minutes' },
  { key: 'imap.appendLimit', type: 'integer', default: 64 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024, description: 'Largest message APPEND accepts, advertised as APPENDLIMIT (RFC 7889)' },
  { key: 'imap.plaintextLogin', type: 'enum', default: 'loopback', values: ['never', 'loopback', 'always'], description: 'Whether LOGIN/AUTHENTICATE work without TLS: never (LOGINDISABLED until STARTTLS), only from loopback addresses, or always' },
  port('pop3.port', 1110, 'POP3 port with STLS (110 in production)'),
  publicPort('pop3', 'POP3 with STLS'),
  port('pop3s.port', 1995, 'POP3 port with implicit TLS (995 in production)'),
  publicPort('pop3s', 'POP3 with implicit TLS'),
  { key: 'pop3.maxConnections', type: 'integer', default: 1000, min: 1, max: 1000000, description: 'Concurrent POP3 connections in all (POP3 and POP3S together)' },
  { key: 'pop3.maxConnectionsPerIp', type: 'integer', default: 50, min: 1, max: 1000000, description: 'Concurrent POP3 connections from one client address' },
  { key: 'pop3.idleTimeout', type: 'integer', default: 600, min: 1, max: 86400, description: 'Seconds a POP3 session may stay silent before it is closed without deleting anything; RFC 1939 §3 asks for at least 10 minutes (600)' },
  { key: 'pop3.plaintextLogin', type: 'enum', default: 'loopback', values: ['never', 'loopback', 'always'], description: 'Whether USER/PASS and AUTH work without TLS: never (STLS first), only from loopback addresses, or always (as imap.plaintextLogin)' },
  port('http.port', 8080, 'Admin API and UI port'),
  { key: 'http.tls', type: 'boolean', default: false, description: 'Serve the admin API and UI over HTTPS with the server certificate (session cookies are then marked Secure)' },
  { key: 'http.trustProxy', type: 'boolean', default: false, description: 'Behind a reverse proxy on the same box: take the client address and https from X-Forwarded-For/-Proto, trusting only the loopback hop (the address the proxy saw, not one the client wrote); /metrics then needs http.metricsToken' },
  { key: 'http.sessionIdleTimeout', type: 'integer', default: 1800, min: 60, max: 86400, description: 'Seconds without a request after which an admin login session ends' },
  { key: 'http.metricsToken', type: 'string', default: '', description: 'Bearer token Prometheus sends for GET /metrics; empty = /metrics answers loopback clients only' },
  { key: 'http.sessionMaxAge', type: 'integer', default: 43200, min: 300, max: 2592000, description: 'Seconds after login after which an admin session ends whatever the activity' },

  { key: 'tls.cert', type: 'string', default: '', description: 'PEM certificate chain file; empty = a self-signed certificate generated in the data folder at first start' },
  { key: 'tls.key', type: 'string', default: '', description: 'PEM private key file belonging to tls.cert' },
  { key: 'tls.watchInterval', type: 'integer', default: 60, min: 1, max: 86400, description: 'Seconds between checks whether tls.cert/tls.key changed (file events reload them at once where the file system reports them)' },

  { key: 'acme.enabled', type: 'boolean', default: false, description: 'Get and renew the certificate for hostname from an ACME CA (Let\'s Encrypt) with HTTP-01; enabling it accepts the CA\'s terms of service' },
  { key: 'acme.email', type: 'string', default: '', description: 'Contact address for the ACME account (expiry warnings from the CA); empty = none' },
  { key: 'acme.directoryUrl', type: 'string', default: 'https://acme-v02.api.letsencrypt.org/directory', description: 'ACME directory; Let\'s Encrypt staging for trials: https://acme-staging-v02.api.letsencrypt.org/directory' },
  { key: 'acme.httpPort', type: 'integer', default: -1, min: -1, max: 65535, description: 'Plain HTTP port answering ACME HTTP-01 challenges (80 in production) and redirecting other requests to the admin UI; -1 = answer them on http.port (then plain HTTP)' },
  { key: 'acme.renewBefore', type: 'integer', default: 30, min: 1, max: 89, description: 'Days before expiry at which the certificate is renewed' },
  { key: 'acme.caFile', type: 'string', default: '', description: 'PEM file of CA certificates to trust for the ACME directory\'s HTTPS (a private ACME CA); empty = the system\'s' },

  { key: 'dns.servers', type: 'hostPortList', default: [], description: 'DNS servers as host:port list (comma separated in the environment); empty = the system resolvers' },
  { key: 'dns.timeout', type: 'integer', default: 5000, min: 100, max: 60000, description: 'Milliseconds one DNS query may take' },

  { key: 'queue.remotePort', type: 'integer', default: 25, min: 1, max: 65535, description: 'Port remote mail servers are delivered to (25; only tests and unusual networks change it)' },
  { key: 'queue.maxAge', type: 'integer', default: 5 * 24 * 3600, min: 60, max: 30 * 24 * 3600, description: 'Seconds a message is retried before it bounces (RFC 5321 section 4.5.4.1 suggests 4-5 days)' },
  { key: 'queue.retryDelay', type: 'integer', default: 300, min: 1, max: 86400, description: 'Seconds before the first retry after a temporary failure; each further retry waits twice as long' },
  { key: 'queue.retryMaxDelay', type: 'integer', default: 4 * 3600, min: 1, max: 7 * 86400, description: 'Longest wait between two retries, in seconds' },
  { key: 'queue.concurrency', type: 'integer', default: 10, min: 1, max: 1000, description: 'Queue entries delivered at the same time' },
  { key: 'queue.connectTimeout', type: 'integer', default: 30, min: 1, max: 600, description: 'Seconds to wait for a remote mail server to accept the connection before trying the next one' },
  { key: 'queue.relay', type: 'string', default: '', description: 'Smarthost as host:port that takes all outbound mail (for networks where port 25 is blocked); empty = deliver to each domain\'s MX' },
  { key: 'queue.relaySecurity', type: 'enum', default: 'starttls', values: ['starttls', 'tls', 'none'], description: 'How to talk to the smarthost: STARTTLS required, implicit TLS, or plain (only on a trusted network)' },
  { key: 'queue.relayUser', type: 'string', default: '', description: 'User name for the smarthost (AUTH PLAIN/LOGIN); empty = no authentication' },
  { key: 'queue.relayPassword', type: 'string', default: '', description: 'Password for queue.relayUser; never logged' },

  { key: 'import.concurrency', type: 'integer', default: 2, min: 1, max: 50, description: 'Import jobs (from other providers over IMAP) running at once; never two of one account' },
  { key: 'import.syncInterval', type: 'integer', default: 300, min: 1, max: 86400, description: 'Seconds between two fetches of new mail for an import with repeating sync turned on' },
  { key: 'import.retryDelay', type: 'integer', default: 60, min: 1, max: 3600, description: 'Seconds before an import whose connection broke tries again; doubles per failure up to an hour, 10 failures in a row fail the job' },
  { key: 'import.connectTimeout', type: 'integer', default: 30, min: 1, max: 300, description: 'Seconds an import waits for the old server to connect and greet' },
  {
    key: 'plugins.enabled',
    type: 'list',
    default: [],
    env: 'POSTFACH_PLUGINS',
    description:
      'Plugins to load, in this order: a bundled one (dnsbl, greylist, rspamd, limits, example), a path to a plugin file or folder (relative to the working folder), or an npm package name; comma separated in the environment. Each plugin reads its own section plugins.<name>.* (see README "Plugins")'
  },
  { key: 'plugins.timeout', type: 'integer', default: 30000, min: 10, max: 600000, description: 'Milliseconds a plugin hook may take before it counts as failed (a temporary 4xx reply, never a lost message); plugins.<name>.timeout sets it per plugin' },

  { key: 'owner.email', type: 'string', default: '', description: 'At first start (no owner yet): create the owner admin user with this address' },
  { key: 'owner.password', type: 'string', default: '', description: 'Password for owner.email; used only at first start, never logged' },
  { key: 'accounts.defaultQuota', type: 'integer', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, description: 'Quota in bytes for new accounts (0 = unlimited)' },
  { key: 'accounts.passwordMinLength', type: 'integer', default: 10, min: 8, max: 128, description: 'Shortest allowed account password' }
];

export const settingsByKey: ReadonlyMap<string, Setting> = new Map(settings.map((s) => [s.key, s]));

/** Whether a mail login may travel without TLS: never, only from loopback addresses, or always. */
export type PlaintextLogin = 'never' | 'loopback' | 'always';

/** The typed configuration object every service receives. */
export interface Config {
  hostname: string;
  dataDir: string;
  bind: string;
  shutdownTimeout: number;
  log: { level: string };
  smtp: {
    port: number;
    maxMessageSize: number;
    maxRecipients: number;
    maxLineLength: number;
    maxConnections: number;
    maxConnectionsPerIp: number;
    socketTimeout: number;
    trustedArcSealers: string[];
  };
  submission: { port: number; publicPort: number };
  submissions: { port: number; publicPort: number };
  imap: { port: number; publicPort: number; maxConnections: number; maxConnectionsPerIp: number; idleTimeout: number; appendLimit: number; plaintextLogin: PlaintextLogin };
  imaps: { port: number; publicPort: number };
  pop3: { port: number; publicPort: number; maxConnections: number; maxConnectionsPerIp: number; idleTimeout: number; plaintextLogin: PlaintextLogin };
  pop3s: { port: number; publicPort: number };
  http: { port: number; tls: boolean; trustProxy: boolean; metricsToken: string; sessionIdleTimeout: number; sessionMaxAge: number };
  tls: { cert: string; key: string; watchInterval: number };
  acme: { enabled: boolean; email: string; directoryUrl: string; httpPort: number; renewBefore: number; caFile: string };
  dns: { servers: string[]; timeout: number };
  queue: {
    remotePort: number;
    maxAge: number;
    retryDelay: number;
    retryMaxDelay: number;
    concurrency: number;
    connectTimeout: number;
    relay: string;
    relaySecurity: 'starttls' | 'tls' | 'none';
    relayUser: string;
    relayPassword: string;
  };
  accounts: { defaultQuota: number; passwordMinLength: number };
  import: { concurrency: number; syncInterval: number; retryDelay: number; connectTimeout: number };
  owner: { email: string; password: string };
  plugins: {
    enabled: string[];
    timeout: number;
    /** raw `plugins.<name>.*` values from the file and overrides, by plugin name; each plugin validates its own */
    sections: Record<string, Record<string, unknown>>;
    /** POSTFACH_PLUGINS_<NAME>_<KEY> variables, validated by the plugin they name */
    environment: Record<string, string>;
  };
}
