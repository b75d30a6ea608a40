// API tokens for scripts: created by an owner, shown once, stored hashed, revocable; each carries a role.
import type { Kysely } from 'kysely';
import type { Admin, ApiToken, Database } from '../db/schema.js';
import { writeTransaction, type Tx } from '../db/transaction.js';
import { hashSecret, randomSecret } from './admin-sessions.js';
import { audit, type Actor } from './audit.js';
import { invalid, notFound } from './errors.js';

/** Recognisable prefix, so a token pasted into a log or a repository can be found by secret scanners. */
export const TOKEN_PREFIX = 'pfat_';
const TOUCH_INTERVAL_MS = 60_000;

export interface ApiTokenView {
  id: number;
  name: string;
  role: ApiToken['role'];
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

function checkName(input: string): string {
  const name = input.trim();
  if (!name) throw invalid('name', 'required', 'give the token a name saying what uses it');
  if ([...name].length > 100) throw invalid('name', 'length', 'a token name may have at most 100 characters');
  if (/[\x00-\x1f\x7f]/.test(name)) throw invalid('name', 'characters', 'a token name must not contain control characters');
  return name;
}

export async function createApiToken(db: Kysely<Database>, actor: Actor, input: { name: string; role: ApiToken['role']; createdBy: number | null }): Promise<{ token: string; view: ApiTokenView }> {
  const name = checkName(input.name);
  if (input.role !== 'owner' && input.role !== 'admin') throw invalid('role', 'enum', 'role must be owner or admin');
  const token = TOKEN_PREFIX + randomSecret();
  return writeTransaction(db, async (tx) => {
    const row = await tx
      .insertInto('api_tokens')
      .values({ name, token_hash: hashSecret(token), role: input.role, created_by: input.createdBy, created_at: Date.now(), last_used_at: null, revoked_at: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    await audit(tx, actor, 'token.add', name, { id: row.id, role: row.role });
    return { token, view: (await listApiTokens(tx)).find((t) => t.id === row.id)! };
  });
}

export async function listApiTokens(tx: Tx): Promise<ApiTokenView[]> {
  const rows = await tx.selectFrom('api_tokens').leftJoin('admins', 'admins.id', 'api_tokens.created_by').selectAll('api_tokens').select('admins.login as creator').orderBy('api_tokens.id').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, role: r.role, createdBy: r.creator, createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at }));
}

export async function revokeApiToken(db: Kysely<Database>, actor: Actor, id: number): Promise<void> {
  await writeTransaction(db, async (tx) => {
    const row = await tx.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('id', `no API token ${id}`);
    if (row.revoked_at === null) await tx.updateTable('api_tokens').set({ revoked_at: Date.now() }).where('id', '=', id).execute();
    await audit(tx, actor, 'token.revoke', row.name, { id });
  });
}

/** The live token for a bearer value, with the admin who created it; null when unknown or revoked. */
export async function findApiToken(db: Kysely<Database>, token: string, now: number): Promise<{ token: ApiToken; creator: Admin | null } | null> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 100) return null;
  const row = await db.selectFrom('api_tokens').selectAll().where('token_hash', '=', hashSecret(token)).executeTakeFirst();
  if (!row || row.revoked_at !== null) return null;
  const creator = row.created_by === null ? null : ((await db.selectFrom('admins').selectAll().where('id', '=', row.created_by).executeTakeFirst()) ?? null);
  if (row.last_used_at === null || now - row.last_used_at >= TOUCH_INTERVAL_MS) {
    await db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
  }
  return { token: row, creator };
}
