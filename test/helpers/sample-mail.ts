// Test helper for the IMAP client tests: two sample messages with known MIME structure, delivered through the MX with
// nodemailer, and the account's stored messages read back through the store (what a client must see byte for byte).
import { execFileSync } from 'node:child_process';
import nodemailer from 'nodemailer';
import type { Message } from '../../server/db/schema.js';
import { listMessages } from '../../server/store/messages.js';
import { type TestServer } from './server.js';

export const RECIPIENT = 'info@firma.de';
export const SENDER = 'peer@sender.test';

const crlf = (lines: string[]) => lines.join('\r\n');

/** Body of the offer: quoted-printable UTF-8 ("für" is =C3=BC). */
export const OFFER_BODY = crlf(['Guten Tag,', '', 'das Angebot f=C3=BCr die Lieferung nach M=C3=BCnchen liegt bei.', '']);

/** text/plain, quoted-printable, subject as an encoded word ("Angebot für München"). */
export const OFFER = crlf([
  'From: Peer Sender <peer@sender.test>',
  'To: info@firma.de',
  'Subject: =?UTF-8?Q?Angebot_f=C3=BCr_M=C3=BCnchen?=',
  'Message-ID: <angebot-1@sender.test>',
  'Date: Mon, 02 Mar 2026 10:00:00 +0100',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  OFFER_BODY
]);

/** The two parts of the invoice, as they stand between the boundaries (the CRLF before a boundary belongs to it). */
export const INVOICE_TEXT = 'Anbei die Rechnung.\r\n';
export const INVOICE_PDF = 'JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n';

/** multipart/mixed: a text part and a base64 PDF attachment. */
export const INVOICE = crlf([
  'From: Buchhaltung <billing@sender.test>',
  'To: info@firma.de',
  'Subject: Rechnung 2026-17',
  'Message-ID: <rechnung-17@sender.test>',
  'Date: Tue, 03 Mar 2026 09:30:00 +0100',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="grenze"',
  '',
  '--grenze',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  INVOICE_TEXT,
  '--grenze',
  'Content-Type: application/pdf; name="rechnung.pdf"',
  'Content-Disposition: attachment; filename="rechnung.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  INVOICE_PDF,
  '--grenze--',
  ''
]);

/** BODYSTRUCTURE of INVOICE as RFC 9051 §7.5.2 spells it (text lines: one CRLF-terminated line). */
export const INVOICE_BODYSTRUCTURE =
  `(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" ${Buffer.byteLength(INVOICE_TEXT)} 1 NIL NIL NIL NIL)` +
  `("APPLICATION" "PDF" ("NAME" "rechnung.pdf") NIL NIL "BASE64" ${Buffer.byteLength(INVOICE_PDF)} NIL ("ATTACHMENT" ("FILENAME" "rechnung.pdf")) NIL NIL)` +
  ` "MIXED" ("BOUNDARY" "grenze") NIL NIL NIL)`;

/** Delivers raw messages to info@firma.de through the MX, in order (so UIDs follow the order given). */
export async function deliver(server: TestServer, ...messages: string[]): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp, secure: false, ignoreTLS: true, name: 'peer.sender.test' });
  try {
    for (const raw of messages) {
      const info = await transport.sendMail({ envelope: { from: SENDER, to: [RECIPIENT] }, raw });
      if (info.rejected.length) throw new Error(`MX rejected the sample message: ${info.response}`);
    }
  } finally {
    transport.close();
  }
}

/** The account's messages in a folder (UID order) with their stored bytes. */
export async function storedMessages(server: TestServer, folder: string): Promise<Array<Message & { raw: Buffer }>> {
  const { db, blobs } = server.app.services;
  const account = await db.selectFrom('accounts').select('id').where('address', '=', RECIPIENT).executeTakeFirstOrThrow();
  const messages = await listMessages(db, account.id, folder);
  return Promise.all(messages.map(async (m) => ({ ...m, raw: await blobs.read(m.blob_id) })));
}

/** Folder names of the account as stored (Unicode, '/' as delimiter), sorted. */
export async function storedFolders(server: TestServer): Promise<string[]> {
  const { db } = server.app.services;
  const rows = await db
    .selectFrom('mailboxes')
    .innerJoin('accounts', 'accounts.id', 'mailboxes.account_id')
    .select('mailboxes.name')
    .where('accounts.address', '=', RECIPIENT)
    .orderBy('mailboxes.name')
    .execute();
  return rows.map((r) => r.name);
}

/** Whether a program is on PATH. */
export function installed(command: string): boolean {
  try {
    execFileSync('which', [command], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
