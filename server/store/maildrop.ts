// POP3's view of an account's INBOX (RFC 1939): the messages at login with their CRLF sizes and stable unique ids, the
// blob of one message, and what QUIT commits (DELE'd messages removed, retrieved ones marked \Seen) in one transaction.
import type { Kysely } from 'kysely';
import type { Database, Mailbox } from '../db/schema.js';
import type { Tx, WriteQueue } from '../db/transaction.js';
import type { Logger } from '../log/logger.js';
import type { BlobStore } from './blobs.js';
import { CrlfNormalizer } from './crlf.js';
import { deliveryMailbox } from './mailboxes.js';
import { removeUids, uidRanges, updateFlags, type FlagChange } from './mailbox-messages.js';

export interface MaildropMessage {
  uid: number;
  /** octets with CRLF line endings: what LIST counts and RETR sends before dot-stuffing */
  size: number;
  blobId: string;
}

export interface Maildrop {
  mailbox: Mailbox;
  /** in UID order: message number n is messages[n - 1] */
  messages: MaildropMessage[];
}

/**
 * The unique-id listing's id for a message (RFC 1939 §7 UIDL): UIDVALIDITY and UID never name another message of
 * the folder, so the id stays the same across sessions and after other messages are deleted.
 */
export function uniqueId(mailbox: Mailbox, uid: number): string {
  return `${mailbox.uidvalidity}.${uid}`;
}

async function measure(blobs: BlobStore, blobId: string): Promise<number> {
  const normalizer = new CrlfNormalizer();
  for await (const chunk of blobs.createReadStream(blobId, {})) normalizer.push(chunk as Buffer);
  normalizer.end();
  return normalizer.size;
}

/**
 * Lists INBOX for a POP3 session. Blobs stored before wire sizes were recorded are measured once from their files and
 * the sizes kept; a message whose file cannot be read (expunged meanwhile) is left out of the listing.
 */
export async function openMaildrop(db: Kysely<Database>, writes: WriteQueue, blobs: BlobStore, accountId: number, log: Logger): Promise<Maildrop> {
  const mailbox = await deliveryMailbox(db, accountId, null);
  const rows = await db
    .selectFrom('messages')
    .innerJoin('blobs', 'blobs.id', 'messages.blob_id')
    .select(['messages.uid', 'messages.blob_id', 'blobs.wire_size'])
    .where('messages.mailbox_id', '=', mailbox.id)
    .orderBy('messages.uid')
    .execute();
  const measured = new Map<string, number | null>();
  for (const row of rows) {
    if (row.wire_size !== null || measured.has(row.blob_id)) continue;
    measured.set(
      row.blob_id,
      await measure(blobs, row.blob_id).catch((err: unknown) => {
        log.warn({ err, blob: row.blob_id }, 'message file unreadable; left out of the POP3 listing');
        return null;
      })
    );
  }
  const sizes = [...measured].filter((entry): entry is [string, number] => entry[1] !== null);
  if (sizes.length) {
    await writes.run(async (tx) => {
      for (const [id, size] of sizes) await tx.updateTable('blobs').set({ wire_size: size }).where('id', '=', id).execute();
    });
  }
  const messages: MaildropMessage[] = [];
  for (const row of rows) {
    const size = row.wire_size ?? measured.get(row.blob_id);
    if (size !== null && size !== undefined) messages.push({ uid: row.uid, size, blobId: row.blob_id });
  }
  return { mailbox, messages };
}

/** Whether the message is still in the folder (another session may have expunged it since the listing). */
export async function messageExists(db: Kysely<Database>, mailboxId: number, uid: number): Promise<boolean> {
  const row = await db.selectFrom('messages').select('id').where('mailbox_id', '=', mailboxId).where('uid', '=', uid).executeTakeFirst();
  return row !== undefined;
}

export interface MaildropUpdate {
  /** UIDs marked with DELE */
  deleted: number[];
  /** UIDs sent whole with RETR and not deleted: they get \Seen, as an IMAP client reading them would set it */
  retrieved: number[];
}

export interface MaildropResult {
  expunged: { uids: number[]; modseq: number; freed: string[] };
  seen: FlagChange[];
}

/** The UPDATE state (RFC 1939 §6): one transaction, so a failure removes nothing. */
export async function commitMaildrop(tx: Tx, mailboxId: number, update: MaildropUpdate): Promise<MaildropResult> {
  const seen = update.retrieved.length ? (await updateFlags(tx, mailboxId, uidRanges(update.retrieved), 'add', ['\\Seen'])).changed : [];
  const mailbox = await tx.selectFrom('mailboxes').selectAll().where('id', '=', mailboxId).executeTakeFirstOrThrow();
  return { expunged: await removeUids(tx, mailbox, update.deleted), seen };
}
