// IMAP benchmark: SELECT + FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE) and SEARCH TEXT on a mailbox of N messages,
// and resident memory per idle connection with K sessions in IDLE. The server runs in its own process.
import fs from 'node:fs';
import argon2 from 'argon2';
import { openDatabase } from '../server/db/connect.js';
import { writeTransaction } from '../server/db/transaction.js';
import { addAccount } from '../server/directory/accounts.js';
import { addDomain } from '../server/directory/domains.js';
import { BlobStore } from '../server/store/blobs.js';
import { prepareMessage, storeMessage } from '../server/store/messages.js';
import { startChildServer } from '../test/helpers/child-server.js';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { ImapWire } from '../test/helpers/imap-wire.js';
import { PASSWORD, tempDir } from '../test/helpers/server.js';

export interface ImapBenchOptions {
  messages: number;
  idleConnections: number;
}

const WORDS = 'angebot rechnung lieferung termin projekt kunde bestellung zahlung mahnung vertrag meeting bericht budget planung frist anfrage'.split(' ');

function message(i: number): Buffer {
  const words = Array.from({ length: 120 }, (_, j) => WORDS[(i * 7 + j * 13) % WORDS.length]).join(' ');
  const magic = i % 1000 === 0 ? ' zauberwort' : '';
  return Buffer.from(
    [`From: "Kunde ${i}" <kunde${i}@example.com>`, 'To: info@firma.de', `Subject: Anfrage ${i} ${WORDS[i % WORDS.length]}`, `Message-ID: <m${i}@example.com>`, `Date: ${new Date(1_700_000_000_000 + i * 60_000).toUTCString()}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `Nachricht ${i}: ${words}${magic}`, ''].join('\r\n')
  );
}

/** Fills info@firma.de's INBOX with `count` messages made by `make` (default: ~1 KB text messages); returns seconds. */
export async function populate(dataDir: string, count: number, make: (i: number) => Buffer = message): Promise<number> {
  const { db, close } = await openDatabase(dataDir);
  const blobs = new BlobStore(dataDir);
  await blobs.init();
  const accounts = { db, policy: { minLength: 10 }, defaultQuota: 0 };
  await addDomain(db, { name: 'bench' }, 'firma.de');
  const account = await addAccount(accounts, { name: 'bench' }, { address: 'info@firma.de', password: PASSWORD });
  // 5000 logins at OWASP cost would measure argon2, not IMAP: this account gets a cheap hash (same algorithm)
  const cheap = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 });
  await db.updateTable('accounts').set({ password_hash: cheap }).where('id', '=', account.id).execute();
  const started = Date.now();
  for (let i = 0; i < count; i += 1000) {
    const batch: Array<{ blob: { id: string; size: number }; prepared: ReturnType<typeof prepareMessage> }> = [];
    for (let j = i; j < Math.min(count, i + 1000); j++) {
      const raw = make(j);
      batch.push({ blob: await blobs.write([raw]), prepared: prepareMessage(raw) });
    }
    await writeTransaction(db, async (tx) => {
      for (const m of batch) await storeMessage(tx, m.blob, m.prepared, [{ accountId: account.id, specialUse: null, flags: m.blob.size % 3 ? ['\\Seen'] : [] }], Date.now());
    });
  }
  await close();
  return (Date.now() - started) / 1000;
}

function rssKb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

export async function benchImap(options: ImapBenchOptions): Promise<Record<string, number | string>> {
  const dataDir = tempDir('postfach-bench-');
  const dns = await startDnsServer({});
  const populateSeconds = await populate(dataDir, options.messages);
  const child = await startChildServer({
    dns: dns.address,
    dataDir,
    overrides: { 'imap.port': 0, 'smtp.port': -1, 'imap.maxConnectionsPerIp': options.idleConnections + 10, 'imap.maxConnections': options.idleConnections + 10 }
  });
  const port = child.ports.imap;
  const wires: ImapWire[] = [];
  try {
    const wire = await ImapWire.connect(port);
    await wire.command('a', `LOGIN info@firma.de ${PASSWORD}`);
    let t = process.hrtime.bigint();
    const selected = await wire.command('b', 'SELECT INBOX', 60_000);
    const selectMs = Number(process.hrtime.bigint() - t) / 1e6;
    if (!selected.lines.some((l) => l === `* ${options.messages} EXISTS`)) throw new Error(`SELECT did not report ${options.messages} messages: ${selected.lines.slice(0, 3)}`);
    t = process.hrtime.bigint();
    const fetched = await wire.command('c', 'FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)', 600_000);
    const fetchMs = Number(process.hrtime.bigint() - t) / 1e6;
    const fetchLines = fetched.lines.filter((l) => / FETCH \(/.test(l)).length;
    if (fetchLines !== options.messages || !fetched.tagged.startsWith('c OK')) throw new Error(`FETCH returned ${fetchLines} messages: ${fetched.tagged}`);
    t = process.hrtime.bigint();
    const searched = await wire.command('d', 'SEARCH TEXT "zauberwort"', 600_000);
    const searchMs = Number(process.hrtime.bigint() - t) / 1e6;
    const hits = (searched.lines.find((l) => l.startsWith('* SEARCH')) ?? '').split(' ').length - 2;
    if (hits !== Math.ceil(options.messages / 1000)) throw new Error(`SEARCH TEXT found ${hits}`);
    await wire.command('e', 'LOGOUT');
    wire.close();

    const before = rssKb(child.process.pid!);
    for (let i = 0; i < options.idleConnections; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, options.idleConnections - i) }, async () => {
          const w = await ImapWire.connect(port);
          wires.push(w);
          await w.command('a', `LOGIN info@firma.de ${PASSWORD}`, 60_000);
          await w.command('b', 'SELECT INBOX', 60_000);
          w.write('c IDLE\r\n');
          const cont = await w.readLine(60_000);
          if (!cont.startsWith('+')) throw new Error(`IDLE refused: ${cont}`);
        })
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = rssKb(child.process.pid!);
    return {
      benchmark: 'IMAP',
      messages: options.messages,
      populateSeconds: Number(populateSeconds.toFixed(1)),
      selectMs: Math.round(selectMs),
      fetchAllMs: Math.round(fetchMs),
      fetchMBytes: Number((fetched.bytes / 1e6).toFixed(1)),
      fetchMessagesPerSecond: Math.round(options.messages / (fetchMs / 1000)),
      searchTextMs: Math.round(searchMs),
      searchTextHits: hits,
      idleConnections: options.idleConnections,
      serverRssBeforeIdleMB: Math.round(before / 1024),
      serverRssWithIdleMB: Math.round(after / 1024),
      rssPerIdleConnectionKB: Number(((after - before) / options.idleConnections).toFixed(1))
    };
  } finally {
    for (const w of wires) w.close();
    if (child.process.exitCode === null) await child.crash();
    await dns.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
