// The old provider's IMAP server, through imapflow: connect (host resolved by our resolver, TLS / STARTTLS / none),
// log in, list folders with their counts; every failure becomes an error naming the field the owner has to fix.
import net from 'node:net';
import { ImapFlow, type ListResponse } from 'imapflow';
import type { DnsResolver } from '../dns/resolver.js';
import { DirectoryError } from '../directory/errors.js';
import type { RemoteFolder } from './mapping.js';

export type { Encryption, RemoteAccount } from '../api-types.js';
import type { Encryption, RemoteAccount } from '../api-types.js';

export interface RemoteOptions {
  resolver: DnsResolver;
  /** milliseconds for TCP/TLS connect and for the greeting */
  timeoutMs: number;
  /** largest literal accepted from the remote server (a guard against a hostile one) */
  maxLiteralSize: number;
  /** gives up connecting (a stop while the old server is slow to answer) */
  signal?: AbortSignal;
}

/** The remote server refused or could not be reached; `field` says what the owner should check. */
export class RemoteAccountError extends DirectoryError {
  constructor(field: 'host' | 'port' | 'encryption' | 'username' | 'password', rule: string, message: string) {
    super('invalid', field, rule, message);
    this.name = 'RemoteAccountError';
  }
}

export const defaultPort = (encryption: Encryption) => (encryption === 'tls' ? 993 : 143);

/** Codes of errors after which the connection is gone (the next pass reconnects and resumes). */
const CONNECTION_CODES = new Set([
  'NoConnection',
  'EConnectionClosed',
  'StateLogout',
  'ETIMEOUT',
  'CONNECT_TIMEOUT',
  'GREETING_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ClosedAfterConnectText',
  'ClosedAfterConnectTLS'
]);

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (err instanceof RemoteAccountError) return err.field !== 'password' && err.field !== 'username';
  return Boolean(e?.code && CONNECTION_CODES.has(e.code)) || /connection (closed|not available)|socket/i.test(e?.message ?? '');
}

const CERTIFICATE_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME_INVALID/;

