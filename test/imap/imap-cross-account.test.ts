// Threat: one account reaching another's mail over IMAP. buchhaltung@firma.de tries every command that takes a mailbox
// name on names that could lead to info@firma.de's folders (path tricks, the other address, shared-namespace forms,
// wildcards), uses info's UIDs in its own folders, claims info's identity in SASL, shares a blob with info's mail and
// expunges it, and listens with IDLE while info gets mail. It must never see or change anything of info's: info's
// folders, messages, flags, modseqs and expunge log are compared before and after, and info can still read its mail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapWire } from '../helpers/imap-wire.js';
import { mailSnapshot, storeMail, textMail } from '../helpers/mail-store.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';

const SECRET = 'GEHEIM-INFO';
const OWN = 'EIGEN-BUCHHALTUNG';

/** Names that could, in some server's layout, lead to info@firma.de's mail. */
const FOREIGN_NAMES = [
  '../info@firma.de/INBOX',
  '../info@firma.de',
  '..',
  'info@firma.de',
  'info@firma.de/INBOX',
  '/info@firma.de/INBOX',
  '#users/info',
  '#users/info/INBOX',
  '#shared/info/INBOX',
  'Other Users/info/INBOX',
  '~info/INBOX',
  '~info@firma.de/INBOX',
  'user/info',
  'user.info',
  'Privat', // exists, but only in info's account
  'Privat/Steuer'
];

let server: TestServer;
let port: number;
const open: ImapWire[] = [];
let infoUids: number[] = [];

beforeAll(async () => {
  server = await startServer({ overrides: { 'imap.port': 0 } });
  port = server.ports.imap!;
  await provision(server, 'firma.de', ['info', 'buchhaltung']);
  const info = await login('info@firma.de');
  expect((await info.command('c1', 'CREATE Privat/Steuer')).tagged).toBe('c1 OK CREATE completed');
  for (const n of [1, 2, 3]) await storeMail(server, 'info@firma.de', textMail(`Info ${n}`, `${SECRET} Nummer ${n}`));
  await storeMail(server, 'info@firma.de', textMail('Steuer', `${SECRET} Steuerbescheid`), { mailbox: 'Privat/Steuer' });
  await storeMail(server, 'buchhaltung@firma.de', textMail('Eigen', `${OWN} Rechnung`));
  await info.command('s', 'SELECT INBOX');
  const uids = await info.command('u', 'UID SEARCH ALL');
  infoUids = uids.lines[0].split(' ').slice(2).map(Number);
  expect(infoUids).toEqual([1, 2, 3]);
  info.close();
});

afterAll(async () => {
  for (const wire of open) wire.close();
  await server?.close();
});

async function login(address: string): Promise<ImapWire> {
  const wire = await ImapWire.connect(port);
  open.push(wire);
  expect((await wire.command('L', `LOGIN ${address} ${PASSWORD}`)).tagged).toMatch(/^L OK /);
  return wire;
}

