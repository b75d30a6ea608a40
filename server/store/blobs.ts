// Content-addressed blob store for raw messages: temp file, fsync, rename, fsync of the folder; sha256 names.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface StoredBlob {
  id: string;
  size: number;
}

/** One piece of a blob being written: bytes in memory or a file to copy from. */
export type BlobSource = Buffer | { file: string };

export class BlobStore {
  readonly root: string;
  readonly tmp: string;
  /** ids written but not yet committed to the blobs table; never unlinked while here */
  private readonly pending = new Map<string, number>();

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'blobs');
    this.tmp = path.join(dataDir, 'tmp');
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
    await fsp.rm(this.tmp, { recursive: true, force: true });
    await fsp.mkdir(this.tmp, { recursive: true });
  }

  path(id: string): string {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`invalid blob id ${id}`);
    return path.join(this.root, id.slice(0, 2), id.slice(2, 4), id);
  }

  tempPath(): string {
    return path.join(this.tmp, `${process.pid}-${crypto.randomBytes(12).toString('hex')}`);
  }

  /**
   * Writes the concatenation of sources durably and returns its id. The id stays pinned (see release)
   * until the caller has committed the row that references it.
   */
  async write(sources: BlobSource[]): Promise<StoredBlob> {
    const temp = this.tempPath();
    const hash = crypto.createHash('sha256');
    const handle = await fsp.open(temp, 'wx', 0o600);
    let size = 0;
    try {
      for (const source of sources) {
        if (Buffer.isBuffer(source)) {
          hash.update(source);
          size += source.length;
          await handle.write(source);
        } else {
          for await (const chunk of fs.createReadStream(source.file, { highWaterMark: 256 * 1024 })) {
            const buf = chunk as Buffer;
            hash.update(buf);
            size += buf.length;
            await handle.write(buf);
          }
        }
      }
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fsp.rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    const id = hash.digest('hex');
    this.pin(id);
    const target = this.path(id);
    const dir = path.dirname(target);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.rename(temp, target);
    await syncDirectory(dir);
    return { id, size };
  }

  private pin(id: string): void {
    this.pending.set(id, (this.pending.get(id) ?? 0) + 1);
  }

  /** Ends the pin taken by write(), after the referencing transaction committed or failed. */
  release(id: string): void {
    const n = (this.pending.get(id) ?? 1) - 1;
    if (n <= 0) this.pending.delete(id);
    else this.pending.set(id, n);
  }

  read(id: string): Promise<Buffer> {
    return fsp.readFile(this.path(id));
  }

  createReadStream(id: string, options?: { start?: number; end?: number }): fs.ReadStream {
    return fs.createReadStream(this.path(id), options);
  }

  /** Unlinks files of blobs whose rows are gone (refcount reached 0 and the row was deleted in a committed transaction). */
  async unlinkUnreferenced(db: Kysely<Database>, ids: Iterable<string>): Promise<number> {
    const candidates = [...new Set(ids)].filter((id) => !this.pending.has(id));
    if (!candidates.length) return 0;
    const alive = new Set<string>();
    for (let i = 0; i < candidates.length; i += 500) {
      const rows = await db.selectFrom('blobs').select('id').where('id', 'in', candidates.slice(i, i + 500)).execute();
      for (const r of rows) alive.add(r.id);
    }
    let removed = 0;
    for (const id of candidates) {
      if (alive.has(id) || this.pending.has(id)) continue;
      await fsp.rm(this.path(id), { force: true });
      removed++;
    }
    return removed;
  }

  /** Start-up sweep: files left by a crash between fsync and commit have no row; remove them. */
  async sweepOrphans(db: Kysely<Database>): Promise<number> {
    const files: string[] = [];
    for (const a of await readdirSafe(this.root)) {
      for (const b of await readdirSafe(path.join(this.root, a))) {
        for (const f of await readdirSafe(path.join(this.root, a, b))) if (/^[0-9a-f]{64}$/.test(f)) files.push(f);
      }
    }
    return this.unlinkUnreferenced(db, files);
  }
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
}

/** fsync a folder so a rename inside it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
