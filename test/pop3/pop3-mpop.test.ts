// Postfach's POP3 server driven by mpop, a POP3 client that pipelines (RFC 2449 PIPELINING: every RETR, then every
// DELE, in one write each) and tracks UIDL: keep mode fetches each message once, then a run over POP3S deletes what it
// fetched. The certificate is pinned; delivery is to a maildir, whose files are compared with the stored messages.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMessages } from '../../server/store/messages.js';
import { accountId, storeMail, textMail } from '../helpers/mail-store.js';
import { installed } from '../helpers/sample-mail.js';
import { PASSWORD, provision, startServer, tempDir, TEST_HOSTNAME, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const NO_MPOP = installed('mpop') ? null : 'mpop is not installed (apt-get install mpop)';
const USER = 'info@firma.de';

/** What each message must arrive as: dot-started lines, a lone "." line and bare LF among them. */
const MESSAGES = [textMail('Eins', '.Punkt am Anfang\r\n.\r\n..zwei Punkte'), 'Subject: Unix\n\nZeile eins\nZeile zwei\n', textMail('Drei')];

let server: TestServer;
let home: string;
let maildir: string;

/** Runs mpop once with a fresh configuration; returns its exit code and the --debug transcript. */
async function mpop(options: { keep: boolean; implicitTls?: boolean }): Promise<{ code: number; log: string }> {
  const rc = path.join(home, `mpoprc-${options.keep ? 'keep' : 'delete'}`);
  fs.writeFileSync(
    rc,
    [
      'account postfach',
      'host 127.0.0.1',
      `port ${options.implicitTls ? server.ports.pop3s : server.ports.pop3}`,
      `user ${USER}`,
      `password ${PASSWORD}`,
      'auth plain',
      'tls on',
      `tls_starttls ${options.implicitTls ? 'off' : 'on'}`,
      `tls_trust_file ${path.join(server.dataDir, 'tls', 'selfsigned.crt')}`,
      `tls_host_override ${TEST_HOSTNAME}`,
      'pipelining on',
      `keep ${options.keep ? 'on' : 'off'}`,
      'only_new on',
      'received_header off',
      `delivery maildir ${maildir}`,
      `uidls_file ${path.join(home, 'uidls')}`,
      ''
    ].join('\n'),
    { mode: 0o600 }
  );
  try {
    const { stdout, stderr } = await run('mpop', ['-C', rc, '--debug', 'postfach'], { timeout: 20_000 });
    return { code: 0, log: stdout + stderr };
  } catch (err) {
    const e = err as Error & { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, log: `${e.stdout ?? ''}${e.stderr ?? e.message}` };
  }
}

/** The delivered messages (mpop writes them with LF line endings), emptying the maildir. */
function takeDelivered(): string[] {
  const folder = path.join(maildir, 'new');
  const files = fs.readdirSync(folder).sort();
  const texts = files.map((f) => fs.readFileSync(path.join(folder, f), 'utf8'));
  for (const f of files) fs.rmSync(path.join(folder, f));
  return texts.sort();
}

/** Whether `commands` went out back to back in the transcript, before any reply to them. */
function pipelined(log: string, commands: string[]): boolean {
  const lines = log.split(/\r?\n/);
  const first = lines.indexOf(`--> ${commands[0]}`);
  return first >= 0 && commands.every((command, i) => lines[first + i] === `--> ${command}`);
}

describe.skipIf(NO_MPOP !== null)(NO_MPOP ? `POP3 with mpop (skipped: ${NO_MPOP})` : 'POP3 with mpop', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'pop3.port': 0, 'pop3s.port': 0 } });
    await provision(server, 'firma.de', ['info']);
    home = tempDir('postfach-mpop-');
    maildir = path.join(home, 'Maildir');
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  });
  afterAll(async () => {
    await server?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('keep: STLS, AUTH PLAIN, the RETRs pipelined, each message delivered as stored; a second run fetches nothing', async () => {
    for (const raw of MESSAGES) await storeMail(server, USER, raw);
    const first = await mpop({ keep: true });
    expect(first.code, first.log).toBe(0);
    expect(first.log).toContain('--> STLS');
    expect(first.log).toContain('--> AUTH PLAIN');
    expect(pipelined(first.log, ['RETR 1', 'RETR 2', 'RETR 3']), first.log).toBe(true);
    expect(takeDelivered()).toEqual(MESSAGES.map((m) => m.replace(/\r\n/g, '\n')).sort());
    const again = await mpop({ keep: true });
    expect(again.code, again.log).toBe(0);
    expect(again.log).toMatch(/new: no messages, total: 3 messages/);
    expect(takeDelivered()).toEqual([]);
  });

  it('over POP3S without keep: fetches only the new message, pipelines the DELEs, and the server ends empty', async () => {
    await storeMail(server, USER, textMail('Vier'));
    const result = await mpop({ keep: false, implicitTls: true });
    expect(result.code, result.log).toBe(0);
    expect(result.log).not.toContain('--> STLS');
    expect(takeDelivered()).toEqual([textMail('Vier').replace(/\r\n/g, '\n')]);
    expect(pipelined(result.log, ['DELE 1', 'DELE 2', 'DELE 3', 'DELE 4']), result.log).toBe(true);
    expect(result.log).toContain('<-- +OK Postfach POP3 signing off (0 messages left)');
    expect(await listMessages(server.app.services.db, await accountId(server, USER), 'INBOX')).toEqual([]);
  });
});
