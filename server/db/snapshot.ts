// Database snapshots for backup and restore: SQLite's online backup API (a consistent copy while the server writes),
// what a snapshot references and counts, its integrity, and whether a server holds the database open.
import SQLite from 'better-sqlite3';

export const DATABASE_FILE = 'postfach.sqlite';

/**
 * Copies the live database into `dest` with the online backup API, in one step: the copy is the state of one
 * moment, taken under a read lock, so writers carry on (WAL) and the copy never restarts because of them.
 */
export async function snapshotDatabase(source: string, dest: string): Promise<void> {
  const live = new SQLite(source, { fileMustExist: true });
  try {
    live.pragma('busy_timeout = 10000');
    await live.backup(dest, { progress: ({ totalPages }) => Math.max(totalPages, 1) * 2 });
  } finally {
    live.close();
  }
}

export interface SnapshotFacts {
  /** every blob the snapshot references (messages and queue entries), with its size */
  blobs: Array<{ id: string; size: number }>;
  counts: Record<string, number>;
  /** applied migrations, oldest first */
  migrations: string[];
  integrity: string;
}

const COUNTED = ['domains', 'accounts', 'aliases', 'forwards', 'mailboxes', 'messages', 'queue', 'admins'] as const;

/** Reads what a snapshot file holds (opened read-only). */
export function snapshotFacts(file: string): SnapshotFacts {
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.pragma('quick_check', { simple: true }) as string) ?? 'unknown';
    const blobs = db.prepare('SELECT id, size FROM blobs ORDER BY id').all() as Array<{ id: string; size: number }>;
    const counts: Record<string, number> = {};
    for (const table of COUNTED) counts[table] = Number(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
    const migrations = db.prepare('SELECT name FROM kysely_migration ORDER BY name').pluck().all() as string[];
    return { blobs, counts, migrations, integrity };
  } finally {
    db.close();
  }
}

/**
 * Whether a process (a running server) has the database open: in WAL mode every connection holds a shared lock, so
 * an exclusive lock is refused at once while one exists.
 */
export function databaseInUse(file: string): boolean {
  const db = new SQLite(file, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    return false;
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw err;
  } finally {
    db.close();
  }
}
