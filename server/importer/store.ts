// The import tables' rows: jobs with their lease and state, folders with UIDVALIDITY and progress, remote UIDs handled,
// per-message failures. The only code that writes the import tables.
import { sql, type Kysely } from 'kysely';
import type { Database, ImportFailure, ImportFolder, ImportJob } from '../db/schema.js';
import { writeTransaction, type Tx } from '../db/transaction.js';

export type JobState = ImportJob['state'];

export interface NewJob {
  accountId: number;
  host: string;
  port: number;
  encryption: ImportJob['encryption'];
  verifyCertificate: boolean;
  username: string;
  passwordSealed: string;
  sync: boolean;
  ignoreQuota: boolean;
  createdBy: string;
  folders: Array<{ remotePath: string; remoteDelimiter: string; localName: string }>;
}

export async function insertJob(tx: Tx, job: NewJob, now: number): Promise<ImportJob> {
  const row = await tx
    .insertInto('import_jobs')
    .values({
      account_id: job.accountId,
      host: job.host,
      port: job.port,
      encryption: job.encryption,
      verify_certificate: job.verifyCertificate ? 1 : 0,
      username: job.username,
      password_sealed: job.passwordSealed,
      state: 'queued',
      sync: job.sync ? 1 : 0,
      ignore_quota: job.ignoreQuota ? 1 : 0,
      next_run_at: now,
      created_by: job.createdBy,
      created_at: now,
      updated_at: now
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await tx
    .insertInto('import_folders')
    .values(job.folders.map((f, position) => ({ job_id: row.id, position, remote_path: f.remotePath, remote_delimiter: f.remoteDelimiter, local_name: f.localName, state: 'pending' as const })))
    .execute();
  return row;
}

export function findJob(db: Kysely<Database>, id: number): Promise<ImportJob | undefined> {
  return db.selectFrom('import_jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The address of the account a job imports into (for views and audit entries). */
export async function jobAccountAddress(db: Kysely<Database>, job: Pick<ImportJob, 'account_id'>): Promise<string> {
  const row = await db.selectFrom('accounts').select('address').where('id', '=', job.account_id).executeTakeFirstOrThrow();
  return row.address;
}

/** When the next queued or waiting job becomes due, counting only those not due yet (null: none). */
export async function nextDueAt(db: Kysely<Database>, now: number): Promise<number | null> {
  const row = await db.selectFrom('import_jobs').select((eb) => eb.fn.min('next_run_at').as('at')).where('state', 'in', ['queued', 'waiting']).where('next_run_at', '>', now).executeTakeFirst();
  return row?.at ? Number(row.at) : null;
}

export function listJobs(db: Kysely<Database>, accountId?: number): Promise<ImportJob[]> {
  let q = db.selectFrom('import_jobs').selectAll().orderBy('id', 'desc');
  if (accountId !== undefined) q = q.where('account_id', '=', accountId);
  return q.execute();
}

export function jobFolders(db: Kysely<Database>, jobIds: number[]): Promise<ImportFolder[]> {
  if (!jobIds.length) return Promise.resolve([]);
  return db.selectFrom('import_folders').selectAll().where('job_id', 'in', jobIds).orderBy('job_id').orderBy('position').execute();
}

export type FailureRow = ImportFailure & { remote_path: string };

/** The newest failures of a job (what the owner reads), and how many there are in all. */
export async function jobFailures(db: Kysely<Database>, jobId: number, limit: number): Promise<{ rows: FailureRow[]; total: number }> {
  const base = db.selectFrom('import_failures').innerJoin('import_folders', 'import_folders.id', 'import_failures.folder_id').where('import_folders.job_id', '=', jobId);
  const rows = await base.selectAll('import_failures').select('import_folders.remote_path').orderBy('import_failures.id', 'desc').limit(limit).execute();
  const count = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return { rows, total: Number(count.n) };
}

/** Changes a job's row when it is in one of `from` (and, with `holder`, leased by it); false when nothing matched. */
export async function updateJob(db: Kysely<Database> | Tx, id: number, from: JobState[], changes: Partial<Omit<ImportJob, 'id'>>, holder?: string): Promise<boolean> {
  let q = db.updateTable('import_jobs').set({ ...changes, updated_at: Date.now() }).where('id', '=', id).where('state', 'in', from);
  if (holder) q = q.where('leased_by', '=', holder);
  const result = await q.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function deleteJob(tx: Tx, id: number): Promise<boolean> {
  const result = await tx.deleteFrom('import_jobs').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * Takes the next due job for `holder`: queued or waiting jobs whose time has come, or running ones whose holder
 * stopped renewing its lease; never a second job of an account that has one running. Null when none is due.
 */
export async function claimJob(db: Kysely<Database>, holder: string, now: number, leaseMs: number, onlyJob?: number): Promise<ImportJob | null> {
  return writeTransaction(db, async (tx) => {
    let q = tx
      .selectFrom('import_jobs')
      .selectAll()
      .where((eb) => eb.or([eb.and([eb('state', 'in', ['queued', 'waiting']), eb('next_run_at', '<=', now)]), eb.and([eb('state', '=', 'running'), eb('leased_until', '<', now)])]))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('import_jobs as busy')
              .select('busy.id')
              .whereRef('busy.account_id', '=', 'import_jobs.account_id')
              .whereRef('busy.id', '!=', 'import_jobs.id')
              .where('busy.state', '=', 'running')
              .where('busy.leased_until', '>=', now)
          )
        )
      )
      .orderBy('next_run_at')
      .limit(1);
    if (onlyJob !== undefined) q = q.where('id', '=', onlyJob);
    const job = await q.executeTakeFirst();
    if (!job) return null;
    const claimed = { state: 'running' as const, leased_by: holder, leased_until: now + leaseMs, started_at: job.started_at ?? now, updated_at: now };
    await tx.updateTable('import_jobs').set(claimed).where('id', '=', job.id).execute();
    return { ...job, ...claimed };
  });
}

/** Extends the holder's lease; false when the job was stopped, deleted or taken over meanwhile. */
export async function renewLease(db: Kysely<Database>, id: number, holder: string, until: number): Promise<boolean> {
  const result = await db.updateTable('import_jobs').set({ leased_until: until }).where('id', '=', id).where('leased_by', '=', holder).where('state', '=', 'running').executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Whether `postfach admin import … --foreground` is importing right now: its blob files are not committed yet, so a
 * server starting meanwhile must not sweep them away as orphans.
 */
export async function foregroundImportRunning(db: Kysely<Database>, now = Date.now()): Promise<boolean> {
  const row = await db.selectFrom('import_jobs').select('id').where('state', '=', 'running').where('leased_by', 'like', 'cli:%').where('leased_until', '>', now).executeTakeFirst();
  return row !== undefined;
}

/** Start-up: jobs a previous run of this holder kind left running are due again (they resume where they were). */
export async function releaseLeases(db: Kysely<Database>, holderPrefix: string): Promise<number> {
  const result = await db
    .updateTable('import_jobs')
    .set({ state: 'queued', leased_by: null, leased_until: null, next_run_at: Date.now() })
    .where('state', '=', 'running')
    .where('leased_by', 'like', `${holderPrefix}%`)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Before a visit: records the remote UIDVALIDITY. When it changed (RFC 9051 §2.3.1.1: the old UIDs mean nothing now),
 * the recorded UIDs go and the folder starts over, skipping what the local folder has already.
 */
export async function beginFolder(db: Kysely<Database>, folder: ImportFolder, uidvalidity: number): Promise<ImportFolder> {
  return writeTransaction(db, async (tx) => {
    let changes: Partial<ImportFolder> = { state: 'running', error: null, uidvalidity };
    if (folder.uidvalidity !== null && folder.uidvalidity !== uidvalidity) {
      await tx.deleteFrom('import_uids').where('folder_id', '=', folder.id).execute();
      changes = { ...changes, synced_uidnext: 1, dedup: 1, messages: 0, imported: 0, skipped: 0, failed: 0, bytes: 0, bytes_done: 0 };
    }
    return tx.updateTable('import_folders').set(changes).where('id', '=', folder.id).returningAll().executeTakeFirstOrThrow();
  });
}

/** Remote UIDs from `fromUid` on that were handled already (imported, skipped or failed). */
export async function handledUids(db: Kysely<Database>, folderId: number, fromUid: number): Promise<Set<number>> {
  const rows = await db.selectFrom('import_uids').select('uid').where('folder_id', '=', folderId).where('uid', '>=', fromUid).execute();
  return new Set(rows.map((r) => r.uid));
}

/** What is left of a folder for this visit: the totals become what is done plus what is pending. */
export async function setFolderPending(db: Kysely<Database>, folderId: number, messages: number, bytes: number): Promise<void> {
  await db
    .updateTable('import_folders')
    .set((eb) => ({ messages: eb(eb(eb('imported', '+', eb.ref('skipped')), '+', eb.ref('failed')), '+', messages), bytes: eb('bytes_done', '+', bytes) }))
    .where('id', '=', folderId)
    .execute();
}

export type Outcome = 'imported' | 'skipped' | 'failed';
const OUTCOME_CODE = { imported: 'i', skipped: 's', failed: 'f' } as const;

/** Records one remote message as handled; runs in the transaction that stored it (so it is stored exactly once). */
export async function recordOutcome(tx: Tx, folderId: number, uid: number, size: number, outcome: Outcome): Promise<void> {
  await tx.insertInto('import_uids').values({ folder_id: folderId, uid, outcome: OUTCOME_CODE[outcome] }).execute();
  await tx
    .updateTable('import_folders')
    .set((eb) => ({ [outcome]: eb(eb.ref(outcome), '+', 1), bytes_done: eb('bytes_done', '+', size) }))
    .where('id', '=', folderId)
    .execute();
}

export interface FailureRecord {
  uid: number;
  reason: ImportFailure['reason'];
  detail: string;
  size: number;
  subject: string;
}

export async function recordFailure(tx: Tx, folderId: number, failure: FailureRecord): Promise<void> {
  await recordOutcome(tx, folderId, failure.uid, failure.size, 'failed');
  await tx
    .insertInto('import_failures')
    .values({ folder_id: folderId, uid: failure.uid, reason: failure.reason, detail: failure.detail.slice(0, 500), size: failure.size, subject: failure.subject.slice(0, 200), at: Date.now() })
    .execute();
}

/**
 * After a complete visit: every UID below `syncedUidnext` is handled, later passes list from there. A folder that
 * started over after a UIDVALIDITY change keeps comparing: the old server may still be filling it again.
 */
export async function finishFolder(db: Kysely<Database>, folderId: number, syncedUidnext: number): Promise<void> {
  await db.updateTable('import_folders').set({ state: 'done', synced_uidnext: syncedUidnext }).where('id', '=', folderId).execute();
}

/** After an interrupted pass: folders being visited show their state before the visit again. */
export async function settleFolders(db: Kysely<Database> | Tx, jobId: number): Promise<void> {
  await db
    .updateTable('import_folders')
    .set({ state: sql<ImportFolder['state']>`CASE WHEN synced_uidnext > 1 THEN 'done' ELSE 'pending' END` })
    .where('job_id', '=', jobId)
    .where('state', '=', 'running')
    .execute();
}

export async function failFolder(db: Kysely<Database>, folderId: number, error: string): Promise<void> {
  await db.updateTable('import_folders').set({ state: 'failed', error: error.slice(0, 500) }).where('id', '=', folderId).execute();
}

/** Resume with retry: failed messages are forgotten, so the next pass fetches them again. */
export async function forgetFailures(tx: Tx, jobId: number): Promise<number> {
  const folders = await tx.selectFrom('import_folders').select(['id', 'synced_uidnext', 'failed']).where('job_id', '=', jobId).where('failed', '>', 0).execute();
  let forgotten = 0;
  for (const folder of folders) {
    const first = await tx.selectFrom('import_uids').select((eb) => eb.fn.min('uid').as('uid')).where('folder_id', '=', folder.id).where('outcome', '=', 'f').executeTakeFirst();
    const removed = await tx.deleteFrom('import_uids').where('folder_id', '=', folder.id).where('outcome', '=', 'f').executeTakeFirst();
    await tx.deleteFrom('import_failures').where('folder_id', '=', folder.id).execute();
    const uid = Number(first?.uid ?? folder.synced_uidnext);
    await tx
      .updateTable('import_folders')
      .set((eb) => ({ failed: 0, messages: eb('messages', '-', folder.failed), synced_uidnext: Math.min(uid, folder.synced_uidnext) }))
      .where('id', '=', folder.id)
      .execute();
    forgotten += Number(removed.numDeletedRows);
  }
  return forgotten;
}
