// Committing an accepted message: one durable blob, stored in every local mailbox and queued for every remote
// recipient in one transaction (MX, submission and DSNs share it). Only after the commit may anyone answer 250.
import type { RecipientVerdict } from '../directory/resolve.js';
import type { Services } from '../services.js';
import type { BlobSource, StoredBlob } from '../store/blobs.js';
import { prepareMessage, storeMessage, type DeliveryTarget, type StoredMessage } from '../store/messages.js';
import { enqueue, type OutboundMessage } from '../queue/store.js';
import type { Tx } from '../db/transaction.js';

export type AcceptedVerdict = Extract<RecipientVerdict, { status: 'accept' }>;

export interface MessageCommit {
  /** the bytes to store, in order */
  sources: BlobSource[];
  /** the same bytes in memory, asked for only when a local mailbox gets the message (to parse it) */
  raw: () => Promise<Buffer> | Buffer;
  local: DeliveryTarget[];
  outbound: Array<Omit<OutboundMessage, 'blob'>>;
  /** the blob written already by blobs.write (still pinned); `sources` are then not written again (the importer) */
  blob?: StoredBlob;
  /** the message's internal date (RFC 9051 §2.3.3); the time of the commit when absent */
  internalDate?: number;
}

export interface CommitResult<T> {
  blob: StoredBlob;
  stored: StoredMessage[];
  queued: number[];
  /** what `alongside` returned */
  extra: T;
}

/** One target per account even when several recipients (alias + account) lead to it. */
export function localTargets(verdicts: AcceptedVerdict[], specialUse: string | null = null): DeliveryTarget[] {
  const targets = new Map<number, DeliveryTarget>();
  for (const v of verdicts) for (const a of v.accounts) targets.set(a.id, { accountId: a.id, specialUse });
  return [...targets.values()];
}

/** Remote forward destinations grouped by the hosted address that forwards them (each group is rewritten for its domain). */
export function forwardsByOrigin(verdicts: AcceptedVerdict[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const v of verdicts) {
    for (const f of v.remote) {
      if (seen.has(f.destination)) continue;
      seen.add(f.destination);
      groups.set(f.forwardedFor, [...(groups.get(f.forwardedFor) ?? []), f.destination]);
    }
  }
  return groups;
}

/** What a commit needs of the services (the CLI's foreground import has no outbound queue: it never enqueues). */
export type CommitServices = Pick<Services, 'blobs' | 'writes' | 'notifier' | 'db' | 'config'> & { queue: Pick<Services['queue'], 'kick'> };

/**
 * Writes the blob (fsynced), then stores and enqueues in one transaction, running `alongside` in that same
 * transaction (the queue records an attempt together with the DSN it causes). A failure leaves nothing behind.
 */
export async function commitMessage<T = undefined>(services: CommitServices, commit: MessageCommit, alongside?: (tx: Tx) => Promise<T>): Promise<CommitResult<T>> {
  const { blobs, writes, notifier, db, config } = services;
  const blob = commit.blob ?? (await blobs.write(commit.sources));
  try {
    const prepared = commit.local.length ? prepareMessage(await commit.raw()) : null;
    const now = Date.now();
    const result = await writes.run(async (tx) => {
      const stored = prepared ? await storeMessage(tx, blob, prepared, commit.local, commit.internalDate ?? now) : [];
      const queued: number[] = [];
      for (const message of commit.outbound) queued.push(...(await enqueue(tx, { ...message, blob }, now, config.queue.maxAge * 1000)));
      const extra = alongside ? await alongside(tx) : (undefined as T);
      return { stored, queued, extra };
    });
    blobs.release(blob.id);
    for (const s of result.stored) notifier.publish({ accountId: s.accountId, mailboxId: s.mailboxId, kind: 'exists', uids: [s.uid], modseq: s.modseq });
    if (result.queued.length) services.queue.kick();
    return { blob, ...result };
  } catch (err) {
    // nothing references the blob: remove the file so a failed delivery leaves no trace
    blobs.release(blob.id);
    await blobs.unlinkUnreferenced(db, [blob.id]).catch(() => 0);
    throw err;
  }
}
