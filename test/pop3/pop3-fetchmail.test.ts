// Postfach's POP3 server driven by fetchmail, the classic POP3 collector: keep mode with UIDL tracking (nothing
// fetched twice, nothing deleted), then flush mode (old messages deleted, new ones fetched and deleted), over STLS
// with the generated certificate pinned and over POP3S. Messages are delivered to an MDA that writes one file each.
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
const NO_FETCHMAIL = installed('fetchmail') ? null : 'fetchmail is not installed (apt-get install fetchmail)';
const USER = 'info@firma.de';

let server: TestServer;
let home: string;
let delivered: string;
let runs = 0;

/** Runs fetchmail once against the server with a fresh rc file; returns its exit code and log. */
async function fetchmail(mode: { keep: boolean; flush?: boolean; implicitTls?: boolean }): Promise<{ code: number; log: string }> {
  const port = mode.implicitTls ? server.ports.pop3s : server.ports.pop3;
  const rc = path.join(home, `fetchmailrc-${++runs}`);
  const mda = `/bin/sh -c 'cat > ${delivered}/message-$$'`;
  fs.writeFileSync(
    rc,
    [
      'set no syslog',
      `poll 127.0.0.1 with proto POP3 port ${port} uidl`,
      `  user "${USER}" there with password "${PASSWORD}" is "${process.env.USER ?? 'root'}" here`,
      // RFC 8314: TLS always; the generated certificate is pinned so fetchmail verifies it fully
      `  ${mode.implicitTls ? 'ssl' : 'sslproto tls1.2+'} sslcertck sslcertfile "${path.join(server.dataDir, 'tls', 'selfsigned.crt')}" sslcommonname "${TEST_HOSTNAME}"`,
      `  ${mode.keep ? 'keep' : 'nokeep'} ${mode.flush ? 'flush' : 'noflush'}`,
      `  mda "${mda}"`,
      ''
    ].join('\n'),
    { mode: 0o600 }
  );
  try {
    const { stdout, stderr } = await run('fetchmail', ['-f', rc, '--idfile', path.join(home, 'fetchids'), '--pidfile', path.join(home, 'fetchmail.pid'), '--verbose', '--nodetach'], {
      env: { ...process.env, HOME: home },
      timeout: 30_000
    });
    return { code: 0, log: stdout + stderr };
  } catch (err) {
    const e = err as Error & { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, log: `${e.stdout ?? ''}${e.stderr ?? e.message}` };
  }
}

/** The messages the MDA received, by subject; empties the folder for the next run. */
const received = new Map<string, string>();
function takeDelivered(): string[] {
  const subjects = fs
    .readdirSync(delivered)
    .map((f) => {
      const text = fs.readFileSync(path.join(delivered, f), 'utf8');
      fs.rmSync(path.join(delivered, f));
      const subject = /^Subject: (.*)$/m.exec(text)?.[1] ?? '';
      received.set(subject, text);
      return subject;
    })
    .sort();
  return subjects;
}

async function subjectsOnServer(): Promise<string[]> {
  return (await listMessages(server.app.services.db, await accountId(server, USER), 'INBOX')).map((m) => m.subject).sort();
}

describe.skipIf(NO_FETCHMAIL !== null)(NO_FETCHMAIL ? `POP3 with fetchmail (skipped: ${NO_FETCHMAIL})` : 'POP3 with fetchmail', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'pop3.port': 0, 'pop3s.port': 0 } });
    await provision(server, 'firma.de', ['info']);
    home = tempDir('postfach-fetchmail-');
    delivered = path.join(home, 'delivered');
    fs.mkdirSync(delivered);
  });
  afterAll(async () => {
    await server?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('keep: fetches each message once (UIDL), leaves them on the server; a new one is fetched alone', async () => {
    await storeMail(server, USER, textMail('Eins'));
    await storeMail(server, USER, textMail('Zwei', '.Punkt\r\nText'));
    const first = await fetchmail({ keep: true });
    expect(first.code, first.log).toBe(0);
    expect(first.log).toMatch(/POP3> STLS/);
    // fetchmail compares what arrives with the LIST size and complains when they differ
    expect(first.log).not.toMatch(/expected length|octets, expected/);
    expect(takeDelivered()).toEqual(['Eins', 'Zwei']);
    expect(received.get('Zwei')).toMatch(/\n\n\.Punkt\nText\n$/); // un-stuffed, handed to the MDA with LF endings
    const again = await fetchmail({ keep: true });
    expect(again.code, again.log).toBe(1); // fetchmail: 1 = no new mail
    expect(takeDelivered()).toEqual([]);
    await storeMail(server, USER, textMail('Drei'));
    const third = await fetchmail({ keep: true, implicitTls: true });
    expect(third.code, third.log).toBe(0);
    expect(takeDelivered()).toEqual(['Drei']);
    expect(await subjectsOnServer()).toEqual(['Drei', 'Eins', 'Zwei']);
  });

  it('flush: deletes the messages fetched before, fetches and deletes the new one; the server ends empty', async () => {
    await storeMail(server, USER, textMail('Vier'));
    const result = await fetchmail({ keep: false, flush: true });
    expect(result.code, result.log).toBe(0);
    expect(takeDelivered()).toEqual(['Vier']);
    expect(await subjectsOnServer()).toEqual([]);
  });
});
