// The queue runner: takes due entries (a bounded number at once), delivers them, records each attempt, schedules
// retries with growing delays until queue.maxAge, and sends a DSN for recipients that failed for good.
import { resolveRecipient } from '../directory/resolve.js';
import type { QueueEntry } from '../db/schema.js';
import type { Logger } from '../log/logger.js';
import type { Services } from '../services.js';
import { commitMessage, forwardsByOrigin, localTargets } from '../smtp/commit.js';
import { headerEnd } from '../smtp/headers.js';
import { decodeHeaderText } from '../store/search-text.js';
import type { DeliveryOutcome, SmtpDelivery } from './deliver.js';
import { buildDsn } from './dsn.js';
import { claimDue, nextDue, pendingRecipients, recordAttempt, releaseLeases, type AttemptRecord, type RecipientResult } from './store.js';

/** An attempt that runs longer than this is presumed dead and its entry due again (only matters with several nodes). */
const LEASE_MS = 30 * 60_000;
/** Longest sleep between scans: changes made by another process (`postfach admin queue retry`) are seen this soon. */
const MAX_SLEEP_MS = 30_000;
/** After closing the remote connections at shutdown, how long aborted attempts get to be recorded. */
const STOP_AFTER_CLOSE_MS = 5_000;

export interface AttemptReport {
  entry: QueueEntry;
  results: RecipientResult[];
}

export class QueueRunner {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  private readonly inFlight = new Set<Promise<void>>();
  private ticking = false;
  private tickDone: Promise<void> = Promise.resolve();
  private tickAgain = false;
  private stopped = true;
  /** called after every recorded attempt (metrics, plugins' delivered/deferred/bounced hooks) */
  readonly listeners: Array<(report: AttemptReport) => void> = [];

  constructor(
    private readonly services: Services,
    private readonly delivery: SmtpDelivery
  ) {
    this.log = services.log.child({ module: 'queue' });
  }

  async start(): Promise<void> {
    const released = await releaseLeases(this.services.db);
    if (released) this.log.warn({ entries: released }, 'entries whose delivery was interrupted by a stop are due again');
    this.stopped = false;
    this.kick();
  }

  /** Look for due entries now (after new entries were committed, or an operator asked for a retry). */
  kick(): void {
    this.wake(0);
  }

