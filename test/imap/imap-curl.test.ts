// Postfach's IMAP server driven by curl's IMAP support (libcurl's own IMAP client, RFC 5092 URLs): folder lists,
// fetches by UID and section, custom commands, uploads, implicit TLS and STARTTLS, each compared with the store.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, provision, startServer, tempDir, type TestServer } from '../helpers/server.js';
import { INVOICE, INVOICE_PDF, INVOICE_TEXT, OFFER, RECIPIENT, deliver, installed, storedFolders, storedMessages } from '../helpers/sample-mail.js';

const run = promisify(execFile);

function curlMissing(): string | null {
  if (!installed('curl')) return 'curl is not installed';
  const version = execFileSync('curl', ['--version'], { encoding: 'utf8' });
  const protocols = (/^Protocols: (.*)$/m.exec(version)?.[1] ?? '').split(' ');
  if (!protocols.includes('imap') || !protocols.includes('imaps')) return `this curl was built without IMAP/IMAPS (Protocols: ${protocols.join(' ')})`;
  return null;
}
const NO_CURL = curlMissing();

let server: TestServer;
let files: string;

interface CurlResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs curl with the account's credentials; never throws, the exit code is part of the result. */
async function curl(url: string, ...args: string[]): Promise<CurlResult> {
  try {
    const { stdout, stderr } = await run('curl', ['--silent', '--show-error', '--max-time', '10', '--user', `${RECIPIENT}:${PASSWORD}`, ...args, url], {
      encoding: 'buffer',
      timeout: 15_000
    });
    return { code: 0, stdout, stderr: stderr.toString() };
  } catch (err) {
    const e = err as Error & { code?: number; stdout?: Buffer; stderr?: Buffer };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? Buffer.alloc(0), stderr: e.stderr?.toString() ?? e.message };
  }
}

/** curl's output as text, with its exit code and error in the assertion message. */
async function curlText(url: string, ...args: string[]): Promise<string> {
  const result = await curl(url, ...args);
  expect(result.code, `curl ${args.join(' ')} ${url} failed: ${result.stderr}`).toBe(0);
  return result.stdout.toString('utf8');
}

const imap = (pathAndQuery = '/') => `imap://127.0.0.1:${server.ports.imap}${pathAndQuery}`;
const imaps = (pathAndQuery = '/') => `imaps://127.0.0.1:${server.ports.imaps}${pathAndQuery}`;