const quote = (name: string) => `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** Every line of a reply; fails the test if any of them shows info's mail. */
function clean(lines: string[]): string[] {
  for (const line of lines) {
    expect(line).not.toContain(SECRET);
    expect(line).not.toMatch(/Privat|Steuer/);
  }
  return lines;
}

describe('buchhaltung@ against info@', () => {
  it('SELECT, EXAMINE, STATUS, GETQUOTAROOT of names that could reach info: NONEXISTENT, nothing else said', async () => {
    const before = await mailSnapshot(server, 'info@firma.de');
    const wire = await login('buchhaltung@firma.de');
    for (const [i, name] of FOREIGN_NAMES.entries()) {
      for (const command of [`SELECT ${quote(name)}`, `EXAMINE ${quote(name)}`, `STATUS ${quote(name)} (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)`, `GETQUOTAROOT ${quote(name)}`]) {
        const reply = await wire.command(`t${i}`, command);
        const answers = clean(reply.lines).filter((l) => l !== '* OK [CLOSED] Previous mailbox closed');
        expect(answers, command).toEqual([`t${i} NO [NONEXISTENT] No such mailbox`]);
      }
    }
    expect(await mailSnapshot(server, 'info@firma.de')).toEqual(before);
  });

  it('APPEND, CREATE, DELETE, RENAME, SUBSCRIBE on those names change nothing of info’s', async () => {
    const before = await mailSnapshot(server, 'info@firma.de');
    const wire = await login('buchhaltung@firma.de');
    const message = textMail('Untergeschoben', 'von buchhaltung');
    for (const [i, name] of FOREIGN_NAMES.entries()) {
      wire.write(`a${i} APPEND ${quote(name)} {${message.length}+}\r\n${message}\r\n`);
      expect(clean((await wire.readTagged(`a${i}`)).lines)).toEqual([`a${i} NO [TRYCREATE] No such mailbox`]);
      expect(clean((await wire.command(`d${i}`, `DELETE ${quote(name)}`)).lines)).toEqual([`d${i} NO [NONEXISTENT] No such mailbox`]);
      expect(clean((await wire.command(`r${i}`, `RENAME ${quote(name)} Geholt${i}`)).lines)).toEqual([`r${i} NO [NONEXISTENT] No such mailbox`]);
      expect(clean((await wire.command(`s${i}`, `SUBSCRIBE ${quote(name)}`)).lines)).toEqual([`s${i} NO [NONEXISTENT] No such mailbox`]);
    }
    // CREATE of such a name makes a folder of buchhaltung's own (the name means nothing more here)
    expect((await wire.command('c1', 'CREATE "../info@firma.de/INBOX"')).tagged).toBe('c1 OK CREATE completed');
    expect((await wire.command('c2', 'CREATE Privat')).tagged).toBe('c2 OK CREATE completed');
    wire.write(`c3 APPEND "../info@firma.de/INBOX" {${message.length}+}\r\n${message}\r\n`);
    expect((await wire.readTagged('c3')).tagged).toMatch(/^c3 OK \[APPENDUID \d+ 1\] APPEND completed$/);
    const status = await wire.command('c4', 'STATUS "../info@firma.de/INBOX" (MESSAGES)');
    expect(status.lines).toEqual(['* STATUS "../info@firma.de/INBOX" (MESSAGES 1)', 'c4 OK STATUS completed']);
    // CREATE made the superior levels too; they go the same way
    for (const name of ['../info@firma.de/INBOX', '../info@firma.de', '..']) expect((await wire.command('c5', `DELETE ${quote(name)}`)).tagged).toBe('c5 OK DELETE completed');
    expect((await wire.command('c6', 'DELETE Privat')).tagged).toBe('c6 OK DELETE completed');
    expect(await mailSnapshot(server, 'info@firma.de')).toEqual(before);
  });

  it('LIST and LSUB with every pattern and reference show buchhaltung’s folders only; NAMESPACE has no other users', async () => {
    const wire = await login('buchhaltung@firma.de');
    const own = new Set(['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']);
    const listed = new Set<string>();
    const commands = [
      'LIST "" "*"',
      'LIST "" "%"',
      'LIST "" "%/%"',
      'LIST "" "*/*"',
      'LIST "../" "*"',
      'LIST ".." "*"',
      'LIST "info@firma.de/" "*"',
      'LIST "#users/" "*"',
      'LIST "" "#users/*"',
      'LIST "" "../*"',
      'LIST "" "~info/*"',
      'LIST "/" "*"',
      'LIST "" "Privat*"',
      'LIST (SUBSCRIBED) "" "*"',
      'LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT))',
      'LSUB "" "*"',
      'LSUB "" "%"'
    ];
    for (const [i, command] of commands.entries()) {
      const reply = await wire.command(`l${i}`, command);
      expect(reply.tagged, command).toMatch(new RegExp(`^l${i} OK `));
      for (const line of clean(reply.lines.slice(0, -1))) {
        const m = /^\* (?:LIST|LSUB|STATUS) (?:\([^)]*\) "\/" )?"([^"]*)"/.exec(line);
        expect(m, line).not.toBeNull();
        listed.add(m![1]);
      }
    }
    expect([...listed].filter((name) => !own.has(name))).toEqual([]);
    expect(listed).toEqual(own);
    expect((await wire.command('n', 'NAMESPACE')).lines).toEqual(['* NAMESPACE (("" "/")) NIL NIL', 'n OK NAMESPACE completed']);
  });

  it('info’s UIDs used in buchhaltung’s INBOX reach buchhaltung’s own messages only', async () => {
    const before = await mailSnapshot(server, 'info@firma.de');
    const wire = await login('buchhaltung@firma.de');
    expect((await wire.command('s', 'SELECT INBOX')).lines[0]).toBe('* 1 EXISTS');
    const set = infoUids.join(',');
    const fetched = clean((await wire.command('f1', `UID FETCH ${set} (UID FLAGS BODY.PEEK[])`)).lines);
    expect(fetched).toHaveLength(2);
    expect(fetched[0]).toContain(OWN);
    expect(fetched[1]).toBe('f1 OK UID FETCH completed');
    expect(clean((await wire.command('f2', 'UID FETCH 1:* (UID ENVELOPE BODYSTRUCTURE)')).lines)).toHaveLength(2);
    expect(clean((await wire.command('f3', `UID SEARCH TEXT ${SECRET}`)).lines)).toEqual(['* SEARCH', 'f3 OK UID SEARCH completed']);
    expect(clean((await wire.command('f4', `UID SEARCH UID ${set}`)).lines)).toEqual(['* SEARCH 1', 'f4 OK UID SEARCH completed']);
    // changes through those UIDs land on buchhaltung's own message
    expect((await wire.command('f5', `UID STORE ${set} +FLAGS.SILENT (\\Deleted \\Flagged)`)).tagged).toBe('f5 OK UID STORE completed');
    for (const [i, name] of FOREIGN_NAMES.entries()) {
      expect(clean((await wire.command(`k${i}`, `UID COPY ${set} ${quote(name)}`)).lines)).toEqual([`k${i} NO [TRYCREATE] No such mailbox`]);
      expect(clean((await wire.command(`m${i}`, `UID MOVE ${set} ${quote(name)}`)).lines)).toEqual([`m${i} NO [TRYCREATE] No such mailbox`]);
    }
    const expunged = await wire.command('f6', `UID EXPUNGE ${set}`);
    expect(expunged.lines[0]).toBe('* 1 EXPUNGE');
    expect(expunged.lines).toHaveLength(2);
    expect(expunged.tagged).toMatch(/^f6 OK /);
    expect(await mailSnapshot(server, 'info@firma.de')).toEqual(before);
  });

  it('expunging a copy of the very bytes info received leaves info’s copy (shared blob) readable', async () => {
    const before = await mailSnapshot(server, 'info@firma.de');
    const bytes = textMail('Info 1', `${SECRET} Nummer 1`);
    const wire = await login('buchhaltung@firma.de');
    wire.write(`a1 APPEND INBOX {${bytes.length}+}\r\n${bytes}\r\n`);
    expect((await wire.readTagged('a1')).tagged).toMatch(/^a1 OK \[APPENDUID /);
    const after = await mailSnapshot(server, 'info@firma.de');
    expect(after.messages.map((m) => m.blob_id)).toContain((await ownMessages())[0].blob_id);
    await wire.command('s', 'SELECT INBOX');
    await wire.command('d', 'STORE 1:* +FLAGS.SILENT (\\Deleted)');
    expect((await wire.command('e', 'EXPUNGE')).tagged).toBe('e OK EXPUNGE completed');
    expect(await mailSnapshot(server, 'info@firma.de')).toEqual(before);
    const info = await login('info@firma.de');
    await info.command('s', 'SELECT INBOX');
    expect((await info.command('f', 'FETCH 1 BODY.PEEK[]')).lines).toEqual([`* 1 FETCH (BODY[] {${bytes.length}}\r\n${bytes})`, 'f OK FETCH completed']);
  });

  it('AUTHENTICATE PLAIN as buchhaltung on behalf of info (authzid) is refused', async () => {
    const wire = await ImapWire.connect(port);
    open.push(wire);
    const response = Buffer.from(`info@firma.de\0buchhaltung@firma.de\0${PASSWORD}`).toString('base64');
    expect((await wire.command('a1', `AUTHENTICATE PLAIN ${response}`)).lines).toEqual(['a1 NO [AUTHENTICATIONFAILED] Invalid credentials']);
    expect((await wire.command('a2', 'SELECT INBOX')).lines).toEqual(['a2 BAD SELECT is not valid in this state']);
  });

  it('IDLE in buchhaltung’s INBOX hears nothing of info’s deliveries, but its own', async () => {
    const wire = await login('buchhaltung@firma.de');
    const exists = Number(/^\* (\d+) EXISTS$/.exec((await wire.command('s', 'SELECT INBOX')).lines[0])![1]);
    wire.write('i IDLE\r\n');
    expect(await wire.readLine()).toBe('+ idling');
    await storeMail(server, 'info@firma.de', textMail('Info neu', `${SECRET} neu`));
    await expect(wire.readLine(300)).rejects.toThrow(/no answer/);
    await storeMail(server, 'buchhaltung@firma.de', textMail('Eigen neu', `${OWN} neu`));
    expect(await wire.readLine()).toBe(`* ${exists + 1} EXISTS`);
    wire.write('DONE\r\n');
    expect((await wire.readTagged('i')).tagged).toBe('i OK IDLE completed');
  });

  it('RENAME INBOX to a name like info’s path moves buchhaltung’s own mail, nothing of info’s', async () => {
    const before = await mailSnapshot(server, 'info@firma.de');
    const wire = await login('buchhaltung@firma.de');
    expect((await wire.command('r', 'RENAME INBOX "../info@firma.de/INBOX"')).tagged).toBe('r OK RENAME completed');
    const moved = await wire.command('s', 'STATUS "../info@firma.de/INBOX" (MESSAGES)');
    expect(clean(moved.lines.slice(1))).toEqual(['s OK STATUS completed']);
    expect(moved.lines[0]).toMatch(/^\* STATUS "\.\.\/info@firma\.de\/INBOX" \(MESSAGES \d+\)$/);
    const info = await login('info@firma.de');
    const list = await info.command('l', 'LIST "" "*"');
    expect(list.lines.some((l) => l.includes('../'))).toBe(false);
    expect(await mailSnapshot(server, 'info@firma.de')).toEqual(before);
  });
});

async function ownMessages() {
  const { db } = server.app.services;
  return db
    .selectFrom('messages')
    .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
    .innerJoin('accounts', 'accounts.id', 'mailboxes.account_id')
    .select(['messages.uid', 'messages.blob_id'])
    .where('accounts.address', '=', 'buchhaltung@firma.de')
    .orderBy('messages.id', 'desc')
    .execute();
}
