// Message storage: parse once at delivery (envelope, body structure, search text), store per mailbox with UID/modseq,
// keep blob refcounts and quota usage right, and remove an account's messages with their blobs.
import { sql } from 'kysely';
import type { Tx } from '../db/transaction.js';
import type { Message } from '../db/schema.js';
import { buildEnvelope, type Envelope } from './envelope.js';
import { parseMessage, type MimePart } from './mime.js';
import { extractSearchFields, type SearchFields } from './search-text.js';
import { deliveryMailbox } from './mailboxes.js';
import { crlfSize } from './crlf.js';

/** What is computed from the raw bytes once, before the delivery transaction. */
export interface PreparedMessage {
  size: number;
  /** size with CRLF line endings (POP3), see crlf.ts */
  wireSize: number;
  envelope: Envelope;
  structure: MimePart;
  search: SearchFields;
}

export function prepareMessage(raw: Buffer): PreparedMessage {
  const structure = parseMessage(raw);
  return {
    size: raw.length,
    wireSize: crlfSize(raw),
    envelope: buildEnvelope(structure.headers),
    structure,
    search: extractSearchFields(raw, structure)
  };
}

/** The stored body structure: the parsed tree without header lists (those are re-read from the blob when fetched). */
export function serializeStructure(part: MimePart): string {
  return JSON.stringify(part, (key, value) => (key === 'headers' ? undefined : value));
}

export interface DeliveryTarget {
  accountId: number;
  /** special-use of the folder to store into; null = INBOX */
  specialUse: string | null;
  /** a specific folder (IMAP APPEND); overrides specialUse */
  mailboxId?: number;
  flags?: string[];
}

export interface StoredMessage {
  accountId: number;
  mailboxId: number;
  messageId: number;
  uid: number;
  modseq: number;
}

/**
 * Stores one blob (already durable on disk) as a message in each target's folder. Runs inside the caller's
 * transaction so that the outbound entries and every mailbox are committed together or not at all.
 */
export async function storeMessage(
  tx: Tx,
  blob: { id: string; size: number },
  prepared: PreparedMessage,
  targets: DeliveryTarget[],
  internalDate: number
): Promise<StoredMessage[]> {
  const stored: StoredMessage[] = [];
  if (!targets.length) return stored;
  const num = await addBlobReferences(tx, { ...blob, wireSize: prepared.wireSize }, targets.length);
  await indexBlobText(tx, num, prepared.search);
  const envelope = JSON.stringify(prepared.envelope);
  const bodystructure = serializeStructure(prepared.structure);
  const s = prepared.search;
  for (const target of targets) {
    const mailbox = target.mailboxId
      ? await tx.selectFrom('mailboxes').selectAll().where('id', '=', target.mailboxId).executeTakeFirstOrThrow()
      : await deliveryMailbox(tx, target.accountId, target.specialUse);
    const uid = mailbox.uidnext;
    const modseq = mailbox.highestmodseq + 1;
    await tx.updateTable('mailboxes').set({ uidnext: uid + 1, highestmodseq: modseq }).where('id', '=', mailbox.id).execute();
    const inserted = await tx
      .insertInto('messages')
      .values({
        mailbox_id: mailbox.id,
        uid,
        modseq,
        flags: (target.flags ?? []).join(' '),
        internal_date: internalDate,
        size: blob.size,
        blob_id: blob.id,
        envelope,
        bodystructure,
        subject: s.subject,
        from_addr: s.from,
        to_addr: s.to,
        cc_addr: s.cc,
        bcc_addr: s.bcc,
        message_id: s.messageId,
        sent_date: s.sentDate
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await tx.updateTable('accounts').set((eb) => ({ used_bytes: eb('used_bytes', '+', blob.size) })).where('id', '=', target.accountId).execute();
    stored.push({ accountId: target.accountId, mailboxId: mailbox.id, messageId: inserted.id, uid, modseq });
  }
  return stored;
}

/** Adds the blob's text to the full-text index unless it is there already (one row per blob). */
async function indexBlobText(tx: Tx, num: number, search: SearchFields): Promise<void> {
  const present = await sql<{ rowid: number }>`SELECT rowid FROM message_text WHERE rowid = ${num}`.execute(tx);
  if (present.rows.length) return;
  await sql`INSERT INTO message_text (rowid, headers, body) VALUES (${num}, ${search.headers}, ${search.body})`.execute(tx);
}

/**
 * Counts new references to a blob, creating its row on first use; returns the blob's integer key. The wire size, when
 * known, fills a row that lacks it (a queue entry may have created the row in the same transaction).
 */
export async function addBlobReferences(tx: Tx, blob: { id: string; size: number; wireSize?: number }, count: number): Promise<number> {
  const wireSize = blob.wireSize ?? null;
  const row = await tx
    .insertInto('blobs')
    .values({ id: blob.id, size: blob.size, refcount: count, created_at: Date.now(), wire_size: wireSize })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({ refcount: eb('blobs.refcount', '+', count), wire_size: eb.fn.coalesce('blobs.wire_size', eb.val(wireSize)) }))
    )
    .returning('num')
    .executeTakeFirstOrThrow();
  return row.num;
}

