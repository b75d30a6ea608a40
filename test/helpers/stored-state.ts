// What a delivery leaves behind (rows, blob files, spool temp files), for tests asserting that a refused message stored nothing.
import fs from 'node:fs';
import type { TestServer } from './server.js';

export async function count(server: TestServer, table: 'messages' | 'blobs' | 'outbound'): Promise<number> {
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
    outbound: await count(server, 'outbound'),
    blobFiles: filesUnder(blobs.root),
    tempFiles: filesUnder(blobs.tmp)
  };
}
