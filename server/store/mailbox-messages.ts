// Message operations inside one account's folders for IMAP: list/fetch by UID, flag changes with modseq
// (RFC 7162), expunge with an expunge log (QRESYNC), copy/move with UIDPLUS mappings, folder deletion.
import { sql } from 'kysely';
import type { Mailbox } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import { dropBlobReferences, addBlobReferences } from './messages.js';
import { hasChildren, MailboxError, requireMailbox } from './mailboxes.js';

export interface MessageRow {
  id: number;
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: number;
  size: number;
  blobId: string;
  envelope: string;
  bodystructure: string;
}

/** UID ranges, inclusive, as the session resolved them from a sequence set. */
export type UidRanges = Array<[number, number]>;

export const parseFlags = (flags: string): string[] => (flags ? flags.split(' ') : []);

/** All UIDs of a folder in ascending order: the session's sequence-number map. */
export async function listUids(tx: Tx, mailboxId: number): Promise<number[]> {
  const rows = await tx.selectFrom('messages').select('uid').where('mailbox_id', '=', mailboxId).orderBy('uid').execute();
  return rows.map((r) => r.uid);
}

function toRow(r: { id: number; uid: number; modseq: number; flags: string; internal_date: number; size: number; blob_id: string; envelope: string; bodystructure: string }): MessageRow {
  return { id: r.id, uid: r.uid, modseq: r.modseq, flags: parseFlags(r.flags), internalDate: r.internal_date, size: r.size, blobId: r.blob_id, envelope: r.envelope, bodystructure: r.bodystructure };
}

/**
 * Membership test for UID ranges, O(log k) per UID: a 10,000-part set against a 100,000-message folder must not cost
 * 10^9 comparisons on the event loop (hostile input). Ranges may come in any order and overlap.
 */
export function uidRangeTest(ranges: UidRanges): (uid: number) => boolean {
  const merged: UidRanges = [];
  for (const [a, b] of ranges.map(([a, b]) => (a <= b ? [a, b] : [b, a])).sort((x, y) => x[0] - y[0])) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return (uid) => {
    let lo = 0;
    let hi = merged.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (uid < merged[mid][0]) hi = mid - 1;
      else if (uid > merged[mid][1]) lo = mid + 1;
      else return true;
    }
    return false;
  };
}

/** Messages whose UIDs fall in the ranges, ascending; optionally only those changed after a modseq (CHANGEDSINCE). */
export async function fetchRows(tx: Tx, mailboxId: number, ranges: UidRanges, changedSince?: number): Promise<MessageRow[]> {
  if (!ranges.length) return [];
  const out: MessageRow[] = [];
  // a few ranges become SQL; many small ones are fetched by their span and filtered here
  const spans = ranges.length <= 50 ? ranges : [[ranges[0][0], ranges[ranges.length - 1][1]] as [number, number]];
  for (const [lo, hi] of spans) {
    let q = tx
      .selectFrom('messages')
      .select(['id', 'uid', 'modseq', 'flags', 'internal_date', 'size', 'blob_id', 'envelope', 'bodystructure'])
      .where('mailbox_id', '=', mailboxId)
      .where('uid', '>=', lo)
      .where('uid', '<=', hi);
    if (changedSince !== undefined) q = q.where('modseq', '>', changedSince);
    for (const r of await q.orderBy('uid').execute()) out.push(toRow(r));
  }
  if (spans === ranges) return out;
  const wanted = uidRangeTest(ranges);
  return out.filter((m) => wanted(m.uid));
}

/** Allocates the next modseq of a folder (one per command that changes it, RFC 7162 §3.1). */
async function nextModseq(tx: Tx, mailboxId: number): Promise<number> {
  const row = await tx
    .updateTable('mailboxes')
    .set((eb) => ({ highestmodseq: eb('highestmodseq', '+', 1) }))
    .where('id', '=', mailboxId)
    .returning('highestmodseq')
    .executeTakeFirstOrThrow();
  return row.highestmodseq;
}

export interface FlagChange {
  uid: number;
  flags: string[];
  modseq: number;
}

/**
 * STORE: adds, removes or replaces flags. With unchangedSince (CONDSTORE) messages modified after it are left
 * alone and reported in `failed` (RFC 7162 §3.1.3).
 */
