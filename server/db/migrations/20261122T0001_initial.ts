// Migration 2026-11-22 #1: the first schema (domains, accounts, routing, mailboxes, messages, blobs, outbound, audit). Frozen.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('domains')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('catchall_target', 'text')
    .addColumn('dkim_selector', 'text', (c) => c.notNull())
    .addColumn('dkim_private_key', 'text', (c) => c.notNull())
    .addColumn('dkim_public_key', 'text', (c) => c.notNull())
    .addColumn('verification_token', 'text', (c) => c.notNull())
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('accounts')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('domain_id', 'integer', (c) => c.notNull().references('domains.id'))
    .addColumn('local_part', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('quota', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('used_bytes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('accounts_domain').on('accounts').column('domain_id').execute();

  await db.schema
    .createTable('aliases')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('domain_id', 'integer', (c) => c.notNull().references('domains.id'))
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('aliases_account').on('aliases').column('account_id').execute();

  await db.schema
    .createTable('forwards')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('domain_id', 'integer', (c) => c.notNull().references('domains.id'))
    .addColumn('source', 'text', (c) => c.notNull().unique())
    .addColumn('keep_copy', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('forward_destinations')
    .addColumn('forward_id', 'integer', (c) => c.notNull().references('forwards.id').onDelete('cascade'))
    .addColumn('destination', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('forward_destinations_pk', ['forward_id', 'destination'])
    .execute();

  await db.schema
    .createTable('mailboxes')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('special_use', 'text')
    .addColumn('uidvalidity', 'integer', (c) => c.notNull())
    .addColumn('uidnext', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('highestmodseq', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('subscribed', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .addUniqueConstraint('mailboxes_account_name', ['account_id', 'name'])
    .execute();

  await db.schema
    .createTable('blobs')
    .addColumn('num', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('refcount', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('mailbox_id', 'integer', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('uid', 'integer', (c) => c.notNull())
    .addColumn('modseq', 'integer', (c) => c.notNull())
    .addColumn('flags', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('internal_date', 'integer', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('blob_id', 'text', (c) => c.notNull().references('blobs.id'))
    .addColumn('envelope', 'text', (c) => c.notNull())
    .addColumn('bodystructure', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('from_addr', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('to_addr', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('cc_addr', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('bcc_addr', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('message_id', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('sent_date', 'integer')
    .addUniqueConstraint('messages_mailbox_uid', ['mailbox_id', 'uid'])
    .execute();
  await db.schema.createIndex('messages_mailbox_modseq').on('messages').columns(['mailbox_id', 'modseq']).execute();
  await db.schema.createIndex('messages_blob').on('messages').column('blob_id').execute();

  // Full-text index for IMAP SEARCH TEXT/BODY (substring semantics, hence trigrams). One row per blob
  // (rowid = blobs.num), so a message stored for many recipients or copied between folders is indexed once.
  await sql`CREATE VIRTUAL TABLE message_text USING fts5(headers, body, tokenize = 'trigram', content = '', contentless_delete = 1)`.execute(db);

  await db.schema
    .createTable('expunges')
    .addColumn('mailbox_id', 'integer', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
    .addColumn('uid', 'integer', (c) => c.notNull())
    .addColumn('modseq', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('expunges_mailbox_modseq').on('expunges').columns(['mailbox_id', 'modseq']).execute();

  await db.schema
    .createTable('outbound')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('sender', 'text', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('blob_id', 'text', (c) => c.notNull().references('blobs.id'))
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('forwarded_for', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt', 'integer', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('outbound_next').on('outbound').column('next_attempt').execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('at', 'integer', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('ip', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['audit_log', 'outbound', 'expunges', 'message_text', 'messages', 'blobs', 'mailboxes', 'forward_destinations', 'forwards', 'aliases', 'accounts', 'domains']) {
    await sql`DROP TABLE IF EXISTS ${sql.table(t)}`.execute(db);
  }
}
