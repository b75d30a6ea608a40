// Write transactions that take the database write lock up front (SQLite BEGIN IMMEDIATE), so concurrent
// writers in other processes (the `postfach admin` CLI) wait on busy_timeout instead of failing to upgrade.
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export type Tx = Kysely<Database>;

export async function writeTransaction<T>(db: Kysely<Database>, work: (tx: Tx) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    try {
      const result = await work(conn);
      await sql`COMMIT`.execute(conn);
      return result;
    } catch (err) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
