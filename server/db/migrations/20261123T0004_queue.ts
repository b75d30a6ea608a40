// Migration 2026-11-23 #4: the outbound queue as one entry per message and recipient domain with per-recipient
// status (replaces the first cut's one-row-per-recipient `outbound`), and server secrets (the SRS key). Frozen.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('queue')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('blob_id', 'text', (c) => c.notNull().references('blobs.id'))
    // MAIL FROM used for delivery ('' for DSNs), already SRS-rewritten for forwards
    .addColumn('sender', 'text', (c) => c.notNull())
    // where a DSN goes ('' = nowhere: DSNs and null-sender mail never cause one)
    .addColumn('return_path', 'text', (c) => c.notNull())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('forwarded_for', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'integer', (c) => c.notNull())
    .addColumn('leased_until', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('queue_next').on('queue').column('next_attempt').execute();

  await db.schema
    .createTable('queue_recipients')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('queue_id', 'integer', (c) => c.notNull().references('queue.id').onDelete('cascade'))
    .addColumn('recipient', 'text', (c) => c.notNull())
    // pending | delivered | failed
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('reply', 'text')
    .addColumn('remote_mta', 'text')
    .addColumn('updated_at', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('queue_recipients_entry').on('queue_recipients').column('queue_id').execute();

  // rows of the old table become one entry each (same blob reference, so refcounts stay right)
  const rows = await db.selectFrom('outbound').selectAll().execute();
  const fiveDays = 5 * 24 * 3600 * 1000;
  for (const row of rows) {
    const domain = String(row.recipient).split('@').pop()!.toLowerCase();
    const entry = await db
      .insertInto('queue')
      .values({
        blob_id: row.blob_id,
        sender: row.sender,
        return_path: row.origin === 'dsn' ? '' : row.sender,
        domain,
        origin: row.origin,
        forwarded_for: row.forwarded_for,
        attempts: row.attempts,
        next_attempt: row.next_attempt,
        expires_at: row.created_at + fiveDays,
        last_error: row.last_error,
        created_at: row.created_at
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db.insertInto('queue_recipients').values({ queue_id: entry.id, recipient: row.recipient, status: 'pending', updated_at: row.created_at }).execute();
  }
  await db.schema.dropTable('outbound').execute();

  await db.schema
    .createTable('server_secrets')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .execute();
}
