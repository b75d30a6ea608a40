// Messages put into an account's folder the way delivery does it (blob, parsed structure, one transaction, notifier),
// and a folder read back, for IMAP tests that need mail without an SMTP round trip.
import type { TestServer } from './server.js';
import { findMailbox } from '../../server/store/mailboxes.js';
import { prepareMessage, storeMessage } from '../../server/store/messages.js';

export async function accountId(server: TestServer, address: string): Promise<number> {
  const row = await server.app.services.db.selectFrom('accounts').select('id').where('address', '=', address).executeTakeFirstOrThrow();
  return row.id;
}

/** Stores raw as a new message in the account's folder (INBOX unless named); returns its UID. */
export async function storeMail(server: TestServer, address: string, raw: string | Buffer, options: { mailbox?: string; flags?: string[] } = {}): Promise<number> {
  const { db, blobs, writes, notifier } = server.app.services;
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  const id = await accountId(server, address);
  const mailbox = await findMailbox(db, id, options.mailbox ?? 'INBOX');
  if (!mailbox) throw new Error(`${address} has no folder ${options.mailbox}`);
  const prepared = prepareMessage(bytes);
  const blob = await blobs.write([bytes]);
  try {
    const [stored] = await writes.run((tx) => storeMessage(tx, blob, prepared, [{ accountId: id, specialUse: null, mailboxId: mailbox.id, flags: options.flags ?? [] }], Date.UTC(2026, 10, 22, 9, 30)));
    notifier.publish({ accountId: id, mailboxId: stored.mailboxId, kind: 'exists', uids: [stored.uid], modseq: stored.modseq });
    return stored.uid;
  } finally {
    blobs.release(blob.id);
  }
}

/** A plain text message with a subject, as a client would send it. */
export function textMail(subject: string, body = `Text of ${subject}`): string {
  return `From: Kunde <kunde@example.com>\r\nTo: info@firma.de\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.com>\r\nDate: Sun, 22 Nov 2026 09:30:00 +0000\r\n\r\n${body}\r\n`;
}

/** Everything of an account's mail that a foreign session must not be able to see or change. */
export async function mailSnapshot(server: TestServer, address: string) {
  const { db } = server.app.services;
  const id = await accountId(server, address);
  const mailboxes = await db.selectFrom('mailboxes').select(['id', 'name', 'uidnext', 'uidvalidity', 'highestmodseq', 'subscribed', 'special_use']).where('account_id', '=', id).orderBy('id').execute();
  const messages = await db
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .select(['mailboxes.name', 'messages.uid', 'messages.modseq', 'messages.flags', 'messages.blob_id'])
    .where('mailboxes.account_id', '=', id)
    .orderBy('messages.id')
    .execute();
  const expunges = await db
    .selectFrom('expunges')
    .innerJoin('mailboxes', 'mailboxes.id', 'expunges.mailbox_id')
    .select(['mailboxes.name', 'expunges.uid'])
    .where('mailboxes.account_id', '=', id)
    .execute();
  const account = await db.selectFrom('accounts').select(['used_bytes']).where('id', '=', id).executeTakeFirstOrThrow();
  return { mailboxes, messages, expunges, usedBytes: account.used_bytes };
}
