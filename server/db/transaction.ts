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

interface QueuedWrite {
  work: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  outcome?: { ok: true; value: unknown } | { ok: false; error: unknown };
}

/**
 * Group commit for the hot write path (deliveries): writes that arrive while a transaction is running are
 * batched into the next one, each inside its own SAVEPOINT so a failing write rolls back alone. Every caller
 * learns its outcome only after the COMMIT that made it durable, and one fsync serves the whole batch.
 */
export class WriteQueue {
  private pending: QueuedWrite[] = [];
  private running = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxBatch = 64
  ) {}

  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        // start in the check phase, so writes whose I/O completed in this poll phase join the batch
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          await writeTransaction(this.db, async (tx) => {
            for (const [i, item] of batch.entries()) {
              const savepoint = sql.raw(`w${i}`);
              await sql`SAVEPOINT ${savepoint}`.execute(tx);
              try {
                item.outcome = { ok: true, value: await item.work(tx) };
                await sql`RELEASE ${savepoint}`.execute(tx);
              } catch (error) {
                item.outcome = { ok: false, error };
                await sql`ROLLBACK TO ${savepoint}`.execute(tx);
                await sql`RELEASE ${savepoint}`.execute(tx);
              }
            }
          });
        } catch (commitError) {
          for (const item of batch) item.outcome = { ok: false, error: commitError };
        }
        for (const item of batch) {
          const outcome = item.outcome!;
          if (outcome.ok) item.resolve(outcome.value);
          else item.reject(outcome.error);
        }
        if (this.pending.length) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
    }
  }
}
