// IMAP listeners: port 143-style with STARTTLS and 993-style implicit TLS (RFC 8314), with connection limits.
import type net from 'node:net';
import type { Services } from '../services.js';
import { LoginLimiter } from '../auth/rate-limit.js';
import { ConnectionCount, createLineListener } from '../net/listener.js';
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

export function createImapServer(
  services: Services,
  options: { implicitTls: boolean; limiter?: LoginLimiter; sessions?: Set<ImapSession>; connections?: ConnectionCount }
): ImapServer {
  const log = services.log.child({ module: options.implicitTls ? 'imaps' : 'imap' });
  const context: ImapContext = { services, limiter: options.limiter ?? new LoginLimiter(), log, sessions: options.sessions ?? new Set() };
  const listener = createLineListener({
    implicitTls: options.implicitTls,
    tls: services.tls,
    log,
    metrics: services.metrics,
    service: options.implicitTls ? 'imaps' : 'imap',
    connections: options.connections ?? new ConnectionCount(services.config.imap),
    refusal: '* BYE Too many connections, try again later\r\n',
    accept(socket, secure) {
      const session = new ImapSession(context, socket, COMMANDS as Map<string, never>, secure);
      context.sessions.add(session);
      session.greet();
    },
    // RFC 9051 §7.1.5: BYE tells the client the server is closing the connection
    shutdown: () => Promise.all([...context.sessions].map((session) => session.shutdown('Server shutting down', COMMAND_GRACE_MS)))
  });
  return { context, server: listener.server, listen: listener.listen, close: listener.close };
}
