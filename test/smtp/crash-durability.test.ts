// Never lose mail: a server killed with SIGKILL in the middle of deliveries keeps every message it answered 250
// for, exactly once, and leaves no half-delivered message (counters, refcounts, blobs and index stay consistent).
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer } from '../helpers/child-server.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startServer, tempDir } from '../helpers/server.js';

function blobFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'blobs');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

describe('crash during delivery', () => {
  let dns: TestDnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({});
  });
  afterAll(async () => dns.close());

  // Every third message is ~430 KB so kills land inside blob writes too. Three rounds kill the server after a different number of acknowledgements, so the kill lands at
  // different points of the pipeline (spool, blob write, transaction, reply).
  it.each([5, 23, 61])('keeps every acknowledged message exactly once (kill after %i acks)', async (killAfter) => {
    const dataDir = tempDir();
    const child = await startChildServer({ dns: dns.address, dataDir, domain: 'firma.de', locals: ['info', 'buchhaltung'] });
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: child.port, secure: false, ignoreTLS: true, pool: true, maxConnections: 8, maxMessages: Infinity });
    const acknowledged = new Set<string>();
    let killed: Promise<void> | undefined;
    const sends = Array.from({ length: 200 }, (_, i) => {
      const id = `<crash-${killAfter}-${i}@sender.test>`;
      return transport
        .sendMail({ from: 'a@sender.test', to: ['info@firma.de', 'buchhaltung@firma.de'], subject: `crash ${i}`, messageId: id, text: `body ${i} ${'x'.repeat(70)}\n`.repeat(i % 3 === 0 ? 6000 : 200) })
        .then(() => {
          acknowledged.add(id);
          if (acknowledged.size === killAfter) killed = child.crash();
        })
        .catch(() => undefined);
    });
    await Promise.all(sends);
    transport.close();
    await killed;
    expect(acknowledged.size).toBeGreaterThanOrEqual(killAfter);

    const server = await startServer({ dns, dataDir });
    try {
      const { db } = server.app.services;
      const rows = await db
        .selectFrom('messages')
        .innerJoin('mailboxes', 'mailboxes.id', 'messages.mailbox_id')
        .select(['messages.message_id', 'messages.size', 'messages.uid', 'messages.blob_id', 'mailboxes.account_id', 'mailboxes.uidnext'])
        .execute();
      // every acknowledged message is in both mailboxes exactly once
      for (const id of acknowledged) expect(rows.filter((r) => r.message_id === id).length, id).toBe(2);
      // no message was stored for one recipient and not the other
      const perId = new Map<string, number>();
      for (const r of rows) perId.set(r.message_id, (perId.get(r.message_id) ?? 0) + 1);
      expect([...perId.values()].every((n) => n === 2)).toBe(true);
      // counters agree with what is stored
      for (const r of rows) expect(r.uid).toBeLessThan(r.uidnext);
      const accounts = await db.selectFrom('accounts').select(['id', 'used_bytes']).execute();
      for (const a of accounts) {
        expect(a.used_bytes).toBe(rows.filter((r) => r.account_id === a.id).reduce((sum, r) => sum + r.size, 0));
      }
      const blobs = await db.selectFrom('blobs').selectAll().execute();
      for (const b of blobs) expect(b.refcount).toBe(rows.filter((r) => r.blob_id === b.id).length);
      expect(new Set(rows.map((r) => r.blob_id))).toEqual(new Set(blobs.map((b) => b.id)));
      // the start-up sweep removed files of interrupted deliveries: files and rows match one to one
      expect(new Set(blobFiles(dataDir))).toEqual(new Set(blobs.map((b) => b.id)));
      const indexed = await sql<{ n: number }>`SELECT count(*) AS n FROM message_text`.execute(db);
      expect(Number(indexed.rows[0].n)).toBe(blobs.length); // one index row per stored blob
    } finally {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
