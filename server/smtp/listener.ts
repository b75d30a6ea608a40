// What the MX and submission listeners share: concurrent connections per client address, the recipient limit, the
// DATA refusals of the spool, settling smtp-server callbacks, listen and close.
import type { SMTPServer, SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { REPLIES, SmtpError, smtpError } from './replies.js';
import type { SpooledMessage } from './spool.js';

/**
 * Settles an smtp-server callback from a promise: an SmtpError is the reply as it is, anything else a fault that
 * `fault` logs and turns into a temporary local error.
 */
export function settle<T>(work: Promise<T>, callback: (err?: Error | null, value?: T) => void, fault: (err: unknown) => SmtpError): void {
  work.then(
    (value) => callback(null, value),
    (err) => callback(err instanceof SmtpError ? err : fault(err))
  );
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
  return new SmtpError(spool.violation === 'lineTooLong' ? { ...reply, text: reply.text.replace('998', String(maxLineLength)) } : reply);
}

export interface SmtpListener {
  server: SMTPServer;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export function smtpListener(server: SMTPServer): SmtpListener {
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const addr = server.server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        });
      }),
    close: () => new Promise((resolve) => server.close(() => resolve()))
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
