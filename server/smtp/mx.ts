// The MX (RFC 5321 inbound on port 25): accepts mail for hosted addresses only, with limits on connections,
// recipients, size and line length, STARTTLS when a certificate exists, and 250 only after durable storage.
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { resolveRecipient, type RecipientVerdict } from '../directory/resolve.js';
import type { Services } from '../services.js';
import { deliverInbound } from './inbound.js';
import { SmtpHooks } from './hooks.js';
import { REPLIES, SmtpError, smtpError } from './replies.js';
import { spoolMessage } from './spool.js';
import { patchSmtpServer, setCommandHandlers } from './smtp-server-patches.js';
import { ConnectionCounter, recipientLimitReached, refusalCounter, settle, smtpListener, spoolRefusal, type SmtpListener } from './listener.js';
import { Srs } from '../mailauth/srs.js';
import { normalizeAddress } from '../directory/address.js';

/** The SIZE= the client declared in MAIL FROM (RFC 1870), 0 when none. */
function declaredSize(address: SMTPServerAddress): number {
  const args = address.args ? (address.args as Record<string, string>) : {};
  return Number(args.SIZE ?? 0) || 0;
}

type Accepted = Extract<RecipientVerdict, { status: 'accept' }>;

/** Spool threshold: messages up to this size never touch a temp file before their blob is written. */
const MEMORY_SPOOL = 1024 * 1024;

export function createMxServer(services: Services): SmtpListener {
  patchSmtpServer();
  const { config, db } = services;
  const service = 'smtp';
  const log = services.log.child({ module: 'smtp-mx' });
  const refuse = refusalCounter(services.metrics, service);
  const limits = config.smtp;
  const connections = new ConnectionCounter(limits.maxConnectionsPerIp);
  /** accepted recipients of the current transaction, keyed by the envelope object smtp-server renews per transaction */
  const accepted = new WeakMap<object, Accepted[]>();

  const sessionLog = (session: SMTPServerSession) => log.child({ cid: session.id, ip: session.remoteAddress });
  const hooks = new SmtpHooks(services.plugins, 'mx', sessionLog);

  const server = new SMTPServer({
    name: config.hostname,
    banner: 'Postfach ESMTP',
    ...services.tls.serverOptions(),
    secure: false,
    size: limits.maxMessageSize,
    maxClients: limits.maxConnections,
    socketTimeout: limits.socketTimeout * 1000,
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
      if (!connections.admit(session)) {
        sessionLog(session).info({ connections: connections.of(session.remoteAddress) }, 'connection refused: per-address limit');
        return callback(refuse(smtpError('tooManyConnections')));
      }
      settle(hooks.connect(session), callback, (err) => fault(session, err, 'connect hook failed', 'localErrorGreeting'), refuse);
    },

    onClose(session) {
      connections.release(session);
      hooks.closed(session);
    },

    onMailFrom(address: SMTPServerAddress, session, callback) {
      const declared = declaredSize(address);
      if (declared > limits.maxMessageSize) return callback(refuse(smtpError('messageTooBigDeclared')));
      settle(hooks.mail(session, address), callback, (err) => fault(session, err, 'mail hook failed'), refuse);
    },

    onRcptTo(address: SMTPServerAddress, session, callback) {
      if (recipientLimitReached(session, address, limits.maxRecipients)) return callback(refuse(smtpError('tooManyRecipients')));
      settle(checkRecipient(address, session), callback, (err) => fault(session, err, 'recipient check failed'), refuse);
    },

    onData(stream: SMTPServerDataStream, session, callback) {
      settle(receive(stream, session), callback, (err) => fault(session, err, 'delivery failed'), refuse);
    }
  });

  server.on('error', (err) => log.error({ err }, 'smtp server error'));
  setCommandHandlers(server, {
    helo: (name, session, done) => settle(hooks.helo(session, name), done, (err) => fault(session, err, 'helo hook failed'), refuse),
    data: (session, done) => settle(hooks.data(session), done, (err) => fault(session, err, 'data hook failed'), refuse)
  });

  function fault(session: SMTPServerSession, err: unknown, what: string, reply: 'localError' | 'localErrorGreeting' = 'localError'): SmtpError {
    sessionLog(session).error({ err }, what);
    return smtpError(reply);
  }

  /**
   * A bounce to an address our SRS produced goes back to the original sender: stored here when that sender is
   * hosted, queued otherwise. Null when the address is not valid SRS of a hosted domain (expired, forged).
   */
  async function srsVerdict(address: string): Promise<RecipientVerdict | null> {
    if (!Srs.looksLike(address)) return null;
    const original = services.srs.reverse(address);
    const parsed = normalizeAddress(address);
    if (!original || !parsed) return null;
    const domain = await db.selectFrom('domains').select('active').where('name', '=', parsed.domain).executeTakeFirst();
    if (!domain?.active) return null;
    const target = await resolveRecipient(db, original);
    if (target.status === 'accept') return { ...target, address: parsed.address };
    if (target.status !== 'relay') return null;
    return { status: 'accept', address: parsed.address, accounts: [], remote: [{ destination: original, forwardedFor: parsed.address }] };
  }

  async function checkRecipient(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const verdict = (await srsVerdict(address.address)) ?? (await resolveRecipient(db, address.address));
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
    await hooks.rcpt(session, address);
    const list = accepted.get(session.envelope) ?? [];
    list.push(verdict);
    accepted.set(session.envelope, list);
  }

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const slog = sessionLog(session);
    const spool = await spoolMessage(stream, { maxLineLength: limits.maxLineLength, maxMessageSize: limits.maxMessageSize, memoryLimit: MEMORY_SPOOL }, () => services.blobs.tempPath());
    try {
      const refusal = spoolRefusal(stream, spool, limits.maxLineLength);
      if (refusal) {
        slog.info({ size: spool.size, rule: spool.violation ?? 'size' }, 'message refused: too big or malformed');
        throw refusal;
      }
      const verdicts = accepted.get(session.envelope) ?? [];
      if (!verdicts.length) throw smtpError('noRecipients');
      const transaction = hooks.transaction(session);
      const queueId = transaction.id;
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
        spool,
        {
          transaction,
          beforeStoring: async (v) => {
            await hooks.dataPost(session, spool, { spf: v.spf, dkim: v.dkim, dmarc: v.dmarc, arc: v.arc });
            return hooks.queue(session);
          },
          trace: () => hooks.trace(session)
        }
      );
      const v = result.verification;
      const plugins = hooks.trace(session) || undefined;
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      if (result.taken) {
        slog.info({ queueId, size: result.size, from, rcpt: verdicts.map((x) => x.address), plugins }, 'message taken by a plugin');
        return result.taken;
      }
      slog.info(
        { queueId, size: result.size, from, rcpt: verdicts.map((x) => x.address), stored: result.stored.length, forwards: result.forwards, spf: v.spf, dkim: v.dkim, dmarc: v.dmarc, arc: v.arc, junk: v.disposition === 'quarantine' || transaction.folder === 'Junk', plugins },
        'message accepted'
      );
      services.metrics.messageReceived(service);
      return `${REPLIES.accepted.enhanced} ${REPLIES.accepted.text} ${queueId}`;
    } finally {
      await spool.discard();
    }
  }

  return smtpListener(server, { service, tls: services.tls, metrics: services.metrics, shutdownMs: config.shutdownTimeout * 1000 });
}
