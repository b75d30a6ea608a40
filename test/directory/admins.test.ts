// Admin users: the first owner (CLI and POSTFACH_OWNER_* at first start), roles, password policy, argon2id, audit.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config/load.js';
import { openDatabase, type DatabaseHandle } from '../../server/db/connect.js';
import { countOwners, createAdmin, createFirstOwner, listAdmins, verifyAdmin } from '../../server/directory/admins.js';
import { DirectoryError } from '../../server/directory/errors.js';
import { runCli } from '../helpers/cli.js';
import { startServer, tempDir } from '../helpers/server.js';

const policy = { minLength: 10 };
const actor = { name: 'test' };

describe('admin users in the directory', () => {
  let dataDir: string;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    dataDir = tempDir();
    handle = await openDatabase(dataDir);
  });
  afterAll(async () => {
    await handle?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates the first owner once, lower-cased, with an argon2id hash and an audit entry', async () => {
    const owner = await createFirstOwner(handle.db, policy, actor, 'Chefin@Firma.DE', 'Owner-Passwort-1');
    expect(owner).toMatchObject({ login: 'chefin@firma.de', role: 'owner' });
    expect(owner.password_hash.startsWith('$argon2id$')).toBe(true);
    await expect(createFirstOwner(handle.db, policy, actor, 'zweite@firma.de', 'Owner-Passwort-2')).rejects.toMatchObject({ kind: 'conflict', field: 'login' });
    expect(await countOwners(handle.db)).toBe(1);
    const audit = await handle.db.selectFrom('audit_log').selectAll().where('action', '=', 'admin.add').execute();
    expect(audit.map((a) => a.target)).toEqual(['chefin@firma.de']);
    expect(JSON.stringify(audit)).not.toContain('Owner-Passwort-1');
  });

  it('refuses a weak password naming the rules, a bad login, an unknown role and a duplicate', async () => {
    const weak = await createAdmin(handle.db, policy, actor, { login: 'admin@firma.de', password: 'kurz', role: 'admin' }).catch((e) => e);
    expect(weak).toBeInstanceOf(DirectoryError);
    expect(weak).toMatchObject({ field: 'password' });
    expect(weak.message).toContain('at least 10 characters');
    await expect(createAdmin(handle.db, policy, actor, { login: 'kein-at', password: 'Verwalter-Schluessel-1', role: 'admin' })).rejects.toMatchObject({ field: 'login' });
    await expect(createAdmin(handle.db, policy, actor, { login: 'x@firma.de', password: 'Verwalter-Schluessel-1', role: 'root' as 'admin' })).rejects.toMatchObject({ field: 'role' });
    await createAdmin(handle.db, policy, actor, { login: 'admin@firma.de', password: 'Verwalter-Schluessel-1', role: 'admin' });
    await expect(createAdmin(handle.db, policy, actor, { login: 'ADMIN@firma.de', password: 'Verwalter-Schluessel-1', role: 'admin' })).rejects.toMatchObject({ kind: 'conflict' });
    expect((await listAdmins(handle.db)).map((a) => [a.login, a.role])).toEqual([
      ['admin@firma.de', 'admin'],
      ['chefin@firma.de', 'owner']
    ]);
  });

  it('verifies admin logins in any case and refuses wrong passwords and unknown users alike', async () => {
    expect((await verifyAdmin(handle.db, 'CHEFIN@firma.de', 'Owner-Passwort-1'))?.role).toBe('owner');
    expect(await verifyAdmin(handle.db, 'chefin@firma.de', 'Owner-Passwort-2')).toBeNull();
    expect(await verifyAdmin(handle.db, 'niemand@firma.de', 'Owner-Passwort-1')).toBeNull();
  });
});

describe('the first owner at start-up', () => {
  it('comes from POSTFACH_OWNER_EMAIL/POSTFACH_OWNER_PASSWORD once and is left alone afterwards', async () => {
    const dataDir = tempDir();
    try {
      const overrides = { 'owner.email': 'Owner@Firma.de', 'owner.password': 'Start-Passwort-1' };
      const first = await startServer({ dataDir, overrides });
      expect((await listAdmins(first.app.services.db)).map((a) => [a.login, a.role])).toEqual([['owner@firma.de', 'owner']]);
      await first.close();
      // a second start with another password neither fails nor changes the owner
      const second = await startServer({ dataDir, overrides: { ...overrides, 'owner.password': 'Anderes-Passwort-2' } });
      expect(await verifyAdmin(second.app.services.db, 'owner@firma.de', 'Start-Passwort-1')).not.toBeNull();
      await second.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses one of the two variables without the other, naming the missing key', () => {
    expect(() => loadConfig({ env: { POSTFACH_OWNER_EMAIL: 'owner@firma.de' } })).toThrow(/owner\.password/);
    expect(() => loadConfig({ env: { POSTFACH_OWNER_PASSWORD: 'Start-Passwort-1' } })).toThrow(/owner\.email/);
  });

  it('postfach admin owner create reads the password from standard input, once', async () => {
    const dataDir = tempDir();
    try {
      const env = { POSTFACH_DATA_DIR: dataDir, POSTFACH_LOG_LEVEL: 'silent' };
      const created = await runCli(['admin', 'owner', 'create', 'Inhaber@firma.de', '--password-stdin'], { env, stdin: 'Geheimes-Wort-77\n' });
      expect(created).toMatchObject({ code: 0, stdout: 'owner inhaber@firma.de created\n', stderr: '' });
      const again = await runCli(['admin', 'owner', 'create', 'zweiter@firma.de', '--password-stdin'], { env, stdin: 'Geheimes-Wort-78\n' });
      expect(again.code).toBe(1);
      expect(again.stderr).toBe('postfach: login: an owner exists already; further admin users are added by an owner\n');
      const handle = await openDatabase(dataDir);
      try {
        expect(await verifyAdmin(handle.db, 'inhaber@firma.de', 'Geheimes-Wort-77')).not.toBeNull();
      } finally {
        await handle.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
