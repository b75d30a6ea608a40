// The import runner: claims due jobs (import.concurrency at once, one per account) under a renewed lease, runs a pass,
// then schedules what follows: done, the next sync, or a retry with growing delays after a broken connection.
import type { ImportJob } from '../db/schema.js';
import { writeTransaction } from '../db/transaction.js';
import type { Logger } from '../log/logger.js';
import { importKey, openPassword } from './credentials.js';
import { runPass, type ImportServices, type PassResult } from './engine.js';
import { claimJob, findJob, nextDueAt, releaseLeases, renewLease, settleFolders, updateJob } from './store.js';

/** A claim lasts this long without renewal (a process that died gives its jobs back after it). */
const LEASE_MS = 60_000;
/** Passes in a row that end in a broken connection before the job fails. */
export const MAX_ATTEMPTS = 10;
const MAX_RETRY_DELAY_MS = 3600_000;

export interface ImportRunnerOptions {
  /** who claims jobs: "server:<pid>" or "cli:<pid>" (the CLI's foreground run) */
  holder: string;
  /** run only this job (the CLI's foreground run) */
  onlyJob?: number;
  /** longest sleep between two looks for due jobs: jobs the CLI queues are seen this soon (10 s) */
  scanIntervalMs?: number;
  /** lease renewal; a stop or delete by another process ends a running pass this soon (5 s) */
  renewIntervalMs?: number;
  /** what a running job becomes when the runner stops: queued (server shutdown) or stopped (Ctrl-C in the CLI) */
  stopState?: 'queued' | 'stopped';
}

export interface PassReport {
  jobId: number;
  result: PassResult;
}

export class ImportRunner {
  private readonly log: Logger;
  private readonly running = new Map<number, { controller: AbortController; done: Promise<void> }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private tickAgain = false;
  private stopped = true;
  private key: Buffer | null = null;
  /** told after every pass (the CLI's progress, tests) */
  readonly listeners: Array<(report: PassReport) => void> = [];

  constructor(
    private readonly services: ImportServices,
    private readonly options: ImportRunnerOptions
  ) {
    this.log = services.log.child({ module: 'import' });
  }

  async start(): Promise<void> {
    if (this.options.holder.startsWith('server:')) {
      // a server that stopped (or crashed) mid-pass left its jobs running: they resume from their recorded UIDs
      const released = await releaseLeases(this.services.db, 'server:');
      if (released) this.log.warn({ jobs: released }, 'imports interrupted by a stop resume now');
    }
    this.stopped = false;
    this.kick();
  }

  /** Look for due jobs now (after a job was created, resumed or its sync turned on). */
  kick(): void {
    this.schedule(0);
  }

