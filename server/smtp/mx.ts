// The MX (RFC 5321 inbound on port 25): accepts mail for hosted addresses only, with limits on connections,
// recipients, size and line length, STARTTLS when a certificate exists, and 250 only after durable storage.
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { resolveRecipient, type RecipientVerdict } from '../directory/resolve.js';
import type { Services } from '../services.js';
import { deliverInbound } from './inbound.js';
import { newQueueId } from './headers.js';
import { REPLIES, SmtpError, smtpError } from './replies.js';
import { spoolMessage } from './spool.js';
import { installEnhancedCodePassThrough } from './enhanced-codes.js';
import { TLS_DEFAULTS } from '../tls/certificates.js';

/** The SIZE= the client declared in MAIL FROM (RFC 1870), 0 when none. */
function declaredSize(address: SMTPServerAddress): number {
  const args = address.args ? (address.args as Record<string, string>) : {};
  return Number(args.SIZE ?? 0) || 0;
}

type Accepted = Extract<RecipientVerdict, { status: 'accept' }>;

/** Spool threshold: messages up to this size never touch a temp file before their blob is written. */
const MEMORY_SPOOL = 1024 * 1024;

export interface MxServer {
  server: SMTPServer;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export function createMxServer(services: Services): MxServer {
  installEnhancedCodePassThrough();
  const { config, db } = services;
  const log = services.log.child({ module: 'smtp-mx' });
  const limits = config.smtp;
  const perIp = new Map<string, number>();
  const counted = new Set<string>();
  /** accepted recipients of the current transaction, keyed by the envelope object smtp-server renews per transaction */
  const accepted = new WeakMap<object, Accepted[]>();

  const sessionLog = (session: SMTPServerSession) => log.child({ cid: session.id, ip: session.remoteAddress });

  const server = new SMTPServer({
    name: config.hostname,
    banner: 'Postfach ESMTP',
    key: services.tls.key,
    cert: services.tls.cert,
    ...TLS_DEFAULTS,
    secure: false,
    size: limits.maxMessageSize,
    maxClients: limits.maxConnections,
    socketTimeout: limits.socketTimeout * 1000,
    closeTimeout: 5000, // on shutdown, sessions get this long to finish their transaction
    disabledCommands: ['AUTH'], // the MX takes no logins; submission does
    hideENHANCEDSTATUSCODES: false, // RFC 2034: advertised, so smtp-server's own replies carry codes like the table's
    authOptional: true,
    logger: false,
    resolver: {
      reverse: (ip: string, callback: (err: Error | null, hostnames?: string[]) => void) => {
        services.resolver.reverse(ip).then((names) => callback(null, names), (err) => callback(err));
      }
    } as never,

    onConnect(session, callback) {
      const ip = session.remoteAddress;
      const n = perIp.get(ip) ?? 0;
      if (n >= limits.maxConnectionsPerIp) {
        sessionLog(session).info({ connections: n }, 'connection refused: per-address limit');
        return callback(smtpError('tooManyConnections'));
      }
      perIp.set(ip, n + 1);
      counted.add(session.id);
      callback();
    },

    onClose(session) {
      if (!counted.delete(session.id)) return;
      const ip = session.remoteAddress;
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    },

    onMailFrom(address: SMTPServerAddress, session, callback) {
      const declared = declaredSize(address);
      if (declared > limits.maxMessageSize) return callback(smtpError('messageTooBigDeclared'));
      callback();
    },

    onRcptTo(address: SMTPServerAddress, session, callback) {
      // counted here, not by smtp-server, so the reply comes from the table; a repeated address adds nobody
      const rcpts = session.envelope.rcptTo;
      const repeated = rcpts.some((r) => r.address.toLowerCase() === address.address.toLowerCase());
      if (!repeated && rcpts.length >= limits.maxRecipients) return callback(smtpError('tooManyRecipients'));
      checkRecipient(address, session).then(
        () => callback(),
        (err) => callback(err instanceof SmtpError ? err : fault(session, err, 'recipient check failed'))
      );
    },

    onData(stream: SMTPServerDataStream, session, callback) {
      receive(stream, session).then(
        (reply) => callback(null, reply),
        (err) => callback(err instanceof SmtpError ? err : fault(session, err, 'delivery failed'))
      );
    }
  });

  server.on('error', (err) => log.error({ err }, 'smtp server error'));

  function fault(session: SMTPServerSession, err: unknown, what: string): SmtpError {
    sessionLog(session).error({ err }, what);
    return smtpError('localError');
  }

  async function checkRecipient(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const verdict = await resolveRecipient(db, address.address);
    const slog = sessionLog(session);
    switch (verdict.status) {
      case 'invalid':
        throw smtpError('badRecipient');
      case 'relay':
        slog.info({ rcpt: verdict.address }, 'recipient refused: relay');
        throw smtpError('relayDenied');
      case 'unknown':
        slog.info({ rcpt: verdict.address }, 'recipient refused: unknown');
        throw smtpError('unknownRecipient');
      case 'disabled':
        slog.info({ rcpt: verdict.address }, 'recipient refused: disabled');
        throw smtpError('mailboxDisabled');
    }
    const declared = session.envelope.mailFrom ? declaredSize(session.envelope.mailFrom) : 0;
    for (const account of verdict.accounts) {
      // RFC 5321 §4.5.3.1.10 / RFC 3463 4.2.2: full mailboxes are a temporary condition
      if (account.quota > 0 && (account.used_bytes >= account.quota || account.used_bytes + declared > account.quota)) {
        slog.info({ rcpt: verdict.address }, 'recipient refused: mailbox full');
        throw smtpError('mailboxFull');
      }
    }
    const list = accepted.get(session.envelope) ?? [];
    list.push(verdict);
    accepted.set(session.envelope, list);
  }

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const slog = sessionLog(session);
    const spool = await spoolMessage(stream, { maxLineLength: limits.maxLineLength, maxMessageSize: limits.maxMessageSize, memoryLimit: MEMORY_SPOOL }, () => services.blobs.tempPath());
    try {
      if (stream.sizeExceeded) {
        slog.info({ size: spool.size }, 'message refused: too big');
        throw smtpError('messageTooBig');
      }
      if (spool.violation) {
        slog.info({ rule: spool.violation }, 'message refused: malformed');
        const reply = REPLIES[spool.violation];
        // the table states the RFC limit; name the configured one when it differs
        throw new SmtpError(spool.violation === 'lineTooLong' ? { ...reply, text: reply.text.replace('998', String(limits.maxLineLength)) } : reply);
      }
      const verdicts = accepted.get(session.envelope) ?? [];
      if (!verdicts.length) throw smtpError('noRecipients');
      const queueId = newQueueId();
      const tls = session.secure && session.tlsOptions ? `${session.tlsOptions.version} ${session.tlsOptions.name}` : undefined;
      const result = await deliverInbound(
        services,
        {
          sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          verdicts,
          received: {
            helo: session.hostNameAppearsAs,
            reverseName: session.clientHostname !== `[${session.remoteAddress}]` ? session.clientHostname : '',
            ip: session.remoteAddress,
            hostname: config.hostname,
            protocol: session.transmissionType,
            queueId,
            tls
          }
        },
        spool
      );
      const v = result.verification;
      slog.info(
        { queueId, size: result.size, from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcpt: verdicts.map((x) => x.address), stored: result.stored.length, forwards: result.forwards, spf: v.spf, dkim: v.dkim, dmarc: v.dmarc, arc: v.arc, junk: v.disposition === 'quarantine' },
        'message accepted'
      );
      return `${REPLIES.accepted.enhanced} ${REPLIES.accepted.text} ${queueId}`;
    } finally {
      await spool.discard();
    }
  }

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
