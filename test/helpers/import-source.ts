// Test helper for the importer: an old provider's mailbox filled over IMAP (CREATE + APPEND with flags and internal
// dates, as a mail client would), and what a folder holds read back from either side for comparison.
import crypto from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { listMessages } from '../../server/store/messages.js';
import { accountId } from './mail-store.js';
import type { TestServer } from './server.js';

export interface SourceMessage {
  raw: Buffer;
  flags: string[];
  date: Date;
}

/**
 * A plain text message; with `bodyBytes` a multipart one whose attachment of that size is random data in base64 (a
 * large message of several MB as people send them, which COMPRESS=DEFLATE cannot shrink: tests that count or throttle
 * bytes on the wire rely on that).
 */
export function sourceMessage(subject: string, options: { flags?: string[]; date?: Date; bodyBytes?: number; id?: string } = {}): SourceMessage {
  const date = options.date ?? new Date(Date.UTC(2019, 4, 17, 8, 30, 0));
  const text = `Inhalt von ${subject}\r\n`;
  const header = [
    'From: Kunde <kunde@example.com>',
    'To: info@alt-firma.de',
    `Subject: =?UTF-8?B?${Buffer.from(subject).toString('base64')}?=`,
    `Message-ID: <${options.id ?? crypto.createHash('sha1').update(subject).digest('hex').slice(0, 16)}@example.com>`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    'MIME-Version: 1.0'
  ];
  const body = options.bodyBytes
    ? [
        'Content-Type: multipart/mixed; boundary="teil"',
        '',
        '--teil',
        'Content-Type: text/plain; charset=utf-8',
        '',
        text,
        '--teil',
        'Content-Type: application/octet-stream; name="anhang.bin"',
        'Content-Disposition: attachment; filename="anhang.bin"',
        'Content-Transfer-Encoding: base64',
        '',
        ...(crypto.randomBytes(Math.ceil((options.bodyBytes * 3) / 4)).toString('base64').match(/.{1,76}/g) ?? []),
        '--teil--',
        ''
      ]
    : ['Content-Type: text/plain; charset=utf-8', '', text];
  return { raw: Buffer.from([...header, ...body].join('\r\n')), flags: options.flags ?? [], date };
}

export async function imapClient(port: number, user: string, pass: string): Promise<ImapFlow> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: false, auth: { user, pass }, logger: false, disableAutoIdle: true });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Creates the folders (if needed) and appends the messages, in order. */
export async function fillMailbox(port: number, user: string, pass: string, folders: Record<string, SourceMessage[]>): Promise<void> {
  const client = await imapClient(port, user, pass);
  try {
    const existing = new Set((await client.list()).map((f) => f.path));
    for (const [name, messages] of Object.entries(folders)) {
      if (!existing.has(name)) await client.mailboxCreate(name);
      for (const m of messages) await client.append(name, m.raw, m.flags, m.date);
    }
  } finally {
    await client.logout();
  }
}

export interface FolderContent {
  /** sha256 of the message bytes, as the blob store names them */
  blob: string;
  flags: string[];
  /** internal date in whole seconds (IMAP carries seconds) */
  date: number;
}

const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');

/** What a remote folder holds, read over IMAP in UID order. */
export async function remoteFolder(client: ImapFlow, path: string): Promise<FolderContent[]> {
  const lock = await client.getMailboxLock(path, { readOnly: true });
  try {
    if (!(client.mailbox && client.mailbox.exists)) return [];
    const out: FolderContent[] = [];
    for await (const m of client.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true }, { uid: true })) {
      out.push({ blob: sha256(m.source!), flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(), date: Math.floor(new Date(m.internalDate!).getTime() / 1000) });
    }
    return out;
  } finally {
    lock.release();
  }
}

/** What a local folder of the test server holds, in UID order. */
export async function localFolder(server: TestServer, address: string, folder: string): Promise<FolderContent[]> {
  const rows = await listMessages(server.app.services.db, await accountId(server, address), folder);
  return rows.map((r) => ({ blob: r.blob_id, flags: (r.flags ? r.flags.split(' ') : []).sort(), date: Math.floor(r.internal_date / 1000) }));
}

/** Polls `probe` until `done` says yes (or fails after timeoutMs with the last value). */
export async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
