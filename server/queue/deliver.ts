// One delivery attempt for a queue entry with nodemailer's SMTP transport: the domain's MX hosts in order (or the
// smarthost), opportunistic STARTTLS, EHLO with our host name, pooled connections reused per remote address, and
// a verdict per recipient (delivered / failed for 5xx / deferred for 4xx and unreachable hosts).
import type { Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import type { Config } from '../config/schema.js';
import type { DnsResolver } from '../dns/resolver.js';
import type { Logger } from '../log/logger.js';
import { TLS_DEFAULTS } from '../tls/certificates.js';
import { resolveRoute } from './route.js';
import type { RecipientResult } from './store.js';

export interface DeliveryRequest {
  domain: string;
  sender: string;
  recipients: string[];
  /** a fresh stream of the raw message for each try */
  message: () => Readable;
  /** for log lines */
  entryId: number;
}

export interface DeliveryOutcome {
  results: RecipientResult[];
  /** why deferred recipients were deferred */
  error: string | null;
}

interface Transport {
  transport: Transporter<SMTPPool.SentMessageInfo>;
  lastUsed: number;
}

interface SmtpFailure extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejectedErrors?: SmtpFailure[];
  recipient?: string;
}

/** Pools unused this long are closed (the pool also drops idle connections after a minute). */
const POOL_IDLE_MS = 5 * 60_000;

/** RFC 5321 §4.5.3.2: the greeting may take 5 minutes, the reply to the final dot 10. */
const GREETING_TIMEOUT_MS = 5 * 60_000;
const SOCKET_TIMEOUT_MS = 10 * 60_000;

/** The reply line(s) of an SMTP error as one line, or the error's own message for non-SMTP failures. */
function describe(err: SmtpFailure): string {
  if (err.response) return err.response.replace(/\r?\n/g, ' ').slice(0, 500);
  return `${err.code ?? 'ERROR'} ${err.message}`.slice(0, 500);
}

const outcomeFor = (recipients: string[], status: RecipientResult['status'], reply: string, remoteMta: string | null): RecipientResult[] =>
  recipients.map((recipient) => ({ recipient, status, reply, remoteMta }));

/** The reply recorded for an attempt a server stop cut short: a temporary failure, retried after the restart. */
const INTERRUPTED = '451 4.3.2 Delivery interrupted: this server was shutting down';

export class SmtpDelivery {
  private readonly pools = new Map<string, Transport>();
  /** aborted at shutdown: sends in progress fail at once instead of waiting for a slow remote server */
  private readonly stopping = new AbortController();
  private readonly log: Logger;

  constructor(
    private readonly config: Config,
    private readonly resolver: DnsResolver,
    log: Logger
  ) {
    this.log = log.child({ module: 'queue-delivery' });
  }

  async deliver(request: DeliveryRequest): Promise<DeliveryOutcome> {
    if (this.config.queue.relay) return this.deliverToRelay(request);
    const route = await resolveRoute(this.resolver, request.domain);
    if (route.kind === 'permanent') return { results: outcomeFor(request.recipients, 'failed', route.reply, null), error: null };
    if (route.kind === 'temporary') return { results: outcomeFor(request.recipients, 'deferred', route.reply, null), error: route.reply };
    let lastError = '';
    for (const host of route.hosts) {
      for (const address of host.addresses) {
        const tried = await this.tryHost(request, host.name, address);
        if (tried.done) return tried.outcome;
        lastError = `${host.name} [${address}]: ${tried.error}`;
      }
    }
    const reply = `451 4.4.1 No mail server of ${request.domain} took the message (${lastError})`;
    return { results: outcomeFor(request.recipients, 'deferred', reply, null), error: reply };
  }

  /**
   * Tries one address of one host. `done` when the host answered the transaction (whatever it said); otherwise the
   * next address or MX is tried. A failed TLS handshake is retried once in plain text: STARTTLS here is
   * opportunistic (RFC 3207 §4.1 leaves the fallback to the client), as with most MTAs without DANE or MTA-STS.
   */
  private async tryHost(request: DeliveryRequest, hostName: string, address: string): Promise<{ done: true; outcome: DeliveryOutcome } | { done: false; error: string }> {
    for (const ignoreTLS of [false, true]) {
      const key = `${address}|${this.config.queue.remotePort}|${hostName}|${ignoreTLS}`;
      const transport = this.pool(key, () =>
        nodemailer.createTransport({
          pool: true,
          host: address,
          port: this.config.queue.remotePort,
          secure: false,
          ignoreTLS,
          name: this.config.hostname,
          tls: { ...TLS_DEFAULTS, servername: hostName.replace(/\.$/, ''), rejectUnauthorized: false },
          ...this.poolLimits()
        } as SMTPPool.Options)
      );
      try {
        const info = await transport.sendMail(this.mail(request));
        return { done: true, outcome: this.fromAccepted(request, info, hostName) };
      } catch (e) {
        if (this.stopping.signal.aborted) return { done: true, outcome: this.interrupted(request) };
        const err = e as SmtpFailure;
        if (err.code === 'ETLS' && !ignoreTLS) {
          this.log.info({ entry: request.entryId, host: hostName, address, err: err.message }, 'TLS handshake failed, retrying without TLS');
          continue;
        }
        const answered = this.fromFailure(request, err, hostName);
        if (answered) return { done: true, outcome: answered };
        this.log.info({ entry: request.entryId, host: hostName, address, error: describe(err) }, 'mail server did not take the message');
        return { done: false, error: describe(err) };
      }
    }
    return { done: false, error: 'TLS handshake failed' };
  }

