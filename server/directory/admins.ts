// Admin users: separate from mailboxes, role owner (everything) or admin (password resets, read-only views).
import type { Kysely } from 'kysely';
import type { Admin, Database } from '../db/schema.js';
import { writeTransaction, type Tx } from '../db/transaction.js';
import { normalizeAddress } from './address.js';
import { audit, type Actor } from './audit.js';
import { conflict, invalid, notFound } from './errors.js';
import { generateTotpSecret, matchTotp } from '../auth/totp.js';
import { assertPasswordPolicy, hashPassword, verifyPassword, type PasswordPolicy } from './password.js';

export type AdminRole = Admin['role'];

function checkLogin(input: string): string {
  const parsed = normalizeAddress(input);
  if (!parsed) throw invalid('login', 'address', `"${input}" is not an e-mail address; admins log in with their address`);
  return parsed.address;
}

export function countOwners(tx: Tx): Promise<number> {
  return tx
    .selectFrom('admins')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow()
    .then((r) => Number(r.n));
}

export async function createAdmin(db: Kysely<Database>, policy: PasswordPolicy, actor: Actor, input: { login: string; password: string; role: AdminRole }): Promise<Admin> {
  const login = checkLogin(input.login);
  if (input.role !== 'owner' && input.role !== 'admin') throw invalid('role', 'enum', 'role must be owner or admin');
  assertPasswordPolicy(input.password, policy, login);
  const hash = await hashPassword(input.password);
  return writeTransaction(db, async (tx) => {
    if (await tx.selectFrom('admins').select('id').where('login', '=', login).executeTakeFirst()) throw conflict('login', `an admin user ${login} exists already`);
    const now = Date.now();
    const admin = await tx.insertInto('admins').values({ login, password_hash: hash, role: input.role, totp_secret: null, totp_pending: null, totp_last_step: null, created_at: now, updated_at: now }).returningAll().executeTakeFirstOrThrow();
    await audit(tx, actor, 'admin.add', login, { role: input.role });
    return admin;
  });
}

/**
 * The first owner, from `postfach admin owner create` or POSTFACH_OWNER_EMAIL/POSTFACH_OWNER_PASSWORD at first
 * start. Refused once an owner exists: further admin users are added by an owner.
 */
export async function createFirstOwner(db: Kysely<Database>, policy: PasswordPolicy, actor: Actor, login: string, password: string): Promise<Admin> {
  if ((await countOwners(db)) > 0) throw conflict('login', 'an owner exists already; further admin users are added by an owner');
  return createAdmin(db, policy, actor, { login, password, role: 'owner' });
}

/** Checks an admin login; null when the login or password is wrong (timing does not tell which). */
export async function verifyAdmin(db: Kysely<Database>, loginInput: string, password: string): Promise<Admin | null> {
  const parsed = normalizeAddress(loginInput);
  const admin = parsed ? await db.selectFrom('admins').selectAll().where('login', '=', parsed.address).executeTakeFirst() : undefined;
  return (await verifyPassword(admin?.password_hash, password)) && admin ? admin : null;
}

export function listAdmins(tx: Tx): Promise<Admin[]> {
  return tx.selectFrom('admins').selectAll().orderBy('login').execute();
}

export async function requireAdmin(tx: Tx, loginInput: string): Promise<Admin> {
  const login = checkLogin(loginInput);
  const admin = await tx.selectFrom('admins').selectAll().where('login', '=', login).executeTakeFirst();
  if (!admin) throw notFound('login', `no admin user ${login}`);
  return admin;
}

/**
 * Removes an admin user with its sessions and tokens. The last owner cannot go: nobody could manage accounts
 * any more, and no setting can make an admin an owner.
 */
