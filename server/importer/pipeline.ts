// Stores fetched remote messages the way delivery does (durable blob, one commit with the mailbox notifier told): several
// blobs are written at once, but commits happen in remote UID order, each recording its remote UID in the same
// transaction, so a message is stored exactly once whatever happens to the connection or the process.
import crypto from 'node:crypto';
import { commitMessage, type CommitServices } from '../smtp/commit.js';
import type { StoredBlob } from '../store/blobs.js';
import { quotaUsage } from '../store/mailbox-messages.js';
import { prepareMessage } from '../store/messages.js';
import type { Tx } from '../db/transaction.js';
import { recordFailure, recordOutcome, type FailureRecord } from './store.js';

/** One remote message with what IMAP told about it. */
export interface FetchedMessage {
  uid: number;
  /** RFC822.SIZE as listed (progress counts these) */
  size: number;
  source: Buffer;
  flags: string[];
  internalDate: number;
}

export interface PipelineTarget {
  accountId: number;
  mailboxId: number;
  folderId: number;
  ignoreQuota: boolean;
  /** after a UIDVALIDITY change: what the local folder holds already, counted by Message-ID and by content */
  fingerprints: { byMessageId: Map<string, number>; byContent: Map<string, number> } | null;
}

/** The account is full: the import pauses here (the owner raises the quota or resumes with ignoreQuota). */
export class QuotaExceeded extends Error {
  constructor(
    readonly uid: number,
    readonly size: number,
    readonly quota: number
  ) {
    super(`the account's quota of ${quota} bytes is full: remote message UID ${uid} (${size} bytes) did not fit`);
    this.name = 'QuotaExceeded';
  }
}

/** A fault of this server (database, disk) rather than of one message: importing on would fail the same way. */
export class LocalFault extends Error {
  constructor(fault: unknown) {
    super(`storing failed on this server: ${(fault as Error)?.message ?? fault}`, { cause: fault });
    this.name = 'LocalFault';
  }
}

const isDatabaseError = (err: unknown) => /^SQLITE_/.test(String((err as { code?: string })?.code ?? ''));

export interface PipelineLimits {
  /** messages being written or committed at once */
  messages: number;
  /** bytes held in memory for them */
  bytes: number;
}

export class CommitPipeline {
  private inFlight = 0;
  private bytes = 0;
  /** resolves once the previous message's commit is queued: commits keep the remote order */
  private enqueued: Promise<void> = Promise.resolve();
  private readonly tasks = new Set<Promise<void>>();
  private waiters: Array<() => void> = [];
  /** why the pipeline stopped taking messages (quota, local fault): the first message in remote order that hit it */
  halted: Error | null = null;
  private haltedAt = Infinity;

  constructor(
    private readonly services: CommitServices,
    private readonly target: PipelineTarget,
    private readonly limits: PipelineLimits
  ) {}

  /** Takes one message; waits while too many are in flight. */
  async add(message: FetchedMessage): Promise<void> {
    while (!this.halted && this.inFlight > 0 && (this.inFlight >= this.limits.messages || this.bytes + message.source.length > this.limits.bytes)) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.halted) return;
    if (this.alreadyStored(message)) return this.skip(message.uid, message.size);
    this.inFlight++;
    this.bytes += message.source.length;
    const task = this.store(message).finally(() => {
      this.inFlight--;
      this.bytes -= message.source.length;
      this.tasks.delete(task);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.tasks.add(task);
  }

  /** Records a message that cannot be imported, and goes on. */
  async fail(failure: FailureRecord): Promise<void> {
    await this.services.writes.run((tx) => recordFailure(tx, this.target.folderId, failure));
  }

  /** Records a message that is not imported and not a failure (the local folder has it, or it is gone remotely). */
  async skip(uid: number, size: number): Promise<void> {
    await this.services.writes.run((tx) => recordOutcome(tx, this.target.folderId, uid, size, 'skipped'));
  }

  /** Waits until every message taken is stored or failed. */
  async drain(): Promise<void> {
    while (this.tasks.size) await Promise.allSettled([...this.tasks]);
  }

  /** After a UIDVALIDITY change: a message the local folder has already (same Message-ID, else same bytes) is skipped. */
  private alreadyStored(message: FetchedMessage): boolean {
    const seen = this.target.fingerprints;
    if (!seen) return false;
    const messageId = prepareMessage(message.source).search.messageId;
    const [map, key] = messageId ? [seen.byMessageId, messageId] : [seen.byContent, crypto.createHash('sha256').update(message.source).digest('hex')];
    const count = map.get(key) ?? 0;
    if (!count) return false;
    map.set(key, count - 1);
    return true;
  }

  private async store(message: FetchedMessage): Promise<void> {
    const { blobs, db } = this.services;
    const previous = this.enqueued;
    let markEnqueued!: () => void;
    this.enqueued = new Promise((resolve) => (markEnqueued = resolve));
    let blob: StoredBlob;
    try {
      blob = await blobs.write([message.source]);
    } catch (err) {
      markEnqueued();
      this.halt(message.uid, new LocalFault(err));
      return;
    }
    try {
      await previous;
      if (this.halted) {
        markEnqueued();
        blobs.release(blob.id);
        await blobs.unlinkUnreferenced(db, [blob.id]);
        return;
      }
      const target = { accountId: this.target.accountId, specialUse: null, mailboxId: this.target.mailboxId, flags: message.flags };
      const committed = commitMessage(this.services, { sources: [], blob, raw: () => message.source, local: [target], outbound: [], internalDate: message.internalDate }, (tx) =>
        this.recordImported(tx, message)
      );
      // commitMessage has queued its transaction (it does so right after this microtask): the next message may follow
      markEnqueued();
      await committed;
    } catch (err) {
      markEnqueued();
      if (err instanceof QuotaExceeded) this.halt(message.uid, err);
      else if (isDatabaseError(err)) this.halt(message.uid, new LocalFault(err));
      else await this.fail({ uid: message.uid, reason: 'store', detail: (err as Error)?.message ?? String(err), size: message.size, subject: subjectOf(message.source) });
    }
  }

  /** Messages committed in one batch fail in any order: the report names the first of them. */
  private halt(uid: number, err: Error): void {
    if (uid > this.haltedAt) return;
    this.haltedAt = uid;
    this.halted = err;
  }

  /** Runs in the transaction that stores the message: its UID is recorded, and the quota is checked (rolling back if full). */
  private async recordImported(tx: Tx, message: FetchedMessage): Promise<void> {
    await recordOutcome(tx, this.target.folderId, message.uid, message.size, 'imported');
    if (this.target.ignoreQuota) return;
    const usage = await quotaUsage(tx, this.target.accountId);
    if (usage.quota && usage.used_bytes > usage.quota) throw new QuotaExceeded(message.uid, message.source.length, usage.quota);
  }
}

/** The decoded Subject of a message, for failure reports ('' when it has none or cannot be parsed). */
export function subjectOf(source: Buffer): string {
  try {
    return prepareMessage(source.subarray(0, 64 * 1024)).search.subject;
  } catch {
    return '';
  }
}
