// Migration 2026-12-01 #40: blobs.wire_size, the message's octets with CRLF line endings (what POP3 LIST counts). Frozen.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // null for blobs stored before: POP3 computes it from the file the first time it lists the message
  await db.schema.alterTable('blobs').addColumn('wire_size', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('blobs').dropColumn('wire_size').execute();
}
