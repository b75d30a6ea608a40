// Operator actions on the outbound queue, shared by `postfach admin queue` and the admin API: list, retry now,
// delete (without DSN); changes are audited.
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { writeTransaction } from '../db/transaction.js';
import { audit, type Actor } from '../directory/audit.js';
import { notFound } from '../directory/errors.js';
import type { BlobStore } from '../store/blobs.js';
import { deleteEntry, listQueue, retryEntry, type QueueListing } from './store.js';

export interface QueueEntryView {
  id: number;
  sender: string;
  returnPath: string;
  domain: string;
  origin: QueueListing['origin'];
  forwardedFor: string | null;
  size: number;
  attempts: number;
  createdAt: string;
  nextAttempt: string;
  expiresAt: string;
  lastError: string | null;
  recipients: Array<{ address: string; status: string; reply: string | null }>;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function queueEntryView(e: QueueListing): QueueEntryView {
  return {
    id: e.id,
    sender: e.sender,
    returnPath: e.return_path,
    domain: e.domain,
    origin: e.origin,
    forwardedFor: e.forwarded_for,
    size: e.size,
    attempts: e.attempts,
    createdAt: iso(e.created_at),
    nextAttempt: iso(e.next_attempt),
    expiresAt: iso(e.expires_at),
    lastError: e.last_error,
    recipients: e.recipients.map((r) => ({ address: r.recipient, status: r.status, reply: r.reply }))
  };
}

export async function listQueueViews(db: Kysely<Database>, limit?: number): Promise<QueueEntryView[]> {
  return (await listQueue(db, { limit })).map(queueEntryView);
}

const field = 'id';

/** Makes entries due now: one by id, or every entry when id is 'all'. Returns how many. */
export async function retryQueued(db: Kysely<Database>, actor: Actor, id: number | 'all'): Promise<number> {
  return writeTransaction(db, async (tx) => {
    const now = Date.now();
    let count: number;
    if (id === 'all') {
      const result = await tx.updateTable('queue').set({ next_attempt: now }).executeTakeFirst();
      count = Number(result.numUpdatedRows);
    } else {
      if (!(await retryEntry(tx, id, now))) throw notFound(field, `queue entry ${id} does not exist (delivered, bounced or deleted)`);
      count = 1;
    }
    await audit(tx, actor, 'queue.retry', String(id), { entries: count });
    return count;
  });
}

/** Removes an entry without delivering it and without a DSN; its blob file goes when nothing else uses it. */
export async function deleteQueued(db: Kysely<Database>, blobs: BlobStore, actor: Actor, id: number): Promise<void> {
  const freed = await writeTransaction(db, async (tx) => {
    const removed = await deleteEntry(tx, id);
    if (!removed) throw notFound(field, `queue entry ${id} does not exist (delivered, bounced or deleted)`);
    await audit(tx, actor, 'queue.delete', String(id), { sender: removed.entry.sender, domain: removed.entry.domain });
    return removed.freed;
  });
  await blobs.unlinkUnreferenced(db, freed);
}
