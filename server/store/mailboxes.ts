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
  // a deleted folder's value is gone from the table above: the account remembers the highest of those
  const floor = await tx.selectFrom('accounts').select('uidvalidity_floor').where('id', '=', accountId).executeTakeFirst();
  const now = Math.floor(Date.now() / 1000);
  return Math.max(now, Number(row?.max ?? 0) + 1, Number(floor?.uidvalidity_floor ?? 0) + 1);
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

/** RFC 9051 §5.1: names are UTF-8 (IMAP4rev2 / UTF8=ACCEPT) with '/' as the hierarchy delimiter. */
export const HIERARCHY_DELIMITER = '/';
/** Folders one account may have; a guard against clients (or attackers) creating without end. */
export const MAX_MAILBOXES = 2000;
const MAX_NAME_BYTES = 1000;

export class MailboxError extends Error {
  constructor(
    /** IMAP response code (RFC 9051 §7.1) */
    readonly code: 'NONEXISTENT' | 'ALREADYEXISTS' | 'CANNOT' | 'HASCHILDREN' | 'LIMIT',
    message: string
  ) {
    super(message);
    this.name = 'MailboxError';
  }
}

/** INBOX is case-insensitive (RFC 9051 §5.1); every other name is taken as given. */
export function normalizeMailboxName(name: string): string {
  const trimmed = name.replace(/\/+$/, '');
  if (/^inbox$/i.test(trimmed)) return 'INBOX';
  if (/^inbox\//i.test(trimmed)) return 'INBOX' + trimmed.slice(5);
  return trimmed;
}

export function checkMailboxName(name: string): void {
  if (!name) throw new MailboxError('CANNOT', 'Mailbox name is empty');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new MailboxError('CANNOT', 'Mailbox name is too long');
  if (name.split(HIERARCHY_DELIMITER).some((part) => part === '')) throw new MailboxError('CANNOT', 'Mailbox name has an empty level');
  if (/[\x00-\x1f\x7f*%]/.test(name)) throw new MailboxError('CANNOT', 'Mailbox name contains a forbidden character');
}

export async function requireMailbox(tx: Tx, accountId: number, name: string): Promise<Mailbox> {
  const mailbox = await findMailbox(tx, accountId, normalizeMailboxName(name));
  if (!mailbox) throw new MailboxError('NONEXISTENT', 'No such mailbox');
  return mailbox;
}

/** Creates a folder, and any missing superior levels (RFC 9051 §6.3.4). */
export async function createMailbox(tx: Tx, accountId: number, input: string, specialUse: string | null = null): Promise<Mailbox> {
  const name = normalizeMailboxName(input);
  checkMailboxName(name);
  if (await findMailbox(tx, accountId, name)) throw new MailboxError('ALREADYEXISTS', 'Mailbox already exists');
  const count = await tx.selectFrom('mailboxes').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
  const levels = name.split(HIERARCHY_DELIMITER);
  if (Number(count.n) + levels.length > MAX_MAILBOXES) throw new MailboxError('LIMIT', `At most ${MAX_MAILBOXES} mailboxes per account`);
  let uidvalidity = await nextUidValidity(tx, accountId);
  const now = Date.now();
  for (let i = 1; i < levels.length; i++) {
    const parent = levels.slice(0, i).join(HIERARCHY_DELIMITER);
    if (!(await findMailbox(tx, accountId, parent))) {
      await tx.insertInto('mailboxes').values({ account_id: accountId, name: parent, special_use: null, uidvalidity: uidvalidity++, uidnext: 1, highestmodseq: 1, subscribed: 1, created_at: now }).execute();
    }
  }
  return tx
    .insertInto('mailboxes')
    .values({ account_id: accountId, name, special_use: specialUse, uidvalidity, uidnext: 1, highestmodseq: 1, subscribed: 1, created_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function hasChildren(tx: Tx, accountId: number, name: string): Promise<boolean> {
  const prefix = name + HIERARCHY_DELIMITER;
  const child = await tx
    .selectFrom('mailboxes')
    .select('id')
    .where('account_id', '=', accountId)
    .where((eb) => eb(eb.fn('substr', ['name', eb.val(1), eb.val(prefix.length)]), '=', prefix))
    .executeTakeFirst();
  return Boolean(child);
}

/**
 * Renames a folder with all its inferiors (RFC 9051 §6.3.6). Renaming INBOX moves its messages into a new
 * folder and leaves INBOX empty; that case is handled by the caller through moveAllMessages.
 */
export async function renameMailbox(tx: Tx, accountId: number, fromInput: string, toInput: string): Promise<void> {
  const from = normalizeMailboxName(fromInput);
  const to = normalizeMailboxName(toInput);
  checkMailboxName(to);
  const source = await requireMailbox(tx, accountId, from);
  if (source.name === 'INBOX') throw new MailboxError('CANNOT', 'INBOX is renamed by moving its messages');
  if (await findMailbox(tx, accountId, to)) throw new MailboxError('ALREADYEXISTS', 'Target mailbox already exists');
  if (to === from || to.startsWith(from + HIERARCHY_DELIMITER)) throw new MailboxError('CANNOT', 'Cannot move a mailbox into itself');
  const all = await listMailboxes(tx, accountId);
  const prefix = from + HIERARCHY_DELIMITER;
  const affected = all.filter((m) => m.name === from || m.name.startsWith(prefix));
  for (const m of affected) {
    const newName = to + m.name.slice(from.length);
    if (m.id !== source.id && all.some((x) => x.name === newName)) throw new MailboxError('ALREADYEXISTS', `${newName} already exists`);
  }
  // create missing superiors of the target
  const levels = to.split(HIERARCHY_DELIMITER);
  let uidvalidity = await nextUidValidity(tx, accountId);
  for (let i = 1; i < levels.length; i++) {
    const parent = levels.slice(0, i).join(HIERARCHY_DELIMITER);
    if (!all.some((m) => m.name === parent) && !affected.some((m) => to + m.name.slice(from.length) === parent)) {
      await tx.insertInto('mailboxes').values({ account_id: accountId, name: parent, special_use: null, uidvalidity: uidvalidity++, uidnext: 1, highestmodseq: 1, subscribed: 1, created_at: Date.now() }).execute();
      all.push({ name: parent } as Mailbox);
    }
  }
  for (const m of affected) {
    await tx.updateTable('mailboxes').set({ name: to + m.name.slice(from.length) }).where('id', '=', m.id).execute();
  }
}

export async function setSubscribed(tx: Tx, accountId: number, name: string, subscribed: boolean): Promise<void> {
  const mailbox = await findMailbox(tx, accountId, normalizeMailboxName(name));
  // RFC 9051 §6.3.7: subscribing to a name that does not exist is allowed; we only keep subscriptions of real folders
  if (!mailbox) {
    if (subscribed) throw new MailboxError('NONEXISTENT', 'No such mailbox');
    return;
  }
  await tx.updateTable('mailboxes').set({ subscribed: subscribed ? 1 : 0 }).where('id', '=', mailbox.id).execute();
}

export function mailboxById(tx: Tx, id: number): Promise<Mailbox | undefined> {
  return tx.selectFrom('mailboxes').selectAll().where('id', '=', id).executeTakeFirst();
}
