// Migration 2026-12-01 #10b: per account, the highest UIDVALIDITY a deleted folder had, so a folder re-created under
// the same name never gets its old UIDVALIDITY back (RFC 9051 §2.3.1.1) even within the same second. Frozen.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').addColumn('uidvalidity_floor', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('uidvalidity_floor').execute();
}
