// What the MX and submission listeners share: concurrent connections per client address, the recipient limit, the
// DATA refusals of the spool, settling smtp-server callbacks and counting refusals, the current TLS certificate,
// listen and the graceful close.
import type { Socket } from 'node:net';
import type { SMTPServer, SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { Metrics, ServiceName } from '../metrics/metrics.js';
import type { TlsMaterial } from '../tls/material.js';
import { listenOn } from '../net/listener.js';
import { REPLIES, SmtpError, smtpError } from './replies.js';
import { sendShuttingDown, startDraining } from './smtp-server-patches.js';
import type { SpooledMessage } from './spool.js';

/**
 * Settles an smtp-server callback from a promise: an SmtpError is the reply as it is, anything else a fault that
 * `fault` logs and turns into a temporary local error.
 */
export function settle<T>(work: Promise<T>, callback: (err?: Error | null, value?: T) => void, fault: (err: unknown) => SmtpError, refuse: (err: SmtpError) => SmtpError = (err) => err): void {
  work.then(
    (value) => callback(null, value),
    (err) => callback(refuse(err instanceof SmtpError ? err : fault(err)))
  );
}

/** Counts a refusal by listener and reply name on its way to the client. */
export function refusalCounter(metrics: Metrics, service: ServiceName): (err: SmtpError) => SmtpError {
  return (err) => {
    metrics.smtpRefused(service, err.reason, err.responseCode);
    return err;
  };
}

/**
 * RFC 5321 §4.5.3.1.10: the recipient limit, counted here (not by smtp-server) so the reply comes from the table;
 * a repeated address adds nobody.
 */
export function recipientLimitReached(session: SMTPServerSession, address: SMTPServerAddress, max: number): boolean {
  const rcpts = session.envelope.rcptTo;
  const repeated = rcpts.some((r) => r.address.toLowerCase() === address.address.toLowerCase());
  return !repeated && rcpts.length >= max;
}

/** The refusal for a spooled DATA that broke the size limit or a content rule; null when it is fine. */
export function spoolRefusal(stream: SMTPServerDataStream, spool: SpooledMessage, maxLineLength: number): SmtpError | null {
  if (stream.sizeExceeded) return smtpError('messageTooBig');
  if (!spool.violation) return null;
  const reply = REPLIES[spool.violation];
  // the table states the RFC limit; name the configured one when it differs
  return new SmtpError(spool.violation === 'lineTooLong' ? { ...reply, text: reply.text.replace('998', String(maxLineLength)) } : reply, undefined, spool.violation);
}

export interface SmtpListener {
  server: SMTPServer;
  listen(port: number, host: string): Promise<number>;
  /**
   * Graceful stop: no new connections; sessions without a transaction get 421 now, a transaction in progress may
   * finish (its 250 is sent) and then gets 421; whatever still runs after `shutdownMs` gets 421 and is closed.
   */
  close(): Promise<void>;
}

export interface SmtpListenerOptions {
  service: ServiceName;
  tls: TlsMaterial;
  metrics: Metrics;
  /** how long close() lets transactions in progress finish */
  shutdownMs: number;
}

/** Sockets that ignore our 421 and keep their side open are destroyed this long after the grace period. */
const HANG_UP_MS = 2000;

export function smtpListener(server: SMTPServer, options: SmtpListenerOptions): SmtpListener {
  const sockets = new Set<Socket>();
  server.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  options.metrics.trackConnections(server.server, options.service);
  // every handshake from now on (STARTTLS and implicit TLS) takes the current certificate
  const detach = options.tls.onChange((material) => server.updateSecureContext(material.serverOptions()));
  let closing: Promise<void> | null = null;
  return {
    server,
    listen: (port, host) => listenOn(server, port, host, () => server.server.address()),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        detach();
        const timers: NodeJS.Timeout[] = [];
        server.server.close(() => {
          for (const timer of timers) clearTimeout(timer);
          resolve();
        });
        // connections still in the PROXY header or TLS handshake have no session that could finish
        for (const socket of server._pendingSockets.values()) socket.destroy();
        startDraining(server);
        timers.push(
          setTimeout(() => {
            for (const connection of [...server.connections]) sendShuttingDown(connection);
          }, options.shutdownMs),
          setTimeout(() => {
            for (const socket of sockets) socket.destroy();
          }, options.shutdownMs + HANG_UP_MS)
        );
      }))
  };
}

export class ConnectionCounter {
  private readonly perIp = new Map<string, number>();
  private readonly counted = new Set<string>();

  constructor(private readonly maxPerIp: number) {}

  /** Counts the session in; false (and not counted) when its address already has the maximum. */
  admit(session: SMTPServerSession): boolean {
    const ip = session.remoteAddress;
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp) return false;
    this.perIp.set(ip, n + 1);
    this.counted.add(session.id);
    return true;
  }

  /** Current connections of an address (for the log line of a refusal). */
  of(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  release(session: SMTPServerSession): void {
    if (!this.counted.delete(session.id)) return;
    const ip = session.remoteAddress;
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }
}
