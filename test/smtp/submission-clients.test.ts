// Submission (RFC 6409) driven by independent clients — nodemailer, Python's smtplib and swaks — on 587 (STARTTLS
// before AUTH) and 465 (implicit TLS): login, sender ownership (envelope and From:), local delivery with a DKIM
// signature, Bcc removal, and the replies for wrong passwords, lockout and deactivated accounts.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startServer, provision, actor, PASSWORD, type TestServer } from '../helpers/server.js';
import { installed } from '../helpers/sample-mail.js';
import { SmtpWire } from '../helpers/smtp-wire.js';
import { addAlias } from '../../server/directory/routing.js';
import { setActive } from '../../server/directory/accounts.js';
import { listMessages } from '../../server/store/messages.js';

const run = promisify(execFile);
const NO_PYTHON = installed('python3') ? null : 'python3 is not installed: the smtplib client cannot run';
const NO_SWAKS = installed('swaks') ? null : 'swaks is not installed (apt-get install swaks): the swaks client cannot run';

let server: TestServer;

function client(options: { user?: string; pass?: string; implicitTls?: boolean; method?: 'PLAIN' | 'LOGIN' } = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: options.implicitTls ? server.ports.submissions : server.ports.submission,
    secure: !!options.implicitTls,
    requireTLS: !options.implicitTls,
    tls: { rejectUnauthorized: false },
    auth: { user: options.user ?? 'info@firma.de', pass: options.pass ?? PASSWORD, method: options.method }
  });
}