  /**
   * Stops taking entries and waits for running attempts to be recorded. After `graceMs` the attempts still running are
   * aborted (their connections closed) and recorded as deferred, to be retried after the restart.
   */
  async stop(graceMs = Infinity): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const settled = async (withinMs: number) => {
      const deadline = Date.now() + withinMs;
      while ((this.inFlight.size || this.ticking) && Date.now() < deadline) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...this.inFlight, this.tickDone]), new Promise((resolve) => (timer = setTimeout(resolve, Math.min(100, Math.max(0, deadline - Date.now())))))]);
        clearTimeout(timer);
      }
    };
    await settled(graceMs);
    if (this.inFlight.size) this.delivery.abort();
    this.delivery.close();
    await settled(STOP_AFTER_CLOSE_MS);
    if (this.inFlight.size) this.log.warn({ attempts: this.inFlight.size }, 'deliveries still running at shutdown; they are retried at the next start');
  }

  /** Resolves once nothing is being delivered (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size || this.ticking) await Promise.allSettled([...this.inFlight, new Promise((r) => setTimeout(r, 5))]);
  }

  private wake(delayMs: number): void {
    if (this.stopped) return;
    const at = Date.now() + delayMs;
    if (this.timer && at >= this.wakeAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private tick(): Promise<void> {
    this.timer = null;
    this.wakeAt = Infinity;
    if (this.ticking) {
      this.tickAgain = true;
      return this.tickDone;
    }
    this.ticking = true;
    this.tickDone = this.scan();
    return this.tickDone;
  }

  private async scan(): Promise<void> {
    try {
      const free = this.services.config.queue.concurrency - this.inFlight.size;
      if (free <= 0) return; // a finishing attempt wakes us
      const entries = await claimDue(this.services.db, Date.now(), free, LEASE_MS);
      // stopped meanwhile: the leases are released at the next start
      if (this.stopped) return;
      for (const entry of entries) {
        const attempt: Promise<void> = this.attempt(entry)
          .catch((err) => this.log.error({ err, entry: entry.id }, 'queue attempt failed'))
          .finally(() => {
            this.inFlight.delete(attempt);
            this.kick();
          });
        this.inFlight.add(attempt);
      }
      if (this.inFlight.size < this.services.config.queue.concurrency) {
        const next = await nextDue(this.services.db);
        this.wake(next === null ? MAX_SLEEP_MS : Math.min(Math.max(0, next - Date.now()), MAX_SLEEP_MS));
      }
    } catch (err) {
      this.log.error({ err }, 'queue scan failed');
      this.wake(5000);
    } finally {
      this.ticking = false;
      if (this.tickAgain) {
        this.tickAgain = false;
        this.kick();
      }
    }
  }

  /** Delay before retry number `attempt` (1-based): retryDelay doubling up to retryMaxDelay, in milliseconds. */
  retryDelay(attempt: number): number {
    const q = this.services.config.queue;
    return Math.min(q.retryDelay * 2 ** Math.min(attempt - 1, 30), q.retryMaxDelay) * 1000;
  }

  private async attempt(entry: QueueEntry): Promise<void> {
    const { db, blobs } = this.services;
    const recipients = (await pendingRecipients(db, entry.id)).map((r) => r.recipient);
    let outcome: DeliveryOutcome;
    if (!recipients.length) {
      outcome = { results: [], error: null };
    } else {
      try {
        outcome = await this.delivery.deliver({ domain: entry.domain, sender: entry.sender, recipients, message: () => blobs.createReadStream(entry.blob_id), entryId: entry.id });
      } catch (err) {
        this.log.error({ err, entry: entry.id }, 'delivery attempt failed locally');
        const reply = '451 4.3.0 Local error while delivering';
        outcome = { results: recipients.map((recipient) => ({ recipient, status: 'deferred', reply, remoteMta: null })), error: reply };
      }
    }
    const now = Date.now();
    // RFC 5321 §4.5.4.1: give up after the configured time; the last temporary reply explains why
    const expired = now >= entry.expires_at;
    const results = outcome.results.map((r): RecipientResult => (r.status === 'deferred' && expired ? { ...r, status: 'failed' } : r));
    const record: AttemptRecord = {
      results,
      error: outcome.error,
      nextAttempt: Math.min(now + this.retryDelay(entry.attempts + 1), entry.expires_at)
    };
    const failed = results.filter((r) => r.status === 'failed');
    const dsnTo = failed.length && entry.origin !== 'dsn' && entry.return_path ? entry.return_path : '';
    const { finished, freed } = dsnTo ? await this.recordWithDsn(entry, record, failed, dsnTo) : await this.services.writes.run((tx) => recordAttempt(tx, entry, record, now));
    if (freed.length) await blobs.unlinkUnreferenced(db, freed);

    for (const r of results) {
      const fields = { entry: entry.id, origin: entry.origin, from: entry.sender, rcpt: r.recipient, mta: r.remoteMta, reply: r.reply, attempt: entry.attempts + 1 };
      if (r.status === 'delivered') this.log.info(fields, 'delivered');
      else if (r.status === 'failed') this.log.info({ ...fields, expired, dsn: Boolean(dsnTo) }, 'delivery failed');
      else this.log.info({ ...fields, retryAt: new Date(record.nextAttempt).toISOString() }, 'delivery deferred');
    }
    if (finished) this.log.debug({ entry: entry.id }, 'queue entry finished');
    for (const listener of this.listeners) listener({ entry, results });
  }

  /**
   * Records the attempt and commits the DSN for its failed recipients in one transaction: the failure is never
   * recorded without its notification, nor the notification sent twice. A return path that no longer exists here
   * (or a DSN that cannot be routed) is logged and dropped.
   */
  private async recordWithDsn(entry: QueueEntry, record: AttemptRecord, failed: RecipientResult[], to: string): Promise<{ finished: boolean; freed: string[] }> {
    const { db, blobs, config } = this.services;
    const head = await readHead(blobs.createReadStream(entry.blob_id, { end: 256 * 1024 }));
    const end = headerEnd(head);
    const originalHeader = end < 0 ? head : head.subarray(0, end);
    const subjectLine = /^subject:[ \t]*((?:.*)(?:\r\n[ \t].*)*)/im.exec(originalHeader.toString('latin1'));
    const subject = subjectLine ? decodeHeaderText(subjectLine[1].replace(/\r\n/g, '')).slice(0, 200) : '';
    const dsn = buildDsn({ hostname: config.hostname, to, queueId: entry.id, arrivalDate: entry.created_at, failed, originalHeader, subject });

    const verdict = await resolveRecipient(db, to);
    const now = Date.now();
    if (verdict.status !== 'accept' && verdict.status !== 'relay') {
      this.log.info({ entry: entry.id, to, status: verdict.status }, 'DSN dropped: its recipient does not exist');
      return this.services.writes.run((tx) => recordAttempt(tx, entry, record, now));
    }
    const forwards = verdict.status === 'accept' ? forwardsByOrigin([verdict]) : new Map([['', [to]]]);
    const result = await commitMessage(
      this.services,
      {
        sources: [dsn],
        raw: () => dsn,
        local: verdict.status === 'accept' ? localTargets([verdict]) : [],
        outbound: [...forwards.values()].map((recipients) => ({ sender: '', returnPath: '', origin: 'dsn' as const, forwardedFor: null, recipients }))
      },
      (tx) => recordAttempt(tx, entry, record, now)
    );
    this.log.info({ entry: entry.id, to, stored: result.stored.length, queued: result.queued.length }, 'DSN sent');
    return result.extra;
  }
}

async function readHead(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
