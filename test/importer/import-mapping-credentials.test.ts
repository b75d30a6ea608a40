// The proposed mapping for folder layouts the test servers do not have (Gmail's labels and virtual folders, Courier's
// "INBOX." namespace, Outlook's names, a "/" inside a level) and the checks on a mapping the owner sends; the remote
// password at rest: what a leaked database holds, and what a tampered row gives.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importKey, openPassword, sealPassword } from '../../server/importer/credentials.js';
import { checkMapping, proposeMapping, type RemoteFolder } from '../../server/importer/mapping.js';
import { DEFAULT_MAILBOXES } from '../../server/store/mailboxes.js';
import { tempDir } from '../helpers/server.js';

const LOCAL = DEFAULT_MAILBOXES.map((m) => ({ name: m.name, specialUse: m.specialUse }));
const folder = (path: string, delimiter: string, extra: Partial<RemoteFolder> = {}): RemoteFolder => ({ path, delimiter, flags: [], messages: 1, bytes: null, ...extra });
const proposed = (folders: RemoteFolder[], prefix = '') => Object.fromEntries(proposeMapping(folders, LOCAL, prefix).map((f) => [f.path, [f.local, f.reason]]));

describe('the proposed mapping', () => {
  it("skips Gmail's All Mail, Starred and Important, and maps its special folders and labels", () => {
    const gmail = [
      folder('INBOX', '/'),
      folder('[Gmail]', '/', { flags: ['\\Noselect', '\\HasChildren'] }),
      folder('[Gmail]/All Mail', '/', { flags: ['\\All'], specialUse: '\\All', specialUseSource: 'extension' }),
      folder('[Gmail]/Sent Mail', '/', { flags: ['\\Sent'], specialUse: '\\Sent', specialUseSource: 'extension' }),
      folder('[Gmail]/Starred', '/', { flags: ['\\Flagged'], specialUse: '\\Flagged', specialUseSource: 'extension' }),
      folder('[Gmail]/Important', '/', { flags: ['\\Important'] }),
      folder('[Gmail]/Spam', '/', { flags: ['\\Junk'], specialUse: '\\Junk', specialUseSource: 'extension' }),
      folder('Kunden/Müller & Söhne', '/'),
      folder('Kunden', '/')
    ];
    expect(proposed(gmail)).toEqual({
      INBOX: ['INBOX', 'inbox'],
      '[Gmail]': [null, 'not-selectable'],
      '[Gmail]/All Mail': [null, 'all-mail'],
      '[Gmail]/Sent Mail': ['Sent', 'special-use'],
      '[Gmail]/Starred': [null, 'virtual'],
      '[Gmail]/Important': [null, 'virtual'],
      '[Gmail]/Spam': ['Junk', 'special-use'],
      'Kunden/Müller & Söhne': ['Kunden/Müller & Söhne', 'hierarchy'],
      Kunden: ['Kunden', 'same-name']
    });
  });

  it("drops Courier's INBOX. namespace, converts the '.' delimiter and keeps a '/' inside a level out of the hierarchy", () => {
    const courier = [
      folder('INBOX', '.'),
      folder('INBOX.Sent Items', '.'),
      folder('INBOX.Gelöschte Elemente', '.'),
      folder('INBOX.Junk-E-Mail', '.'),
      folder('INBOX.Archiv', '.'),
      folder('INBOX.Archiv.2020/21', '.'),
      folder('INBOX.Rechnungen*alt', '.')
    ];
    expect(proposed(courier, 'INBOX.')).toEqual({
      INBOX: ['INBOX', 'inbox'],
      'INBOX.Sent Items': ['Sent', 'name'],
      'INBOX.Gelöschte Elemente': ['Trash', 'name'],
      'INBOX.Junk-E-Mail': ['Junk', 'name'],
      'INBOX.Archiv': ['Archive', 'name'],
      'INBOX.Archiv.2020/21': ['Archive/2020-21', 'hierarchy'],
      'INBOX.Rechnungen*alt': ['Rechnungen_alt', 'same-name']
    });
  });

  it('refuses a mapping naming an unknown or repeated remote folder, a folder without messages, or a bad local name', () => {
    const remote = [folder('INBOX', '/'), folder('Alt', '/', { flags: ['\\Noselect'] }), folder('Alt/2019', '/')];
    expect(checkMapping([{ remote: 'INBOX', local: 'inbox' }, { remote: 'Alt/2019', local: 'Archiv/2019' }, { remote: 'Alt', local: null }], remote).map((m) => [m.remote.path, m.local])).toEqual([
      ['INBOX', 'INBOX'],
      ['Alt/2019', 'Archiv/2019']
    ]);
    expect(() => checkMapping([{ remote: 'Gibts nicht', local: 'X' }], remote)).toThrow(expect.objectContaining({ field: 'mapping.0.remote', rule: 'exists' }));
    expect(() => checkMapping([{ remote: 'INBOX', local: 'A' }, { remote: 'INBOX', local: 'B' }], remote)).toThrow(expect.objectContaining({ field: 'mapping.1.remote', rule: 'unique' }));
    expect(() => checkMapping([{ remote: 'Alt', local: 'Alt' }], remote)).toThrow(expect.objectContaining({ field: 'mapping.0.remote', rule: 'selectable' }));
    expect(() => checkMapping([{ remote: 'INBOX', local: 'a//b' }], remote)).toThrow(expect.objectContaining({ field: 'mapping.0.local', rule: 'folderName' }));
    expect(() => checkMapping([{ remote: 'INBOX', local: null }], remote)).toThrow(expect.objectContaining({ field: 'mapping', rule: 'minItems' }));
  });
});

describe('the remote password at rest', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const binding = { accountId: 7, host: 'imap.alt-firma.de', port: 993, username: 'info@alt-firma.de', encryption: 'tls', verifyCertificate: true };

  it('is sealed with a key file outside the database: the sealed text reveals nothing and opens only with that key and job', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const key = await importKey(dataDir);
    expect(await importKey(dataDir)).toEqual(key);
    expect(fs.statSync(path.join(dataDir, 'secrets', 'import-password.key')).mode & 0o777).toBe(0o600);
    const sealed = sealPassword(key, 'Altes-Geheimnis-99', binding);
    expect(sealed).not.toContain('Altes-Geheimnis');
    expect(Buffer.from(sealed.split('.')[3], 'base64').toString('latin1')).not.toContain('Geheimnis');
    expect(sealPassword(key, 'Altes-Geheimnis-99', binding)).not.toBe(sealed); // a fresh IV each time
    expect(openPassword(key, sealed, binding)).toBe('Altes-Geheimnis-99');

    // a database leak without the data folder's key file: another key opens nothing
    const other = tempDir();
    dirs.push(other);
    expect(openPassword(await importKey(other), sealed, binding)).toBeNull();
    // a row pointed at another server (to catch the password there) or tampered with does not open either
    expect(openPassword(key, sealed, { ...binding, host: 'evil.example' })).toBeNull();
    expect(openPassword(key, sealed, { ...binding, accountId: 8 })).toBeNull();
    // nor one changed to send the password in clear or past an unchecked certificate
    expect(openPassword(key, sealed, { ...binding, encryption: 'none' })).toBeNull();
    expect(openPassword(key, sealed, { ...binding, verifyCertificate: false })).toBeNull();
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[3], 'base64');
    flipped[0] ^= 1;
    expect(openPassword(key, [parts[0], parts[1], parts[2], flipped.toString('base64')].join('.'), binding)).toBeNull();
    expect(openPassword(key, 'kaputt', binding)).toBeNull();
  });
});
