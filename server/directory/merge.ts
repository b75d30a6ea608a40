// Account merge: every folder and message of one account moved into another, its addresses re-pointed, the source deleted.
import type { Kysely } from 'kysely';
import type { Account, Database, Mailbox } from '../db/schema.js';
import { writeTransaction, type Tx } from '../db/transaction.js';
import { createMailbox, findMailbox, listMailboxes } from '../store/mailboxes.js';
import { checkHostedAddress } from './address.js';
import { audit, type Actor } from './audit.js';
import { invalid, notFound } from './errors.js';

export interface MergedFolder {
  /** folder name in the source account */
  from: string;
  /** folder name in the target account it went into */
  to: string;
  /** the target folder's id: the caller publishes IMAP change notifications for it after the commit */
  mailboxId: number;
  /** messages moved into it */
  moved: number;
}

export interface MergeResult {
  /** messages moved in all */
  moved: number;
  folders: MergedFolder[];
  /**
   * Blob ids whose files may be unlinked after the commit. A merge moves messages without copying them, so no
   * reference is dropped and this is empty; it is returned so callers treat a merge like removeAccount.
   */
  freed: string[];
}

/**
 * Moves all folders and messages of `sourceAddress` into `targetAddress` and deletes the source account, in one
 * transaction: on any failure nothing has changed.
 *
 * - A source folder goes into the target's folder with the same special use (RFC 6154: the source's \Sent lands
 *   in the target's \Sent whatever it is called), else the one with the same name, else a new folder of that name
 *   (superiors created as needed). Messages keep flags, internal date and their parsed columns, and get new UIDs
 *   after the target folder's existing ones with one new modseq per folder (RFC 9051 §2.3.1.1, RFC 7162 §3.1).
 * - The message rows are re-homed rather than copied, so blob refcounts and the per-blob full-text rows stay as
 *   they are; used_bytes moves from the source to the target. The target's quota is not enforced: this is an
 *   admin's decision, and refusing halfway would help nobody.
 * - The source's aliases now point at the target, and the source address itself becomes an alias of the target:
 *   senders and lists that still know the old address keep reaching the person, instead of getting a 550.
 *   An admin who wants the old address gone removes that alias afterwards. Forwards of the source address are
 *   deleted (its mail now belongs to the target); catch-alls naming it name the target.
 */
export async function mergeAccounts(db: Kysely<Database>, actor: Actor, sourceAddress: string, targetAddress: string): Promise<MergeResult> {
  const source = checkHostedAddress('source', sourceAddress).address;
  const target = checkHostedAddress('target', targetAddress).address;
  if (source === target) throw invalid('target', 'distinct', 'an account cannot be merged into itself');
  return writeTransaction(db, async (tx) => {
    const from = await accountFor(tx, 'source', source);
    const into = await accountFor(tx, 'target', target);
    const folders: MergedFolder[] = [];
    let moved = 0;
    let bytes = 0;
    // by name, so a superior is placed before its inferiors
    for (const folder of await listMailboxes(tx, from.id)) {
      const destination = await targetFolder(tx, into, folder);
      const result = await moveFolderMessages(tx, folder, destination);
      folders.push({ from: folder.name, to: destination.name, mailboxId: destination.id, moved: result.moved });
      moved += result.moved;
      bytes += result.bytes;
    }
    await tx.updateTable('accounts').set((eb) => ({ used_bytes: eb('used_bytes', '+', bytes), updated_at: Date.now() })).where('id', '=', into.id).execute();

    const aliases = await tx.selectFrom('aliases').select('address').where('account_id', '=', from.id).execute();
    await tx.updateTable('aliases').set({ account_id: into.id }).where('account_id', '=', from.id).execute();
    await tx.deleteFrom('forwards').where('source', '=', from.address).execute();
    await tx.updateTable('domains').set({ catchall_target: into.address }).where('catchall_target', '=', from.address).execute();
    // the account row goes first (its folders go with it, ON DELETE CASCADE), then its address becomes an alias
    await tx.deleteFrom('expunges').where('mailbox_id', 'in', tx.selectFrom('mailboxes').select('id').where('account_id', '=', from.id)).execute();
    await tx.deleteFrom('mailboxes').where('account_id', '=', from.id).execute();
    await tx.deleteFrom('accounts').where('id', '=', from.id).execute();
    await tx.insertInto('aliases').values({ domain_id: from.domain_id, address: from.address, account_id: into.id, created_at: Date.now() }).execute();

    await audit(tx, actor, 'account.merge', from.address, {
      into: into.address,
      moved,
      bytes,
      folders: folders.map((f) => ({ from: f.from, to: f.to, moved: f.moved })),
      aliases: [...aliases.map((a) => a.address), from.address]
    });
    return { moved, folders, freed: [] };
  });
}

/** Like requireAccount, but the error names the field the caller filled in. */
async function accountFor(tx: Tx, field: 'source' | 'target', address: string): Promise<Account> {
  const account = await tx.selectFrom('accounts').selectAll().where('address', '=', address).executeTakeFirst();
  if (!account) throw notFound(field, `no account ${address}`);
  return account;
}

/** The target's folder for a source folder: same special use, else same name, else created with that name. */
async function targetFolder(tx: Tx, into: Account, folder: Mailbox): Promise<Mailbox> {
  if (folder.special_use) {
    const bySpecialUse = await tx.selectFrom('mailboxes').selectAll().where('account_id', '=', into.id).where('special_use', '=', folder.special_use).executeTakeFirst();
    if (bySpecialUse) return bySpecialUse;
  }
  const byName = await findMailbox(tx, into.id, folder.name);
  if (byName) return byName;
  // the target has no folder with this special use (else it matched above), so the new folder takes it over
  return createMailbox(tx, into.id, folder.name, folder.special_use);
}

/** Re-homes all messages of a source folder into the target folder: new UIDs in source UID order, one new modseq. */
async function moveFolderMessages(tx: Tx, folder: Mailbox, destination: Mailbox): Promise<{ moved: number; bytes: number }> {
  const rows = await tx.selectFrom('messages').select(['id', 'size']).where('mailbox_id', '=', folder.id).orderBy('uid').execute();
  if (!rows.length) return { moved: 0, bytes: 0 };
  // read again: an earlier source folder (e.g. "Sent" and a plain folder of the same name) may have filled it
  const fresh = await tx.selectFrom('mailboxes').select(['uidnext', 'highestmodseq']).where('id', '=', destination.id).executeTakeFirstOrThrow();
  const modseq = fresh.highestmodseq + 1;
  let uid = fresh.uidnext;
  let bytes = 0;
  for (const row of rows) {
    await tx.updateTable('messages').set({ mailbox_id: destination.id, uid: uid++, modseq }).where('id', '=', row.id).execute();
    bytes += row.size;
  }
  await tx.updateTable('mailboxes').set({ uidnext: uid, highestmodseq: modseq }).where('id', '=', destination.id).execute();
  return { moved: rows.length, bytes };
}
