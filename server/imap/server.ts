// IMAP listeners: port 143-style with STARTTLS and 993-style implicit TLS (RFC 8314), with connection limits.
import net from 'node:net';
import tls from 'node:tls';
import type { Services } from '../services.js';
import { LoginLimiter } from '../auth/rate-limit.js';
import { COMMANDS } from './commands/index.js';
import { ImapSession, type ImapContext } from './session.js';

export interface ImapServer {
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
  readonly context: ImapContext;
}

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

  const server = options.implicitTls
    ? tls.createServer({ key: services.tls.key, cert: services.tls.cert, minVersion: 'TLSv1.2' }, (socket) => accept(socket, true))
    : net.createServer((socket) => accept(socket, false));
  server.on('error', (err) => log.error({ err }, 'imap server error'));
  if (options.implicitTls) (server as tls.Server).on('tlsClientError', (err) => log.debug({ err }, 'TLS handshake failed'));

  return {
    context,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const session of context.sessions) session.bye('Server shutting down');
      })
  };
}
