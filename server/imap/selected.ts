// The selected mailbox of a session: the sequence-number map (RFC 9051 §2.3.1.2) and the reconciliation that turns
// changes made by other sessions and by deliveries into EXISTS / EXPUNGE / VANISHED / FETCH FLAGS responses.
import type { Mailbox } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import { fetchRows, listUids, type UidRanges } from '../store/mailbox-messages.js';
import { compactSet } from './sequence.js';

export class SelectedMailbox {
  /** UIDs in sequence-number order: uids[n - 1] is the UID of message n */
  uids: number[];
  /** something changed in this folder since the last reconcile */
  dirty = false;
  /** UIDs whose flags another session changed, to announce with FETCH */
  flagChanges = new Set<number>();

  constructor(
    public mailbox: Mailbox,
    public readonly readOnly: boolean,
    uids: number[]
  ) {
    this.uids = uids;
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

  /** Removes UIDs this session expunged itself; returns their sequence numbers in the order to announce them. */
  removeUids(uids: number[]): number[] {
    const seqs: number[] = [];
    const gone = new Set(uids);
    // announce from the highest sequence number down so earlier numbers stay valid while the client applies them
    for (let i = this.uids.length - 1; i >= 0; i--) if (gone.has(this.uids[i])) seqs.push(i + 1);
    this.uids = this.uids.filter((u) => !gone.has(u));
    return seqs;
  }

  /**
   * Brings the map up to date with the database and returns the untagged responses that tell the client.
   * When expunges may not be announced (during FETCH, STORE, SEARCH by sequence number, RFC 9051 §7.5.1)
   * vanished messages stay in the map until a later reconcile.
   */
  async reconcile(tx: Tx, options: { allowExpunge: boolean; qresync: boolean; condstore: boolean }): Promise<string[]> {
    if (!this.dirty && !this.flagChanges.size) return [];
    const lines: string[] = [];
    const current = await listUids(tx, this.mailbox.id);
    const fresh = await tx.selectFrom('mailboxes').selectAll().where('id', '=', this.mailbox.id).executeTakeFirst();
    if (fresh) this.mailbox = fresh;
    const present = new Set(current);
    const vanished = this.uids.filter((u) => !present.has(u));
    if (vanished.length && options.allowExpunge) {
      if (options.qresync) {
        this.removeUids(vanished);
        lines.push(`* VANISHED ${compactSet(vanished)}`);
      } else {
        for (const seq of this.removeUids(vanished)) lines.push(`* ${seq} EXPUNGE`);
      }
    }
    const last = this.uids.length ? this.uids[this.uids.length - 1] : 0;
    const added = current.filter((u) => u > last);
    if (added.length) {
      this.uids.push(...added);
      lines.push(`* ${this.uids.length} EXISTS`);
    }
    const changed = [...this.flagChanges].filter((u) => present.has(u) && !added.includes(u));
    this.flagChanges.clear();
    if (changed.length) {
      changed.sort((a, b) => a - b);
      const rows = await fetchRows(tx, this.mailbox.id, changed.map((u) => [u, u] as [number, number]));
      for (const row of rows) {
        const seq = this.seqOf(row.uid);
        if (!seq) continue;
        const modseq = options.condstore ? ` MODSEQ (${row.modseq})` : '';
        lines.push(`* ${seq} FETCH (UID ${row.uid} FLAGS (${row.flags.join(' ')})${modseq})`);
      }
    }
    this.dirty = vanished.length > 0 && !options.allowExpunge;
    return lines;
  }
}