/**
 * Drops references; rows reaching zero are deleted. Returns the ids whose files may now be unlinked. One UPDATE per
 * blob, then the rows that reached zero found and deleted 500 at a time (an expunge or POP3 QUIT of thousands of
 * messages would otherwise cost four statements per message).
 */
export async function dropBlobReferences(tx: Tx, counts: Map<string, number>): Promise<string[]> {
  for (const [id, n] of counts) await tx.updateTable('blobs').set((eb) => ({ refcount: eb('refcount', '-', n) })).where('id', '=', id).execute();
  const ids = [...counts.keys()];
  const freed: string[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const gone = await tx.selectFrom('blobs').select(['num', 'id']).where('id', 'in', ids.slice(i, i + 500)).where('refcount', '<=', 0).execute();
    if (!gone.length) continue;
    await sql`DELETE FROM message_text WHERE rowid IN (${sql.join(gone.map((r) => r.num))})`.execute(tx);
    await tx.deleteFrom('blobs').where('id', 'in', gone.map((r) => r.id)).execute();
    freed.push(...gone.map((r) => r.id));
  }
  return freed;
}

/** Removes every message and mailbox of an account (its mail is gone); returns blob ids to unlink after commit. */
export async function purgeAccountMail(tx: Tx, accountId: number): Promise<string[]> {
  const rows = await tx
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .select(['messages.id', 'messages.blob_id'])
    .where('mailboxes.account_id', '=', accountId)
    .execute();
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.blob_id, (counts.get(r.blob_id) ?? 0) + 1);
  const mailboxIds = tx.selectFrom('mailboxes').select('id').where('account_id', '=', accountId);
  await tx.deleteFrom('messages').where('mailbox_id', 'in', mailboxIds).execute();
  await tx.deleteFrom('expunges').where('mailbox_id', 'in', mailboxIds).execute();
  await tx.deleteFrom('mailboxes').where('account_id', '=', accountId).execute();
  await tx.updateTable('accounts').set({ used_bytes: 0 }).where('id', '=', accountId).execute();
  return dropBlobReferences(tx, counts);
}

/** Messages of one folder of an account, in UID order (tests and the admin views read mail this way). */
export function listMessages(tx: Tx, accountId: number, mailboxName: string): Promise<Message[]> {
  return tx
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .selectAll('messages')
    .where('mailboxes.account_id', '=', accountId)
    .where('mailboxes.name', '=', mailboxName)
    .orderBy('messages.uid')
    .execute();
}

/** Number of messages per account (all folders), for the admin views; accounts without mail are absent. */
export async function messageCountsByAccount(tx: Tx, accountIds?: number[]): Promise<Map<number, number>> {
  if (accountIds && !accountIds.length) return new Map();
  let q = tx
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .select(['mailboxes.account_id as account', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('mailboxes.account_id');
  if (accountIds) q = q.where('mailboxes.account_id', 'in', accountIds);
  return new Map((await q.execute()).map((r) => [r.account, Number(r.n)]));
}

/** Where a message with this Message-ID header landed in an account (any folder), earliest first; null when nowhere. */
export async function findByMessageId(tx: Tx, accountId: number, messageId: string): Promise<{ folder: string; uid: number; internalDate: number } | null> {
  const row = await tx
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .select(['mailboxes.name as folder', 'messages.uid', 'messages.internal_date'])
    .where('mailboxes.account_id', '=', accountId)
    .where('messages.message_id', '=', messageId)
    .orderBy('messages.internal_date')
    .executeTakeFirst();
  return row ? { folder: row.folder, uid: row.uid, internalDate: row.internal_date } : null;
}