export async function removeAdmin(db: Kysely<Database>, actor: Actor, loginInput: string): Promise<void> {
  await writeTransaction(db, async (tx) => {
    const admin = await requireAdmin(tx, loginInput);
    if (admin.role === 'owner' && (await countOwners(tx)) <= 1) throw conflict('login', 'the last owner cannot be removed; add another owner first');
    await tx.updateTable('api_tokens').set({ revoked_at: Date.now() }).where('created_by', '=', admin.id).where('revoked_at', 'is', null).execute();
    await tx.deleteFrom('admins').where('id', '=', admin.id).execute();
    await audit(tx, actor, 'admin.remove', admin.login, { role: admin.role });
  });
}

/** Sets an admin user's password (an owner resetting it, or the user after proving the old one) and ends their sessions. */
export async function setAdminPassword(db: Kysely<Database>, policy: PasswordPolicy, actor: Actor, loginInput: string, password: string, keepSession?: string): Promise<void> {
  const login = checkLogin(loginInput);
  assertPasswordPolicy(password, policy, login);
  const hash = await hashPassword(password);
  await writeTransaction(db, async (tx) => {
    const admin = await requireAdmin(tx, login);
    await tx.updateTable('admins').set({ password_hash: hash, updated_at: Date.now() }).where('id', '=', admin.id).execute();
    let ended = tx.deleteFrom('admin_sessions').where('admin_id', '=', admin.id);
    if (keepSession) ended = ended.where('id', '!=', keepSession);
    await ended.execute();
    await audit(tx, actor, 'admin.passwd', admin.login);
  });
}

/** Starts TOTP enrolment: a new secret is kept as pending until a code from it is confirmed. */
export async function beginTotp(db: Kysely<Database>, adminId: number): Promise<string> {
  const secret = generateTotpSecret();
  await db.updateTable('admins').set({ totp_pending: secret, updated_at: Date.now() }).where('id', '=', adminId).execute();
  return secret;
}

/** Confirms enrolment with a code from the pending secret; from then on logins need a code. */
export async function confirmTotp(db: Kysely<Database>, actor: Actor, adminId: number, code: string, now = Date.now()): Promise<void> {
  await writeTransaction(db, async (tx) => {
    const admin = await tx.selectFrom('admins').selectAll().where('id', '=', adminId).executeTakeFirstOrThrow();
    if (!admin.totp_pending) throw conflict('code', 'no second factor is being set up; start again');
    const step = matchTotp(admin.totp_pending, code, now, null);
    if (step === null) throw invalid('code', 'totp', 'the code does not match; check the time on the phone and try the next code');
    await tx.updateTable('admins').set({ totp_secret: admin.totp_pending, totp_pending: null, totp_last_step: step, updated_at: now }).where('id', '=', adminId).execute();
    await audit(tx, actor, 'admin.totp.enable', admin.login);
  });
}

/**
 * Checks a login's TOTP code and records its step so the same code is not accepted twice. True when the admin
 * has no second factor.
 */
export async function verifyTotp(db: Kysely<Database>, admin: Admin, code: string | undefined, now = Date.now()): Promise<boolean> {
  if (!admin.totp_secret) return true;
  if (!code) return false;
  return writeTransaction(db, async (tx) => {
    const fresh = await tx.selectFrom('admins').select(['totp_secret', 'totp_last_step']).where('id', '=', admin.id).executeTakeFirstOrThrow();
    const step = fresh.totp_secret ? matchTotp(fresh.totp_secret, code, now, fresh.totp_last_step) : null;
    if (step === null) return false;
    await tx.updateTable('admins').set({ totp_last_step: step }).where('id', '=', admin.id).execute();
    return true;
  });
}

/** Turns the second factor off: by the user (after a code) or by an owner for a user who lost the phone. */
export async function disableTotp(db: Kysely<Database>, actor: Actor, loginInput: string): Promise<void> {
  await writeTransaction(db, async (tx) => {
    const admin = await requireAdmin(tx, loginInput);
    await tx.updateTable('admins').set({ totp_secret: null, totp_pending: null, totp_last_step: null, updated_at: Date.now() }).where('id', '=', admin.id).execute();
    await audit(tx, actor, 'admin.totp.disable', admin.login);
  });
}
