// Postfach's IMAP server driven by mbsync (isync): one Maildir is synchronized both ways step by step (pull, upload,
// flags each way, expunges each way, folders each way), and after each step both sides are compared with the store.
// The steps build on each other as a Maildir's life does, so they run in order; messages are matched by Message-ID.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMutf7 } from '../../server/imap/mutf7.js';
import { PASSWORD, provision, startServer, tempDir, type TestServer } from '../helpers/server.js';
import { INVOICE, OFFER, RECIPIENT, deliver, installed, storedFolders, storedMessages } from '../helpers/sample-mail.js';

const run = promisify(execFile);

function isyncVersion(): [number, number] | null {
  if (!installed('mbsync')) return null;
  const m = /isync (\d+)\.(\d+)/.exec(execFileSync('mbsync', ['--version'], { encoding: 'utf8' }));
  return m ? [Number(m[1]), Number(m[2])] : null;
}
const VERSION = isyncVersion();
const NO_MBSYNC = VERSION ? null : 'mbsync (isync) is not installed (apt-get install isync)';
const atLeast = (major: number, minor: number) => VERSION !== null && (VERSION[0] > major || (VERSION[0] === major && VERSION[1] >= minor));
// isync 1.5 added support for non-ASCII IMAP folder names (it converts them); 1.4 and older pass names through verbatim
const NO_VERBATIM_NAMES = atLeast(1, 5) ? `isync ${VERSION!.join('.')} converts non-ASCII folder names itself; this step pins the verbatim names of isync < 1.5` : null;

let server: TestServer;
let root: string;
let maildir: string;
let config: string;
/** output of the last mbsync run, for assertion messages */
let log = '';

/**
 * mbsync's configuration in the keywords of the installed version (1.5: TLSType; 1.4: SSLType and Far/Near; older:
 * Master/Slave). With TLS the generated certificate is pinned (CertificateFile): mbsync then verifies it fully.
 */
function mbsyncConfig(options: { port: number; tls: 'None' | 'STARTTLS' | 'IMAPS'; maildir: string; patterns: string }): string {
  const tls = atLeast(1, 5) ? 'TLSType' : 'SSLType';
  const [far, near] = atLeast(1, 4) ? ['Far', 'Near'] : ['Master', 'Slave'];
  return [
    'IMAPAccount postfach',
    'Host 127.0.0.1',
    `Port ${options.port}`,
    `User ${RECIPIENT}`,
    `Pass ${PASSWORD}`,
    `${tls} ${options.tls}`,
    ...(options.tls === 'None' ? [] : [`CertificateFile ${path.join(server.dataDir, 'tls', 'selfsigned.crt')}`]),
    'AuthMechs LOGIN PLAIN',
    '',
    'IMAPStore remote',
    'Account postfach',
    '',
    'MaildirStore local',
    `Path ${options.maildir}/`,
    `Inbox ${options.maildir}/INBOX`,
    'SubFolders Verbatim',
    '',
    'Channel postfach',
    `${far} :remote:`,
    `${near} :local:`,
    `Patterns ${options.patterns}`,
    'Create Both',
    'Expunge Both',
    'CopyArrivalDate yes',
    'SyncState *',
    ''
  ].join('\n');
}

/** Every directory of the Maildir tree, for backdating. */
function directories(dir: string): string[] {
  return [dir, ...fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => directories(path.join(dir, e.name)))];
}

/** One verbose mbsync run of every folder; fails with its output. */
async function sync(configFile = config, tree = maildir): Promise<void> {
  // mbsync sleeps a second when a Maildir folder changed within the last second (its guard against racing writers)
  const past = new Date(Date.now() - 10_000);
  for (const dir of directories(tree)) fs.utimesSync(dir, past, past);
  try {
    const { stdout, stderr } = await run('mbsync', ['-V', '-c', configFile, '-a'], { timeout: 30_000 });
    log = stdout + stderr;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    log = `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`;
    expect.fail(`mbsync failed:\n${log}`);
  }
}

interface LocalMessage {
  file: string;
  /** the Message-ID header: how a Maildir copy and its server original are matched (",U=" numbers are the Maildir's own UIDs) */
  id: string;
  /** Maildir info flags after ":2," (D F P R S T) */
  flags: string;
  /** the content without the X-TUID line mbsync adds to track its copies */
  content: string;
}