export async function updateFlags(
  tx: Tx,
  mailboxId: number,
  ranges: UidRanges,
  mode: 'add' | 'remove' | 'set',
  flags: string[],
  unchangedSince?: number
): Promise<{ changed: FlagChange[]; unchanged: FlagChange[]; failed: number[] }> {
  const rows = await fetchRows(tx, mailboxId, ranges);
  const changed: FlagChange[] = [];
  const unchanged: FlagChange[] = [];
  const failed: number[] = [];
  let modseq = 0;
  for (const row of rows) {
    if (unchangedSince !== undefined && row.modseq > unchangedSince) {
      failed.push(row.uid);
      continue;
    }
    const current = new Set(row.flags);
    let next: Set<string>;
    if (mode === 'set') next = new Set(flags);
    else {
      next = new Set(current);
      for (const f of flags) mode === 'add' ? next.add(f) : next.delete(f);
    }
    const same = next.size === current.size && [...next].every((f) => current.has(f));
    if (same) {
      unchanged.push({ uid: row.uid, flags: row.flags, modseq: row.modseq });
      continue;
    }
    modseq ||= await nextModseq(tx, mailboxId);
    const list = [...next];
    await tx.updateTable('messages').set({ flags: list.join(' '), modseq }).where('id', '=', row.id).execute();
    changed.push({ uid: row.uid, flags: list, modseq });
  }
  return { changed, unchanged, failed };
}

/** Removes messages from a folder: expunge log, quota, blob references. Returns the blob ids to unlink. */
async function removeMessages(tx: Tx, mailbox: Mailbox, rows: Array<{ id: number; uid: number; size: number; blob_id: string }>): Promise<{ uids: number[]; modseq: number; freed: string[] }> {
  if (!rows.length) return { uids: [], modseq: mailbox.highestmodseq, freed: [] };
  const modseq = await nextModseq(tx, mailbox.id);
  const counts = new Map<string, number>();
  let bytes = 0;
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await tx.deleteFrom('messages').where('id', 'in', chunk.map((r) => r.id)).execute();
    await tx.insertInto('expunges').values(chunk.map((r) => ({ mailbox_id: mailbox.id, uid: r.uid, modseq }))).execute();
  }
  for (const r of rows) {
    counts.set(r.blob_id, (counts.get(r.blob_id) ?? 0) + 1);
    bytes += r.size;
  }
  await tx.updateTable('accounts').set((eb) => ({ used_bytes: eb('used_bytes', '-', bytes) })).where('id', '=', mailbox.account_id).execute();
  const freed = await dropBlobReferences(tx, counts);
  return { uids: rows.map((r) => r.uid), modseq, freed };
}

/** EXPUNGE / UID EXPUNGE (RFC 4315): removes \Deleted messages, optionally only those in the UID ranges. */
export async function expungeDeleted(tx: Tx, mailbox: Mailbox, ranges?: UidRanges): Promise<{ uids: number[]; modseq: number; freed: string[] }> {
  const rows = await tx
    .selectFrom('messages')
    .select(['id', 'uid', 'size', 'blob_id', 'flags'])
    .where('mailbox_id', '=', mailbox.id)
    .where(hasFlag('\\Deleted'))
    .orderBy('uid')
    .execute();
  const wanted = ranges && uidRangeTest(ranges);
  const selected = wanted ? rows.filter((r) => wanted(r.uid)) : rows;
  return removeMessages(tx, mailbox, selected);
}

/** Removes the messages with these UIDs whatever their flags (POP3 QUIT, RFC 1939 §6); UIDs already gone are skipped. */
export async function removeUids(tx: Tx, mailbox: Mailbox, uids: number[]): Promise<{ uids: number[]; modseq: number; freed: string[] }> {
  const wanted = new Set(uids);
  const rows = uids.length ? await tx.selectFrom('messages').select(['id', 'uid', 'size', 'blob_id']).where('mailbox_id', '=', mailbox.id).orderBy('uid').execute() : [];
  return removeMessages(tx, mailbox, rows.filter((r) => wanted.has(r.uid)));
}

/** Ascending UIDs as the fewest inclusive ranges. */
export function uidRanges(uids: number[]): UidRanges {
  const ranges: UidRanges = [];
  for (const uid of [...uids].sort((a, b) => a - b)) {
    const last = ranges[ranges.length - 1];
    if (last && uid <= last[1] + 1) last[1] = Math.max(last[1], uid);
    else ranges.push([uid, uid]);
  }
  return ranges;
}