  /**
   * Ends the running pass of a job in this process (its state was changed already: stopped) and waits for it, at
   * most `waitMs`: messages being committed are finished first.
   */
  async abort(jobId: number, waitMs = 10_000): Promise<void> {
    const running = this.running.get(jobId);
    if (!running) return;
    running.controller.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running.done, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  isRunning(jobId: number): boolean {
    return this.running.has(jobId);
  }

  /** Stops claiming, ends running passes between two messages and leaves their jobs in `stopState`. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const { controller } of this.running.values()) controller.abort();
    while (this.running.size) await Promise.allSettled([...this.running.values()].map((r) => r.done));
    while (this.ticking) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Resolves once no pass runs (tests). */
  async idle(): Promise<void> {
    while (this.running.size || this.ticking) await Promise.allSettled([...[...this.running.values()].map((r) => r.done), new Promise((resolve) => setTimeout(resolve, 5))]);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    try {
      while (!this.stopped && this.running.size < this.services.config.import.concurrency) {
        const job = await claimJob(this.services.db, this.options.holder, Date.now(), LEASE_MS, this.options.onlyJob);
        if (!job) break;
        this.launch(job);
      }
      // jobs due now that could not be claimed wait for a free slot (a finishing pass kicks) or their account's
      // other job; the timer is for jobs that become due later
      const next = await nextDueAt(this.services.db, Date.now());
      const scan = this.options.scanIntervalMs ?? 10_000;
      this.schedule(next === null ? scan : Math.min(Math.max(0, next - Date.now()), scan));
    } catch (err) {
      this.log.error({ err }, 'import scan failed');
      this.schedule(5000);
    } finally {
      this.ticking = false;
      if (this.tickAgain) {
        this.tickAgain = false;
        this.kick();
      }
    }
  }

  private launch(job: ImportJob): void {
    const controller = new AbortController();
    const done = this.run(job, controller)
      .catch((err) => this.log.error({ err, job: job.id }, 'import pass failed'))
      .finally(() => {
        this.running.delete(job.id);
        this.kick();
      });
    this.running.set(job.id, { controller, done });
  }

  private async run(job: ImportJob, controller: AbortController): Promise<void> {
    const { db, config } = this.services;
    const log = this.log.child({ job: job.id, account: job.account_id });
    const renew = setInterval(() => {
      renewLease(db, job.id, this.options.holder, Date.now() + LEASE_MS)
        .then((held) => {
          // stopped, deleted or taken over by another process: end the pass
          if (!held) controller.abort();
        })
        .catch((err) => log.warn({ err }, 'import lease renewal failed'));
    }, this.options.renewIntervalMs ?? 5000);
    renew.unref();
    let result: PassResult;
    try {
      this.key ??= await importKey(config.dataDir);
      const password = job.password_sealed ? openPassword(this.key, job.password_sealed, {
            accountId: job.account_id,
            host: job.host,
            port: job.port,
            username: job.username,
            encryption: job.encryption,
            verifyCertificate: job.verify_certificate === 1
          }) : null;
      if (password === null) {
        result = { kind: 'error', retry: false, field: 'password', message: 'the stored password is gone or cannot be decrypted: resume with the password', progressed: false };
      } else {
        log.info({ host: job.host, port: job.port, user: job.username, pass: job.passes + 1 }, 'import pass started');
        result = await runPass(this.services, job, password, { signal: controller.signal, log }).catch((err): PassResult => {
          // not a connection problem and not the owner's to fix: counted like a broken connection, so a fault that
          // stays fails the job after MAX_ATTEMPTS instead of retrying without end
          log.error({ err }, 'import pass failed unexpectedly');
          return { kind: 'error', retry: true, field: 'import', message: `the import failed on this server: ${(err as Error)?.message ?? err}`, progressed: false };
        });
      }
    } finally {
      clearInterval(renew);
    }
    await this.finish(job, result, log);
    for (const listener of this.listeners) listener({ jobId: job.id, result });
  }

  /** Records how the pass ended, unless the job was stopped, deleted or taken over meanwhile. */
  private async finish(job: ImportJob, result: PassResult, log: Logger): Promise<void> {
    const { db, config } = this.services;
    const now = Date.now();
    const holder = this.options.holder;
    if (result.kind !== 'complete') await settleFolders(db, job.id);
    if (result.kind === 'aborted') {
      if (this.stopped) await updateJob(db, job.id, ['running'], { state: this.options.stopState ?? 'queued', leased_by: null, leased_until: null, next_run_at: now }, holder);
      log.info({ stopping: this.stopped }, 'import pass ended early');
      return;
    }
    await writeTransaction(db, async (tx) => {
      const fresh = await findJob(tx, job.id);
      if (!fresh || fresh.state !== 'running' || fresh.leased_by !== holder) return;
      const released = { leased_by: null, leased_until: null, last_pass_at: now };
      if (result.kind === 'complete') {
        const base = { ...released, passes: fresh.passes + 1, attempts: 0, error_field: null, error_message: null };
        // the owner may have turned sync on or off during the pass: the row says what holds now
        if (fresh.sync) await updateJob(tx, job.id, ['running'], { ...base, state: 'waiting', next_run_at: now + config.import.syncInterval * 1000 });
        else await updateJob(tx, job.id, ['running'], { ...base, state: 'done', password_sealed: null, finished_at: now });
        log.info({ imported: result.imported, sync: fresh.sync === 1 }, fresh.sync ? 'import pass complete; next sync scheduled' : 'import finished; remote password deleted');
        return;
      }
      const attempts = result.retry ? (result.progressed ? 1 : fresh.attempts + 1) : fresh.attempts;
      const error = { error_field: result.field, error_message: result.message };
      if (result.retry && attempts < MAX_ATTEMPTS) {
        const delay = Math.min(config.import.retryDelay * 1000 * 2 ** (attempts - 1), MAX_RETRY_DELAY_MS);
        await updateJob(tx, job.id, ['running'], { ...released, ...error, attempts, state: 'queued', next_run_at: now + delay });
        log.info({ field: result.field, reason: result.message, attempts, retryInMs: delay }, 'import pass interrupted; retrying');
        return;
      }
      // a refused password is of no further use: it goes, and resuming asks for it again
      await updateJob(tx, job.id, ['running'], { ...released, ...error, attempts, state: 'failed', ...(result.field === 'password' ? { password_sealed: null } : {}) });
      log.info({ field: result.field, reason: result.message, attempts }, 'import failed');
    });
  }
}
