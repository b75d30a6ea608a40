// Migration 2026-12-01 #20: greylisting for the bundled greylist plugin: triplets (client network, sender,
// recipient) with when they were first seen and passed, and the sender domains each recipient already knows. Frozen.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('greylist_triplets')
    // the client's /24 (IPv4) or /64 (IPv6): a sender's retry may come from a neighbouring address of its pool
    .addColumn('network', 'text', (c) => c.notNull())
    // lower-case envelope sender, '' for the null sender
    .addColumn('sender', 'text', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'integer', (c) => c.notNull())
    // null until the sender retried after the delay
    .addColumn('passed_at', 'integer')
    .addColumn('last_seen', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('greylist_triplets_pk', ['network', 'sender', 'recipient'])
    .execute();
  await db.schema.createIndex('greylist_triplets_last_seen').on('greylist_triplets').column('last_seen').execute();

  await db.schema
    .createTable('greylist_known')
    // a recipient (hosted address) and a sender domain it has had passing mail from, or written to
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('greylist_known_pk', ['recipient', 'domain'])
    .execute();
  await db.schema.createIndex('greylist_known_last_seen').on('greylist_known').column('last_seen').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('greylist_known').execute();
  await db.schema.dropTable('greylist_triplets').execute();
}
