// The persistent outbound queue's rows: one entry per message and recipient domain, a status per recipient; the only
// code that writes the queue tables. Entries hold one blob reference each, dropped when the entry is finished.
import type { Kysely } from 'kysely';
import type { Database, QueueEntry, QueueRecipient } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import { domainOf } from '../directory/address.js';
import { addBlobReferences, dropBlobReferences } from '../store/messages.js';

export type QueueOrigin = QueueEntry['origin'];

export interface OutboundMessage {
  blob: { id: string; size: number };
  /** MAIL FROM for delivery ('' for a DSN) */
  sender: string;
  /** where a DSN about a failure goes ('' = nowhere) */
  returnPath: string;
  origin: QueueOrigin;
  /** the hosted address whose forward caused this copy */
  forwardedFor?: string | null;
  recipients: string[];
}

/** Adds a message to the queue inside the caller's transaction: one entry per recipient domain. */
export async function enqueue(tx: Tx, message: OutboundMessage, now: number, maxAgeMs: number): Promise<number[]> {
  const byDomain = new Map<string, string[]>();
  for (const recipient of new Set(message.recipients)) {
    const domain = domainOf(recipient);
    byDomain.set(domain, [...(byDomain.get(domain) ?? []), recipient]);
  }
  if (!byDomain.size) return [];
  await addBlobReferences(tx, message.blob, byDomain.size);
  const ids: number[] = [];
  for (const [domain, recipients] of byDomain) {
    const entry = await tx
      .insertInto('queue')
      .values({
        blob_id: message.blob.id,
        sender: message.sender,
        return_path: message.returnPath,
        domain,
        origin: message.origin,
        forwarded_for: message.forwardedFor ?? null,
        attempts: 0,
        next_attempt: now,
        expires_at: now + maxAgeMs,
        leased_until: null,
        last_error: null,
        created_at: now
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await tx
      .insertInto('queue_recipients')
      .values(recipients.map((recipient) => ({ queue_id: entry.id, recipient, status: 'pending' as const, reply: null, remote_mta: null, updated_at: now })))
      .execute();
    ids.push(entry.id);
  }
  return ids;
}

/**
 * Start-up: attempts that were running when the process stopped never finished, so their entries are due again.
 * (One process owns the queue; several nodes on PostgreSQL would let the leases run out instead.)
 */
export async function releaseLeases(db: Kysely<Database>): Promise<number> {
  const result = await db.updateTable('queue').set({ leased_until: null }).where('leased_until', 'is not', null).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Takes up to `limit` due entries for an attempt, marking them leased so no second attempt starts meanwhile. */
export async function claimDue(db: Kysely<Database>, now: number, limit: number, leaseMs: number): Promise<QueueEntry[]> {
  if (limit <= 0) return [];
  const due = await db
    .selectFrom('queue')
    .selectAll()
    .where('next_attempt', '<=', now)
    .where((eb) => eb.or([eb('leased_until', 'is', null), eb('leased_until', '<', now)]))
    .orderBy('next_attempt')
    .limit(limit)
    .execute();
  const claimed: QueueEntry[] = [];
  for (const entry of due) {
    const result = await db
      .updateTable('queue')
      .set({ leased_until: now + leaseMs })
      .where('id', '=', entry.id)
      .where((eb) => eb.or([eb('leased_until', 'is', null), eb('leased_until', '<', now)]))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1) claimed.push({ ...entry, leased_until: now + leaseMs });
  }
  return claimed;
}

/** When the next entry falls due (null: the queue is empty or everything is leased). */
export async function nextDue(db: Kysely<Database>): Promise<number | null> {
  const row = await db.selectFrom('queue').select((eb) => eb.fn.min('next_attempt').as('next')).where('leased_until', 'is', null).executeTakeFirst();
  return row?.next ?? null;
}

/** How much waits: entries, their pending recipients, and when the oldest entry was queued (null when empty). */
export async function queueSize(db: Kysely<Database>): Promise<{ entries: number; recipients: number; oldest: number | null }> {
  const entries = await db.selectFrom('queue').select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('created_at').as('oldest')]).executeTakeFirstOrThrow();
  const recipients = await db.selectFrom('queue_recipients').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow();
  return { entries: Number(entries.n), recipients: Number(recipients.n), oldest: entries.oldest === null ? null : Number(entries.oldest) };
}

