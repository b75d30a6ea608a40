// Migration 2026-12-01 #10: import jobs from other providers over IMAP (one row per job, its folders with progress and
// UIDVALIDITY, the remote UIDs already handled, per-message failures). Frozen.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('import_jobs')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    // none | starttls | tls
    .addColumn('encryption', 'text', (c) => c.notNull())
    .addColumn('verify_certificate', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('username', 'text', (c) => c.notNull())
    // AES-256-GCM sealed with the key file in the data folder; NULL once the job is finished or cancelled
    .addColumn('password_sealed', 'text')
    // queued | running | waiting | stopped | failed | done
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('sync', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('ignore_quota', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_run_at', 'integer', (c) => c.notNull())
    .addColumn('leased_by', 'text')
    .addColumn('leased_until', 'integer')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('passes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error_field', 'text')
    .addColumn('error_message', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'integer')
    .addColumn('finished_at', 'integer')
    .addColumn('last_pass_at', 'integer')
    .execute();
  await db.schema.createIndex('import_jobs_account').on('import_jobs').column('account_id').execute();
  await db.schema.createIndex('import_jobs_due').on('import_jobs').columns(['state', 'next_run_at']).execute();

  await db.schema
    .createTable('import_folders')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('job_id', 'integer', (c) => c.notNull().references('import_jobs.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('remote_path', 'text', (c) => c.notNull())
    .addColumn('remote_delimiter', 'text', (c) => c.notNull())
    .addColumn('local_name', 'text', (c) => c.notNull())
    // the remote folder's UIDVALIDITY when its UIDs were recorded; NULL before the first visit
    .addColumn('uidvalidity', 'integer')
    // every remote UID below this was handled in a finished pass; later passes list only UIDs from here
    .addColumn('synced_uidnext', 'integer', (c) => c.notNull().defaultTo(1))
    // 1 after a UIDVALIDITY change: messages already in the local folder (by Message-ID or content) are skipped
    .addColumn('dedup', 'integer', (c) => c.notNull().defaultTo(0))
    // pending | running | done | failed (the remote folder is gone, or the local one cannot be created)
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('messages', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('imported', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('skipped', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('import_folders_job').on('import_folders').column('job_id').execute();

  // one row per remote UID handled under the folder's UIDVALIDITY: i(mported), s(kipped) or f(ailed)
  await db.schema
    .createTable('import_uids')
    .addColumn('folder_id', 'integer', (c) => c.notNull().references('import_folders.id').onDelete('cascade'))
    .addColumn('uid', 'integer', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('import_uids_pk', ['folder_id', 'uid'])
    .modifyEnd(sql`WITHOUT ROWID`)
    .execute();

  await db.schema
    .createTable('import_failures')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('folder_id', 'integer', (c) => c.notNull().references('import_folders.id').onDelete('cascade'))
    .addColumn('uid', 'integer', (c) => c.notNull())
    // too_large | empty | fetch | store
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('at', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('import_failures_folder').on('import_failures').column('folder_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('import_failures').execute();
  await db.schema.dropTable('import_uids').execute();
  await db.schema.dropTable('import_folders').execute();
  await db.schema.dropTable('import_jobs').execute();
}