describe.skipIf(NO_CURL !== null)(NO_CURL ? `IMAP with curl (skipped: ${NO_CURL})` : 'IMAP with curl', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'imap.port': 0, 'imaps.port': 0 } });
    await provision(server, 'firma.de', ['info']);
    await deliver(server, OFFER, INVOICE);
    files = tempDir('postfach-curl-');
  });
  afterAll(async () => {
    await server?.close();
    if (files) fs.rmSync(files, { recursive: true, force: true });
  });

  it('lists every folder for imap://host/ (LIST "" *)', async () => {
    expect(await curlText(imap('/'))).toBe(
      [
        String.raw`* LIST (\HasNoChildren \Archive) "/" "Archive"`,
        String.raw`* LIST (\HasNoChildren \Drafts) "/" "Drafts"`,
        String.raw`* LIST (\HasNoChildren) "/" "INBOX"`,
        String.raw`* LIST (\HasNoChildren \Junk) "/" "Junk"`,
        String.raw`* LIST (\HasNoChildren \Sent) "/" "Sent"`,
        String.raw`* LIST (\HasNoChildren \Trash) "/" "Trash"`,
        ''
      ].join('\r\n')
    );
  });

  it('creates a folder below INBOX with a custom command, and imap://host/INBOX lists what lies below INBOX', async () => {
    expect(await curlText(imap('/'), '--request', 'CREATE "INBOX/Rechnungen"')).toBe('');
    expect(await storedFolders(server)).toContain('INBOX/Rechnungen');
    const listed = (await curlText(imap('/INBOX'))).split('\r\n').filter(Boolean);
    expect(listed).toContain(String.raw`* LIST (\HasNoChildren) "/" "INBOX/Rechnungen"`);
    expect(listed.filter((line) => !/"INBOX(\/[^"]*)?"$/.test(line))).toEqual([]);
    expect(await curlText(imap('/'), '--request', 'DELETE "INBOX/Rechnungen"')).toBe('');
    expect(await storedFolders(server)).not.toContain('INBOX/Rechnungen');
  });

  it('fetches a message by UID (;UID=1): the bytes are the stored message, and the fetch sets \\Seen', async () => {
    const before = await storedMessages(server, 'INBOX');
    const result = await curl(imap('/INBOX;UID=1'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.equals(before[0].raw)).toBe(true);
    expect(result.stdout.toString().endsWith('\r\n' + OFFER)).toBe(true);
    const after = await storedMessages(server, 'INBOX');
    expect(after.map((m) => m.flags)).toEqual(['\\Seen', before[1].flags]);
  });

  it('fetches sections and partial ranges: ;SECTION=HEADER.FIELDS, ;SECTION=1, ;SECTION=2 and ;PARTIAL=0.8', async () => {
    expect(await curlText(imap('/INBOX;UID=2;SECTION=HEADER.FIELDS%20(SUBJECT%20MESSAGE-ID)'))).toBe(
      'Subject: Rechnung 2026-17\r\nMessage-ID: <rechnung-17@sender.test>\r\n\r\n'
    );
    // parts of a multipart message, without the CRLF that belongs to the boundary
    expect(await curlText(imap('/INBOX;UID=2;SECTION=1'))).toBe(INVOICE_TEXT);
    expect(await curlText(imap('/INBOX;UID=2;SECTION=2'))).toBe(INVOICE_PDF);
    expect(await curlText(imap('/INBOX;UID=2;SECTION=2.MIME'))).toBe(
      'Content-Type: application/pdf; name="rechnung.pdf"\r\nContent-Disposition: attachment; filename="rechnung.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    );
    const [, invoice] = await storedMessages(server, 'INBOX');
    expect(await curlText(imap('/INBOX;UID=2;PARTIAL=0.8'))).toBe(invoice.raw.subarray(0, 8).toString());
    const text = invoice.raw.subarray(invoice.raw.indexOf('\r\n\r\n') + 4);
    expect(await curlText(imap('/INBOX;UID=2;SECTION=TEXT;PARTIAL=2.6'))).toBe(text.subarray(2, 8).toString());
  });

  it('a UID that does not exist is "Remote file not found" (exit 78), a stale ;UIDVALIDITY exit 78 too', async () => {
    const missing = await curl(imap('/INBOX;UID=99'));
    expect([missing.code, missing.stdout.length]).toEqual([78, 0]);
    expect(missing.stderr).toContain('Remote file not found');
    const stale = await curl(imap('/INBOX;UIDVALIDITY=1;UID=1'));
    expect(stale.code).toBe(78);
    expect(stale.stderr).toContain('UIDVALIDITY has changed');
  });

  it('UID SEARCH ALL with --request prints the untagged SEARCH; a search in the URL query runs SEARCH', async () => {
    expect(await curlText(imap('/INBOX'), '--request', 'UID SEARCH ALL')).toBe('* SEARCH 1 2\r\n');
    expect(await curlText(imap('/INBOX'), '--request', 'UID SEARCH SUBJECT "Rechnung"')).toBe('* SEARCH 2\r\n');
    expect(await curlText(imap('/INBOX?SUBJECT%20Angebot'))).toBe('* SEARCH 1\r\n');
    expect(await curlText(imap('/INBOX?FROM%20nobody@example.org'))).toBe('* SEARCH\r\n');
  });

  it('UID STORE and STATUS with --request print the server\'s untagged answers and change the store', async () => {
    expect(await curlText(imap('/INBOX'), '--request', String.raw`UID STORE 2 FLAGS (\Flagged $Erledigt)`)).toBe(String.raw`* 2 FETCH (UID 2 FLAGS (\Flagged $Erledigt))` + '\r\n');
    expect((await storedMessages(server, 'INBOX'))[1].flags).toBe('\\Flagged $Erledigt');
    expect(await curlText(imap('/INBOX'), '--request', String.raw`UID STORE 1 +FLAGS.SILENT (\Seen)`)).toBe('');
    expect(await curlText(imap('/'), '--request', 'STATUS INBOX (MESSAGES UIDNEXT UNSEEN)')).toBe('* STATUS "INBOX" (MESSAGES 2 UIDNEXT 3 UNSEEN 1)\r\n');
  });

  it('uploads a message with UTF-8 octets (-T, APPEND): stored byte for byte, \\Seen', async () => {
    const message = Buffer.from(
      'From: Jörg <joerg@firma.de>\r\nTo: info@firma.de\r\nSubject: Käse & Brötchen\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFür Straße 5 – bitte ✓\r\n',
      'utf8'
    );
    const file = path.join(files, 'upload.eml');
    fs.writeFileSync(file, message);
    expect(await curlText(imap('/Drafts'), '--upload-file', file)).toBe('');
    const [stored] = await storedMessages(server, 'Drafts');
    expect(stored.raw.equals(message)).toBe(true);
    expect([stored.uid, stored.flags, stored.subject]).toEqual([1, '\\Seen', 'Käse & Brötchen']);
    // and back out by UID, unchanged
    expect((await curl(imap('/Drafts;UID=1'))).stdout.equals(message)).toBe(true);
  });

  it('wrong credentials are "Login denied" (exit 67)', async () => {
    const result = await curl(imap('/INBOX'), '--user', `${RECIPIENT}:not-the-password`);
    expect(result.code).toBe(67);
    expect(result.stderr).toContain('Login denied');
  });

  it('imaps:// works with -k and with the generated certificate as CA; curl trusting only the system CAs refuses it (exit 60)', async () => {
    const [offer] = await storedMessages(server, 'INBOX');
    const insecure = await curl(imaps('/INBOX;UID=1'), '--insecure');
    expect(insecure.code, insecure.stderr).toBe(0);
    expect(insecure.stdout.equals(offer.raw)).toBe(true);
    const pinned = await curl(imaps('/INBOX;UID=1'), '--cacert', path.join(server.dataDir, 'tls', 'selfsigned.crt'));
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stdout.equals(offer.raw)).toBe(true);
    const untrusted = await curl(imaps('/INBOX;UID=1'));
    expect(untrusted.code).toBe(60);
    expect(untrusted.stdout.length).toBe(0);
  });

  it('--ssl-reqd on the plain port upgrades with STARTTLS before the credentials are sent', async () => {
    const [offer] = await storedMessages(server, 'INBOX');
    const result = await curl(imap('/INBOX;UID=1'), '--ssl-reqd', '--cacert', path.join(server.dataDir, 'tls', 'selfsigned.crt'), '--verbose');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.equals(offer.raw)).toBe(true);
    const trace = result.stderr.split('\n').map((line) => line.trimEnd());
    const at = (pattern: RegExp) => trace.findIndex((line) => pattern.test(line));
    const starttls = at(/^> A\d+ STARTTLS$/);
    const begun = at(/^< A\d+ OK Begin TLS negotiation now$/);
    const encrypted = at(/SSL connection using TLSv1\.[23]/);
    const login = at(/^> A\d+ AUTHENTICATE PLAIN /);
    expect(starttls, result.stderr).toBeGreaterThan(0);
    expect([begun > starttls, encrypted > begun, login > encrypted], result.stderr).toEqual([true, true, true]);
    // the capabilities read again after the handshake no longer offer STARTTLS
    expect(trace.slice(encrypted).find((line) => line.startsWith('< * CAPABILITY'))).not.toContain('STARTTLS');
  });
});
