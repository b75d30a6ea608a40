// Postfach's POP3 server driven by curl's POP3 client (libcurl, RFC 2384 URLs): listing, retrieval, UIDL and TOP as
// custom commands, DELE, each SASL mechanism curl offers, POP3S and STLS, each compared with the store.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listMessages } from '../../server/store/messages.js';
import { accountId, storeMail, textMail } from '../helpers/mail-store.js';
import { installed } from '../helpers/sample-mail.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);

function curlMissing(): string | null {
  if (!installed('curl')) return 'curl is not installed';
  const protocols = (/^Protocols: (.*)$/m.exec(execFileSync('curl', ['--version'], { encoding: 'utf8' }))?.[1] ?? '').split(' ');
  if (!protocols.includes('pop3') || !protocols.includes('pop3s')) return `this curl was built without POP3/POP3S (Protocols: ${protocols.join(' ')})`;
  return null;
}
const NO_CURL = curlMissing();
const USER = 'info@firma.de';

let server: TestServer;

interface CurlResult {
  code: number;
  stdout: string;
  /** with --verbose: the dialogue, client lines as "> …", server lines as "< …" */
  stderr: string;
}

async function curl(url: string, ...args: string[]): Promise<CurlResult> {
  try {
    const { stdout, stderr } = await run('curl', ['--silent', '--show-error', '--max-time', '10', '--user', `${USER}:${PASSWORD}`, ...args, url], { timeout: 15_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as Error & { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

async function curlOk(url: string, ...args: string[]): Promise<CurlResult> {
  const result = await curl(url, ...args);
  expect(result.code, `curl ${args.join(' ')} ${url}: ${result.stderr}`).toBe(0);
  return result;
}

const pop3 = (path = '/') => `pop3://127.0.0.1:${server.ports.pop3}${path}`;
const pop3s = (path = '/') => `pop3s://127.0.0.1:${server.ports.pop3s}${path}`;
/** What the client sent, from curl's --verbose dialogue. */
const sent = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('> ')).map((l) => l.slice(2).trim());

const FIRST = textMail('Angebot', 'Erste Zeile\r\n.Punkt am Anfang\r\nletzte Zeile');
const SECOND = textMail('Rechnung');

describe.skipIf(NO_CURL !== null)(NO_CURL ? `POP3 with curl (skipped: ${NO_CURL})` : 'POP3 with curl', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'pop3.port': 0, 'pop3s.port': 0 } });
    await provision(server, 'firma.de', ['info']);
    await storeMail(server, USER, FIRST);
    await storeMail(server, USER, SECOND);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('lists the maildrop and retrieves a message byte for byte (dot-stuffing undone by curl)', async () => {
    const sizes = [FIRST, SECOND].map((m) => Buffer.byteLength(m));
    expect((await curlOk(pop3())).stdout).toBe(`1 ${sizes[0]}\r\n2 ${sizes[1]}\r\n`);
    expect((await curlOk(pop3('/1'))).stdout).toBe(FIRST);
    expect((await curlOk(pop3s('/2'), '--insecure')).stdout).toBe(SECOND);
  });

  it('answers UIDL and TOP sent as custom commands', async () => {
    const messages = await listMessages(server.app.services.db, await accountId(server, USER), 'INBOX');
    const { uidvalidity } = await server.app.services.db.selectFrom('mailboxes').select('uidvalidity').where('id', '=', messages[0].mailbox_id).executeTakeFirstOrThrow();
    expect((await curlOk(pop3(), '--request', 'UIDL')).stdout).toBe(`1 ${uidvalidity}.${messages[0].uid}\r\n2 ${uidvalidity}.${messages[1].uid}\r\n`);
    const header = FIRST.slice(0, FIRST.indexOf('\r\n\r\n') + 4);
    expect((await curlOk(pop3(), '--request', 'TOP 1 0')).stdout).toBe(header);
    expect((await curlOk(pop3(), '--request', 'TOP 1 2')).stdout).toBe(`${header}Erste Zeile\r\n.Punkt am Anfang\r\n`);
  });

  it('logs in with each SASL mechanism curl offers, over STLS and POP3S', async () => {
    const plain = await curlOk(pop3(), '--verbose', '--login-options', 'AUTH=PLAIN', '--ssl-reqd', '--insecure');
    expect(sent(plain.stderr).slice(0, 3)).toEqual(['CAPA', 'STLS', 'CAPA']);
    expect(sent(plain.stderr)).toContain('AUTH PLAIN');
    const withInitialResponse = await curlOk(pop3s(), '--verbose', '--login-options', 'AUTH=PLAIN', '--sasl-ir', '--insecure');
    expect(sent(withInitialResponse.stderr).find((l) => l.startsWith('AUTH PLAIN '))).toBeDefined();
    const login = await curlOk(pop3(), '--verbose', '--login-options', 'AUTH=LOGIN');
    expect(sent(login.stderr)).toContain('AUTH LOGIN');
    expect(login.stdout.split('\r\n').filter(Boolean)).toHaveLength(2);
    const wrong = await curl(pop3(), '--user', `${USER}:falsch-falsch-1`);
    expect(wrong.code).toBe(67); // CURLE_LOGIN_DENIED
  });

  it('deletes a message with DELE; it is gone from the store after curl quits', async () => {
    await storeMail(server, USER, textMail('Weg damit'));
    expect((await curlOk(pop3('/3'), '--request', 'DELE', '--head')).code).toBe(0);
    const subjects = (await listMessages(server.app.services.db, await accountId(server, USER), 'INBOX')).map((m) => m.subject);
    expect(subjects).toEqual(['Angebot', 'Rechnung']);
  });
});
