// TCP listeners for the line protocols (IMAP, POP3): plain or implicit TLS (RFC 8314), connections in all and per
// client address counted across every listener that shares one ConnectionCount.
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log/logger.js';
import type { Metrics, ServiceName } from '../metrics/metrics.js';
import type { TlsMaterial } from '../tls/material.js';

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
}

/** Open connections of one protocol (shared by its plain and TLS listener), in all and by client address. */
export class ConnectionCount {
  private total = 0;
  private readonly perIp = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  /** Counts the connection in; false (and not counted) when a limit is reached. */
  admit(ip: string): boolean {
    const count = this.perIp.get(ip) ?? 0;
    if (this.total >= this.limits.maxConnections || count >= this.limits.maxConnectionsPerIp) return false;
    this.total++;
    this.perIp.set(ip, count + 1);
    return true;
  }

  release(ip: string): void {
    this.total--;
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }

  of(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }
}

export interface LineListener {
  listen(port: number, host: string): Promise<number>;
  /** stops accepting and waits for `shutdown` to end the open sessions */
  close(): Promise<void>;
  readonly server: net.Server;
}

export interface LineListenerOptions {
  implicitTls: boolean;
  tls: TlsMaterial;
  log: Logger;
  /** counts connections under this service name */
  metrics: Metrics;
  service: ServiceName;
  connections: ConnectionCount;
  /** written to a connection refused by a limit before it is closed */
  refusal: string;
  /** a connection within the limits; `secure` when it is TLS from the first byte */
  accept(socket: net.Socket | tls.TLSSocket, secure: boolean): void;
  /** ends every open session at close() (after the command each is running, if any) */
  shutdown(): Promise<unknown>;
}

/** What listenOn() binds: a net.Server or smtp-server's SMTPServer. */
interface Bindable {
  listen(port: number, host: string, callback: () => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
}

/** Binds `server` to `host`:`port` and resolves with the port it got (port 0 picks a free one). */
export function listenOn(server: Bindable, port: number, host: string, address: () => net.AddressInfo | string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** The client address as sessions log and count it (IPv4-mapped IPv6 shown as IPv4). */
export function clientAddress(socket: net.Socket): string {
  return (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

export function createLineListener(options: LineListenerOptions): LineListener {
  const { log, connections } = options;
  const accept = (socket: net.Socket | tls.TLSSocket, secure: boolean) => {
    const ip = clientAddress(socket);
    if (!connections.admit(ip)) {
      log.info({ ip, connections: connections.of(ip) }, 'connection refused: limit');
      socket.on('error', () => undefined);
      socket.end(options.refusal);
      return;
    }
    socket.once('close', () => connections.release(ip));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    options.accept(socket, secure);
  };

  let detach = () => {};
  let server: net.Server;
  if (options.implicitTls) {
    const tlsServer = tls.createServer(options.tls.serverOptions(), (socket) => accept(socket, true));
    tlsServer.on('tlsClientError', (err) => log.debug({ err }, 'TLS handshake failed'));
    // RFC 8314 §3: implicit TLS from the first byte, with whatever certificate is current at that handshake
    detach = options.tls.attach(tlsServer);
    server = tlsServer;
  } else server = net.createServer((socket) => accept(socket, false));
  server.on('error', (err) => log.error({ err }, 'listener error'));
  options.metrics.trackConnections(server, options.service);

  return {
    server,
    listen: (port, host) => listenOn(server, port, host, () => server.address()),
    close: async () => {
      detach();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await options.shutdown();
      await closed;
    }
  };
}

/** What a session listens for on its socket. */
export interface SocketHandlers {
  data(chunk: Buffer): void;
  error(err: Error): void;
  close(): void;
}

/**
 * Attaches a session's handlers and returns the function that removes exactly these: the listener's own handlers on
 * the same socket (the connection count's release, the metrics gauge) must stay until the connection really ends.
 */
export function attachSession(socket: net.Socket | tls.TLSSocket, handlers: SocketHandlers): () => void {
  const data = (chunk: Buffer) => handlers.data(chunk);
  const error = (err: Error) => handlers.error(err);
  const close = () => handlers.close();
  socket.on('data', data);
  socket.on('error', error);
  socket.on('close', close);
  return () => {
    socket.off('data', data);
    socket.off('error', error);
    socket.off('close', close);
  };
}

/**
 * STARTTLS (IMAP, RFC 9051 §6.2.1) and STLS (POP3, RFC 2595 §4): the plain socket becomes a TLS server socket. The
 * session's handlers come off the plain socket first (`detach`, from attachSession) and anything read ahead of the
 * handshake is discarded (a command injected before it, CVE-2011-0411). `ready` settles when the handshake finished
 * or failed. The plain socket still closes with the connection, so what the listener counts on it is given back.
 */
export function upgradeToTls(plain: net.Socket, material: TlsMaterial, detach: () => void): { socket: tls.TLSSocket; ready: Promise<void> } {
  detach();
  // the certificate current at this handshake (it is swapped when the files change or ACME renews it)
  const socket = new tls.TLSSocket(plain, { isServer: true, secureContext: material.secureContext() });
  const ready = new Promise<void>((resolve) => {
    socket.once('secure', () => resolve());
    socket.once('error', () => resolve());
    socket.once('close', () => resolve());
  });
  return { socket, ready };
}