const raw = (from: string, to: string, subject: string, extra: string[] = []) =>
  [`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, ...extra, 'Date: Mon, 23 Nov 2026 10:00:00 +0100', 'Message-ID: <' + subject + '@firma.de>', '', 'Hallo!', ''].join('\r\n');

async function stored(address: string, subject: string): Promise<string | null> {
  const { db, blobs } = server.app.services;
  const account = await db.selectFrom('accounts').select('id').where('address', '=', address).executeTakeFirstOrThrow();
  for (const m of await listMessages(db, account.id, 'INBOX')) {
    const text = (await blobs.read(m.blob_id)).toString('latin1');
    if (text.includes(`Subject: ${subject}\r\n`)) return text;
  }
  return null;
}

describe('submission', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'submission.port': 0, 'submissions.port': 0, 'imap.port': 0 } });
    await provision(server, 'firma.de', ['info', 'buchhaltung', 'paused', 'locked']);
    await addAlias(server.app.services.db, actor, 'kontakt@firma.de', 'info@firma.de');
    await setActive(server.app.services.db, actor, 'paused@firma.de', false);
  });
  afterAll(async () => server?.close());

  it('takes mail from nodemailer with AUTH PLAIN on 587 after STARTTLS and stores it for a local recipient, DKIM-signed', async () => {
    const subject = `local-${crypto.randomUUID()}`;
    const info = await client({ method: 'PLAIN' }).sendMail({ envelope: { from: 'info@firma.de', to: ['buchhaltung@firma.de'] }, raw: raw('Info <info@firma.de>', 'buchhaltung@firma.de', subject) });
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]{16}$/);
    const text = await stored('buchhaltung@firma.de', subject);
    expect(text).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=firma\.de;/);
    expect(text).toMatch(/\r\nReceived: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby mx\.postfach\.test \(Postfach\) with ESMTPSA id [0-9A-F]{16}\r\n\t\(TLSv1\.[23] /);
    // the client's own Message-ID and Date stay
    expect(text).toContain(`\r\nMessage-ID: <${subject}@firma.de>\r\n`);
    expect(text!.match(/^Date: /gm)).toHaveLength(1);
  });

  it('takes AUTH LOGIN on 465 with implicit TLS, and mail sent as an alias', async () => {
    const subject = `alias-${crypto.randomUUID()}`;
    await client({ implicitTls: true, method: 'LOGIN' }).sendMail({ envelope: { from: 'kontakt@firma.de', to: ['buchhaltung@firma.de'] }, raw: raw('kontakt@firma.de', 'buchhaltung@firma.de', subject) });
    expect(await stored('buchhaltung@firma.de', subject)).not.toBeNull();
  });

  it('removes Bcc from what recipients get', async () => {
    const subject = `bcc-${crypto.randomUUID()}`;
    await client().sendMail({ envelope: { from: 'info@firma.de', to: ['buchhaltung@firma.de'] }, raw: raw('info@firma.de', 'someone@firma.de', subject, ['Bcc: buchhaltung@firma.de']) });
    const text = await stored('buchhaltung@firma.de', subject);
    expect(text).not.toBeNull();
    expect(text).not.toMatch(/^Bcc:/im);
  });

  it('refuses an envelope sender that is not the account or one of its aliases with 553 5.7.1; a subaddress of its own is fine', async () => {
    const send = (from: string) => client().sendMail({ envelope: { from, to: ['buchhaltung@firma.de'] }, raw: raw('info@firma.de', 'buchhaltung@firma.de', `env-${crypto.randomUUID()}`) });
    await expect(send('buchhaltung@firma.de')).rejects.toMatchObject({ response: '553 5.7.1 Sender address not owned by the authenticated account: <buchhaltung@firma.de>' });
    await expect(send('')).rejects.toMatchObject({ response: '553 5.7.1 Sender address not owned by the authenticated account: <>' });
    await expect(send('info@firma.de.evil.example')).rejects.toMatchObject({ responseCode: 553 });
    expect((await send('info+newsletter@firma.de')).response).toMatch(/^250 /);
  });

  it('refuses a From: header naming someone else (553 5.7.1), whatever the envelope says, and stores nothing', async () => {
    const subject = `spoof-${crypto.randomUUID()}`;
    const attempt = client().sendMail({ envelope: { from: 'info@firma.de', to: ['buchhaltung@firma.de'] }, raw: raw('Chefin <chefin@firma.de>', 'buchhaltung@firma.de', subject) });
    await expect(attempt).rejects.toMatchObject({ response: '553 5.7.1 Sender address not owned by the authenticated account: header address <chefin@firma.de>' });
    const sender = client().sendMail({ envelope: { from: 'info@firma.de', to: ['buchhaltung@firma.de'] }, raw: raw('info@firma.de', 'buchhaltung@firma.de', subject, ['Sender: ceo@bank.example']) });
    await expect(sender).rejects.toMatchObject({ responseCode: 553 });
    expect(await stored('buchhaltung@firma.de', subject)).toBeNull();
  });

  it('does not offer AUTH before STARTTLS on 587 and refuses MAIL without AUTH', async () => {
    const wire = await SmtpWire.session(server.ports.submission!);
    try {
      const ehlo = await wire.command('EHLO client.test');
      expect(ehlo.lines.join('\n')).toContain('STARTTLS');
      expect(ehlo.lines.join('\n')).not.toMatch(/AUTH/);
      expect((await wire.command('AUTH PLAIN ' + Buffer.from(`\0info@firma.de\0${PASSWORD}`).toString('base64'))).line).toBe('538 5.7.0 Error: Must issue a STARTTLS command first');
      expect((await wire.command('MAIL FROM:<info@firma.de>')).line).toBe('530 5.7.0 Error: authentication Required');
    } finally {
      wire.destroy();
    }
  });

  it('answers a wrong password with 535 5.7.8, a deactivated account with its own 535, and locks out guessing (454 4.7.0)', async () => {
    await expect(client({ pass: 'falsch-falsch' }).verify()).rejects.toMatchObject({ response: '535 5.7.8 Authentication credentials invalid' });
    await expect(client({ user: 'paused@firma.de' }).verify()).rejects.toMatchObject({ response: '535 5.7.8 Authentication refused: the account is deactivated' });
    for (let i = 0; i < 5; i++) await client({ user: 'locked@firma.de', pass: `guess-${i}-wrong` }).verify().catch(() => undefined);
    // the right password no longer helps while the account is locked
    await expect(client({ user: 'locked@firma.de' }).verify()).rejects.toMatchObject({ response: '454 4.7.0 Too many failed logins, try again later' });
  });

  it.skipIf(NO_PYTHON)('takes mail from Python smtplib (starttls, login, sendmail) and refuses a foreign sender', async () => {
    const subject = `python-${crypto.randomUUID()}`;
    const script = String.raw`
import json, os, smtplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', int(os.environ['PORT']))
s.starttls(context=ctx)
s.login('info@firma.de', os.environ['PASSWORD'])
msg = 'From: info@firma.de\r\nTo: buchhaltung@firma.de\r\nSubject: ' + os.environ['SUBJECT'] + '\r\n\r\nvon Python\r\n'
refused = s.sendmail('info@firma.de', ['buchhaltung@firma.de'], msg)
try:
    s.sendmail('buchhaltung@firma.de', ['info@firma.de'], msg)
    spoof = None
except smtplib.SMTPSenderRefused as e:
    spoof = [e.smtp_code, e.smtp_error.decode()]
s.quit()
print(json.dumps({'refused': refused, 'spoof': spoof}))
`;
    const { stdout } = await run('python3', ['-c', script], { env: { ...process.env, PORT: String(server.ports.submission), PASSWORD, SUBJECT: subject } });
    expect(JSON.parse(stdout)).toEqual({ refused: {}, spoof: [553, '5.7.1 Sender address not owned by the authenticated account: <buchhaltung@firma.de>'] });
    expect(await stored('buchhaltung@firma.de', subject)).toContain('von Python');
  });

  it.skipIf(NO_SWAKS)('takes mail from swaks with STARTTLS and AUTH LOGIN, and swaks sees the spoofing refusal', async () => {
    const subject = `swaks-${crypto.randomUUID()}`;
    const common = ['--server', '127.0.0.1', '--port', String(server.ports.submission), '--tls', '--auth', 'LOGIN', '--auth-user', 'info@firma.de', '--auth-password', PASSWORD, '--to', 'buchhaltung@firma.de', '--header', `Subject: ${subject}`];
    const ok = await run('swaks', [...common, '--from', 'info@firma.de']);
    // swaks marks lines read over TLS with ~
    expect(ok.stdout).toMatch(/<~  250 2\.0\.0 Ok: queued as [0-9A-F]{16}/);
    expect(await stored('buchhaltung@firma.de', subject)).not.toBeNull();
    const spoof = await run('swaks', [...common, '--from', 'chefin@firma.de']).then(
      (r) => r.stdout,
      (err: { stdout: string }) => err.stdout
    );
    expect(spoof).toMatch(/<~\* 553 5\.7\.1 Sender address not owned by the authenticated account: <chefin@firma\.de>/);
  });
});
