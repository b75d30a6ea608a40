// IMAP listeners: port 143-style with STARTTLS and 993-style implicit TLS (RFC 8314), with connection limits.
import net from 'node:net';
import tls from 'node:tls';
import type { Services } from '../services.js';
import { LoginLimiter } from '../auth/rate-limit.js';
import { COMMANDS } from './commands/index.js';
import { ImapSession, type ImapContext } from './session.js';

export interface ImapServer {
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting and ends every session with BYE (after the command it is running, if any). */
  close(): Promise<void>;
  readonly context: ImapContext;
  readonly server: net.Server;
}

/** How long a stop lets a running command (APPEND, COPY, a large FETCH) finish before the BYE. */
const COMMAND_GRACE_MS = 10_000;

export function createImapServer(services: Services, options: { implicitTls: boolean; limiter?: LoginLimiter; sessions?: Set<ImapSession> }): ImapServer {
  const log = services.log.child({ module: options.implicitTls ? 'imaps' : 'imap' });
  const context: ImapContext = { services, limiter: options.limiter ?? new LoginLimiter(), log, sessions: options.sessions ?? new Set() };
  const limits = services.config.imap;
  const perIp = new Map<string, number>();

  const accept = (socket: net.Socket | tls.TLSSocket, secure: boolean) => {
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const count = perIp.get(ip) ?? 0;
    if (context.sessions.size >= limits.maxConnections || count >= limits.maxConnectionsPerIp) {
      log.info({ ip, connections: count }, 'connection refused: limit');
      socket.end('* BYE Too many connections, try again later\r\n');
      return;
    }
    perIp.set(ip, count + 1);
    socket.once('close', () => {
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const session = new ImapSession(context, socket, COMMANDS as Map<string, never>, secure);
    context.sessions.add(session);
    session.greet();
  };

  let detach = () => {};
  let server: net.Server;
  if (options.implicitTls) {
    const tlsServer = tls.createServer(services.tls.serverOptions(), (socket) => accept(socket, true));
    tlsServer.on('tlsClientError', (err) => log.debug({ err }, 'TLS handshake failed'));
    // RFC 8314 §3: implicit TLS from the first byte, with whatever certificate is current at that handshake
    detach = services.tls.attach(tlsServer);
    server = tlsServer;
  } else server = net.createServer((socket) => accept(socket, false));
  server.on('error', (err) => log.error({ err }, 'imap server error'));
  services.metrics.trackConnections(server, options.implicitTls ? 'imaps' : 'imap');

  return {
    context,
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        });
      }),
    close: async () => {
      detach();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // RFC 9051 §7.1.5: BYE tells the client the server is closing the connection
      await Promise.all([...context.sessions].map((session) => session.shutdown('Server shutting down', COMMAND_GRACE_MS)));
      await closed;
    }
  };
}
