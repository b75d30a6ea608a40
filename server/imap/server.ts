// IMAP listeners: port 143-style with STARTTLS and 993-style implicit TLS (RFC 8314), with connection limits.
import type { Services } from '../services.js';
import { LoginLimiter } from '../auth/rate-limit.js';
import { ConnectionCount, createLineListener } from '../net/listener.js';
import { COMMANDS } from './commands/index.js';
import { ImapSession, type ImapContext } from './session.js';

export interface ImapServer {
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
  readonly context: ImapContext;
}

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
    connections: options.connections ?? new ConnectionCount(services.config.imap),
    refusal: '* BYE Too many connections, try again later\r\n',
    accept(socket, secure) {
      const session = new ImapSession(context, socket, COMMANDS as Map<string, never>, secure);
      context.sessions.add(session);
      session.greet();
    },
    shutdown() {
      for (const session of context.sessions) session.bye('Server shutting down');
    }
  });
  return { context, listen: listener.listen, close: listener.close };
}
