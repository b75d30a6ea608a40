// Mailboxes of an account: the special-use set created with every account, lookup and UID/modseq allocation.
import type { Tx } from '../db/transaction.js';
import type { Mailbox } from '../db/schema.js';

/** RFC 6154 special-use folders every account starts with; they cannot be deleted. */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse: string | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' }
];

/**
 * A UIDVALIDITY that is larger than any this account used before (RFC 9051 §2.3.1.1: a mailbox
 * re-created under an old name must not reuse the old value).
 */
export async function nextUidValidity(tx: Tx, accountId: number): Promise<number> {
  const row = await tx
    .selectFrom('mailboxes')
    .select((eb) => eb.fn.max('uidvalidity').as('max'))
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  const now = Math.floor(Date.now() / 1000);
  return Math.max(now, Number(row?.max ?? 0) + 1);
}

export async function createDefaultMailboxes(tx: Tx, accountId: number): Promise<void> {
  let uidvalidity = await nextUidValidity(tx, accountId);
  const now = Date.now();
  for (const m of DEFAULT_MAILBOXES) {
    await tx
      .insertInto('mailboxes')
      .values({ account_id: accountId, name: m.name, special_use: m.specialUse, uidvalidity: uidvalidity++, uidnext: 1, highestmodseq: 1, subscribed: 1, created_at: now })
      .execute();
  }
}

/** The folder a delivery lands in: INBOX, or the account's folder with the given special use (falls back to INBOX). */
export async function deliveryMailbox(tx: Tx, accountId: number, specialUse: string | null): Promise<Mailbox> {
  if (specialUse) {
    const found = await tx.selectFrom('mailboxes').selectAll().where('account_id', '=', accountId).where('special_use', '=', specialUse).executeTakeFirst();
    if (found) return found;
  }
  const inbox = await tx.selectFrom('mailboxes').selectAll().where('account_id', '=', accountId).where('name', '=', 'INBOX').executeTakeFirst();
  if (!inbox) throw new Error(`account ${accountId} has no INBOX`);
  return inbox;
}

export function listMailboxes(tx: Tx, accountId: number): Promise<Mailbox[]> {
  return tx.selectFrom('mailboxes').selectAll().where('account_id', '=', accountId).orderBy('name').execute();
}

export function findMailbox(tx: Tx, accountId: number, name: string): Promise<Mailbox | undefined> {
  return tx.selectFrom('mailboxes').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
}
