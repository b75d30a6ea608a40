// End-to-end tests of `postfach admin …` as operators script it: the real command as a child process on a temporary
// data folder, checked through its output, its exit codes and the rows it leaves in the SQLite file.
// The tests build on each other (one data folder, in order), like an operator's session.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/db/connect.js';
import { writeTransaction } from '../../server/db/transaction.js';
import { verifyPassword } from '../../server/directory/password.js';
import { BlobStore } from '../../server/store/blobs.js';
import { prepareMessage, storeMessage } from '../../server/store/messages.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { tempDir } from '../helpers/server.js';

const PASSWORD = 'Sicher-Passwort-7';
const NEW_PASSWORD = 'Anderes-Passwort-8';
const IDN = 'xn--mller-kva.de'; // müller.de

let dataDir: string;
/** Every change the commands below made, in order: the audit log must hold exactly these. */
const changes: Array<{ action: string; target: string }> = [];

const postfach = (args: string[], stdin?: string) => runCli(args, { env: { POSTFACH_DATA_DIR: dataDir, POSTFACH_LOG_LEVEL: 'silent' }, stdin });
const json = <T = Array<Record<string, unknown>>>(result: CliResult): T => {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as T;
};

/** Rows from the data folder's SQLite file, read as another program would. */
function rows<T = Record<string, unknown>>(query: string, ...params: unknown[]): T[] {
  const sqlite = new SQLite(path.join(dataDir, 'postfach.sqlite'), { fileMustExist: true });
  try {
    return sqlite.prepare(query).all(...params) as T[];
  } finally {
    sqlite.close();
  }
}

/** Audit entries after the first `skip` ones, for commands that ran at once and so in no set order. */
const auditSince = (skip: number) => rows<{ action: string; target: string }>('SELECT action, target FROM audit_log ORDER BY id LIMIT -1 OFFSET ?', skip);

const passwordHash = (address: string) => rows<{ password_hash: string }>('SELECT password_hash FROM accounts WHERE address = ?', address)[0]?.password_hash;

beforeAll(() => {
  dataDir = tempDir('postfach-cli-');
});