export function pendingRecipients(db: Tx, entryId: number): Promise<QueueRecipient[]> {
  return db.selectFrom('queue_recipients').selectAll().where('queue_id', '=', entryId).where('status', '=', 'pending').orderBy('id').execute();
}

export interface RecipientResult {
  recipient: string;
  status: 'delivered' | 'failed' | 'deferred';
  /** the remote reply or our own reason, e.g. "550 5.1.1 no such user" */
  reply: string;
  /** the server that gave the reply */
  remoteMta: string | null;
}

export interface AttemptRecord {
  results: RecipientResult[];
  /** summary for last_error when something is deferred */
  error: string | null;
  /** when the next attempt is due, for deferred recipients */
  nextAttempt: number;
}

/**
 * Records one attempt's outcome in the caller's transaction. An entry with nothing pending is removed and its
 * blob reference dropped; returns whether that happened and which blob files may now be unlinked.
 */
export async function recordAttempt(tx: Tx, entry: QueueEntry, record: AttemptRecord, now: number): Promise<{ finished: boolean; freed: string[] }> {
  // an operator may have deleted the entry while the attempt ran: its reference is gone already
  if (!(await findEntry(tx, entry.id))) return { finished: true, freed: [] };
  for (const r of record.results) {
    if (r.status === 'deferred') {
      await tx.updateTable('queue_recipients').set({ reply: r.reply, remote_mta: r.remoteMta, updated_at: now }).where('queue_id', '=', entry.id).where('recipient', '=', r.recipient).execute();
    } else {
      await tx
        .updateTable('queue_recipients')
        .set({ status: r.status, reply: r.reply, remote_mta: r.remoteMta, updated_at: now })
        .where('queue_id', '=', entry.id)
        .where('recipient', '=', r.recipient)
        .execute();
    }
  }
  const pending = await pendingRecipients(tx, entry.id);
  if (!pending.length) return { finished: true, freed: await removeEntry(tx, entry) };
  await tx
    .updateTable('queue')
    .set({ attempts: entry.attempts + 1, next_attempt: record.nextAttempt, leased_until: null, last_error: record.error })
    .where('id', '=', entry.id)
    .execute();
  return { finished: false, freed: [] };
}

async function removeEntry(tx: Tx, entry: Pick<QueueEntry, 'id' | 'blob_id'>): Promise<string[]> {
  await tx.deleteFrom('queue').where('id', '=', entry.id).execute();
  return dropBlobReferences(tx, new Map([[entry.blob_id, 1]]));
}

export interface QueueListing extends QueueEntry {
  size: number;
  recipients: QueueRecipient[];
}

/** The queue for operators: every entry with its recipients, oldest first. */
export async function listQueue(db: Kysely<Database>, options: { limit?: number } = {}): Promise<QueueListing[]> {
  const entries = await db
    .selectFrom('queue')
    .innerJoin('blobs', 'blobs.id', 'queue.blob_id')
    .selectAll('queue')
    .select('blobs.size')
    .orderBy('queue.created_at')
    .orderBy('queue.id')
    .limit(options.limit ?? 1000)
    .execute();
  if (!entries.length) return [];
  const recipients = await db
    .selectFrom('queue_recipients')
    .selectAll()
    .where(
      'queue_id',
      'in',
      entries.map((e) => e.id)
    )
    .orderBy('id')
    .execute();
  return entries.map((e) => ({ ...e, recipients: recipients.filter((r) => r.queue_id === e.id) }));
}

export function findEntry(db: Tx, id: number): Promise<QueueEntry | undefined> {
  return db.selectFrom('queue').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Makes an entry due now (operator's "retry"); false when there is no such entry. */
export async function retryEntry(db: Tx, id: number, now: number): Promise<boolean> {
  const result = await db.updateTable('queue').set({ next_attempt: now }).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Removes an entry without delivering it or sending a DSN (operator's "delete"); null when there is none. */
export async function deleteEntry(tx: Tx, id: number): Promise<{ entry: QueueEntry; freed: string[] } | null> {
  const entry = await findEntry(tx, id);
  if (!entry) return null;
  return { entry, freed: await removeEntry(tx, entry) };
}
