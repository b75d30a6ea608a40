// Inbound delivery: verify (SPF/DKIM/DMARC/ARC), prepend Received + Authentication-Results, write one durable blob,
// store it in every local mailbox and queue forwards (SRS sender, ARC seal) in one transaction. Only then may the MX answer 250.
import type { Services } from '../services.js';
import { verifyMessage, type Verification } from '../mailauth/verify.js';
import type { StoredMessage } from '../store/messages.js';
import { signingKeyFor } from '../mailauth/sign.js';
import { domainOf } from '../directory/address.js';
import { commitMessage, forwardsByOrigin, localTargets, type AcceptedVerdict } from './commit.js';
import type { BlobSource } from '../store/blobs.js';
import { headerEnd, isForgedAuthResults, receivedHeader, removeHeaderFields, type ReceivedInfo } from './headers.js';
import type { Transaction } from './hooks.js';
import { smtpError } from './replies.js';
import type { SpooledMessage } from './spool.js';

const CRLF = Buffer.from('\r\n');

/**
 * The message as blob sources without the header fields `drop` picks (Authentication-Results claiming to be ours,
 * RFC 8601 §5, and what plugins removed), wherever its header section ends: usually within the in-memory head;
 * otherwise the header section runs past it, or the message has no body and so no empty line (RFC 5322 §3.5), and
 * the whole message is searched instead.
 */
function withoutFields(spool: SpooledMessage, original: Buffer, drop: (field: string) => boolean): BlobSource[] {
  if (headerEnd(spool.head) >= 0) {
    const head = removeHeaderFields(spool.head, drop);
    return spool.file ? [head, { file: spool.file }] : [head];
  }
  const cleaned = removeHeaderFields(Buffer.concat([original, CRLF]), drop);
  return [cleaned.subarray(0, cleaned.length - CRLF.length)];
}

export interface InboundEnvelope {
  sender: string;
  verdicts: AcceptedVerdict[];
  received: Omit<ReceivedInfo, 'recipients'>;
}

/** What plugins add to an inbound delivery (server/smtp/hooks.ts). */
export interface InboundPlugins {
  transaction: Pick<Transaction, 'addedHeaders' | 'drops' | 'folder'>;
  /** the data_post and queue hooks, after verification and before storing: a reply when a plugin took the message */
  beforeStoring(verification: Verification): Promise<string | null>;
  /** the plugin results for the Received comment */
  trace(): string;
}

export interface InboundResult {
  verification: Verification;
  stored: StoredMessage[];
  forwards: number;
  size: number;
  /** the 250 reply text when a plugin took the message instead (nothing was stored) */
  taken: string | null;
}

/** The configured ARC trust list: empty = mailauth's community list (undefined), ["none"] = nobody. */
function arcSealers(configured: string[]): string[] | undefined {
  if (!configured.length) return undefined;
  return configured.includes('none') ? [] : configured;
}

export async function deliverInbound(services: Services, envelope: InboundEnvelope, spool: SpooledMessage, plugins?: InboundPlugins): Promise<InboundResult> {
  const { resolver, config, srs, db } = services;
  const original = spool.file ? await spool.read() : spool.head;
  const forwards = forwardsByOrigin(envelope.verdicts);
  // RFC 8617 §5.1: an intermediary that passes a message on seals what it saw, with the forwarding domain's key
  const sealer = forwards.size ? await signingKeyFor(db, domainOf([...forwards.keys()][0])) : null;
  const verification = await verifyMessage(resolver, {
    message: original,
    ip: envelope.received.ip,
    helo: envelope.received.helo,
    sender: envelope.sender,
    mta: config.hostname,
    trustedArcSealers: arcSealers(config.smtp.trustedArcSealers),
    seal: sealer ?? undefined
  });
  if (verification.disposition === 'reject') throw smtpError('dmarcReject', verification.reason);
  const taken = plugins ? await plugins.beforeStoring(verification) : null;
  if (taken) return { verification, stored: [], forwards: 0, size: spool.size, taken };

  // a recipient given twice (RCPT repeated, or in another case) is still one recipient
  const recipients = [...new Set(envelope.verdicts.map((v) => v.address))];
  const received = receivedHeader({ ...envelope.received, recipients, plugins: plugins?.trace() });
  const prefix = Buffer.from(verification.arcSet + received + verification.headers, 'latin1');
  const added = plugins ? [plugins.transaction.addedHeaders()] : [];
  const drop = (field: string) => isForgedAuthResults(field, config.hostname) || Boolean(plugins?.transaction.drops(field));
  const sources = [prefix, ...added, ...withoutFields(spool, original, drop)];
  const junk = verification.disposition === 'quarantine' || plugins?.transaction.folder === 'Junk';

  const result = await commitMessage(services, {
    sources,
    // the spool file's bytes are already in memory (read for verification): no second read of the blob
    raw: () => Buffer.concat(sources.map((s) => (Buffer.isBuffer(s) ? s : original.subarray(spool.head.length)))),
    local: localTargets(envelope.verdicts, junk ? '\\Junk' : null),
    outbound: [...forwards].map(([forwardedFor, destinations]) => ({
      // SRS: the destination's SPF check then looks at the forwarding domain, which lists this server
      sender: envelope.sender ? srs.forward(envelope.sender, domainOf(forwardedFor)) : '',
      returnPath: envelope.sender,
      origin: 'forward' as const,
      forwardedFor,
      recipients: destinations
    }))
  });
  return { verification, stored: result.stored, forwards: [...forwards.values()].flat().length, size: result.blob.size, taken: null };
}
