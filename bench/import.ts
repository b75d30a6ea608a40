// Import benchmark: a Postfach in its own process plays the old provider with N messages (text and an attachment) in
// one folder, filled through the store, and this process imports them over IMAP on loopback: messages/second and
// MB/second from the login check to the job's end, then checks every message arrived once.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { openDatabase } from '../server/db/connect.js';
import { writeTransaction } from '../server/db/transaction.js';
import { addAccount } from '../server/directory/accounts.js';
import { addDomain } from '../server/directory/domains.js';
import { createImport, importView } from '../server/importer/admin.js';
import { findJob } from '../server/importer/store.js';
import { BlobStore } from '../server/store/blobs.js';
import { prepareMessage, storeMessage } from '../server/store/messages.js';
import { startChildServer } from '../test/helpers/child-server.js';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { waitFor } from '../test/helpers/import-source.js';
import { PASSWORD, actor, provision, startServer, tempDir } from '../test/helpers/server.js';

export interface ImportBenchOptions {
  messages: number;
  sizeKb: number;
}

/**
 * N distinct messages of about sizeKb each in INBOX of info@alt-firma.de, written in batches through the store: a
 * short text and an attachment making up the rest (random bytes in base64, as most of a mailbox's bytes are).
 */
async function populate(dataDir: string, count: number, sizeKb: number): Promise<number> {
  const { db, close } = await openDatabase(dataDir);
  const blobs = new BlobStore(dataDir);
  await blobs.init();
  await addDomain(db, actor, 'alt-firma.de');
  const account = await addAccount({ db, policy: { minLength: 10 }, defaultQuota: 0 }, actor, { address: 'info@alt-firma.de', password: PASSWORD });
  const text = 'Sehr geehrte Damen und Herren, anbei die Unterlagen zum Projekt wie besprochen. Viele Gruesse\r\n'.repeat(10);
  let bytes = 0;
  for (let i = 0; i < count; i += 200) {
    const batch: Array<{ blob: { id: string; size: number }; prepared: ReturnType<typeof prepareMessage> }> = [];
    for (let j = i; j < Math.min(count, i + 200); j++) {
      const attachment = crypto.randomBytes(Math.max(0, Math.floor(((sizeKb * 1024 - text.length - 600) * 3) / 4))).toString('base64').replace(/.{76}/g, '$&\r\n');
      const raw = Buffer.from(
        [
          `From: "Kunde ${j}" <kunde${j}@example.com>`,
          'To: info@alt-firma.de',
          `Subject: Anfrage ${j}`,
          `Message-ID: <m${j}@example.com>`,
          `Date: ${new Date(1_500_000_000_000 + j * 60_000).toUTCString()}`,
          'MIME-Version: 1.0',
          'Content-Type: multipart/mixed; boundary="b"',
          '',
          '--b',
          'Content-Type: text/plain; charset=utf-8',
          '',
          `Nachricht ${j}\r\n${text}`,
          '--b',
          'Content-Type: application/pdf; name="unterlagen.pdf"',
          'Content-Transfer-Encoding: base64',
          '',
          attachment,
          '--b--',
          ''
        ].join('\r\n')
      );
      bytes += raw.length;
      batch.push({ blob: await blobs.write([raw]), prepared: prepareMessage(raw) });
    }
    await writeTransaction(db, async (tx) => {
      for (const m of batch) await storeMessage(tx, m.blob, m.prepared, [{ accountId: account.id, specialUse: null, flags: ['\\Seen'] }], Date.now());
    });
  }
  await close();
  return bytes;
}

export async function benchImport(options: ImportBenchOptions): Promise<Record<string, number | string>> {
  const sourceDir = tempDir('postfach-bench-');
  const dns = await startDnsServer({});
  const bytes = await populate(sourceDir, options.messages, options.sizeKb);
  const child = await startChildServer({ dns: dns.address, dataDir: sourceDir, overrides: { 'imap.port': 0, 'smtp.port': -1 } });
  const target = await startServer({ dns, build: { imports: { scanIntervalMs: 50 } } });
  try {
    await provision(target, 'firma.de', ['info']);
    const started = process.hrtime.bigint();
    const created = await createImport(target.app.services, actor, 'info@firma.de', {
      host: '127.0.0.1',
      port: child.ports.imap,
      encryption: 'none',
      username: 'info@alt-firma.de',
      password: PASSWORD,
      mapping: [{ remote: 'INBOX', local: 'INBOX' }]
    });
    target.app.services.imports.kick();
    const done = await waitFor(
      async () => importView(target.app.services.db, (await findJob(target.app.services.db, created.id))!, undefined, 0),
      (j) => j.state === 'done' || j.state === 'failed',
      3_600_000,
      'the import'
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (done.state !== 'done' || done.progress.imported !== options.messages) throw new Error(`import ended ${done.state}: ${JSON.stringify(done.progress)} ${done.error?.message ?? ''}`);
    const stored = await target.app.services.db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    if (Number(stored.n) !== options.messages) throw new Error(`${stored.n} messages stored, expected ${options.messages}`);
    return {
      benchmark: 'import',
      messages: options.messages,
      messageKB: options.sizeKb,
      megabytes: Number((bytes / 1e6).toFixed(1)),
      seconds: Number(seconds.toFixed(2)),
      messagesPerSecond: Math.round(options.messages / seconds),
      megabytesPerSecond: Number((bytes / 1e6 / seconds).toFixed(2))
    };
  } finally {
    await target.close();
    await child.crash();
    await dns.close();
    fs.rmSync(sourceDir, { recursive: true, force: true });
  }
}