const messageId = (text: string) => /^Message-ID:[ \t]*(.*?)\r?$/im.exec(text)?.[1] ?? '';

/** Messages of a Maildir folder (cur and new), ordered by Message-ID. */
function localMessages(folder: string, tree = maildir): LocalMessage[] {
  const out: LocalMessage[] = [];
  for (const sub of ['cur', 'new']) {
    const dir = path.join(tree, folder, sub);
    for (const name of fs.readdirSync(dir)) {
      const file = path.join(dir, name);
      const content = fs.readFileSync(file, 'utf8').replace(/^X-TUID: \S+\n/m, '');
      out.push({ file, id: messageId(content), flags: /:2,([A-Z]*)$/.exec(name)?.[1] ?? '', content });
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** The Maildir copy of one message. */
function localMessage(folder: string, id: string): LocalMessage {
  const found = localMessages(folder).find((m) => m.id === id);
  if (!found) expect.fail(`no Maildir copy of ${id} in ${folder}:\n${log}`);
  return found;
}

/** Server messages of a folder as [Message-ID, flags], ordered by Message-ID. */
async function serverState(folder: string): Promise<Array<[string, string]>> {
  return (await storedMessages(server, folder)).map((m) => [m.message_id, m.flags] as [string, string]).sort((a, b) => a[0].localeCompare(b[0]));
}

/** Local Maildir folders as relative paths (SubFolders Verbatim: nested folders are nested directories). */
function localFolders(dir = maildir, prefix = ''): string[] {
  const names: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || ['cur', 'new', 'tmp'].includes(entry.name)) continue;
    const name = prefix + entry.name;
    names.push(name, ...localFolders(path.join(dir, entry.name), name + '/'));
  }
  return names.sort();
}

/** Writes a message into a folder's new/ as a mail program would (LF line ends) with the given arrival time. */
function writeLocal(folder: string, id: string, text: string, arrival: Date): string {
  for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(maildir, folder, sub), { recursive: true });
  const file = path.join(maildir, folder, 'new', `${Math.floor(arrival.getTime() / 1000)}.${id}.postfach-test`);
  fs.writeFileSync(file, text);
  fs.utimesSync(file, arrival, arrival);
  return file;
}

/** Renames a Maildir message into cur/ with new info flags. */
function setLocalFlags(message: LocalMessage, flags: string): void {
  const base = path.basename(message.file).replace(/:2,[A-Z]*$/, '');
  fs.renameSync(message.file, path.join(path.dirname(path.dirname(message.file)), 'cur', `${base}:2,${flags}`));
}

const lf = (raw: Buffer | string) => raw.toString().replace(/\r\n/g, '\n');
const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');
const withoutTuid = (raw: Buffer) => raw.toString().replace(/^X-TUID: \S+\r\n/m, '');

async function withImapFlow<T>(fn: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: server.ports.imap!,
    secure: false,
    auth: { user: RECIPIENT, pass: PASSWORD },
    logger: false,
    disableAutoIdle: true,
    tls: { rejectUnauthorized: false }
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.logout();
  }
}

const OFFER_ID = '<angebot-1@sender.test>';
const INVOICE_ID = '<rechnung-17@sender.test>';
const UPLOADED_ID = '<lokal-1@firma.de>';
const UPLOADED = ['From: Jörg <joerg@firma.de>', 'To: info@firma.de', 'Subject: Lokal geschrieben', `Message-ID: ${UPLOADED_ID}`, '', 'Aus dem Maildir hochgeladen.', ''].join('\n');
const ARRIVAL = new Date(Date.UTC(2026, 0, 15, 8, 0, 0));

