// `postfach backup` while a populated server runs and takes mail, `postfach restore` into a new data folder, and a
// server started there serving the same mail over IMAP (folders, flags, bodies), aliases and the queue entry;
// restore refuses a folder in use, a non-empty one without --force, and a damaged archive (nothing changes then).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import nodemailer from 'nodemailer';
import type { ImapFlow } from 'imapflow';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup, runRestore } from '../../server/cli/backup.js';
import { BlobStore } from '../../server/store/blobs.js';
import { importKey } from '../../server/importer/credentials.js';
import { loadConfig } from '../../server/config/load.js';
import { openDatabase } from '../../server/db/connect.js';
import { addDomain } from '../../server/directory/domains.js';
import { addAlias } from '../../server/directory/routing.js';
import { runCli } from '../helpers/cli.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { connectImapFlow } from '../helpers/imapflow-client.js';
import { PASSWORD, actor, provision, startServer, tempDir, type TestServer } from '../helpers/server.js';

let dns: TestDnsServer;
let source: TestServer;
let importSecret: Buffer;
let scratch: string;
const open: ImapFlow[] = [];

const mx = (server: TestServer) => nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp, secure: false, ignoreTLS: true });
const message = (to: string, subject: string, body = `Body of ${subject}\r\n`) => `From: a@sender.test\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${crypto.randomUUID()}@sender.test>\r\n\r\n${body}`;
const sendTo = (server: TestServer, to: string, subject: string, body?: string) => mx(server).sendMail({ envelope: { from: 'a@sender.test', to: [to] }, raw: message(to, subject, body) });

/** Every folder of an account with its messages' subjects, flags and a hash of each full message, in UID order. */
async function mailboxContents(port: number, user: string): Promise<Record<string, Array<{ subject: string; flags: string[]; sha256: string }>>> {
  const client = await connectImapFlow(port, user, open);
  const result: Record<string, Array<{ subject: string; flags: string[]; sha256: string }>> = {};
  for (const folder of await client.list()) {
    const lock = await client.getMailboxLock(folder.path);
    try {
      const rows: Array<{ subject: string; flags: string[]; sha256: string }> = [];
      if ((client.mailbox as { exists: number }).exists) {
        for await (const m of client.fetch('1:*', { envelope: true, flags: true, source: true })) {
          rows.push({ subject: m.envelope?.subject ?? '', flags: [...(m.flags ?? [])].sort(), sha256: crypto.createHash('sha256').update(m.source!).digest('hex') });
        }
      }
      result[folder.path] = rows;
    } finally {
      lock.release();
    }
  }
  await client.logout();
  return result;
}

const env = (dataDir: string) => ({ POSTFACH_DATA_DIR: dataDir, POSTFACH_HOSTNAME: 'mx.postfach.test' });

beforeAll(async () => {
  dns = await startDnsServer({});
  scratch = tempDir('postfach-backups-');
  source = await startServer({ dns, overrides: { 'imap.port': 0, 'submission.port': 0 }, build: { queue: false } });
  await provision(source, 'firma.de', ['info', 'anna']);
  await addAlias(source.app.services.db, actor, 'kontakt@firma.de', 'info@firma.de');
  for (let i = 0; i < 5; i++) await sendTo(source, 'info@firma.de', `inbox ${i}`);
  await sendTo(source, 'kontakt@firma.de', 'via alias');
  await sendTo(source, 'anna@firma.de', 'for anna', `${'x'.repeat(76)}\r\n`.repeat(3000));
  // folders and flags over IMAP, as a mail client leaves them
  const client = await connectImapFlow(source.ports.imap!, 'info@firma.de', open);
  await client.mailboxCreate('Projekte/2026');
  await client.mailboxOpen('INBOX');
  await client.messageFlagsAdd('1:2', ['\\Seen', '\\Flagged']);
  await client.messageFlagsAdd('3', ['$Label1']);
  await client.messageMove('4', 'Projekte/2026');
  await client.append('Drafts', message('x@remote.test', 'draft'), ['\\Draft']);
  await client.logout();
  // a queue entry: submitted to a remote domain while the queue is stopped
  const submitter = nodemailer.createTransport({ host: '127.0.0.1', port: source.ports.submission, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'info@firma.de', pass: PASSWORD } });
  await submitter.sendMail({ envelope: { from: 'info@firma.de', to: ['bob@remote.test'] }, raw: message('bob@remote.test', 'queued').replace('From: a@sender.test', 'From: info@firma.de') });
  // the key stored import passwords are sealed with (an import with sync running until the MX switch)
  importSecret = await importKey(source.dataDir);
});

