// The selected mailbox of a session: the sequence-number map (RFC 9051 §2.3.1.2) and the reconciliation that turns
// changes made by other sessions and by deliveries into EXISTS / EXPUNGE / VANISHED / FETCH FLAGS responses.
import type { Mailbox } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import { expungedSince, fetchRows, listUids, uidsAbove, type MessageRow, type UidRanges } from '../store/mailbox-messages.js';
import { compactSet } from './sequence.js';
import { mailboxById } from '../store/mailboxes.js';

/**
 * UID lists of folders, shared by every session that selects the same unchanged folder: 5,000 sessions on a
 * 100,000-message INBOX hold one array, not 5,000. Keyed by what changes whenever messages come or go.
 */
const uidLists = new Map<number, { key: string; uids: readonly number[] }>();

export async function sharedUidList(tx: Tx, mailbox: Mailbox): Promise<readonly number[]> {
  const key = `${mailbox.uidnext}/${mailbox.highestmodseq}`;
  const cached = uidLists.get(mailbox.id);
  if (cached && cached.key === key) return cached.uids;
  const uids = await listUids(tx, mailbox.id);
  uidLists.set(mailbox.id, { key, uids });
  if (uidLists.size > 1000) uidLists.delete(uidLists.keys().next().value!);
  return uids;
}

export class SelectedMailbox {
  /** UIDs in sequence-number order: uids[n - 1] is the UID of message n. Never mutated in place (shared). */
  uids: readonly number[];
  /** something changed in this folder since the last reconcile */
  dirty = false;
  /** the folder's HIGHESTMODSEQ this session has caught up with */
  knownModseq: number;
  /** modseqs of flag changes this session made and already reported to its client */
  readonly ownModseqs = new Set<number>();
  /** UID -> modseq of flags a FETCH reported to the client since the last catch-up (not repeated as updates) */
  readonly reportedFlags = new Map<number, number>();
  /** UIDs expunged elsewhere that may not be announced yet (RFC 9051 §7.5.1) */
  private readonly pendingExpunged = new Set<number>();

  constructor(
    public mailbox: Mailbox,
    public readonly readOnly: boolean,
    uids: readonly number[]
  ) {
    this.uids = uids;
    this.knownModseq = mailbox.highestmodseq;
  }

  get exists(): number {
    return this.uids.length;
  }

  /** Sequence number of a UID, 0 when not present (binary search: uids ascend). */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid];
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** UID ranges for sequence-number ranges (already resolved against EXISTS). */
  seqRangesToUids(ranges: Array<[number, number]>): UidRanges {
    const out: UidRanges = [];
    for (const [a, b] of ranges) {
      const lo = Math.max(1, Math.min(a, b));
      const hi = Math.min(this.uids.length, Math.max(a, b));
      if (lo > hi) continue;
      // consecutive sequence numbers may map to UIDs with gaps; the UID span still selects exactly them
      out.push([this.uids[lo - 1], this.uids[hi - 1]]);
    }
    return out;
  }

  /**
   * Removes expunged UIDs and returns the lines that announce it: one VANISHED with QRESYNC (RFC 7162 §3.2.10),
   * else an EXPUNGE per message from the highest sequence number down.
   */
  expungeLines(uids: number[], qresync: boolean): string[] {
    const seqs = this.removeUids(uids);
    if (!seqs.length) return [];
    return qresync ? [`* VANISHED ${compactSet(uids)}`] : seqs.map((seq) => `* ${seq} EXPUNGE`);
  }

  /** Removes UIDs; returns their sequence numbers in the order to announce them. */
  removeUids(uids: number[]): number[] {
    const seqs: number[] = [];
    const gone = new Set(uids);
    // announce from the highest sequence number down so earlier numbers stay valid while the client applies them
    for (let i = this.uids.length - 1; i >= 0; i--) if (gone.has(this.uids[i])) seqs.push(i + 1);
    if (seqs.length) this.uids = this.uids.filter((u) => !gone.has(u));
    for (const u of uids) this.pendingExpunged.delete(u);
    return seqs;
  }

  /**
   * Catches up with changes since knownModseq, through the indexes (expunge log, modseq, UID) rather than by
   * comparing whole UID lists, and returns the untagged responses that tell the client. When expunges may not
   * be announced (during FETCH, STORE, SEARCH by sequence number, RFC 9051 §7.5.1) they wait for a later call.
   * Null when the folder no longer exists.
   */
  async reconcile(tx: Tx, options: { allowExpunge: boolean; qresync: boolean; condstore: boolean }): Promise<string[] | null> {
    if (!this.dirty && !(options.allowExpunge && this.pendingExpunged.size)) return [];
    this.dirty = false;
    const lines: string[] = [];
    const fresh = await mailboxById(tx, this.mailbox.id);
    if (!fresh) return null; // the folder was deleted by another session
    this.mailbox = fresh;
    const lastUid = this.uids.length ? this.uids[this.uids.length - 1] : 0;
    let added: number[] = [];
    let changed: MessageRow[] = [];
    if (fresh.highestmodseq > this.knownModseq) {
      for (const uid of await expungedSince(tx, fresh.id, this.knownModseq)) if (this.seqOf(uid)) this.pendingExpunged.add(uid);
      if (lastUid) changed = await fetchRows(tx, fresh.id, [[1, lastUid]], this.knownModseq);
      added = await uidsAbove(tx, fresh.id, lastUid);
      this.knownModseq = fresh.highestmodseq;
    }
    if (options.allowExpunge && this.pendingExpunged.size) {
      lines.push(...this.expungeLines([...this.pendingExpunged].sort((a, b) => a - b), options.qresync));
    }
    if (added.length) {
      this.uids = this.uids.concat(added);
      lines.push(`* ${this.uids.length} EXISTS`);
    }
    for (const row of changed) {
      if (this.ownModseqs.has(row.modseq) || this.pendingExpunged.has(row.uid) || (this.reportedFlags.get(row.uid) ?? 0) >= row.modseq) continue;
      const seq = this.seqOf(row.uid);
      if (!seq) continue;
      const modseq = options.condstore ? ` MODSEQ (${row.modseq})` : '';
      lines.push(`* ${seq} FETCH (UID ${row.uid} FLAGS (${row.flags.join(' ')})${modseq})`);
    }
    this.ownModseqs.clear();
    this.reportedFlags.clear();
    return lines;
  }
}
