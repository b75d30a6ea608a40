// What a delivery leaves behind (rows, blob files, spool temp files), for tests asserting that a refused message stored nothing.
import fs from 'node:fs';
import type { TestServer } from './server.js';

export async function count(server: TestServer, table: 'messages' | 'blobs' | 'queue' | 'queue_recipients'): Promise<number> {
  const row = await server.app.services.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export const filesUnder = (dir: string) =>
  fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length : 0;

export async function storedState(server: TestServer) {
  const { blobs } = server.app.services;
  return {
    messages: await count(server, 'messages'),
    blobs: await count(server, 'blobs'),
    queued: await count(server, 'queue'),
    blobFiles: filesUnder(blobs.root),
    tempFiles: filesUnder(blobs.tmp)
  };
}

/** Queue rows flattened to one per recipient (entry fields + recipient and status), optionally for one blob. */
export function queuedRecipients(server: TestServer, where: { blobId?: string; recipient?: string } = {}) {
  let q = server.app.services.db
    .selectFrom('queue')
    .innerJoin('queue_recipients', 'queue_recipients.queue_id', 'queue.id')
    .select(['queue.id', 'queue.blob_id', 'queue.sender', 'queue.return_path', 'queue.domain', 'queue.origin', 'queue.forwarded_for', 'queue.attempts', 'queue.last_error', 'queue_recipients.recipient', 'queue_recipients.status']);
  if (where.blobId) q = q.where('queue.blob_id', '=', where.blobId);
  if (where.recipient) q = q.where('queue_recipients.recipient', '=', where.recipient);
  return q.orderBy('queue_recipients.recipient').orderBy('queue.id').execute();
}