/** What a failed connect or login means for the owner, naming the field to fix. */
export function explainFailure(err: unknown, account: Pick<RemoteAccount, 'host' | 'port' | 'encryption'>): RemoteAccountError {
  if (err instanceof RemoteAccountError) return err;
  const e = err as { code?: string; message?: string; authenticationFailed?: boolean; tlsFailed?: boolean; serverResponseCode?: string; responseText?: string; response?: unknown };
  const where = `${account.host}:${account.port}`;
  const code = e?.code ?? '';
  if (e?.authenticationFailed || e?.serverResponseCode === 'AUTHENTICATIONFAILED') {
    return new RemoteAccountError('password', 'login', `${account.host} refused the login: user name or password is wrong${e.responseText ? ` (${e.responseText})` : ''}`);
  }
  if (e?.serverResponseCode === 'PRIVACYREQUIRED' || /LOGINDISABLED|plaintext|cleartext/i.test(String(e?.responseText ?? e?.message ?? ''))) {
    return new RemoteAccountError('encryption', 'required', `${account.host} refuses logins without encryption: choose STARTTLS or TLS`);
  }
  if (CERTIFICATE_CODES.test(code)) {
    return new RemoteAccountError('encryption', 'certificate', `the certificate of ${account.host} is not trusted (${code}); import anyway only if you know this server (verifyCertificate: false)`);
  }
  if (code === 'ECONNREFUSED') return new RemoteAccountError('port', 'connect', `nothing accepts connections on port ${account.port} of ${account.host}`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new RemoteAccountError('host', 'reachable', `${account.host} cannot be reached from this server (${code})`);
  if (code === 'CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return new RemoteAccountError('host', 'reachable', `no answer from ${where} (connection timed out): check host and port, or a firewall`);
  if (code === 'GREETING_TIMEOUT' || code === 'ClosedAfterConnectText' || code === 'ClosedAfterConnectTLS' || code === 'NoConnection' || code === 'EConnectionClosed') {
    // connected, but no greeting: a plain client on a TLS port waits for a greeting the server never sends
    if (account.encryption !== 'tls') return new RemoteAccountError('encryption', 'greeting', `${where} gave no IMAP greeting without encryption: is this a TLS port (993 usually is)?`);
    return new RemoteAccountError('port', 'greeting', `${where} gave no IMAP greeting over TLS: is this the IMAPS port?`);
  }
  if (e?.tlsFailed || /^ERR_SSL|^EPROTO|ssl|tls/i.test(code) || /ssl|tls|wrong version/i.test(e?.message ?? '')) {
    const hint = account.encryption === 'tls' ? 'this port does not speak TLS; port 143 usually takes STARTTLS' : 'STARTTLS failed or is not offered; try TLS on port 993';
    return new RemoteAccountError('encryption', 'tls', `TLS with ${where} failed: ${hint} (${e?.message ?? code})`);
  }
  return new RemoteAccountError('host', 'imap', `${where}: ${e?.message ?? String(err)}`);
}

/** The addresses to try for the host: an IP literal as given, else A then AAAA records from our resolver. */
async function resolveHost(resolver: DnsResolver, host: string): Promise<string[]> {
  if (net.isIP(host)) return [host];
  if (host.toLowerCase() === 'localhost') return ['127.0.0.1'];
  const addresses: string[] = [];
  let lastError: unknown = null;
  for (const type of ['A', 'AAAA']) {
    try {
      addresses.push(...((await resolver.resolve(host, type)) as string[]));
    } catch (err) {
      lastError = err;
    }
  }
  if (addresses.length) return addresses;
  const code = (lastError as { code?: string })?.code;
  if (code === 'ENOTFOUND' || code === 'ENODATA' || code === undefined) throw new RemoteAccountError('host', 'resolve', `the host name ${host} does not exist (no A or AAAA record)`);
  throw new RemoteAccountError('host', 'resolve', `the host name ${host} could not be looked up (${code})`);
}

function client(account: RemoteAccount, address: string, options: RemoteOptions): ImapFlow {
  const imap = new ImapFlow({
    host: address,
    port: account.port,
    ...(net.isIP(account.host) ? {} : { servername: account.host }),
    secure: account.encryption === 'tls',
    doSTARTTLS: account.encryption === 'starttls' ? true : account.encryption === 'none' ? false : undefined,
    auth: { user: account.username, pass: account.password },
    tls: { rejectUnauthorized: account.verifyCertificate, minVersion: 'TLSv1.2' },
    // imapflow's own log would carry commands; ours says what happened without them (and never the password)
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    maxLiteralSize: options.maxLiteralSize,
    maxResponseSize: options.maxLiteralSize + 1024 * 1024,
    clientInfo: { name: 'Postfach import' }
  });
  // errors arrive through the pending command; an unhandled 'error' event would end the process
  imap.on('error', () => undefined);
  return imap;
}

/** A logged-in connection, or a RemoteAccountError naming the field to fix. */
export async function connectRemote(account: RemoteAccount, options: RemoteOptions): Promise<ImapFlow> {
  const addresses = await resolveHost(options.resolver, account.host);
  let failure: RemoteAccountError | null = null;
  for (const address of addresses.slice(0, 4)) {
    const imap = client(account, address, options);
    const abort = () => imap.close();
    options.signal?.addEventListener('abort', abort);
    try {
      await imap.connect();
      return imap;
    } catch (err) {
      imap.close();
      if (options.signal?.aborted) throw err;
      failure = explainFailure(err, account);
      // another address may answer; a refused login or a TLS problem would be the same there
      if (failure.field !== 'host' && failure.rule !== 'connect') break;
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
  }
  throw failure!;
}

const toRemoteFolder = (entry: ListResponse): RemoteFolder => ({
  path: entry.path,
  delimiter: entry.delimiter ?? '/',
  ...(entry.specialUse ? { specialUse: entry.specialUse, specialUseSource: entry.specialUseSource } : {}),
  flags: [...entry.flags],
  messages: entry.status?.messages ?? null,
  bytes: typeof entry.status?.size === 'number' ? entry.status.size : null
});

/** Every folder with its message count (and size where the server has STATUS=SIZE), plus the personal namespace prefix. */
export async function listRemoteFolders(imap: ImapFlow): Promise<{ folders: RemoteFolder[]; namespacePrefix: string }> {
  const entries = await imap.list({ statusQuery: { messages: true, size: true } });
  return { folders: entries.map(toRemoteFolder), namespacePrefix: imap.namespace?.prefix ?? '' };
}

/** Logs out politely, or just closes when the connection is already broken. */
export async function disconnect(imap: ImapFlow): Promise<void> {
  if (imap.usable) await imap.logout().catch(() => imap.close());
  else imap.close();
}
