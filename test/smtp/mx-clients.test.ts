// The MX driven by independent SMTP client implementations (Python smtplib, swaks, nodemailer): each delivery must
// be stored in INBOX with our trace headers, no flags, and a size equal to the stored blob.
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startServer, provision, type TestServer } from '../helpers/server.js';
import { listMessages } from '../../server/store/messages.js';

const run = promisify(execFile);
const RECIPIENT = 'info@firma.de';
const SENDER = 'peer@sender.test';

function installed(command: string): boolean {
  try {
    execFileSync('which', [command], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const NO_PYTHON = installed('python3') ? null : 'python3 is not installed: the smtplib client cannot run';
const NO_SWAKS = installed('swaks') ? null : 'swaks is not installed (apt-get install swaks): the swaks client cannot run';

let server: TestServer;

/** The stored message with the given subject: it must exist exactly once, in INBOX, and nowhere else. */
async function storedOnce(subject: string) {
  const { db, blobs } = server.app.services;
  const account = await db.selectFrom('accounts').select('id').where('address', '=', RECIPIENT).executeTakeFirstOrThrow();
  const everywhere = await db
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .select(['mailboxes.name as mailbox', 'messages.id'])
    .where('mailboxes.account_id', '=', account.id)
    .where('messages.subject', '=', subject)
    .execute();
  expect(everywhere.map((m) => m.mailbox)).toEqual(['INBOX']);
  const message = (await listMessages(db, account.id, 'INBOX')).find((m) => m.subject === subject)!;
  const blob = await blobs.read(message.blob_id);
  const blobRow = await db.selectFrom('blobs').selectAll().where('id', '=', message.blob_id).executeTakeFirstOrThrow();
  const raw = blob.toString('latin1');
  return { message, blob, blobRow, raw, headers: raw.slice(0, raw.indexOf('\r\n\r\n') + 2), body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
}

/** What every client's delivery must look like once stored. */
async function expectStored(subject: string, options: { helo: string; protocol: 'ESMTP' | 'ESMTPS'; queueId: string; body: string }) {
  const stored = await storedOnce(subject);
  expect(stored.message.flags).toBe('');
  expect(stored.message.size).toBe(stored.blob.length);
  expect(stored.blobRow.size).toBe(stored.blob.length);
  expect(stored.blobRow.id).toBe(crypto.createHash('sha256').update(stored.blob).digest('hex'));

  const lines = stored.headers.split(/\r\n(?![ \t])/).map((f) => f.replace(/\r\n[ \t]+/g, ' '));
  expect(lines[0]).toMatch(
    new RegExp(
      `^Received: from ${options.helo.replace(/\./g, '\\.')} \\(([^ ()]+ )?\\[127\\.0\\.0\\.1\\]\\) by mx\\.postfach\\.test \\(Postfach\\) with ${options.protocol} id ${options.queueId}( \\(TLSv1\\.[23] [A-Z0-9_-]+\\))? for <info@firma\\.de>; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000$`
    )
  );
  if (options.protocol === 'ESMTPS') expect(lines[0]).toMatch(/\(TLSv1\.[23] /);
  const ar = lines.filter((l) => /^Authentication-Results:/i.test(l));
  expect(ar).toHaveLength(1);
  expect(ar[0]).toMatch(/^Authentication-Results: mx\.postfach\.test; dkim=none \(message not signed\); spf=pass \(.*\) smtp\.mailfrom=peer@sender\.test smtp\.helo=\S+; dmarc=none header\.from=sender\.test$/);
  expect(lines.some((l) => l.startsWith(`Subject: ${subject}`))).toBe(true);
  expect(stored.body).toContain(options.body);
  return stored;
}

describe('MX with real SMTP clients', () => {
  beforeAll(async () => {
    server = await startServer({ zone: { 'sender.test': [{ type: 'TXT', data: 'v=spf1 ip4:127.0.0.1 -all' }] } });
    await provision(server, 'firma.de', ['info']);
  });
  afterAll(async () => server?.close());

  it('accepts mail from Python smtplib over STARTTLS, keeping a dot-stuffed line intact', async (ctx) => {
    ctx.skip(NO_PYTHON !== null, NO_PYTHON ?? undefined);
    const subject = 'smtplib ' + crypto.randomUUID();
    const script = [
      'import smtplib, ssl, sys',
      'port, sender, rcpt, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]',
      "msg = f'From: {sender}\\r\\nTo: {rcpt}\\r\\nSubject: {subject}\\r\\n\\r\\nfirst line\\r\\n.leading dot\\r\\n..two dots\\r\\nlast line\\r\\n'",
      "s = smtplib.SMTP('127.0.0.1', port, local_hostname='py.sender.test', timeout=10)",
      's.starttls(context=ssl._create_unverified_context())',
      's.ehlo()',
      's.mail(sender)',
      'code, resp = s.rcpt(rcpt)',
      'assert code == 250, (code, resp)',
      'code, resp = s.data(msg)',
      "print(code, resp.decode())",
      's.quit()'
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script, String(server.ports.smtp), SENDER, RECIPIENT, subject], { timeout: 20_000 });
    const queueId = /^250 2\.0\.0 Ok: queued as ([0-9A-F]{16})$/m.exec(stdout)?.[1];
    expect(queueId, stdout).toBeTruthy();
    const stored = await expectStored(subject, { helo: 'py.sender.test', protocol: 'ESMTPS', queueId: queueId!, body: 'first line\r\n.leading dot\r\n..two dots\r\nlast line\r\n' });
    expect(stored.body).not.toContain('\r\n...two dots');
  });

  it('accepts mail from swaks', async (ctx) => {
    ctx.skip(NO_SWAKS !== null, NO_SWAKS ?? undefined);
    const subject = 'swaks ' + crypto.randomUUID();
    const { stdout } = await run(
      'swaks',
      ['--server', '127.0.0.1', '--port', String(server.ports.smtp), '--from', SENDER, '--to', RECIPIENT, '--helo', 'swaks.sender.test', '--header', `Subject: ${subject}`, '--body', 'Hallo from swaks'],
      { timeout: 20_000 }
    );
    const queueId = /<- +250 2\.0\.0 Ok: queued as ([0-9A-F]{16})/.exec(stdout)?.[1];
    expect(queueId, stdout).toBeTruthy();
    const stored = await expectStored(subject, { helo: 'swaks.sender.test', protocol: 'ESMTP', queueId: queueId!, body: 'Hallo from swaks' });
    expect(stored.headers).toMatch(/\r\nX-Mailer: swaks /);
  });

  it('accepts mail from swaks over STARTTLS and reports the queue id in the 250 reply', async (ctx) => {
    ctx.skip(NO_SWAKS !== null, NO_SWAKS ?? undefined);
    const subject = 'swaks-tls ' + crypto.randomUUID();
    const { stdout } = await run(
      'swaks',
      ['--server', '127.0.0.1', '--port', String(server.ports.smtp), '--tls', '--from', SENDER, '--to', RECIPIENT, '--helo', 'swaks.sender.test', '--header', `Subject: ${subject}`, '--body', 'over TLS'],
      { timeout: 20_000 }
    );
    const queueId = /<~ +250 2\.0\.0 Ok: queued as ([0-9A-F]{16})/.exec(stdout)?.[1];
    expect(queueId, stdout).toBeTruthy();
    await expectStored(subject, { helo: 'swaks.sender.test', protocol: 'ESMTPS', queueId: queueId!, body: 'over TLS' });
  });

  it('accepts mail from nodemailer, plain and over STARTTLS', async () => {
    for (const secure of [false, true]) {
      const subject = `nodemailer ${secure ? 'tls' : 'plain'} ${crypto.randomUUID()}`;
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: server.ports.smtp,
        secure: false,
        name: 'nm.sender.test',
        ...(secure ? { requireTLS: true, tls: { rejectUnauthorized: false } } : { ignoreTLS: true })
      });
      const info = await transport.sendMail({ from: SENDER, to: RECIPIENT, subject, text: 'Grüße aus Köln\n.dot line' });
      const queueId = /^250 2\.0\.0 Ok: queued as ([0-9A-F]{16})$/.exec(info.response)?.[1];
      expect(queueId, info.response).toBeTruthy();
      await expectStored(subject, { helo: 'nm.sender.test', protocol: secure ? 'ESMTPS' : 'ESMTP', queueId: queueId!, body: '.dot line' });
    }
  });
});