export interface CopyResult {
  /** UIDs in the source, ascending, and the UIDs they got in the target (RFC 4315 COPYUID) */
  sourceUids: number[];
  targetUids: number[];
  uidvalidity: number;
  modseq: number;
}

/** COPY: the copies keep flags and internal date and get new UIDs in the target (RFC 9051 §6.4.7). */
export async function copyMessages(tx: Tx, source: Mailbox, ranges: UidRanges, target: Mailbox): Promise<CopyResult> {
  const rows = await tx
    .selectFrom('messages')
    .selectAll()
    .where('mailbox_id', '=', source.id)
    // more than 200 ranges: fetched by their span and filtered below (every range counts, not the first 200)
    .where((eb) => eb.or((ranges.length > 200 ? [spanOf(ranges)] : ranges).map(([lo, hi]) => eb.and([eb('uid', '>=', lo), eb('uid', '<=', hi)]))))
    .orderBy('uid')
    .execute();
  const wanted = uidRangeTest(ranges);
  const selected = ranges.length > 200 ? rows.filter((r) => wanted(r.uid)) : rows;
  const fresh = await tx.selectFrom('mailboxes').selectAll().where('id', '=', target.id).executeTakeFirstOrThrow();
  if (!selected.length) return { sourceUids: [], targetUids: [], uidvalidity: fresh.uidvalidity, modseq: fresh.highestmodseq };
  const modseq = fresh.highestmodseq + 1;
  let uid = fresh.uidnext;
  const targetUids: number[] = [];
  const refs = new Map<string, { size: number; n: number }>();
  let bytes = 0;
  for (const r of selected) {
    const { id: _id, ...values } = r;
    await tx.insertInto('messages').values({ ...values, mailbox_id: target.id, uid, modseq }).execute();
    targetUids.push(uid++);
    const ref = refs.get(r.blob_id) ?? { size: r.size, n: 0 };
    ref.n++;
    refs.set(r.blob_id, ref);
    bytes += r.size;
  }
  for (const [id, ref] of refs) await addBlobReferences(tx, { id, size: ref.size }, ref.n);
  await tx.updateTable('mailboxes').set({ uidnext: uid, highestmodseq: modseq }).where('id', '=', target.id).execute();
  await tx.updateTable('accounts').set((eb) => ({ used_bytes: eb('used_bytes', '+', bytes) })).where('id', '=', target.account_id).execute();
  return { sourceUids: selected.map((r) => r.uid), targetUids, uidvalidity: fresh.uidvalidity, modseq };
}

/** The lowest and highest UID any of the ranges covers. */
function spanOf(ranges: UidRanges): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const [a, b] of ranges) {
    lo = Math.min(lo, a, b);
    hi = Math.max(hi, a, b);
  }
  return [lo, hi];
}

/** MOVE (RFC 6851): copy, then remove from the source without needing \Deleted. */
export async function moveMessages(tx: Tx, source: Mailbox, ranges: UidRanges, target: Mailbox): Promise<CopyResult & { expunged: { uids: number[]; modseq: number; freed: string[] } }> {
  const copied = await copyMessages(tx, source, ranges, target);
  const set = new Set(copied.sourceUids);
  const rows = (await tx.selectFrom('messages').select(['id', 'uid', 'size', 'blob_id']).where('mailbox_id', '=', source.id).orderBy('uid').execute()).filter((r) => set.has(r.uid));
  const fresh = await tx.selectFrom('mailboxes').selectAll().where('id', '=', source.id).executeTakeFirstOrThrow();
  return { ...copied, expunged: await removeMessages(tx, fresh, rows) };
}

/** DELETE of a folder (RFC 9051 §6.3.5): not INBOX or special-use folders, not while it has inferiors. */
export async function deleteMailbox(tx: Tx, accountId: number, name: string): Promise<{ mailbox: Mailbox; freed: string[] }> {
  const mailbox = await requireMailbox(tx, accountId, name);
  if (mailbox.name === 'INBOX' || mailbox.special_use) throw new MailboxError('CANNOT', `${mailbox.name} is a special folder and cannot be deleted`);
  if (await hasChildren(tx, accountId, mailbox.name)) throw new MailboxError('HASCHILDREN', 'Delete the folders inside it first');
  const rows = await tx.selectFrom('messages').select(['id', 'uid', 'size', 'blob_id']).where('mailbox_id', '=', mailbox.id).execute();
  const { freed } = await removeMessages(tx, mailbox, rows);
  await tx.deleteFrom('expunges').where('mailbox_id', '=', mailbox.id).execute();
  await tx.deleteFrom('mailboxes').where('id', '=', mailbox.id).execute();
  // RFC 9051 §2.3.1.1: a folder created later under this name must not get this UIDVALIDITY again
  await tx.updateTable('accounts').set({ uidvalidity_floor: mailbox.uidvalidity }).where('id', '=', accountId).where('uidvalidity_floor', '<', mailbox.uidvalidity).execute();
  return { mailbox, freed };
}

