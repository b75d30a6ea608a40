// Message submission (RFC 6409) on 587 with STARTTLS required before AUTH (RFC 3207) and on 465 with implicit TLS
// (RFC 8314): AUTH PLAIN/LOGIN with the full address, envelope sender and From: limited to the account and its
// aliases, Message-ID/Date added when missing, Bcc removed, DKIM-signed, local recipients stored, remote ones queued.
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import crypto from 'node:crypto';
import { authenticateUser } from '../auth/login.js';
import type { LoginLimiter } from '../auth/rate-limit.js';
import type { Account } from '../db/schema.js';
import { normalizeAddress } from '../directory/address.js';
import { resolveRecipient } from '../directory/resolve.js';
import { senderAddresses } from '../directory/routing.js';
import { dkimSignature, signingKeyFor } from '../mailauth/sign.js';
import type { Services } from '../services.js';
import { parseAddressList } from '../store/envelope.js';
import { commitMessage, forwardsByOrigin, localTargets, type AcceptedVerdict } from './commit.js';
import { ConnectionCounter, recipientLimitReached, refusalCounter, settle, smtpListener, spoolRefusal, type SmtpListener } from './listener.js';
import { patchSmtpServer, setCommandHandlers } from './smtp-server-patches.js';
import { headerEnd, headerFields, newQueueId, receivedHeader, removeHeaderFields, rfc5322Date } from './headers.js';
import { SmtpHooks } from './hooks.js';
import { REPLIES, SmtpError, smtpError } from './replies.js';
import { spoolMessage } from './spool.js';

/** Messages up to this size never touch a temp file before their blob is written. */
const MEMORY_SPOOL = 1024 * 1024;

interface Transaction {
  local: AcceptedVerdict[];
  remote: string[];
}

/** Whether `address` is one the account may send as: its own, an alias, or a subaddress of either (RFC 5233). */
function mayUse(allowed: Set<string>, address: string): boolean {
  const parsed = normalizeAddress(address);
  if (!parsed) return false;
  if (allowed.has(parsed.address)) return true;
  const plus = parsed.local.indexOf('+');
  return plus > 0 && allowed.has(`${parsed.local.slice(0, plus)}@${parsed.domain}`);
}

/** RFC 5322 §3.6.3: Bcc recipients must not be visible to the others. */
const isBcc = (field: string) => /^bcc\s*:/i.test(field);

