// POP3 listeners: port 110-style with STLS (RFC 2595) and 995-style implicit TLS (RFC 8314), with connection limits.
import { LoginLimiter } from '../auth/rate-limit.js';
import { ConnectionCount, createLineListener, type LineListener } from '../net/listener.js';
import type { Services } from '../services.js';
import { COMMANDS } from './commands/index.js';
import { Pop3Session, STALE_LOCK_MS, type Pop3Context } from './session.js';

/** What the POP3 and POP3S listeners of one process share: sessions, maildrop locks, connection counts. */
export interface Pop3Shared {
  sessions: Set<Pop3Session>;
  locks: Map<number, Pop3Session>;
  connections: ConnectionCount;
}

export function pop3Shared(services: Services): Pop3Shared {
  return { sessions: new Set(), locks: new Map(), connections: new ConnectionCount(services.config.pop3) };
}

export interface Pop3Server extends LineListener {
  readonly context: Pop3Context;
}

export function createPop3Server(services: Services, options: { implicitTls: boolean; limiter?: LoginLimiter; shared?: Pop3Shared; staleLockMs?: number }): Pop3Server {
  const log = services.log.child({ module: options.implicitTls ? 'pop3s' : 'pop3' });
  const shared = options.shared ?? pop3Shared(services);
  const context: Pop3Context = {
    services,
    limiter: options.limiter ?? new LoginLimiter(),
    log,
    sessions: shared.sessions,
    locks: shared.locks,
    staleLockMs: options.staleLockMs ?? STALE_LOCK_MS
  };
  const listener = createLineListener({
    implicitTls: options.implicitTls,
    tls: services.tls,
    log,
    metrics: services.metrics,
    service: options.implicitTls ? 'pop3s' : 'pop3',
    connections: shared.connections,
    // RFC 2449 §8 / RFC 3206: a temporary refusal; the client tries again later
    refusal: '-ERR [SYS/TEMP] Too many connections, try again later\r\n',
    accept(socket, secure) {
      const session = new Pop3Session(context, socket, COMMANDS, secure);
      context.sessions.add(session);
      session.greet();
    },
    // RFC 1939 §6: a connection closed without QUIT deletes nothing
    async shutdown() {
      for (const session of context.sessions) session.kick('Server shutting down', 'SYS/TEMP');
    }
  });
  return { context, server: listener.server, listen: listener.listen, close: listener.close };
}