/** Expunge log entries after a modseq (QRESYNC VANISHED (EARLIER), RFC 7162 §3.2.5). */
export async function expungedSince(tx: Tx, mailboxId: number, modseq: number): Promise<number[]> {
  const rows = await tx.selectFrom('expunges').select('uid').where('mailbox_id', '=', mailboxId).where('modseq', '>', modseq).orderBy('uid').execute();
  return rows.map((r) => r.uid);
}

/** A flag test that needs no LIKE escaping (a backslash is LIKE's escape character on PostgreSQL). */
const hasFlag = (flag: string) => sql<boolean>`instr(' ' || flags || ' ', ${' ' + flag + ' '}) > 0`;

/** Counts for STATUS (RFC 9051 §6.3.11, RFC 8438 SIZE). */
export async function mailboxCounts(tx: Tx, mailboxId: number): Promise<{ messages: number; unseen: number; deleted: number; size: number }> {
  const row = await tx
    .selectFrom('messages')
    .select([
      (eb) => eb.fn.countAll<number>().as('messages'),
      sql<number>`coalesce(sum(CASE WHEN ${hasFlag('\\Seen')} THEN 0 ELSE 1 END), 0)`.as('unseen'),
      sql<number>`coalesce(sum(CASE WHEN ${hasFlag('\\Deleted')} THEN 1 ELSE 0 END), 0)`.as('deleted'),
      sql<number>`coalesce(sum(size), 0)`.as('size')
    ])
    .where('mailbox_id', '=', mailboxId)
    .executeTakeFirstOrThrow();
  return { messages: Number(row.messages), unseen: Number(row.unseen), deleted: Number(row.deleted), size: Number(row.size) };
}

/** The lowest UID without \Seen, for IMAP4rev1's [UNSEEN n]; null when all are seen. */
export async function firstUnseenUid(tx: Tx, mailboxId: number): Promise<number | null> {
  const row = await tx
    .selectFrom('messages')
    .select((eb) => eb.fn.min('uid').as('uid'))
    .where('mailbox_id', '=', mailboxId)
    .where(sql<boolean>`NOT ${hasFlag('\\Seen')}`)
    .executeTakeFirst();
  return row?.uid ? Number(row.uid) : null;
}

/** UIDs above a given one, ascending: what arrived since a session last looked. */
export async function uidsAbove(tx: Tx, mailboxId: number, uid: number): Promise<number[]> {
  const rows = await tx.selectFrom('messages').select('uid').where('mailbox_id', '=', mailboxId).where('uid', '>', uid).orderBy('uid').execute();
  return rows.map((r) => r.uid);
}

/** Quota and usage of an account, in bytes (0 quota = unlimited). */
export function quotaUsage(tx: Tx, accountId: number): Promise<{ quota: number; used_bytes: number }> {
  return tx.selectFrom('accounts').select(['quota', 'used_bytes']).where('id', '=', accountId).executeTakeFirstOrThrow();
}

/**
 * How many messages of a folder carry each Message-ID, and each blob (content), for an import that must not store
 * what the folder has already (counts, not sets: a folder may rightly hold two copies).
 */
export async function messageFingerprints(tx: Tx, mailboxId: number): Promise<{ byMessageId: Map<string, number>; byContent: Map<string, number> }> {
  const rows = await tx.selectFrom('messages').select(['message_id', 'blob_id']).where('mailbox_id', '=', mailboxId).execute();
  const byMessageId = new Map<string, number>();
  const byContent = new Map<string, number>();
  for (const r of rows) {
    if (r.message_id) byMessageId.set(r.message_id, (byMessageId.get(r.message_id) ?? 0) + 1);
    byContent.set(r.blob_id, (byContent.get(r.blob_id) ?? 0) + 1);
  }
  return { byMessageId, byContent };
}
