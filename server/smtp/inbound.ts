// Inbound delivery: verify (SPF/DKIM/DMARC/ARC), prepend Received + Authentication-Results, write one durable blob,
// store it in every local mailbox and record forwards in one transaction. Only then may the MX answer 250.
import type { Services } from '../services.js';
import type { RecipientVerdict } from '../directory/resolve.js';
import { verifyMessage, type Verification } from '../mailauth/verify.js';
import { addBlobReferences, prepareMessage, storeMessage, type DeliveryTarget, type StoredMessage } from '../store/messages.js';
import type { BlobSource } from '../store/blobs.js';
import { headerEnd, receivedHeader, removeForgedAuthResults, type ReceivedInfo } from './headers.js';
import { smtpError } from './replies.js';
import type { SpooledMessage } from './spool.js';

const CRLF = Buffer.from('\r\n');

/**
 * The message as blob sources without Authentication-Results claiming to be ours (RFC 8601 §5), wherever its
 * header section ends: usually within the in-memory head; otherwise the header section runs past it, or the
 * message has no body and so no empty line (RFC 5322 §3.5), and the whole message is searched instead.
 */
function withoutForgedAuthResults(spool: SpooledMessage, original: Buffer, authservId: string): BlobSource[] {
  if (headerEnd(spool.head) >= 0) {
    const head = removeForgedAuthResults(spool.head, authservId);
    return spool.file ? [head, { file: spool.file }] : [head];
  }
  const cleaned = removeForgedAuthResults(Buffer.concat([original, CRLF]), authservId);
  return [cleaned.subarray(0, cleaned.length - CRLF.length)];
}

export interface InboundEnvelope {
  sender: string;
  verdicts: Array<Extract<RecipientVerdict, { status: 'accept' }>>;
  received: Omit<ReceivedInfo, 'recipients'>;
}

export interface InboundResult {
  verification: Verification;
  stored: StoredMessage[];
  forwards: number;
  blobId: string;
  size: number;
}

/** The configured ARC trust list: empty = mailauth's community list (undefined), ["none"] = nobody. */
function arcSealers(configured: string[]): string[] | undefined {
  if (!configured.length) return undefined;
  return configured.includes('none') ? [] : configured;
}

export async function deliverInbound(services: Services, envelope: InboundEnvelope, spool: SpooledMessage): Promise<InboundResult> {
  const { db, blobs, notifier, resolver, config, writes } = services;
  const original = spool.file ? await spool.read() : spool.head;
  const verification = await verifyMessage(resolver, {
    message: original,
    ip: envelope.received.ip,
    helo: envelope.received.helo,
    sender: envelope.sender,
    mta: config.hostname,
    trustedArcSealers: arcSealers(config.smtp.trustedArcSealers)
  });
  if (verification.disposition === 'reject') throw smtpError('dmarcReject', verification.reason);

  // a recipient given twice (RCPT repeated, or in another case) is still one recipient
  const recipients = [...new Set(envelope.verdicts.map((v) => v.address))];
  const prefix = Buffer.from(receivedHeader({ ...envelope.received, recipients }) + verification.headers, 'latin1');
  const sources = [prefix, ...withoutForgedAuthResults(spool, original, config.hostname)];

  // One folder per account even when several recipients (alias + account) lead to it.
  const specialUse = verification.disposition === 'quarantine' ? '\\Junk' : null;
  const targets = new Map<number, DeliveryTarget>();
  const forwards = new Map<string, string>();
  for (const v of envelope.verdicts) {
    for (const a of v.accounts) targets.set(a.id, { accountId: a.id, specialUse });
    for (const f of v.remote) if (!forwards.has(f.destination)) forwards.set(f.destination, f.forwardedFor);
  }

  const blob = await blobs.write(sources);
  try {
    // the spool file's bytes are already in memory (read for verification): no second read of the blob
    const raw = Buffer.concat(sources.map((s) => (Buffer.isBuffer(s) ? s : original.subarray(spool.head.length))));
    const prepared = prepareMessage(raw);
    const internalDate = Date.now();
    const stored = await writes.run(async (tx) => {
      const rows = await storeMessage(tx, blob, prepared, [...targets.values()], internalDate);
      if (forwards.size) {
        await addBlobReferences(tx, blob, forwards.size);
        for (const [destination, forwardedFor] of forwards) {
          await tx
            .insertInto('outbound')
            .values({ sender: envelope.sender, recipient: destination, blob_id: blob.id, origin: 'forward', forwarded_for: forwardedFor, attempts: 0, next_attempt: internalDate, last_error: null, created_at: internalDate })
            .execute();
        }
      }
      return rows;
    });
    blobs.release(blob.id);
    for (const s of stored) notifier.publish({ accountId: s.accountId, mailboxId: s.mailboxId, kind: 'exists', uids: [s.uid], modseq: s.modseq });
    return { verification, stored, forwards: forwards.size, blobId: blob.id, size: blob.size };
  } catch (err) {
    // nothing references the blob: remove the file so a failed delivery leaves no trace
    blobs.release(blob.id);
    await blobs.unlinkUnreferenced(db, [blob.id]).catch(() => 0);
    throw err;
  }
}