  private mail(request: DeliveryRequest): SMTPPool.MailOptions {
    return { envelope: { from: request.sender, to: request.recipients }, raw: request.message(), signal: this.stopping.signal } as SMTPPool.MailOptions;
  }

  private interrupted(request: DeliveryRequest): DeliveryOutcome {
    return { results: outcomeFor(request.recipients, 'deferred', INTERRUPTED, null), error: INTERRUPTED };
  }

  private fromAccepted(request: DeliveryRequest, info: SMTPPool.SentMessageInfo, hostName: string): DeliveryOutcome {
    const rejected = new Map<string, SmtpFailure>();
    for (const err of (info.rejectedErrors ?? []) as SmtpFailure[]) if (err.recipient) rejected.set(err.recipient, err);
    const results = request.recipients.map((recipient): RecipientResult => {
      const err = rejected.get(recipient);
      if (!err) return { recipient, status: 'delivered', reply: String(info.response ?? '250'), remoteMta: hostName };
      return { recipient, status: (err.responseCode ?? 400) >= 500 ? 'failed' : 'deferred', reply: describe(err), remoteMta: hostName };
    });
    const deferred = results.find((r) => r.status === 'deferred');
    return { results, error: deferred ? deferred.reply : null };
  }

  /** The outcome when the server answered with an SMTP reply; null when it never got that far (try the next host). */
  private fromFailure(request: DeliveryRequest, err: SmtpFailure, hostName: string): DeliveryOutcome | null {
    if (err.rejectedErrors?.length) {
      // every recipient refused at RCPT: each by its own reply
      const byRecipient = new Map(err.rejectedErrors.map((r) => [r.recipient, r]));
      const results = request.recipients.map((recipient): RecipientResult => {
        const r = byRecipient.get(recipient) ?? err;
        return { recipient, status: (r.responseCode ?? 400) >= 500 ? 'failed' : 'deferred', reply: describe(r), remoteMta: hostName };
      });
      const deferred = results.find((r) => r.status === 'deferred');
      return { results, error: deferred ? deferred.reply : null };
    }
    // before MAIL (greeting, EHLO, STARTTLS) a refusal is about this host: the next MX may do better
    if (!err.responseCode || !['MAIL FROM', 'DATA', 'RCPT TO'].includes(err.command ?? '')) return null;
    const reply = describe(err);
    const status = err.responseCode >= 500 ? 'failed' : 'deferred';
    return { results: outcomeFor(request.recipients, status, reply, hostName), error: status === 'deferred' ? reply : null };
  }

  private async deliverToRelay(request: DeliveryRequest): Promise<DeliveryOutcome> {
    const q = this.config.queue;
    const at = q.relay.lastIndexOf(':');
    const host = q.relay.slice(0, at).replace(/^\[|\]$/g, '');
    const transport = this.pool('relay', () =>
      nodemailer.createTransport({
        pool: true,
        host,
        port: Number(q.relay.slice(at + 1)),
        secure: q.relaySecurity === 'tls',
        requireTLS: q.relaySecurity === 'starttls',
        ignoreTLS: q.relaySecurity === 'none',
        name: this.config.hostname,
        auth: q.relayUser ? { user: q.relayUser, pass: q.relayPassword } : undefined,
        // a smarthost is named by the operator: its certificate must match that name
        tls: { ...TLS_DEFAULTS, servername: host },
        ...this.poolLimits()
      } as SMTPPool.Options)
    );
    try {
      const info = await transport.sendMail(this.mail(request));
      return this.fromAccepted(request, info, q.relay);
    } catch (e) {
      if (this.stopping.signal.aborted) return this.interrupted(request);
      const err = e as SmtpFailure;
      const answered = this.fromFailure(request, err, q.relay);
      if (answered) return answered;
      // the relay refusing our login is the operator's to fix; keep the mail until it is
      const reply = `451 4.4.1 Smarthost ${q.relay} did not take the message (${describe(err)})`;
      this.log.warn({ entry: request.entryId, relay: q.relay, error: describe(err) }, 'smarthost did not take the message');
      return { results: outcomeFor(request.recipients, 'deferred', reply, null), error: reply };
    }
  }

  /** Timeouts and pool sizes for every remote server: two connections per address, reused for up to 100 messages. */
  private poolLimits(): Partial<SMTPPool.Options> {
    return {
      connectionTimeout: this.config.queue.connectTimeout * 1000,
      greetingTimeout: GREETING_TIMEOUT_MS,
      socketTimeout: SOCKET_TIMEOUT_MS,
      maxConnections: 2,
      maxMessages: 100,
      idleTimeout: 60_000,
      logger: false
    } as Partial<SMTPPool.Options>;
  }

  private pool(key: string, create: () => Transport['transport']): Transport['transport'] {
    const now = Date.now();
    for (const [k, p] of this.pools) {
      if (now - p.lastUsed > POOL_IDLE_MS) {
        p.transport.close();
        this.pools.delete(k);
      }
    }
    let entry = this.pools.get(key);
    if (!entry) {
      entry = { transport: create(), lastUsed: now };
      this.pools.set(key, entry);
    }
    entry.lastUsed = now;
    return entry.transport;
  }

  /**
   * Ends sends in progress (shutdown after the grace period): their connections are closed and each attempt reports
   * its recipients as deferred, so the queue records it and retries after the restart.
   */
  abort(): void {
    this.stopping.abort(new Error('server shutting down'));
    for (const p of this.pools.values()) (p.transport.close as (options?: { force?: boolean }) => void)({ force: true });
    this.pools.clear();
  }

  close(): void {
    for (const p of this.pools.values()) p.transport.close();
    this.pools.clear();
  }
}
