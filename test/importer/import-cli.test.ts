// `postfach admin import …` as operators run it: folders with the proposed mapping (and --json as a mapping file),
// a wrong password naming the field, start with a running server (its runner picks the job up), status and list, and
// --foreground on a data folder no server runs on.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/db/connect.js';
import { findJob } from '../../server/importer/store.js';
import { runCli } from '../helpers/cli.js';
import { fillMailbox, localFolder, sourceMessage, waitFor } from '../helpers/import-source.js';
import { PASSWORD, provision, startServer, tempDir, type TestServer } from '../helpers/server.js';

let source: TestServer;
let target: TestServer;
let work: string;

const remote = (user: string) => ['--host', '127.0.0.1', '--port', String(source.ports.imap), '--encryption', 'none', '--user', user, '--password-stdin'];
const postfach = (dataDir: string, args: string[], stdin = `${PASSWORD}\n`) => runCli(['admin', 'import', ...args], { env: { POSTFACH_DATA_DIR: dataDir, POSTFACH_LOG_LEVEL: 'silent' }, stdin, timeoutMs: 30_000 });

beforeAll(async () => {
  source = await startServer({ overrides: { 'imap.port': 0 } });
  await provision(source, 'alt-firma.de', ['info', 'zweit']);
  await fillMailbox(source.ports.imap!, 'info@alt-firma.de', PASSWORD, {
    INBOX: [sourceMessage('Auftrag 1', { flags: ['\\Seen'] }), sourceMessage('Auftrag 2')],
    'Gesendete Elemente': [sourceMessage('Bestätigung', { flags: ['\\Seen'] })]
  });
  target = await startServer({ build: { imports: { scanIntervalMs: 100, renewIntervalMs: 100 } } });
  await provision(target, 'firma.de', ['info']);
  work = tempDir('postfach-import-cli-');
}, 60_000);

afterAll(async () => {
  await target?.close();
  await source?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('postfach admin import', () => {
  it('lists the remote folders with the proposed local folder; --json gives a mapping file start takes', async () => {
    const json = await postfach(target.dataDir, ['folders', 'info@firma.de', ...remote('info@alt-firma.de'), '--json']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const [proposal] = JSON.parse(json.stdout);
    expect(proposal.folders).toContainEqual(expect.objectContaining({ remote: 'Gesendete Elemente', messages: 1, local: 'Sent', reason: 'name' }));
    expect(proposal.mapping).toContainEqual({ remote: 'Gesendete Elemente', local: 'Sent' });
    proposal.mapping = proposal.mapping.map((m: { remote: string; local: string | null }) => (m.remote === 'Gesendete Elemente' ? { ...m, local: 'Alt/Gesendet' } : m));
    fs.writeFileSync(path.join(work, 'mapping.json'), JSON.stringify([proposal]));
  });

  it('names the field when the old password is wrong, and prints the folder table otherwise', async () => {
    const wrong = await postfach(target.dataDir, ['folders', 'info@firma.de', ...remote('zweit@alt-firma.de')], 'falsch-falsch-1\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^postfach: password: 127\.0\.0\.1 refused the login: user name or password is wrong/);
    const table = await postfach(target.dataDir, ['folders', 'info@firma.de', ...remote('info@alt-firma.de')]);
    expect(table.stdout).toContain('Gesendete Elemente\t1\t0.0 MB\tSent\tname\n');
    expect(table.stdout).toContain('INBOX\t2\t0.0 MB\tINBOX\tinbox\n');
  });

  it('queues a job that the running server imports, then shows its status', async () => {
    const started = await postfach(target.dataDir, ['start', 'info@firma.de', ...remote('info@alt-firma.de'), '--mapping', path.join(work, 'mapping.json')]);
    expect(started.code).toBe(0);
    const id = Number(/^import (\d+) queued: a running server starts it within 10 s/.exec(started.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);
    await waitFor(async () => (await findJob(target.app.services.db, id))?.state, (state) => state === 'done', 15_000, 'the server to import');
    expect(await localFolder(target, 'info@firma.de', 'Alt/Gesendet')).toHaveLength(1);

    const list = await postfach(target.dataDir, ['list', 'info@firma.de']);
    expect(list.stdout).toMatch(new RegExp(`^${id}\tinfo@firma\\.de\t127\\.0\\.0\\.1\tinfo@alt-firma\\.de\tdone\t3/3 messages`, 'm'));
  });

  it('imports in the foreground when no server runs on the data folder', async () => {
    const dataDir = tempDir();
    const offline = await startServer({ dataDir, build: { imports: false } });
    await provision(offline, 'firma.de', ['info']);
    await offline.close();
    try {
      const run = await postfach(dataDir, ['start', 'info@firma.de', ...remote('info@alt-firma.de'), '--foreground']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^import 1: done, 3\/3 messages, /m);
      // the final status
      expect(run.stdout).toContain(`import 1 of info@firma.de from info@alt-firma.de at 127.0.0.1:${source.ports.imap} (none): done\n`);
      expect(run.stdout).toContain('  Gesendete Elemente -> Sent: done, 1/1 messages');
      expect(run.stdout).not.toContain(PASSWORD);
      const { db, close } = await openDatabase(dataDir);
      const job = await db.selectFrom('import_jobs').select(['state', 'password_sealed', 'leased_by']).executeTakeFirstOrThrow();
      const messages = await db.selectFrom('messages').select('id').execute();
      await close();
      expect(job).toEqual({ state: 'done', password_sealed: null, leased_by: null });
      expect(messages).toHaveLength(3);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