afterAll(() => {
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('postfach admin', () => {
  it('adds domains; an IDN domain is stored in punycode and listed in Unicode', async () => {
    const first = await postfach(['admin', 'domain', 'add', 'Example.ORG']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^domain example\.org added \(DKIM selector pf\d{6}\)\n$/);
    changes.push({ action: 'domain.add', target: 'example.org' });
    // the first command created the database; from here on commands may run at once
    const [idn, empty, again] = await Promise.all([
      postfach(['admin', 'domain', 'add', 'müller.de']),
      postfach(['admin', 'domain', 'add', 'leer.example']),
      postfach(['admin', 'domain', 'add', 'EXAMPLE.org'])
    ]);
    expect(idn).toMatchObject({ code: 0, stderr: '' });
    expect(idn.stdout).toContain('domain müller.de added');
    expect(empty).toMatchObject({ code: 0, stderr: '' });
    expect(again).toMatchObject({ code: 1, stdout: '', stderr: 'postfach: domain: domain example.org is already hosted\n' });
    changes.push(...auditSince(1)); // the two adds, in whichever order they ran
    expect(changes.slice(1).map((c) => `${c.action} ${c.target}`).sort()).toEqual(['domain.add leer.example', `domain.add ${IDN}`]);

    expect(json(await postfach(['admin', 'domain', 'list', '--json']))).toEqual([
      { name: 'example.org', display: 'example.org', active: true, catchall: '' },
      { name: 'leer.example', display: 'leer.example', active: true, catchall: '' },
      { name: IDN, display: 'müller.de', active: true, catchall: '' }
    ]);
    expect(rows('SELECT name FROM domains ORDER BY name').map((r) => r.name)).toEqual(['example.org', 'leer.example', IDN]);
  });

  it('adds an account with the password from standard input, stored only as an argon2id hash', async () => {
    const [result, idn] = await Promise.all([
      postfach(['admin', 'account', 'add', 'info@example.org', '--password-stdin', '--name', 'Info Desk'], `${PASSWORD}\n`),
      postfach(['admin', 'account', 'add', 'anna@MÜLLER.de', '--password-stdin', '--inactive', '--quota', '1000000'], `${PASSWORD}\r\n`)
    ]);
    expect(result).toMatchObject({ code: 0, stdout: 'account info@example.org added\n', stderr: '' });
    expect(idn).toMatchObject({ code: 0, stdout: 'account anna@müller.de added (inactive)\n', stderr: '' });
    changes.push(...auditSince(changes.length));
    expect(changes.slice(-2).map((c) => c.target).sort()).toEqual([`anna@${IDN}`, 'info@example.org']);

    const hash = passwordHash('info@example.org');
    expect(hash.startsWith('$argon2id$')).toBe(true);
    expect(hash).not.toContain(PASSWORD);
    expect(await verifyPassword(hash, PASSWORD)).toBe(true);
    expect(rows('SELECT display_name, active, quota FROM accounts WHERE address = ?', 'info@example.org')).toEqual([{ display_name: 'Info Desk', active: 1, quota: 0 }]);

    expect(await verifyPassword(passwordHash(`anna@${IDN}`), PASSWORD)).toBe(true); // the CR of a CRLF line is not part of it
  });

  it('refuses passwords that break the policy, naming the field and each rule', async () => {
    const add = (password: string) => postfach(['admin', 'account', 'add', 'bernd@example.org', '--password-stdin'], `${password}\n`);
    const [short, lettersOnly, withName] = await Promise.all([add('Kurz-1'), add('NurBuchstabenHier'), add('Bernd-Sicher-2024')]);
    expect(short).toMatchObject({ code: 1, stdout: '', stderr: 'postfach: password: password needs: at least 10 characters\n' });
    expect(lettersOnly).toMatchObject({ code: 1, stderr: 'postfach: password: password needs: letters and at least one digit or symbol\n' });
    expect(withName).toMatchObject({ code: 1, stderr: 'postfach: password: password needs: must not contain the mailbox name\n' });
    for (const r of [short, lettersOnly, withName]) expect(r.stderr).not.toMatch(/Kurz-1|NurBuchstabenHier|Bernd-Sicher-2024/);
    expect(rows('SELECT id FROM accounts WHERE address = ?', 'bernd@example.org')).toEqual([]);
  });

  it('lower-cases an upper-case address and refuses a duplicate as a conflict', async () => {
    const added = await postfach(['admin', 'account', 'add', 'Max.Mustermann@EXAMPLE.ORG', '--password-stdin'], `${PASSWORD}\n`);
    expect(added).toMatchObject({ code: 0, stdout: 'account max.mustermann@example.org added\n' });
    changes.push({ action: 'account.add', target: 'max.mustermann@example.org' });

    const duplicate = await postfach(['admin', 'account', 'add', 'max.mustermann@example.org', '--password-stdin'], `${NEW_PASSWORD}\n`);
    expect(duplicate).toMatchObject({ code: 1, stdout: '', stderr: 'postfach: address: max.mustermann@example.org is already an account\n' });
    expect(await verifyPassword(passwordHash('max.mustermann@example.org'), PASSWORD)).toBe(true);
    expect(rows('SELECT address FROM accounts ORDER BY address').map((r) => r.address)).toEqual([`anna@${IDN}`, 'info@example.org', 'max.mustermann@example.org']);
  });

  it('lists accounts as JSON, as text, and by domain (also an IDN domain)', async () => {
    const [all, text, byIdn, byAscii] = await Promise.all([
      postfach(['admin', 'account', 'list', '--json']),
      postfach(['admin', 'account', 'list']),
      postfach(['admin', 'account', 'list', '--domain', 'müller.de', '--json']),
      postfach(['admin', 'account', 'list', '--domain=Example.org', '--json'])
    ]);
    const anna = { address: 'anna@müller.de', displayName: '', active: false, usedBytes: 0, quota: 1000000, status: 'inactive' };
    const info = { address: 'info@example.org', displayName: 'Info Desk', active: true, usedBytes: 0, quota: 0, status: 'active' };
    const max = { address: 'max.mustermann@example.org', displayName: '', active: true, usedBytes: 0, quota: 0, status: 'active' };
    expect(json(all)).toEqual([anna, info, max]);
    expect(text).toMatchObject({ code: 0, stdout: 'anna@müller.de\tinactive\t0\t1000000\t\ninfo@example.org\tactive\t0\t0\tInfo Desk\nmax.mustermann@example.org\tactive\t0\t0\t\n' });
    expect(json(byIdn)).toEqual([anna]);
    expect(json(byAscii)).toEqual([info, max]);
  });

  it('changes a password with passwd, again only from standard input and only within the policy', async () => {
    const [weak, empty, changed] = await Promise.all([
      postfach(['admin', 'account', 'passwd', 'info@example.org', '--password-stdin'], 'info-2024-neu\n'),
      postfach(['admin', 'account', 'passwd', 'info@example.org', '--password-stdin'], ''),
      postfach(['admin', 'account', 'passwd', 'INFO@example.org', '--password-stdin'], `${NEW_PASSWORD}\n`)
    ]);
    expect(weak).toMatchObject({ code: 1, stderr: 'postfach: password: password needs: must not contain the mailbox name\n' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no password on standard input');
    expect(changed).toMatchObject({ code: 0, stdout: 'password of INFO@example.org changed\n', stderr: '' });
    changes.push({ action: 'account.passwd', target: 'info@example.org' });
    const hash = passwordHash('info@example.org');
    expect(hash.startsWith('$argon2id$')).toBe(true);
    expect(await verifyPassword(hash, NEW_PASSWORD)).toBe(true);
    expect(await verifyPassword(hash, PASSWORD)).toBe(false);
    expect(await verifyPassword(hash, 'info-2024-neu')).toBe(false);
  });

  it('deactivates and activates an account', async () => {
    const status = async () => json(await postfach(['admin', 'account', 'list', '--domain', 'example.org', '--json'])).map((a) => [a.address, a.active, a.status]);
    const [deactivated, unknown] = await Promise.all([
      postfach(['admin', 'account', 'deactivate', 'info@example.org']),
      postfach(['admin', 'account', 'deactivate', 'niemand@example.org'])
    ]);
    expect(deactivated).toMatchObject({ code: 0, stdout: 'account info@example.org deactivated\n' });
    expect(unknown).toMatchObject({ code: 1, stderr: 'postfach: address: no account niemand@example.org\n' });
    changes.push({ action: 'account.deactivate', target: 'info@example.org' });
    expect(await status()).toEqual([
      ['info@example.org', false, 'inactive'],
      ['max.mustermann@example.org', true, 'active']
    ]);
    expect(await postfach(['admin', 'account', 'activate', 'info@example.org'])).toMatchObject({ code: 0, stdout: 'account info@example.org activated\n' });
    changes.push({ action: 'account.activate', target: 'info@example.org' });
    expect(await status()).toEqual([
      ['info@example.org', true, 'active'],
      ['max.mustermann@example.org', true, 'active']
    ]);
  });

  it('adds, lists and removes aliases', async () => {
    const added = await Promise.all([
      postfach(['admin', 'alias', 'add', 'Kontakt@example.org', 'info@example.org']),
      postfach(['admin', 'alias', 'add', 'post@müller.de', 'anna@müller.de'])
    ]);
    for (const r of added) expect(r).toMatchObject({ code: 0, stderr: '' });
    changes.push(...auditSince(changes.length));
    expect(changes.slice(-2).map((c) => `${c.action} ${c.target}`).sort()).toEqual(['alias.add kontakt@example.org', `alias.add post@${IDN}`]);

    const [taken, account, all, forInfo, forAnna] = await Promise.all([
      postfach(['admin', 'alias', 'add', 'kontakt@example.org', 'max.mustermann@example.org']),
      postfach(['admin', 'alias', 'add', 'info@example.org', 'max.mustermann@example.org']),
      postfach(['admin', 'alias', 'list', '--json']),
      postfach(['admin', 'alias', 'list', 'info@example.org', '--json']),
      postfach(['admin', 'alias', 'list', 'anna@müller.de', '--json'])
    ]);
    expect(taken).toMatchObject({ code: 1, stderr: 'postfach: alias: kontakt@example.org is already an alias\n' });
    expect(account).toMatchObject({ code: 1, stderr: 'postfach: alias: info@example.org is already an account\n' });
    expect(json(all)).toEqual([
      { address: 'kontakt@example.org', account: 'info@example.org' },
      { address: 'post@müller.de', account: 'anna@müller.de' }
    ]);
    expect(json(forInfo)).toEqual([{ address: 'kontakt@example.org', account: 'info@example.org' }]);
    expect(json(forAnna)).toEqual([{ address: 'post@müller.de', account: 'anna@müller.de' }]);

    expect(await postfach(['admin', 'alias', 'remove', 'KONTAKT@example.org'])).toMatchObject({ code: 0, stderr: '' });
    changes.push({ action: 'alias.remove', target: 'kontakt@example.org' });
    const [listed, again] = await Promise.all([postfach(['admin', 'alias', 'list', 'info@example.org', '--json']), postfach(['admin', 'alias', 'remove', 'kontakt@example.org'])]);
    expect(json(listed)).toEqual([]);
    expect(again).toMatchObject({ code: 1, stderr: 'postfach: alias: no alias kontakt@example.org\n' });
    expect(rows('SELECT address FROM aliases')).toEqual([{ address: `post@${IDN}` }]);
  });

  it('forwards to several destinations keeping a copy, and removes one destination', async () => {
    const added = await postfach(['admin', 'forward', 'add', 'info@example.org', 'Kopie@Remote.example', 'zweite@remote.example', '--keep-copy']);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    expect(added.stdout).toContain('(keeping a copy)');
    const [third, bad, self] = await Promise.all([
      // adding a destination without a keep-copy option leaves the forward's keep-copy as it was
      postfach(['admin', 'forward', 'add', 'info@example.org', 'dritte@remote.example']),
      postfach(['admin', 'forward', 'add', 'info@example.org', 'ok@remote.example', 'kaputt', '--keep-copy']),
      postfach(['admin', 'forward', 'add', 'info@example.org', 'INFO@example.org', '--keep-copy'])
    ]);
    expect(third).toMatchObject({ code: 0, stderr: '' });
    changes.push(...Array.from({ length: 3 }, () => ({ action: 'forward.add', target: 'info@example.org' }))); // one per destination
    // all or none: the good destination next to a bad one was not added
    expect(bad).toMatchObject({ code: 1, stderr: 'postfach: destination: "kaputt" is not an address of the form name@domain\n' });
    expect(self).toMatchObject({ code: 1, stderr: 'postfach: destination: a forward cannot point at its own source\n' });
    const destinations = ['dritte@remote.example', 'kopie@remote.example', 'zweite@remote.example'];
    expect(json(await postfach(['admin', 'forward', 'list', '--json']))).toEqual([
      { source: 'info@example.org', destinations, keepCopy: true, list: destinations.join(','), copy: 'keep-copy' }
    ]);

    expect(await postfach(['admin', 'forward', 'remove', 'info@example.org', 'Kopie@remote.example'])).toMatchObject({ code: 0, stderr: '' });
    changes.push({ action: 'forward.remove', target: 'info@example.org' });
    const left = ['dritte@remote.example', 'zweite@remote.example'];
    const [listed, missing] = await Promise.all([
      postfach(['admin', 'forward', 'list', 'info@example.org', '--json']),
      postfach(['admin', 'forward', 'remove', 'info@example.org', 'kopie@remote.example'])
    ]);
    expect(json(listed)).toEqual([{ source: 'info@example.org', destinations: left, keepCopy: true, list: left.join(','), copy: 'keep-copy' }]);
    expect(rows('SELECT keep_copy FROM forwards WHERE source = ?', 'info@example.org')).toEqual([{ keep_copy: 1 }]);
    expect(missing).toMatchObject({ code: 1, stderr: 'postfach: destination: info@example.org does not forward to kopie@remote.example\n' });

    expect(await postfach(['admin', 'forward', 'add', 'info@example.org', 'zweite@remote.example', '--no-keep-copy'])).toMatchObject({ code: 0, stderr: '' });
    changes.push({ action: 'forward.add', target: 'info@example.org' });
    expect(rows('SELECT keep_copy FROM forwards WHERE source = ?', 'info@example.org')).toEqual([{ keep_copy: 0 }]);
    expect(await postfach(['admin', 'forward', 'add', 'info@example.org', 'zweite@remote.example', '--keep-copy'])).toMatchObject({ code: 0, stderr: '' });
    changes.push({ action: 'forward.add', target: 'info@example.org' });
  });

  it('sets and clears a catch-all; a target that is no account or alias is refused', async () => {
    const catchAll = async () => json(await postfach(['admin', 'domain', 'list', '--json'])).find((d) => d.name === 'example.org')?.catchall;
    expect(await postfach(['admin', 'catchall', 'set', 'example.org', 'Info@example.org'])).toMatchObject({ code: 0, stderr: '' });
    changes.push({ action: 'catchall.set', target: 'example.org' });

    const [unknownTarget, unknownDomain] = await Promise.all([
      postfach(['admin', 'catchall', 'set', 'example.org', 'niemand@example.org']),
      postfach(['admin', 'catchall', 'set', 'unbekannt.example', 'info@example.org'])
    ]);
    expect(unknownTarget).toMatchObject({ code: 1, stderr: 'postfach: target: catch-all target niemand@example.org is not an account or alias hosted here\n' });
    expect(unknownDomain).toMatchObject({ code: 1, stderr: 'postfach: domain: domain unbekannt.example is not hosted here\n' });
    expect(await catchAll()).toBe('info@example.org');

    expect(await postfach(['admin', 'catchall', 'clear', 'example.org'])).toMatchObject({ code: 0, stderr: '' });
    changes.push({ action: 'catchall.clear', target: 'example.org' });
    expect(await catchAll()).toBe('');
  });

  it('removes a domain only when it has no accounts', async () => {
    const [refused, removed] = await Promise.all([postfach(['admin', 'domain', 'remove', 'example.org']), postfach(['admin', 'domain', 'remove', 'leer.example'])]);
    expect(refused).toMatchObject({ code: 1, stderr: 'postfach: domain: domain example.org still has 2 account(s); remove or move them first\n' });
    expect(removed).toMatchObject({ code: 0, stdout: 'domain leer.example removed\n', stderr: '' });
    changes.push({ action: 'domain.remove', target: 'leer.example' });
    expect(rows('SELECT name FROM domains ORDER BY name').map((r) => r.name)).toEqual(['example.org', IDN]);
  });

  it('removes an account only with --yes, together with its mail, aliases, forward and catch-all', async () => {
    const max = 'max.mustermann@example.org';
    expect(await postfach(['admin', 'alias', 'add', 'max@example.org', max])).toMatchObject({ code: 0 });
    const [forward, catchAll] = await Promise.all([
      postfach(['admin', 'forward', 'add', max, 'max@remote.example']),
      postfach(['admin', 'catchall', 'set', 'müller.de', 'max@example.org'])
    ]);
    expect(forward.code).toBe(0);
    expect(catchAll.code).toBe(0);
    changes.push({ action: 'alias.add', target: 'max@example.org' });
    changes.push(...auditSince(changes.length)); // the two ran at once, in either order
    expect(changes.slice(-2).map((c) => `${c.action} ${c.target}`).sort()).toEqual([`catchall.set ${IDN}`, `forward.add ${max}`]);

    // one delivered message, through the store as the MX stores it
    const { db, close } = await openDatabase(dataDir);
    const blobs = new BlobStore(dataDir);
    let blobPath = '';
    try {
      await blobs.init();
      const raw = Buffer.from(`From: a@remote.example\r\nTo: ${max}\r\nSubject: Hallo\r\n\r\nHallo Max\r\n`);
      const blob = await blobs.write([raw]);
      blobPath = blobs.path(blob.id);
      const account = await db.selectFrom('accounts').select('id').where('address', '=', max).executeTakeFirstOrThrow();
      await writeTransaction(db, (tx) => storeMessage(tx, blob, prepareMessage(raw), [{ accountId: account.id, specialUse: null }], Date.now()));
      blobs.release(blob.id);
    } finally {
      await close();
    }
    expect(fs.existsSync(blobPath)).toBe(true);
    const maxId = rows<{ id: number }>('SELECT id FROM accounts WHERE address = ?', max)[0].id;
    const count = (table: string, where = '1') => (rows<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`)[0].n);
    const mailboxesOfMax = `mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ${maxId})`;
    expect(count('messages', mailboxesOfMax)).toBe(1);

    // standard input is a pipe, not a terminal: no one can confirm, so without --yes nothing happens
    const unconfirmed = await postfach(['admin', 'account', 'remove', max]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('postfach: not confirmed: pass --yes to delete the account and all its mail');
    expect(count('accounts', `id = ${maxId}`)).toBe(1);
    expect(count('messages', mailboxesOfMax)).toBe(1);

    const removed = await postfach(['admin', 'account', 'remove', max, '--yes']);
    expect(removed).toMatchObject({ code: 0, stdout: `account ${max} and all its mail removed\n`, stderr: '' });
    changes.push({ action: 'account.remove', target: max });

    expect(count('accounts', `id = ${maxId}`)).toBe(0);
    expect(count('mailboxes', `account_id = ${maxId}`)).toBe(0);
    expect(count('messages')).toBe(0);
    expect(count('blobs')).toBe(0);
    expect(fs.existsSync(blobPath)).toBe(false);
    expect(count('aliases', "address = 'max@example.org'")).toBe(0);
    expect(count('forwards', `source = '${max}'`)).toBe(0);
    expect(rows('SELECT catchall_target FROM domains WHERE name = ?', IDN)).toEqual([{ catchall_target: null }]);
    // everyone else's folders are still there
    expect(count('mailboxes')).toBe(12);
  });

  it('updates display name and quota; --quota must be a number of bytes', async () => {
    const updated = await postfach(['admin', 'account', 'update', 'info@example.org', '--name', 'Info Team', '--quota', '1048576']);
    expect(updated).toMatchObject({ code: 0, stderr: '', stdout: 'account info@example.org updated (display name "Info Team", quota 1048576)\n' });
    changes.push({ action: 'account.update', target: 'info@example.org' });
    const [badQuota, nothing] = await Promise.all([
      postfach(['admin', 'account', 'update', 'info@example.org', '--quota', 'viel']),
      postfach(['admin', 'account', 'update', 'info@example.org'])
    ]);
    expect(badQuota).toMatchObject({ code: 2 });
    expect(badQuota.stderr).toMatch(/^postfach: --quota takes a number of bytes\n/);
    expect(nothing.stderr).toMatch(/^postfach: account update needs --name and\/or --quota\n/);
    expect(rows('SELECT display_name, quota FROM accounts WHERE address = ?', 'info@example.org')).toEqual([{ display_name: 'Info Team', quota: 1048576 }]);
  });

  it('merges one account into another only with --yes; the source address becomes an alias', async () => {
    expect(await postfach(['admin', 'account', 'add', 'alt@example.org', '--password-stdin'], PASSWORD + '\n')).toMatchObject({ code: 0 });
    changes.push({ action: 'account.add', target: 'alt@example.org' });
    const unconfirmed = await postfach(['admin', 'account', 'merge', 'alt@example.org', 'info@example.org']);
    expect(unconfirmed.code).toBe(2);
    expect(rows('SELECT address FROM accounts WHERE address = ?', 'alt@example.org')).toHaveLength(1);
    const merged = json<Array<{ moved: number; folders: unknown[] }>>(await postfach(['admin', 'account', 'merge', 'alt@example.org', 'info@example.org', '--yes', '--json']));
    expect(merged[0].moved).toBe(0);
    changes.push({ action: 'account.merge', target: 'alt@example.org' });
    expect(rows('SELECT address FROM accounts WHERE address = ?', 'alt@example.org')).toEqual([]);
    expect(rows('SELECT a.address, b.address AS account FROM aliases a JOIN accounts b ON b.id = a.account_id WHERE a.address = ?', 'alt@example.org')).toEqual([
      { address: 'alt@example.org', account: 'info@example.org' }
    ]);
  });

  it('prints the DNS records to set, and checks them live against the configured DNS server', async () => {
    const records = json<Array<{ kind: string; type: string; name: string; value: string; required: boolean; port?: number; shown: string }>>(
      await postfach(['admin', 'domain', 'records', 'example.org', '--json'])
    );
    expect(records.map((r) => `${r.kind} ${r.type} ${r.name}`)).toEqual([
      'MX MX example.org',
      'SPF TXT example.org',
      expect.stringMatching(/^DKIM TXT pf\d{6}\._domainkey\.example\.org$/),
      'DMARC TXT _dmarc.example.org',
      'OWNERSHIP TXT _postfach.example.org',
      'AUTOCONFIG CNAME autoconfig.example.org',
      'AUTODISCOVER CNAME autodiscover.example.org',
      'SRV_IMAPS SRV _imaps._tcp.example.org',
      'SRV_IMAP SRV _imap._tcp.example.org',
      'SRV_POP3S SRV _pop3s._tcp.example.org',
      'SRV_POP3 SRV _pop3._tcp.example.org',
      'SRV_SUBMISSIONS SRV _submissions._tcp.example.org',
      'SRV_SUBMISSION SRV _submission._tcp.example.org'
    ]);
    expect(records.filter((r) => !r.required).map((r) => r.kind)).toEqual(records.slice(5).map((r) => r.kind));
    // the configured ports (defaults here), implicit TLS and IMAP preferred
    const srv = Object.fromEntries(records.filter((r) => r.type === 'SRV').map((r) => [r.kind, r.shown]));
    expect(srv).toMatchObject({ SRV_IMAPS: expect.stringMatching(/^0 1 1993 \S+ {3}\(optional\)$/), SRV_POP3: expect.stringMatching(/^30 1 1110 /), SRV_SUBMISSIONS: expect.stringMatching(/^0 1 1465 /) });
    // behind a port mapping (docker -p 993:1993) the records name the port clients reach
    const mapped = await runCli(['admin', 'domain', 'records', 'example.org', '--json'], { env: { POSTFACH_DATA_DIR: dataDir, POSTFACH_LOG_LEVEL: 'silent', POSTFACH_IMAPS_PUBLIC_PORT: '993' } });
    const mappedSrv = Object.fromEntries(json<typeof records>(mapped).filter((r) => r.type === 'SRV').map((r) => [r.kind, r.port]));
    expect(mappedSrv).toMatchObject({ SRV_IMAPS: 993, SRV_IMAP: 1143, SRV_SUBMISSIONS: 1465 });
    const dns = await startDnsServer({ 'example.org': [{ type: 'MX', exchange: 'mx.example.org', priority: 10 }, { type: 'TXT', data: 'v=spf1 mx -all' }], 'mx.example.org': [{ type: 'A', address: '192.0.2.1' }] });
    try {
      const env = { POSTFACH_DATA_DIR: dataDir, POSTFACH_LOG_LEVEL: 'silent', POSTFACH_DNS_SERVERS: dns.address, POSTFACH_HOSTNAME: 'mx.example.org' };
      const check = await runCli(['admin', 'domain', 'check', 'example.org', '--json'], { env });
      // not every record is set: exit code 3, so scripts can wait for DNS
      expect(check.code).toBe(3);
      const statuses = (output: string) => Object.fromEntries((JSON.parse(output) as Array<{ kind: string; status: string; required: boolean }>).filter((r) => r.required).map((r) => [r.kind, r.status]));
      expect(statuses(check.stdout)).toEqual({ MX: 'ok', SPF: 'ok', DKIM: 'missing', DMARC: 'missing', OWNERSHIP: 'missing' });
      // every required record set, none of the optional client records: exit 0, the optional ones reported as missing
      for (const r of records.filter((x) => x.required && x.type === 'TXT' && x.name !== 'example.org')) dns.set(r.name, [{ type: 'TXT', data: r.value }]);
      const required = await runCli(['admin', 'domain', 'check', 'example.org', '--json'], { env });
      expect(required.code, required.stdout).toBe(0);
      const optional = (JSON.parse(required.stdout) as Array<{ kind: string; status: string; required: boolean; problem: string }>).filter((r) => !r.required);
      expect(optional).toHaveLength(8);
      expect(new Set(optional.map((r) => `${r.status} ${r.problem}`))).toEqual(new Set(['missing client-name-missing', 'missing srv-missing']));
      const text = await runCli(['admin', 'domain', 'check', 'example.org'], { env });
      expect(text.stdout).toMatch(/^SRV_IMAPS\tmissing \(optional\)\t/m);
    } finally {
      await dns.close();
    }
  });

  it('creates an API token shown once and stored hashed, lists and revokes it', async () => {
    const created = await postfach(['admin', 'token', 'create', 'backup script', '--role', 'admin']);
    expect(created.code).toBe(0);
    const token = /^(pfat_\S+)$/m.exec(created.stdout)?.[1];
    expect(token).toBeDefined();
    changes.push({ action: 'token.add', target: 'backup script' });
    expect(JSON.stringify(rows('SELECT * FROM api_tokens'))).not.toContain(token!);
    const listed = json<Array<{ id: number; name: string; role: string; status: string }>>(await postfach(['admin', 'token', 'list', '--json']));
    expect(listed).toMatchObject([{ name: 'backup script', role: 'admin', status: 'active' }]);
    expect(JSON.stringify(listed)).not.toContain(token!);
    expect(await postfach(['admin', 'token', 'revoke', String(listed[0].id)])).toMatchObject({ code: 0, stdout: `API token ${listed[0].id} revoked\n` });
    changes.push({ action: 'token.revoke', target: 'backup script' });
    expect(json<Array<{ status: string }>>(await postfach(['admin', 'token', 'list', '--json']))).toMatchObject([{ status: 'revoked' }]);
    expect(await postfach(['admin', 'token', 'create', 'x', '--role', 'root'])).toMatchObject({ code: 2 });
  });

  it('refuses a password in the arguments, and unknown commands, with exit code 2 and the usage', async () => {
    const [inArgs, inArgsEq, unknown, unknownAdmin, nothing, typo] = await Promise.all([
      postfach(['admin', 'account', 'add', 'neu@example.org', '--password', 'Geheim-Passwort-1']),
      postfach(['admin', 'account', 'passwd', 'info@example.org', '--password=Geheim-Passwort-1']),
      postfach(['frobnicate']),
      postfach(['admin', 'account', 'frobnicate', 'info@example.org']),
      postfach([]),
      // a mistyped option would otherwise create an active account
      postfach(['admin', 'account', 'add', 'typo@example.org', '--inactve', '--password-stdin'], 'Geheim-Passwort-1\n')
    ]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^postfach: unknown option --inactve\n/);
    for (const r of [inArgs, inArgsEq]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^postfach: passwords are never taken as arguments: use --password-stdin\n\nUsage: postfach/);
      expect(r.stdout + r.stderr).not.toContain('Geheim-Passwort-1');
    }
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^postfach: unknown command "frobnicate"\n\nUsage: postfach <command>\n/);
    expect(unknownAdmin.code).toBe(2);
    expect(unknownAdmin.stderr).toMatch(/^postfach: unknown admin command "account frobnicate info@example.org"\n\nUsage: postfach/);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('Usage: postfach <command>');
    expect(nothing.stdout).toBe('');

    expect(rows('SELECT id FROM accounts WHERE address = ?', 'neu@example.org')).toEqual([]);
    expect(rows('SELECT id FROM accounts WHERE address = ?', 'typo@example.org')).toEqual([]);
    expect(await verifyPassword(passwordHash('info@example.org'), NEW_PASSWORD)).toBe(true);
  });

  it('wrote one audit entry per change, by cli:<user>, and none for refused commands', () => {
    const entries = rows<{ actor: string; action: string; target: string; ip: string | null }>('SELECT actor, action, target, ip FROM audit_log ORDER BY id');
    expect(entries.map(({ action, target }) => ({ action, target }))).toEqual(changes);
    const actor = `cli:${os.userInfo().username}`;
    for (const entry of entries) expect(entry).toMatchObject({ actor, ip: null });
    expect(JSON.stringify(rows('SELECT detail FROM audit_log'))).not.toMatch(/Passwort-[78]/);
  });
});
