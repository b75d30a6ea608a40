// Delivery status notifications (RFC 3464, in a multipart/report of RFC 6522): what failed, why, with the original
// message's header, from the null sender so that a DSN never causes another one (RFC 5321 §4.5.5).
import crypto from 'node:crypto';
import { encode as encodeQp, wrap as wrapQp } from 'nodemailer/lib/qp/index.js';
import { rfc5322Date } from '../smtp/headers.js';
import type { RecipientResult } from './store.js';

export interface DsnInput {
  /** this server's host name: Reporting-MTA and the From address */
  hostname: string;
  /** where the DSN goes */
  to: string;
  queueId: number;
  arrivalDate: number;
  /** the recipients that failed for good (status 'failed') */
  failed: RecipientResult[];
  /** the original message's header section (up to the empty line) */
  originalHeader: Buffer;
  /** the original Subject, for the human-readable part */
  subject: string;
}

/** The enhanced status code (RFC 3463) a reply carries, or one derived from its class. */
export function statusOf(reply: string): string {
  const m = /^([245])\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  // a temporary failure that failed for good only because it expired: 4.4.7 (RFC 3463 §3.5)
  if (m && m[1] === '4') return '4.4.7';
  if (m) return m[2];
  if (/^4/.test(reply)) return '4.4.7';
  return '5.0.0';
}

/** Header field text without line breaks (a reply or subject from elsewhere must not add header lines). */
const oneLine = (text: string) => text.replace(/[\r\n]+\s*/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 900);

/** Longest original header section quoted back: enough to identify the message, not a way to bounce big data. */
const MAX_QUOTED_HEADER = 64 * 1024;

export function buildDsn(input: DsnInput): Buffer {
  const boundary = `=_postfach_${crypto.randomBytes(12).toString('hex')}`;
  const now = new Date();
  const lines = (list: string[]) => list.join('\r\n');
  const recipientsText = input.failed.map((f) => `  <${f.recipient}>\n    ${f.reply}`).join('\n\n');
  const human = [
    `Dies ist eine automatische Nachricht des Mailservers ${input.hostname}.`,
    '',
    `Ihre Nachricht "${input.subject}" konnte an folgende Empfänger nicht zugestellt werden:`,
    '',
    recipientsText,
    '',
    '---',
    '',
    `This is an automatic message from the mail server ${input.hostname}.`,
    '',
    `Your message "${input.subject}" could not be delivered to the following recipients:`,
    '',
    recipientsText,
    ''
  ].join('\n');

  const perRecipient = input.failed.map((f) =>
    lines([
      `Final-Recipient: rfc822; ${oneLine(f.recipient)}`,
      'Action: failed',
      `Status: ${statusOf(f.reply)}`,
      ...(f.remoteMta ? [`Remote-MTA: dns; ${oneLine(f.remoteMta)}`] : []),
      `Diagnostic-Code: smtp; ${oneLine(f.reply)}`,
      `Last-Attempt-Date: ${rfc5322Date(now)}`
    ])
  );
  const status = [lines([`Reporting-MTA: dns; ${input.hostname}`, `X-Postfach-Queue-ID: ${input.queueId}`, `Arrival-Date: ${rfc5322Date(new Date(input.arrivalDate))}`]), ...perRecipient].join('\r\n\r\n');

  let header = input.originalHeader.subarray(0, MAX_QUOTED_HEADER).toString('latin1');
  header = header.replace(/(\r\n)+$/, '') + '\r\n';

  const message = lines([
    `From: Mail Delivery System <MAILER-DAEMON@${input.hostname}>`,
    `To: <${oneLine(input.to)}>`,
    'Subject: Undelivered Mail Returned to Sender (Unzustellbar)',
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${crypto.randomBytes(12).toString('hex')}.dsn@${input.hostname}>`,
    'Auto-Submitted: auto-replied', // RFC 3834 §5
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a delivery status notification in MIME format (RFC 3464).',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    'Content-Description: Notification',
    '',
    wrapQp(encodeQp(Buffer.from(human.replace(/\n/g, '\r\n'), 'utf8')), 76),
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    status,
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    'Content-Description: Undelivered message header',
    '',
    header,
    `--${boundary}--`,
    ''
  ]);
  return Buffer.from(message, 'latin1');
}
