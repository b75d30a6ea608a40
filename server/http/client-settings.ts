// What a mail client needs to connect to an account: servers, ports, encryption, user name (the full address).
import { displayAddress } from '../directory/address.js';
import type { ClientListener, ClientListeners } from '../dns/records.js';

export type ClientProtocol = 'imap' | 'pop3' | 'smtp';
/** STARTTLS on a plain port, or TLS from the first byte (RFC 8314 prefers the latter) */
export type ClientSecurity = 'starttls' | 'tls';

export interface ClientEndpoint {
  protocol: ClientProtocol;
  port: number;
  security: ClientSecurity;
}

export interface ClientServer extends ClientEndpoint {
  host: string;
  username: string;
  /** how the password is sent: inside the TLS channel, as typed */
  authentication: 'password-normal';
}

export interface ClientSettings {
  address: string;
  username: string;
  incoming: ClientServer[];
  outgoing: ClientServer[];
}

/** Listener names of the app (as in Listening) and what each offers a mail client. */
export const LISTENER_ENDPOINTS: Record<ClientListener, Omit<ClientEndpoint, 'port'>> = {
  imaps: { protocol: 'imap', security: 'tls' },
  imap: { protocol: 'imap', security: 'starttls' },
  pop3s: { protocol: 'pop3', security: 'tls' },
  pop3: { protocol: 'pop3', security: 'starttls' },
  submissions: { protocol: 'smtp', security: 'tls' },
  submission: { protocol: 'smtp', security: 'starttls' }
};

/** The configured public port of each client listener (0 = as bound). */
export type PublicPorts = Record<ClientListener, { publicPort: number }>;

/**
 * The client-facing endpoints among bound listeners, implicit TLS first (RFC 8314 §3), each with the port clients
 * reach it at: its publicPort where a port mapping moves it, else the bound one.
 */
export function endpointsOf(listening: Record<string, number | undefined>, config: PublicPorts): ClientEndpoint[] {
  return (Object.entries(LISTENER_ENDPOINTS) as Array<[ClientListener, Omit<ClientEndpoint, 'port'>]>).flatMap(([name, endpoint]) =>
    listening[name] === undefined ? [] : [{ ...endpoint, port: config[name].publicPort || listening[name]! }]
  );
}

/** Every client listener with its bound port, or null when it does not run: what the DNS records page publishes. */
export function listenerPorts(endpoints: ClientEndpoint[]): ClientListeners {
  return Object.fromEntries(
    Object.entries(LISTENER_ENDPOINTS).map(([name, e]) => [name, endpoints.find((x) => x.protocol === e.protocol && x.security === e.security)?.port ?? null])
  );
}

export function clientSettings(address: string, host: string, endpoints: ClientEndpoint[]): ClientSettings {
  // the ASCII form: every client can send it, and the login accepts it as well as the Unicode one
  const username = address;
  const server = (e: ClientEndpoint): ClientServer => ({ ...e, host, username, authentication: 'password-normal' });
  return {
    address: displayAddress(address),
    username,
    incoming: endpoints.filter((e) => e.protocol !== 'smtp').map(server),
    outgoing: endpoints.filter((e) => e.protocol === 'smtp').map(server)
  };
}
