// The test message an admin sends to an account from the admin UI: composed here, DKIM-signed with the account domain's
// key and handed to this server's own MX over loopback SMTP, so it takes exactly the path mail from outside takes
// (recipient resolution with aliases and forwards, deactivation, quota, SPF/DKIM/DMARC, the one commit in commit.ts).
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import { encode as encodeQp, wrap as wrapQp } from 'nodemailer/lib/qp/index.js';
import type { Account } from '../db/schema.js';
import { domainOf } from '../directory/address.js';
import { dkimSignature, signingKeyFor } from '../mailauth/sign.js';
import type { Services } from '../services.js';
import { rfc5322Date } from './headers.js';

/** Where this server's MX listens, as the HTTP server reaches it (loopback when bound to every address). */
export interface MxAddress {
  host: string;
  port: number;
}

export interface TestMailSent {
  /** the random part of the Message-ID: how the UI asks whether it arrived */
  id: string;
  messageId: string;
  sentAt: number;
  /** the MX's final reply (`250 2.0.0 …`) */
  reply: string;
}

/** The MX refused the message (an inactive account, a full mailbox): the reply says why. */
export class TestMailRefused extends Error {
  constructor(readonly reply: string) {
    super(reply);
    this.name = 'TestMailRefused';
  }
}

export const TEST_MAIL_ID = /^[A-Za-z0-9_-]{22}$/;

export const testMessageId = (id: string, hostname: string) => `<postfach-test.${id}@${hostname}>`;

/** The address every interface of the host answers on locally. */
export function loopbackFor(bind: string): string {
  if (bind === '0.0.0.0' || bind === '') return '127.0.0.1';
  if (bind === '::') return '::1';
  return bind;
}

function compose(account: Account, hostname: string, messageId: string, sentBy: string, now: Date): Buffer {
  const domain = domainOf(account.address);
  const text = [
    `Diese Testnachricht hat ${sentBy} in der Postfach-Verwaltung an ${account.address} geschickt.`,
    'Wenn Sie sie in Ihrem Mailprogramm sehen, kommt Post für dieses Postfach an.',
    '',
    `This test message was sent to ${account.address} by ${sentBy} from the Postfach admin UI.`,
    'If you see it in your mail program, mail for this mailbox arrives.',
    '',
    `-- ${hostname}`,
    ''
  ].join('\r\n');
  const header = [
    `From: Postfach <postmaster@${domain}>`,
    `To: <${account.address}>`,
    'Subject: Postfach: Testnachricht / test message',
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: ${messageId}`,
    'Auto-Submitted: auto-generated', // RFC 3834 §5: no auto-replies to it
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable'
  ];
  return Buffer.from([...header, '', wrapQp(encodeQp(Buffer.from(text, 'utf8')), 76), ''].join('\r\n'), 'latin1');
}

/**
 * Sends the message and returns once the MX answered 250 (so it is stored, or queued for a forward). The envelope
 * sender is null (RFC 5321 §4.5.5) so that a test message forwarded elsewhere never bounces back to anyone.
 */
export async function sendTestMail(services: Services, mx: MxAddress, account: Account, sentBy: string): Promise<TestMailSent> {
  const { config, db } = services;
  const id = crypto.randomBytes(16).toString('base64url');
  const messageId = testMessageId(id, config.hostname);
  const now = new Date();
  let message = compose(account, config.hostname, messageId, sentBy, now);
  const key = await signingKeyFor(db, domainOf(account.address));
  if (key) message = Buffer.concat([Buffer.from(await dkimSignature(message, key), 'latin1'), message]);
  // loopback to this process: no TLS needed, and the MX's certificate need not match a loopback name
  const transport = nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false, ignoreTLS: true, name: config.hostname, logger: false, connectionTimeout: 10_000 });
  try {
    const info = await transport.sendMail({ envelope: { from: '', to: [account.address] }, raw: message });
    return { id, messageId, sentAt: now.getTime(), reply: String(info.response ?? '250') };
  } catch (e) {
    const err = e as Error & { responseCode?: number; response?: string };
    if (err.responseCode) throw new TestMailRefused(err.response ?? String(err.responseCode));
    throw err;
  } finally {
    transport.close();
  }
}