export function createSubmissionServer(services: Services, options: { implicitTls: boolean; limiter: LoginLimiter }): SmtpListener {
  patchSmtpServer();
  const { config, db } = services;
  const service = options.implicitTls ? 'submissions' : 'submission';
  const log = services.log.child({ module: service });
  const refuse = refusalCounter(services.metrics, service);
  const limits = config.smtp;
  const connections = new ConnectionCounter(limits.maxConnectionsPerIp);
  const transactions = new WeakMap<object, Transaction>();
  const sessionLog = (session: SMTPServerSession) => log.child({ cid: session.id, ip: session.remoteAddress });
  const accountOf = (session: SMTPServerSession) => session.user as unknown as Account;
  // Haraka's connection.relaying: plugins see the account once it has logged in
  const hooks = new SmtpHooks(services.plugins, 'submission', sessionLog, (session) => (session.user ? accountOf(session).address : null));

  const server = new SMTPServer({
    name: config.hostname,
    banner: 'Postfach ESMTP submission',
    ...services.tls.serverOptions(),
    secure: options.implicitTls,
    size: limits.maxMessageSize,
    maxClients: limits.maxConnections,
    socketTimeout: limits.socketTimeout * 1000,
    authMethods: ['PLAIN', 'LOGIN'],
    // RFC 6409 §4.3 / RFC 3207 §4: no credentials over an unencrypted connection
    allowInsecureAuth: false,
    authOptional: false,
    hideENHANCEDSTATUSCODES: false,
    logger: false,

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

    onAuth(auth: SMTPServerAuthentication, session, callback) {
      const username = auth.username ?? '';
      authenticateUser({ db, limiter: options.limiter, log: sessionLog(session), metrics: services.metrics }, { username, password: auth.password ?? '', ip: session.remoteAddress, protocol: 'submission' }).then(
        (result) => {
          if (result.ok) {
            sessionLog(session).info({ user: result.account.address, method: auth.method }, 'login');
            return callback(null, { user: result.account as never });
          }
          if (result.reason === 'locked') return callback(smtpError('authLocked'));
          if (result.reason === 'inactive') return callback(smtpError('authInactive'));
          callback(smtpError('authInvalid'));
        },
        (err) => callback(fault(session, err, 'login check failed'))
      );
    },

    onMailFrom(address: SMTPServerAddress, session, callback) {
      const args = address.args ? (address.args as Record<string, string>) : {};
      if (Number(args.SIZE ?? 0) > limits.maxMessageSize) return callback(refuse(smtpError('messageTooBigDeclared')));
      settle(
        checkSender(address.address, session).then(() => hooks.mail(session, address)),
        callback,
        (err) => fault(session, err, 'sender check failed'),
        refuse
      );
    },

    onRcptTo(address: SMTPServerAddress, session, callback) {
      if (recipientLimitReached(session, address, limits.maxRecipients)) return callback(refuse(smtpError('tooManyRecipients')));
      settle(checkRecipient(address, session), callback, (err) => fault(session, err, 'recipient check failed'), refuse);
    },

    onData(stream: SMTPServerDataStream, session, callback) {
      settle(receive(stream, session), callback, (err) => fault(session, err, 'submission failed'), refuse);
    }
  });

  server.on('error', (err) => log.error({ err }, 'submission server error'));
  setCommandHandlers(server, {
    helo: (name, session, done) => settle(hooks.helo(session, name), done, (err) => fault(session, err, 'helo hook failed'), refuse),
    data: (session, done) => settle(hooks.data(session), done, (err) => fault(session, err, 'data hook failed'), refuse)
  });

  function fault(session: SMTPServerSession, err: unknown, what: string, reply: 'localError' | 'localErrorGreeting' = 'localError'): SmtpError {
    sessionLog(session).error({ err }, what);
    return smtpError(reply);
  }

  async function allowedSenders(session: SMTPServerSession): Promise<Set<string>> {
    return new Set(await senderAddresses(db, accountOf(session).id));
  }

  async function checkSender(sender: string, session: SMTPServerSession): Promise<void> {
    // the null sender is for bounces (RFC 5321 §4.5.5), which an MTA makes, not a mail client
    if (!sender || !mayUse(await allowedSenders(session), sender)) {
      sessionLog(session).info({ user: accountOf(session).address, from: sender }, 'sender refused: not the account or one of its aliases');
      throw smtpError('senderNotOwned', sender ? `<${sender}>` : '<>');
    }
  }

  async function checkRecipient(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const verdict = await resolveRecipient(db, address.address);
    switch (verdict.status) {
      case 'invalid':
        throw smtpError('badRecipient');
      case 'unknown':
        throw smtpError('unknownRecipient');
      case 'disabled':
        throw smtpError('mailboxDisabled');
      case 'accept':
        for (const account of verdict.accounts) {
          if (account.quota > 0 && account.used_bytes >= account.quota) throw smtpError('mailboxFull');
        }
    }
    await hooks.rcpt(session, address);
    const tx = transactions.get(session.envelope) ?? { local: [], remote: [] };
    // authenticated: any remote recipient (RFC 6409 §5)
    if (verdict.status === 'relay') tx.remote.push(verdict.address);
    else if (verdict.status === 'accept') tx.local.push(verdict);
    transactions.set(session.envelope, tx);
  }

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const slog = sessionLog(session);
    const account = accountOf(session);
    const spool = await spoolMessage(stream, { maxLineLength: limits.maxLineLength, maxMessageSize: limits.maxMessageSize, memoryLimit: MEMORY_SPOOL }, () => services.blobs.tempPath());
    try {
      const refusal = spoolRefusal(stream, spool, limits.maxLineLength);
      if (refusal) throw refusal;
      const tx = transactions.get(session.envelope);
      if (!tx || (!tx.local.length && !tx.remote.length)) throw smtpError('noRecipients');

      const end = headerEnd(spool.head);
      if (end < 0) throw smtpError('headerTooLarge');
      const fields = headerFields(spool.head.subarray(0, end));
      const values = (key: string) => fields.filter((f) => f.key === key).map((f) => f.value);
      const from = values('from').flatMap((v) => parseAddressList(v)).map((a) => (a.mailbox && a.host ? `${a.mailbox}@${a.host}` : ''));
      if (!from.length) throw smtpError('fromMissing');
      const senders = [...from, ...values('sender').flatMap((v) => parseAddressList(v)).map((a) => `${a.mailbox}@${a.host}`)];
      const allowed = await allowedSenders(session);
      const foreign = senders.find((a) => !mayUse(allowed, a));
      if (foreign !== undefined) {
        slog.info({ user: account.address, header: foreign }, 'message refused: From/Sender not the account or one of its aliases');
        throw smtpError('senderNotOwned', `header address <${foreign}>`);
      }

      const transaction = hooks.transaction(session);
      await hooks.dataPost(session, spool, null);

      // RFC 6409 §8.2 and §8.3: the MSA may add what a client left out
      const fromDomain = normalizeAddress(from[0])!.domain;
      const added: string[] = [];
      if (!values('date').length) added.push(`Date: ${rfc5322Date()}`);
      if (!values('message-id').length) added.push(`Message-ID: <${crypto.randomUUID()}@${fromDomain}>`);
      const queueId = transaction.id;
      const recipients = [...new Set([...tx.local.map((v) => v.address), ...tx.remote])];
      const tls = session.secure && session.tlsOptions ? `${session.tlsOptions.version} ${session.tlsOptions.name}` : undefined;
      const received = receivedHeader({
        helo: session.hostNameAppearsAs,
        reverseName: '',
        ip: session.remoteAddress,
        hostname: config.hostname,
        protocol: session.transmissionType,
        queueId,
        recipients,
        tls,
        plugins: hooks.trace(session)
      });
      const header = removeHeaderFields(spool.head.subarray(0, end), (field) => isBcc(field) || transaction.drops(field));
      const unsigned = [Buffer.from(received + added.map((l) => l + '\r\n').join(''), 'latin1'), transaction.addedHeaders(), header, spool.head.subarray(end)];
      const rest = spool.file ? (await spool.read()).subarray(spool.head.length) : null;
      if (rest) unsigned.push(rest);
      const message = Buffer.concat(unsigned);

      // RFC 6376: signed by the domain of the From address (the account's or an alias's, so always hosted here)
      const key = await signingKeyFor(db, fromDomain);
      const signature = key ? await dkimSignature(message, key) : '';
      const signed = [Buffer.from(signature, 'latin1'), message];
      const taken = await hooks.queue(session);
      if (taken) {
        slog.info({ queueId, user: account.address, from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcpt: recipients, plugins: hooks.trace(session) }, 'message taken by a plugin');
        return taken;
      }

      const forwards = forwardsByOrigin(tx.local);
      const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : account.address;
      const remote = [...new Set([...tx.remote, ...[...forwards.values()].flat()])];
      const result = await commitMessage(services, {
        sources: signed,
        raw: () => Buffer.concat(signed),
        local: localTargets(tx.local),
        outbound: remote.length ? [{ sender, returnPath: sender, origin: 'submission', forwardedFor: null, recipients: remote }] : []
      });
      slog.info({ queueId, user: account.address, from: sender, rcpt: recipients, size: result.blob.size, stored: result.stored.length, queued: result.queued.length, dkim: key?.domain ?? null, plugins: hooks.trace(session) || undefined }, 'message submitted');
      services.metrics.messageReceived(service);
      return `${REPLIES.accepted.enhanced} ${REPLIES.accepted.text} ${queueId}`;
    } finally {
      await spool.discard();
    }
  }

  return smtpListener(server, { service, tls: services.tls, metrics: services.metrics, shutdownMs: config.shutdownTimeout * 1000 });
}
