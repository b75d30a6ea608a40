// An import that is interrupted or meets trouble keeps every message exactly once: the connection cut mid-folder by a
// proxy (the job retries by itself), the target killed with SIGKILL mid-import (the next start resumes), the remote
// folder re-created with a new UIDVALIDITY, a full quota, a message over the size limit, a password changed meanwhile,
// and an old server that leaves UIDNEXT out of its SELECT answer (optional before IMAP4rev2).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/db/connect.js';
import { setPassword } from '../../server/directory/accounts.js';
import { createImport, importView, resumeImport, stopImport } from '../../server/importer/admin.js';
import { findJob } from '../../server/importer/store.js';
import { startChildServer } from '../helpers/child-server.js';
import { fillMailbox, imapClient, localFolder, remoteFolder, sourceMessage, waitFor } from '../helpers/import-source.js';
import { actor, PASSWORD, provision, startServer, tempDir, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const NEW = 'info@firma.de';
let source: TestServer;
let target: TestServer;
let proxy: TcpProxy;

const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');
const login = (username: string, port = proxy.port) => ({ host: '127.0.0.1', port, encryption: 'none' as const, username, password: PASSWORD });
const view = async (server: TestServer, id: number) => importView(server.app.services.db, (await findJob(server.app.services.db, id))!);
const settled = (server: TestServer, id: number) => waitFor(() => view(server, id), (j) => ['done', 'failed', 'stopped', 'waiting'].includes(j.state), 30_000, `import ${id} to settle`);

beforeAll(async () => {
  source = await startServer({ overrides: { 'imap.port': 0 } });
  await provision(source, 'alt-firma.de', ['schnitt', 'absturz', 'halt', 'reihe', 'projekte', 'voll', 'gross', 'wechsel', 'ohne']);
  proxy = await startTcpProxy(source.ports.imap!);
  target = await startServer({
    overrides: { 'imap.appendLimit': 2 * 1024 * 1024, 'import.retryDelay': 1, 'import.syncInterval': 1 },
    build: { imports: { scanIntervalMs: 100, renewIntervalMs: 100 } }
  });
  await provision(target, 'firma.de', ['info', 'klein', 'ohne']);
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await target?.close();
  await source?.close();
});

describe('interrupted imports', () => {
  it('resumes by itself after the connection is cut mid-folder, and stores every message exactly once', async () => {
    const messages = Array.from({ length: 20 }, (_, i) => sourceMessage(`Schnitt ${i}`, { bodyBytes: 10_000, flags: i % 2 ? ['\\Seen'] : [] }));
    await fillMailbox(source.ports.imap!, 'schnitt@alt-firma.de', PASSWORD, { Geschäftlich: messages });
    // the connection that fetches breaks after ~8 of the 20 messages have come through (the login check does not get that far)
    proxy.cutAfter = 100_000;
    const created = await createImport(target.app.services, actor, NEW, { ...login('schnitt@alt-firma.de'), mapping: [{ remote: 'Geschäftlich', local: 'Geschäftlich' }] });
    target.app.services.imports.kick();
    const done = await settled(target, created.id);
    expect(proxy.cuts).toBe(1);
    expect(done).toMatchObject({ state: 'done', error: null, progress: { messages: 20, imported: 20, skipped: 0, failed: 0 } });
    const local = await localFolder(target, NEW, 'Geschäftlich');
    expect(local.map((m) => m.blob)).toEqual(messages.map((m) => sha256(m.raw)));
    const remote = await imapClient(source.ports.imap!, 'schnitt@alt-firma.de', PASSWORD);
    expect(local).toEqual(await remoteFolder(remote, 'Geschäftlich'));
    await remote.logout();
  });

  it('survives the target being killed mid-import: the next start resumes without duplicates', async () => {
    const messages = Array.from({ length: 25 }, (_, i) => sourceMessage(`Absturz ${i}`, { bodyBytes: 8_000 }));
    await fillMailbox(source.ports.imap!, 'absturz@alt-firma.de', PASSWORD, { INBOX: messages });
    const dataDir = tempDir();
    const prepared = await startServer({ dataDir, dns: target.dns, build: { imports: false } });
    await provision(prepared, 'firma.de', ['info']);
    const created = await createImport(prepared.app.services, actor, NEW, { ...login('absturz@alt-firma.de'), mapping: [{ remote: 'INBOX', local: 'Alt' }] });
    await prepared.close();

    proxy.throttle = 25_000; // a few messages a second, so the kill lands mid-folder even on a busy machine
    const child = await startChildServer({ dns: target.dns.address, dataDir });
    // read the child's progress from the database only (a second server would sweep the child's blob files)
    const reader = await openDatabase(dataDir);
    const progress = async () => importView(reader.db, (await findJob(reader.db, created.id))!);
    try {
      await waitFor(progress, (j) => j.progress.imported >= 3, 20_000, 'progress in the child');
      await child.crash();
      const atCrash = await progress();
      expect(atCrash.progress.imported).toBeLessThan(25);
      expect(atCrash.state).toBe('running');
    } finally {
      await reader.close();
    }
    proxy.throttle = null;
    const restarted = await startServer({ dataDir, dns: target.dns, build: { imports: { scanIntervalMs: 100, renewIntervalMs: 100 } } });
    try {
      const done = await settled(restarted, created.id);
      expect(done).toMatchObject({ state: 'done', progress: { messages: 25, imported: 25 } });
      expect((await localFolder(restarted, NEW, 'Alt')).map((m) => m.blob)).toEqual(messages.map((m) => sha256(m.raw)));
      // the account's usage counts each message once
      const account = await restarted.app.services.db.selectFrom('accounts').select('used_bytes').where('address', '=', NEW).executeTakeFirstOrThrow();
      expect(account.used_bytes).toBe(messages.reduce((sum, m) => sum + m.raw.length, 0));
    } finally {
      await restarted.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000); // two server starts and a child process: more than the default on a busy machine
});

describe('scheduling', () => {
  it('runs one import of an account at a time: a second one waits for the first', async () => {
    await fillMailbox(source.ports.imap!, 'reihe@alt-firma.de', PASSWORD, { Eins: Array.from({ length: 6 }, (_, i) => sourceMessage(`Eins ${i}`, { bodyBytes: 8_000 })), Zwei: [sourceMessage('Zwei')] });
    const { db, imports } = target.app.services;
    proxy.throttle = 50_000;
    try {
      const first = await createImport(target.app.services, actor, NEW, { ...login('reihe@alt-firma.de'), mapping: [{ remote: 'Eins', local: 'Reihe/Eins' }] });
      const second = await createImport(target.app.services, actor, NEW, { ...login('reihe@alt-firma.de', source.ports.imap!), mapping: [{ remote: 'Zwei', local: 'Reihe/Zwei' }] });
      imports.kick();
      const seen: string[] = [];
      await waitFor(
        async () => {
          const states = (await db.selectFrom('import_jobs').select(['id', 'state']).where('id', 'in', [first.id, second.id]).orderBy('id').execute()).map((j) => j.state).join(' ');
          if (seen[seen.length - 1] !== states) seen.push(states);
          return states;
        },
        (states) => states === 'done done',
        20_000,
        'both imports'
      );
      expect(seen).not.toContain('running running');
      expect(seen).toContain('running queued');
      expect(seen.indexOf('done running')).toBeGreaterThan(seen.indexOf('running queued'));
    } finally {
      proxy.throttle = null;
    }
  });


  it('ends the pass at the next lease renewal when the job is stopped in the database (as the CLI does)', async () => {
    const messages = Array.from({ length: 20 }, (_, i) => sourceMessage(`Halt ${i}`, { bodyBytes: 8_000 }));
    await fillMailbox(source.ports.imap!, 'halt@alt-firma.de', PASSWORD, { INBOX: messages });
    const { db, imports } = target.app.services;
    proxy.throttle = 30_000;
    try {
      const created = await createImport(target.app.services, actor, NEW, { ...login('halt@alt-firma.de'), mapping: [{ remote: 'INBOX', local: 'Halt' }] });
      imports.kick();
      await waitFor(() => view(target, created.id), (j) => j.progress.imported >= 2, 15_000, 'some progress');
      await stopImport(db, actor, (await findJob(db, created.id))!);
      await waitFor(async () => imports.isRunning(created.id), (running) => !running, 5_000, 'the pass to end');
      const stopped = await view(target, created.id);
      expect(stopped.state).toBe('stopped');
      expect(stopped.progress.imported).toBeLessThan(20);
      expect(await localFolder(target, NEW, 'Halt')).toHaveLength(stopped.progress.imported);
      expect(stopped.folders[0].state).toBe('pending');
    } finally {
      proxy.throttle = null;
    }
  });
});

describe('trouble on the way', () => {
  it('keeps fetching new mail from a server that does not say UIDNEXT: every sync pass lists the folder', async () => {
    // RFC 3501 §6.3.1 only says UIDNEXT SHOULD be sent; without it the sync cannot tell that nothing arrived
    const withoutUidnext = (chunk: Buffer) =>
      Buffer.from(
        chunk
          .toString('latin1')
          .replace(/\* OK \[UIDNEXT \d+\][^\r\n]*\r\n/g, '')
          .replace(/ COMPRESS=DEFLATE/g, ''), // keeps the stream readable for the rewrite
        'latin1'
      );
    proxy.rewrite = withoutUidnext;
    try {
      const messages = [sourceMessage('Ohne 1'), sourceMessage('Ohne 2'), sourceMessage('Ohne 3')];
      await fillMailbox(source.ports.imap!, 'ohne@alt-firma.de', PASSWORD, { INBOX: messages.slice(0, 2) });
      const created = await createImport(target.app.services, actor, 'ohne@firma.de', { ...login('ohne@alt-firma.de'), mapping: [{ remote: 'INBOX', local: 'Ohne UIDNEXT' }], sync: true });
      target.app.services.imports.kick();
      const first = await waitFor(() => view(target, created.id), (j) => j.state === 'waiting' && j.progress.imported === 2, 30_000, 'the first pass');
      expect(first.progress).toMatchObject({ failed: 0, skipped: 0 });
      await fillMailbox(source.ports.imap!, 'ohne@alt-firma.de', PASSWORD, { INBOX: messages.slice(2) });
      const synced = await waitFor(() => view(target, created.id), (j) => j.progress.imported === 3, 15_000, 'a sync pass to fetch the new message');
      expect(synced.progress).toMatchObject({ imported: 3, failed: 0 });
      const local = await localFolder(target, 'ohne@firma.de', 'Ohne UIDNEXT');
      expect(local.map((m) => m.blob)).toEqual(messages.map((m) => sha256(m.raw)));
      const db = target.app.services.db;
      await stopImport(db, actor, (await findJob(db, created.id))!);
    } finally {
      proxy.rewrite = null;
    }
  });

  it('starts a folder over when its UIDVALIDITY changes, skipping what was imported already', async () => {
    const first = [sourceMessage('Projekt A'), sourceMessage('Projekt B'), sourceMessage('Projekt C')];
    await fillMailbox(source.ports.imap!, 'projekte@alt-firma.de', PASSWORD, { Projekte: first });
    const created = await createImport(target.app.services, actor, NEW, { ...login('projekte@alt-firma.de', source.ports.imap!), mapping: [{ remote: 'Projekte', local: 'Projekte' }], sync: true });
    target.app.services.imports.kick();
    expect(await settled(target, created.id)).toMatchObject({ state: 'waiting', progress: { imported: 3 } });

    // the old provider re-creates the folder (new UIDVALIDITY, new UIDs) with the same mail and one new message
    const client = await imapClient(source.ports.imap!, 'projekte@alt-firma.de', PASSWORD);
    await client.mailboxDelete('Projekte');
    await client.logout();
    await fillMailbox(source.ports.imap!, 'projekte@alt-firma.de', PASSWORD, { Projekte: [...first, sourceMessage('Projekt D')] });
    const after = await waitFor(() => view(target, created.id), (j) => j.folders[0].skipped === 3 && j.folders[0].imported === 1 && j.state === 'waiting', 10_000, 'the restarted folder');
    expect(after.folders[0]).toMatchObject({ messages: 4, imported: 1, skipped: 3, failed: 0, state: 'done' });
    expect((await localFolder(target, NEW, 'Projekte')).length).toBe(4);
  });

  it('pauses at a full quota naming the message, and goes on past it when the owner says so', async () => {
    const messages = Array.from({ length: 5 }, (_, i) => sourceMessage(`Voll ${i}`, { bodyBytes: 10_000 }));
    await fillMailbox(source.ports.imap!, 'voll@alt-firma.de', PASSWORD, { INBOX: messages });
    const { db } = target.app.services;
    await db.updateTable('accounts').set({ quota: 25_000 }).where('address', '=', 'klein@firma.de').execute();
    const created = await createImport(target.app.services, actor, 'klein@firma.de', { ...login('voll@alt-firma.de', source.ports.imap!), mapping: [{ remote: 'INBOX', local: 'INBOX' }] });
    target.app.services.imports.kick();
    const full = await settled(target, created.id);
    expect(full.state).toBe('failed');
    expect(full.error).toMatchObject({ field: 'quota' });
    expect(full.error!.message).toMatch(/quota of 25000 bytes is full: remote message UID 3 \(\d+ bytes\) did not fit/);
    expect(full.passwordStored).toBe(true);
    expect(await localFolder(target, 'klein@firma.de', 'INBOX')).toHaveLength(2);

    await resumeImport(target.app.services, actor, (await findJob(db, created.id))!, { ignoreQuota: true });
    target.app.services.imports.kick();
    expect(await settled(target, created.id)).toMatchObject({ state: 'done', ignoreQuota: true, progress: { imported: 5, failed: 0 } });
    expect((await localFolder(target, 'klein@firma.de', 'INBOX')).map((m) => m.blob)).toEqual(messages.map((m) => sha256(m.raw)));
  });

  it('reports a message over the size limit and imports the others', async () => {
    const big = sourceMessage('Riesige Präsentation', { bodyBytes: 3 * 1024 * 1024 });
    await fillMailbox(source.ports.imap!, 'gross@alt-firma.de', PASSWORD, { INBOX: [sourceMessage('Klein 1'), big, sourceMessage('Klein 2')] });
    const created = await createImport(target.app.services, actor, NEW, { ...login('gross@alt-firma.de', source.ports.imap!), mapping: [{ remote: 'INBOX', local: 'Gross' }] });
    target.app.services.imports.kick();
    const done = await settled(target, created.id);
    expect(done).toMatchObject({ state: 'done', progress: { messages: 3, imported: 2, failed: 1 }, failuresTotal: 1 });
    expect(done.failures[0]).toMatchObject({ folder: 'INBOX', uid: 2, reason: 'too_large', subject: 'Riesige Präsentation', size: expect.any(Number) });
    expect(done.failures[0].detail).toMatch(/more than imap\.appendLimit \(2097152\)/);
    expect(await localFolder(target, NEW, 'Gross')).toHaveLength(2);
  });

  it('fails with the password field when the old password stops working, forgets it, and resumes with a new one', async () => {
    await fillMailbox(source.ports.imap!, 'wechsel@alt-firma.de', PASSWORD, { INBOX: [sourceMessage('Wechsel 1')] });
    const created = await createImport(target.app.services, actor, NEW, { ...login('wechsel@alt-firma.de', source.ports.imap!), mapping: [{ remote: 'INBOX', local: 'Wechsel' }], sync: true });
    target.app.services.imports.kick();
    expect(await settled(target, created.id)).toMatchObject({ state: 'waiting', progress: { imported: 1 } });
    const changed = 'Neues-Passwort-2026';
    await setPassword(source.app.services.accounts, actor, 'wechsel@alt-firma.de', changed);
    const failed = await waitFor(() => view(target, created.id), (j) => j.state === 'failed', 10_000, 'the refused login');
    expect(failed).toMatchObject({ error: { field: 'password' }, passwordStored: false });

    const job = (await findJob(target.app.services.db, created.id))!;
    await expect(resumeImport(target.app.services, actor, job)).rejects.toMatchObject({ field: 'password', rule: 'required' });
    await expect(resumeImport(target.app.services, actor, job, { password: 'immer-noch-falsch-1' })).rejects.toMatchObject({ field: 'password', rule: 'login' });
    await resumeImport(target.app.services, actor, job, { password: changed });
    await fillMailbox(source.ports.imap!, 'wechsel@alt-firma.de', changed, { INBOX: [sourceMessage('Wechsel 2')] });
    target.app.services.imports.kick();
    await waitFor(() => view(target, created.id), (j) => j.progress.imported === 2 && j.state === 'waiting', 10_000, 'the sync with the new password');
    expect(await localFolder(target, NEW, 'Wechsel')).toHaveLength(2);
  });
});
