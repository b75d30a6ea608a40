// Admin login sessions behind the UI's cookie: random token, stored hashed, idle and absolute expiry, CSRF token.
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Admin, AdminSession, Database } from '../db/schema.js';

export interface SessionLifetime {
  /** milliseconds without a request before the session ends */
  idleMs: number;
  /** milliseconds after login when the session ends whatever the activity */
  maxMs: number;
}

export interface NewSession {
  /** cookie value: shown to the browser once, stored only as a hash */
  token: string;
  csrfToken: string;
  expiresAt: number;
}

/** Last-seen is written at most this often, so reading pages does not turn into one write per request. */
const TOUCH_INTERVAL_MS = 60_000;

export const hashSecret = (secret: string) => crypto.createHash('sha256').update(secret).digest('hex');
export const randomSecret = (bytes = 32) => crypto.randomBytes(bytes).toString('base64url');

export async function createSession(db: Kysely<Database>, adminId: number, client: { ip: string | null; userAgent: string | null }, lifetime: SessionLifetime, now: number): Promise<NewSession> {
  const token = randomSecret();
  const csrfToken = randomSecret();
  const expiresAt = now + lifetime.maxMs;
  await db.deleteFrom('admin_sessions').where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', now - lifetime.idleMs)])).execute();
  await db
    .insertInto('admin_sessions')
    .values({ id: hashSecret(token), admin_id: adminId, csrf_token: csrfToken, created_at: now, last_seen_at: now, expires_at: expiresAt, ip: client.ip, user_agent: client.userAgent?.slice(0, 300) ?? null })
    .execute();
  return { token, csrfToken, expiresAt };
}

/** The live session and its admin for a cookie value; an expired one is deleted and yields null. */
export async function findSession(db: Kysely<Database>, token: string, lifetime: SessionLifetime, now: number): Promise<{ session: AdminSession; admin: Admin } | null> {
  if (token.length > 100) return null;
  const id = hashSecret(token);
  const session = await db.selectFrom('admin_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  if (!session) return null;
  if (session.expires_at <= now || session.last_seen_at + lifetime.idleMs <= now) {
    await db.deleteFrom('admin_sessions').where('id', '=', id).execute();
    return null;
  }
  const admin = await db.selectFrom('admins').selectAll().where('id', '=', session.admin_id).executeTakeFirst();
  if (!admin) return null;
  if (now - session.last_seen_at >= TOUCH_INTERVAL_MS) {
    await db.updateTable('admin_sessions').set({ last_seen_at: now }).where('id', '=', id).execute();
    session.last_seen_at = now;
  }
  return { session, admin };
}

export async function deleteSession(db: Kysely<Database>, sessionId: string): Promise<void> {
  await db.deleteFrom('admin_sessions').where('id', '=', sessionId).execute();
}
