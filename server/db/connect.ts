// Opens the database (SQLite by default: WAL, synchronous=FULL so a commit is durable) and runs migrations.
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration, type MigrationProvider, type SqliteDatabase } from 'kysely';
import type { Database } from './schema.js';
import { DATABASE_FILE } from './snapshot.js';
import * as initial from './migrations/20261122T0001_initial.js';
import * as admins from './migrations/20261122T0002_admins.js';
import * as adminSessions from './migrations/20261122T0003_admin_sessions.js';
import * as queue from './migrations/20261123T0004_queue.js';
import * as imports from './migrations/20261201T0010_imports.js';
import * as uidvalidityFloor from './migrations/20261201T0010_uidvalidity_floor.js';
import * as greylist from './migrations/20261201T0020_greylist.js';
import * as wireSize from './migrations/20261201T0040_wire_size.js';

/** Migrations in order; names are frozen once released. */
const migrations: Record<string, Migration> = {
  '20261122T0001_initial': initial,
  '20261122T0002_admins': admins,
  '20261122T0003_admin_sessions': adminSessions,
  '20261123T0004_queue': queue,
  '20261201T0010_imports': imports,
  '20261201T0010_uidvalidity_floor': uidvalidityFloor,
  '20261201T0020_greylist': greylist,
  '20261201T0040_wire_size': wireSize
};

/** Names of the migrations this version knows (a restore refuses a database migrated further). */
export const MIGRATION_NAMES: readonly string[] = Object.keys(migrations);

const provider: MigrationProvider = { getMigrations: async () => migrations };

export interface DatabaseHandle {
  db: Kysely<Database>;
  /** the raw SQLite connection, for online backup and pragmas */
  sqlite: SQLite.Database;
  close(): Promise<void>;
}

/** Compiled statements kept per SQL text; queries with literal values (UID sets) come and go at the old end. */
const STATEMENT_CACHE = 500;

/**
 * The connection as kysely sees it: kysely asks for a prepared statement on every query, and compiling SQL is a
 * good part of a small query's cost, so the same text gets its compiled statement back (SQLite recompiles it by
 * itself after a schema change). A statement still iterating (a streamed query) is busy: that call gets a new one.
 */
export function reusingStatements(sqlite: SQLite.Database): SqliteDatabase {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text) {
      const cached = statements.get(text);
      if (cached && !cached.busy) {
        statements.delete(text); // most recently used last
        statements.set(text, cached);
        return cached;
      }
      const statement = sqlite.prepare(text);
      statements.set(text, statement);
      if (statements.size > STATEMENT_CACHE) statements.delete(statements.keys().next().value!);
      return statement;
    }
  };
}

export async function openDatabase(dataDir: string): Promise<DatabaseHandle> {
  fs.mkdirSync(dataDir, { recursive: true });
  const sqlite = new SQLite(path.join(dataDir, DATABASE_FILE));
  sqlite.pragma('journal_mode = WAL');
  // RFC 5321 §6.1: once we say 250 the message is ours; FULL syncs the WAL at every commit.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 10000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: reusingStatements(sqlite) }) });
  const migrator = new Migrator({ db, provider });
  // Two processes opening a fresh data folder at once (serve and an admin command) race to migrate; the loser's
  // transaction rolls back, and a retry finds the schema in place.
  let outcome = await migrator.migrateToLatest();
  for (let attempt = 1; outcome.error && attempt <= 5; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    outcome = await migrator.migrateToLatest();
  }
  const { error, results } = outcome;
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`);
  }
  return { db, sqlite, close: () => db.destroy() };
}

/** Whether the database answers a query now (health check); never throws. */
export function databaseAnswers(handle: Pick<DatabaseHandle, 'sqlite'>): boolean {
  try {
    return handle.sqlite.prepare('SELECT 1').pluck().get() === 1;
  } catch {
    return false;
  }
}