describe.skipIf(NO_MBSYNC !== null)(NO_MBSYNC ? `IMAP with mbsync (skipped: ${NO_MBSYNC})` : `IMAP with mbsync (isync ${VERSION?.join('.')})`, () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'imap.port': 0, 'imaps.port': 0 } });
    await provision(server, 'firma.de', ['info']);
    await deliver(server, OFFER, INVOICE);
    root = tempDir('postfach-mbsync-');
    maildir = path.join(root, 'Mail');
    fs.mkdirSync(maildir);
    config = path.join(root, 'mbsyncrc');
    fs.writeFileSync(config, mbsyncConfig({ port: server.ports.imap!, tls: 'None', maildir, patterns: '*' }));
  });
  afterAll(async () => {
    await server?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('the first sync pulls every folder and both delivered messages into the Maildir, unchanged and still unseen', async () => {
    await sync();
    expect(localFolders(), log).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    const stored = await storedMessages(server, 'INBOX');
    const local = localMessages('INBOX');
    expect(local.map((m) => [m.id, m.flags, path.basename(path.dirname(m.file))]), log).toEqual([
      [OFFER_ID, '', 'new'],
      [INVOICE_ID, '', 'new']
    ]);
    // a Maildir holds LF line ends; otherwise the bytes are the server's
    expect(local.map((m) => m.content)).toEqual(stored.map((m) => lf(m.raw)));
    // CopyArrivalDate: the file time is the INTERNALDATE
    expect(local.map((m) => Math.floor(fs.statSync(m.file).mtimeMs / 1000))).toEqual(stored.map((m) => Math.floor(m.internal_date / 1000)));
    // mbsync reads with BODY.PEEK: the server's messages stay unseen
    expect(await serverState('INBOX')).toEqual([
      [OFFER_ID, ''],
      [INVOICE_ID, '']
    ]);
  });

  it('a message put into new/ is uploaded with APPEND (CRLF, arrival time as INTERNALDATE)', async () => {
    writeLocal('INBOX', 'lokal1', UPLOADED, ARRIVAL);
    await sync();
    const stored = await storedMessages(server, 'INBOX');
    expect(stored.map((m) => [m.uid, m.message_id]), log).toEqual([
      [1, OFFER_ID],
      [2, INVOICE_ID],
      [3, UPLOADED_ID]
    ]);
    expect(withoutTuid(stored[2].raw)).toBe(crlf(UPLOADED));
    expect([stored[2].flags, stored[2].internal_date, stored[2].subject]).toEqual(['', ARRIVAL.getTime(), 'Lokal geschrieben']);
    expect(localMessage('INBOX', UPLOADED_ID).content).toBe(UPLOADED);
    // the Maildir copy now carries the UID mbsync pairs it with
    expect(path.basename(localMessage('INBOX', UPLOADED_ID).file)).toMatch(/,U=\d+$/);
  });

  it('flags set in the Maildir (:2,S and :2,F) reach the server as \\Seen and \\Flagged', async () => {
    setLocalFlags(localMessage('INBOX', OFFER_ID), 'S');
    setLocalFlags(localMessage('INBOX', INVOICE_ID), 'F');
    await sync();
    expect(await serverState('INBOX'), log).toEqual([
      [OFFER_ID, '\\Seen'],
      [UPLOADED_ID, ''],
      [INVOICE_ID, '\\Flagged']
    ]);
  });

  it('flags set on the server (imapflow) reach the Maildir', async () => {
    await withImapFlow(async (client) => {
      await client.mailboxOpen('INBOX');
      expect(await client.messageFlagsAdd('3', ['\\Answered', '\\Flagged'], { uid: true })).toBe(true);
    });
    await sync();
    expect(localMessages('INBOX').map((m) => [m.id, m.flags]), log).toEqual([
      [OFFER_ID, 'S'],
      [UPLOADED_ID, 'FR'],
      [INVOICE_ID, 'F']
    ]);
  });

  it('a message deleted and expunged on the server (imapflow) disappears from the Maildir', async () => {
    await withImapFlow(async (client) => {
      await client.mailboxOpen('INBOX');
      expect(await client.messageDelete('2', { uid: true })).toBe(true);
    });
    expect((await serverState('INBOX')).map(([id]) => id)).toEqual([OFFER_ID, UPLOADED_ID]);
    await sync();
    expect(localMessages('INBOX').map((m) => m.id), log).toEqual([OFFER_ID, UPLOADED_ID]);
  });

  it('a message marked deleted in the Maildir (:2,ST) is expunged on the server and locally', async () => {
    setLocalFlags(localMessage('INBOX', OFFER_ID), 'ST');
    await sync();
    expect((await storedMessages(server, 'INBOX')).map((m) => [m.uid, m.message_id]), log).toEqual([[3, UPLOADED_ID]]);
    expect(localMessages('INBOX').map((m) => m.id), log).toEqual([UPLOADED_ID]);
  });

  it('folders created in the Maildir, nested ones too, are created on the server with their messages', async () => {
    const text = ['From: info@firma.de', 'Subject: Projektplan', 'Message-ID: <plan@firma.de>', '', 'Meilensteine', ''].join('\n');
    writeLocal('Projekte', 'plan', text, ARRIVAL);
    for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(maildir, 'Projekte', '2026', sub), { recursive: true });
    await sync();
    expect(await storedFolders(server), log).toEqual(expect.arrayContaining(['Projekte', 'Projekte/2026']));
    const stored = await storedMessages(server, 'Projekte');
    expect(stored.map((m) => withoutTuid(m.raw))).toEqual([crlf(text)]);
    const listed = await withImapFlow((client) => client.list());
    expect(listed.map((m) => m.path)).toEqual(expect.arrayContaining(['Projekte', 'Projekte/2026']));
    expect(await storedMessages(server, 'Projekte/2026')).toEqual([]);
  });

  it('a folder created on the server (imapflow) arrives in the Maildir with its message and flags', async () => {
    const raw = crlf(['From: kunde@example.org', 'To: info@firma.de', 'Subject: Auftrag', 'Message-ID: <auftrag-7@example.org>', '', 'Bitte liefern.', ''].join('\n'));
    await withImapFlow(async (client) => {
      await client.mailboxCreate('Kunden');
      await client.append('Kunden', raw, ['\\Seen', '\\Answered']);
    });
    await sync();
    expect(localFolders(), log).toContain('Kunden');
    expect(localMessages('Kunden').map((m) => [m.id, m.flags, m.content]), log).toEqual([['<auftrag-7@example.org>', 'RS', lf(raw)]]);
  });

  it.skipIf(NO_VERBATIM_NAMES !== null)(
    `a Maildir folder named in modified UTF-7 (Entw&APw-rfe) becomes the folder Entwürfe on the server${NO_VERBATIM_NAMES ? ` (skipped: ${NO_VERBATIM_NAMES})` : ''}`,
    async () => {
      for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(maildir, 'Entw&APw-rfe', sub), { recursive: true });
      await sync();
      expect((await storedFolders(server)).filter((name) => name.startsWith('Entw')), log).toEqual(['Entwürfe']);
    }
  );

  it('a further sync changes nothing: both sides hold the same folders, messages and flags', async () => {
    const snapshot = () => localFolders().map((folder) => [folder, localMessages(folder).map((m) => path.basename(m.file))]);
    const before = snapshot();
    await sync();
    expect(snapshot(), log).toEqual(before);
    const remote = await storedFolders(server);
    // isync < 1.5 takes the modified UTF-7 names it lists as directory names
    expect(localFolders()).toEqual(remote.map(encodeMutf7).sort());
    const imapToMaildir: Record<string, string> = { '\\Answered': 'R', '\\Deleted': 'T', '\\Draft': 'D', '\\Flagged': 'F', '\\Seen': 'S' };
    for (const folder of remote) {
      const stored = (await storedMessages(server, folder)).sort((a, b) => a.message_id.localeCompare(b.message_id));
      const local = localMessages(encodeMutf7(folder));
      expect(local.map((m) => [folder, m.id, m.flags, m.content])).toEqual(
        stored.map((m) => [folder, m.message_id, m.flags.split(' ').map((f) => imapToMaildir[f] ?? '').sort().join(''), lf(withoutTuid(m.raw))])
      );
    }
  });

  it('syncs over STARTTLS and over implicit TLS with the generated certificate pinned', async () => {
    const stored = await storedMessages(server, 'INBOX');
    expect(stored.length).toBeGreaterThan(0);
    for (const [tls, port] of [['STARTTLS', server.ports.imap!], ['IMAPS', server.ports.imaps!]] as const) {
      const tree = path.join(root, `Mail-${tls}`);
      fs.mkdirSync(tree);
      const file = path.join(root, `mbsyncrc-${tls}`);
      fs.writeFileSync(file, mbsyncConfig({ port, tls, maildir: tree, patterns: 'INBOX' }));
      await sync(file, tree);
      expect(log).toContain('Connection is now encrypted');
      expect(localMessages('INBOX', tree).map((m) => [m.id, m.content]), log).toEqual(stored.map((m) => [m.message_id, lf(withoutTuid(m.raw))]));
    }
  });
});