afterAll(async () => {
  for (const client of open) if (client.usable) await client.logout().catch(() => undefined);
  await source?.close();
  await dns?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('postfach backup and restore', () => {
  let archive: string;
  let before: Awaited<ReturnType<typeof mailboxContents>>;

  it('writes a consistent archive while the server runs and keeps taking mail', async () => {
    // mail keeps arriving during the backup
    let sending = true;
    let sent = 0;
    const traffic = (async () => {
      while (sending) {
        await sendTo(source, 'anna@firma.de', `during backup ${sent++}`);
      }
    })();
    const result = await runCli(['backup', scratch, '--json'], { env: env(source.dataDir) });
    sending = false;
    await traffic;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    archive = summary.file;
    expect(path.dirname(archive)).toBe(scratch);
    expect(path.basename(archive)).toMatch(/^postfach-backup-mx\.postfach\.test-\d{8}T\d{6}Z\.tar\.gz$/);
    expect(summary.counts).toMatchObject({ domains: 1, accounts: 2, aliases: 1, queue: 1 });
    expect(summary.counts.messages).toBeGreaterThanOrEqual(9);
    expect(sent).toBeGreaterThan(0);
    expect(fs.readdirSync(scratch).filter((f) => f.endsWith('.partial'))).toEqual([]);

    // the archive: blobs, the database, manifest.json last, with the SHA-256 of every blob as its name
    const names: string[] = [];
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      names.push(header.name);
      stream.resume();
      stream.on('end', next);
    });
    await new Promise((resolve, reject) => fs.createReadStream(archive).pipe(zlib.createGunzip()).pipe(extract).on('finish', () => resolve(undefined)).on('error', reject));
    expect(names.at(-1)).toBe('manifest.json');
    expect(names).toContain('postfach.sqlite');
    expect(names).toContain('files/tls/selfsigned.crt');
    expect(names).toContain('files/secrets/import-password.key');
    expect(names.filter((n) => n.startsWith('blobs/')).length).toBe(summary.counts.blobs);
  });

  it('restores into an empty data folder, and a server started there serves the same mail, aliases, logins and queue', async () => {
    before = await mailboxContents(source.ports.imap!, 'info@firma.de');
    const target = path.join(scratch, 'restored');
    const result = await runCli(['restore', archive], { env: env(target) });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^restored the backup of mx\.postfach\.test from \S+ into .*restored: 2 account\(s\), \d+ message\(s\), \d+ message file\(s\); every hash checked\n$/);

    // a restored server still opens the import passwords sealed before the backup
    expect(await importKey(target)).toEqual(importSecret);
    const restored = await startServer({ dns, dataDir: target, overrides: { 'imap.port': 0 }, build: { queue: false } });
    try {
      const after = await mailboxContents(restored.ports.imap!, 'info@firma.de');
      expect(Object.keys(after).sort()).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Projekte', 'Projekte/2026', 'Sent', 'Trash']);
      expect(after).toEqual(before);
      expect(after.INBOX.find((m) => m.subject === 'inbox 0')?.flags).toEqual(['\\Flagged', '\\Seen']);
      expect(after['Projekte/2026'].map((m) => m.subject)).toEqual(['inbox 3']);
      expect(after.Drafts.map((m) => [m.subject, m.flags])).toEqual([['draft', ['\\Draft']]]);
      // anna's mail, including what arrived before the snapshot, is readable in full
      const anna = await mailboxContents(restored.ports.imap!, 'anna@firma.de');
      expect(anna.INBOX[0].subject).toBe('for anna');
      expect(anna.INBOX.length).toBeGreaterThanOrEqual(1);
      // the alias still routes, and the queue entry waits for delivery
      await sendTo(restored, 'kontakt@firma.de', 'after restore');
      const inbox = await mailboxContents(restored.ports.imap!, 'info@firma.de');
      expect(inbox.INBOX.map((m) => m.subject)).toContain('after restore');
      const queue = await restored.app.services.db.selectFrom('queue_recipients').select(['recipient', 'status']).execute();
      expect(queue).toEqual([{ recipient: 'bob@remote.test', status: 'pending' }]);
    } finally {
      await restored.close();
    }
  });

  it('refuses a data folder that holds a database unless --force, and while a server has it open', async () => {
    await expect(runRestore(loadConfig({ env: {}, overrides: { dataDir: source.dataDir } }), archive, { force: false })).rejects.toThrow(
      /already holds a Postfach database; restore into an empty data folder, or pass --force/
    );
    // the server of this test runs in another process than the command, as in production
    const running = await runCli(['restore', archive, '--force'], { env: env(source.dataDir) });
    expect(running.code).toBe(1);
    expect(running.stderr).toMatch(/^postfach: restore: a running Postfach has .*postfach\.sqlite open: stop the server first\n$/);
  });

  it('replaces a stopped server\'s data with --force and keeps the replaced data aside', async () => {
    const target = path.join(scratch, 'replaced');
    const other = await openDatabase(target);
    await addDomain(other.db, actor, 'other.test');
    await other.close();
    const { replacedInto, manifest } = await runRestore(loadConfig({ env: {}, overrides: { dataDir: target } }), archive, { force: true });
    expect(manifest.counts.accounts).toBe(2);
    expect(replacedInto).toMatch(/replaced-\d{8}T\d{6}Z$/);
    const old = await openDatabase(replacedInto!);
    const now = await openDatabase(target);
    try {
      expect((await old.db.selectFrom('domains').select('name').execute()).map((d) => d.name)).toEqual(['other.test']);
      expect((await now.db.selectFrom('domains').select('name').execute()).map((d) => d.name)).toEqual(['firma.de']);
    } finally {
      await old.close();
      await now.close();
    }
  });

  it('refuses to back up a data folder whose database references a message file that is gone', async () => {
    const target = path.join(scratch, 'replaced'); // restored above, no server running
    const config = loadConfig({ env: {}, overrides: { dataDir: target } });
    const { db, close } = await openDatabase(target);
    const blob = await db.selectFrom('blobs').select('id').orderBy('id').executeTakeFirstOrThrow();
    await close();
    fs.rmSync(new BlobStore(target).path(blob.id));
    await expect(runBackup(config, path.join(scratch, 'broken.tar'))).rejects.toThrow(new RegExp(`^blob files referenced by the database are missing from .*: ${blob.id}$`));
    expect(fs.existsSync(path.join(scratch, 'broken.tar'))).toBe(false);
    expect(fs.existsSync(path.join(scratch, 'broken.tar.partial'))).toBe(false);
  });

  it('refuses a damaged archive (a blob whose content no longer matches its hash) and leaves the data folder empty', async () => {
    // rewrite the archive uncompressed with one byte of one blob changed
    const damaged = path.join(scratch, 'damaged.tar');
    const pack = tar.pack();
    const extract = tar.extract();
    let flipped = false;
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        if (!flipped && header.name.startsWith('blobs/')) {
          body[body.length - 3] ^= 0x20;
          flipped = true;
        }
        pack.entry(header, body, next);
      });
    });
    extract.on('finish', () => pack.finalize());
    const out = fs.createWriteStream(damaged);
    pack.pipe(out);
    fs.createReadStream(archive).pipe(zlib.createGunzip()).pipe(extract);
    await new Promise<void>((resolve) => out.on('close', () => resolve()));
    expect(flipped).toBe(true);

    const target = path.join(scratch, 'never');
    await expect(runRestore(loadConfig({ env: {}, overrides: { dataDir: target } }), damaged, { force: false })).rejects.toThrow(/^blob [0-9a-f]{64} in the archive is damaged: its content hashes to [0-9a-f]{64}$/);
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it('refuses an archive that is not a Postfach backup with exit code 1 and one line saying why', async () => {
    const foreign = path.join(scratch, 'foreign.tar');
    const pack = tar.pack();
    pack.entry({ name: 'postfach.sqlite' }, Buffer.from('not a database'));
    pack.entry({ name: 'files/evil/run.sh' }, Buffer.from('#!/bin/sh\n'));
    pack.finalize();
    await new Promise<void>((resolve, reject) => pack.pipe(fs.createWriteStream(foreign)).on('close', () => resolve()).on('error', reject));
    const target = path.join(scratch, 'never-foreign');
    const result = await runCli(['restore', foreign], { env: env(target) });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('postfach: restore: unexpected entry "files/evil/run.sh": not a Postfach backup\n');
    expect(fs.existsSync(path.join(target, 'evil'))).toBe(false);
  });
});
